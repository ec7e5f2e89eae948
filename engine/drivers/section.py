"""The ``[drivers]`` profile section: what the target's software stack should be."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from engine.model_base import VERSION_PATTERN, Section


class DriversSection(Section):
    """Driver branch, CUDA and framework for the target. Unset values are chosen by the compatibility rules."""

    driver_branch: str | None = Field(default=None, pattern=r"^[0-9]{3}(\.[0-9]{1,3}){0,2}$")
    """NVIDIA driver branch or exact version (e.g. "550" or "550.90.07")."""
    cuda: str | None = Field(default=None, pattern=VERSION_PATTERN)
    """CUDA toolkit version to install (e.g. "12.4"); unset = the framework's wheel decides."""
    install_toolkit: bool = False
    """Install the CUDA toolkit (nvcc) too, not only the driver."""
    framework: Literal["pytorch", "tensorflow", "jax", "none"] = "pytorch"
    """The ML framework the workload uses."""
    framework_version: str | None = Field(default=None, pattern=VERSION_PATTERN)
    """The framework release (e.g. "2.4" or "2.4.1")."""
    os_image: Literal["ubuntu-2204", "ubuntu-2404", "debian-12", "dlvm", "cos"] = "ubuntu-2204"
    """The target's boot image family."""
    container_toolkit: bool = True
    """Install the NVIDIA container toolkit and make Docker use it."""
