"""The base every profile section derives from.

Strict and closed: an unknown key is an error (a typo must never be silently
ignored in a replayable plan), no type coercion (``"3"`` is not a number), no
NaN or infinity.  Field docstrings become the field descriptions, so the TUI
and error messages can explain any field.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

# Allow-list patterns shared by sections. Every value that can reach a shell
# script or an API path is constrained by one of these at load time.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
GCP_PROJECT_PATTERN = r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$"
REGION_PATTERN = r"^[a-z]{2,}(-[a-z]+)+-?\d+$"
ZONE_PATTERN = r"^[a-z]{2,}(-[a-z]+)+\d+-[a-z]$"
MACHINE_TYPE_PATTERN = r"^[a-z0-9][a-z0-9.-]{1,62}$"
VERSION_PATTERN = r"^[0-9]+(\.[0-9]+){0,3}$"


class Section(BaseModel):
    """A strict, closed pydantic model: the base of every profile section."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        allow_inf_nan=False,
        use_attribute_docstrings=True,
        validate_default=False,
        frozen=False,
        # pydantic 2.10's default, spelled out: 2.7-2.9 (pyproject allows >= 2.7) reserve every
        # "model_" name and warn about ``[verify.model_load]`` on each import
        protected_namespaces=("model_validate", "model_dump"),
    )
