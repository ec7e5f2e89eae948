"""The one NVML reading shared by the GPU checks of a run (through the inventory seam)."""

from __future__ import annotations

from engine.inventory.nvml import LIBRARY_NOT_FOUND, GpuHost, read_host
from engine.verify.checks.base import CheckContext, CheckError, Skip


def host(ctx: CheckContext) -> GpuHost:
    """This machine's GPUs, read once per run.

    Skip when NVML does not start here (no driver, no library, a version mismatch: the GPUs were not
    checked, whatever is in the machine); CheckError when it starts but cannot even count the GPUs, which
    is not "no GPU" (an empty list would read as 0 GPUs present).
    """
    reading: GpuHost = ctx.cached("nvml_host", lambda: read_host(ctx.nvml_api))
    if not reading.available:
        if reading.error_code in (None, LIBRARY_NOT_FOUND):
            raise Skip(f"no GPU to check on this machine: {reading.reason or 'NVML is not available'}")
        # a driver that is not loaded, a version mismatch, no permission: GPUs may well be there
        raise Skip(f"the GPUs on this machine could not be checked: {reading.reason}")
    if reading.reason:
        raise CheckError(f"NVML (driver {reading.driver_version}) started but {reading.reason}: "
                         "the GPUs were not checked")
    return reading
