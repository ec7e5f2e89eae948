"""The one NVML reading shared by the GPU checks of a run (through the inventory seam)."""

from __future__ import annotations

from engine.inventory.nvml import GpuHost, read_host
from engine.verify.checks.base import CheckContext, Skip


def host(ctx: CheckContext) -> GpuHost:
    """This machine's GPUs, read once per run; Skip when NVML is not available here."""
    reading: GpuHost = ctx.cached("nvml_host", lambda: read_host(ctx.nvml_api))
    if not reading.available:
        raise Skip(f"no GPU to check on this machine: {reading.reason or 'NVML is not available'}")
    return reading
