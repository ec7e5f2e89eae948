"""The ``[inventory]`` profile section: what the inventory step scans."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

from engine.model_base import REGION_PATTERN, Section


def _region_name(region: str) -> str:
    if not re.match(REGION_PATTERN, region):
        raise ValueError(f"not a region name: {region!r} (e.g. us-east-1)")
    return region


RegionName = Annotated[str, AfterValidator(_region_name)]
"""Checked per entry, so that an error names ``inventory.aws_regions[1]`` and its line, not the section."""


class BucketScan(Section):
    """One S3 bucket to size, optionally per prefix."""

    bucket: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    """The S3 bucket name."""
    prefixes: list[str] = Field(default_factory=list)
    """Prefixes to report separately (object count and bytes each); empty = the whole bucket."""


class InventorySection(Section):
    """What the inventory step looks at. Everything is optional: by default only local GPUs."""

    aws_regions: list[RegionName] = Field(default_factory=list)
    """AWS regions to scan for GPU instances (e.g. ["us-east-1", "us-west-2"])."""
    all_regions: bool = False
    """Scan every region enabled for the account instead of ``aws_regions``."""
    buckets: list[BucketScan] = Field(default_factory=list)
    """S3 buckets to size."""
    local_dirs: list[str] = Field(default_factory=list)
    """Local directories to size (file count, bytes, largest files)."""
    images_dir: str | None = None
    """A directory of Dockerfiles, docker-compose files and Kubernetes manifests to scan for images."""
    scan_gpus: bool = True
    """Inventory this machine's GPUs through NVML."""

