"""The ``[drivers]`` profile section: what the target's software stack should be."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from engine.model_base import VERSION_PATTERN, Section


REGISTRY_PATTERN = r"^[a-z0-9]([a-z0-9.-]{0,253})(:[0-9]{1,5})?(/[a-z0-9._-]{1,128}){0,6}$"


class RegistryRewrite(Section):
    """One image-reference rewrite: references starting with ``old`` start with ``new`` instead."""

    old: str = Field(pattern=REGISTRY_PATTERN)
    """The registry prefix used today (e.g. "123456789012.dkr.ecr.us-east-1.amazonaws.com/team")."""
    new: str = Field(pattern=REGISTRY_PATTERN)
    """The prefix on Google Cloud (e.g. "us-central1-docker.pkg.dev/my-project/team")."""


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
    instance_name: str = Field(default="gpumigrate-gpu", pattern=r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
    """Name of the Compute Engine instance the gcloud command and Terraform create."""
    boot_disk_gb: int = Field(default=200, ge=50, le=65536)
    """Boot disk size in GB (drivers, CUDA and container images need room)."""
    boot_disk_type: Literal["pd-balanced", "pd-ssd", "hyperdisk-balanced"] = "pd-balanced"
    """Boot disk type (A3 Ultra / A4 machine types need hyperdisk-balanced)."""
    network: str = Field(default="default", pattern=r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
    """VPC network for the instance."""
    dlvm_image_family: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    """Deep Learning VM image family when os_image = "dlvm" (list them with gcloud compute images list)."""
    cos_driver_version: Literal["default", "latest"] = "latest"
    """Which driver `cos-extensions install gpu` installs on Container-Optimized OS."""
    k8s_manifests: list[str] = Field(default_factory=list)
    """Kubernetes manifest globs (relative to the profile) whose image references are rewritten."""
    registry_rewrites: list[RegistryRewrite] = Field(default_factory=list)
    """Image registry prefixes to rewrite in Kubernetes manifests (old -> new)."""

    @field_validator("k8s_manifests")
    @classmethod
    def _globs(cls, value: list[str]) -> list[str]:
        for item in value:
            if not re.fullmatch(r"[A-Za-z0-9_./*?-]{1,300}", item):
                raise ValueError(f"manifest glob {item!r} may use letters, digits and _ . / * ? - only")
        return value
