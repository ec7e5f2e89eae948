"""The one NVML reading shared by the GPU checks of a run (through the inventory seam)."""

from __future__ import annotations

from engine.drivers.detect import PCI_DEVICES, pci_nvidia
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
            # No NVML looks the same on a GPU-less laptop and on a GPU VM whose driver was never installed:
            # "no GPU" was said on both.  The PCI bus lists cards with no driver loaded.
            raise Skip(f"not available here: {reading.reason or 'NVML is not available'}{_pci_words(ctx)}: "
                       "the GPUs were not checked")
        # a driver that is not loaded, a version mismatch, no permission: GPUs may well be there
        raise Skip(f"the GPUs on this machine could not be checked: {reading.reason}")
    if reading.reason:
        raise CheckError(f"NVML (driver {reading.driver_version}) started but {reading.reason}: "
                         "the GPUs were not checked")
    return reading


def _pci_words(ctx: CheckContext) -> str:
    """What sysfs says about NVIDIA cards ("" where it cannot be read, e.g. a container without /sys)."""
    if not (ctx.system_root / PCI_DEVICES).is_dir():
        return ""
    cards = pci_nvidia(ctx.system_root)
    if not cards:
        return "; no NVIDIA device on the PCI bus"
    return (f"; the PCI bus shows {len(cards)} NVIDIA GPU(s) that no driver answers (install the driver; "
            "`gpumigrate drivers doctor` there)")


def no_driver_reason(ctx: CheckContext) -> str | None:
    """NVML's reason when this run read it and no NVIDIA driver answered (None: not read, or it answered)."""
    reading = ctx.peek("nvml_host")
    if reading is None or reading.available:
        return None
    return reading.reason or "NVML is not available"
