"""The NVML seam: NVML's return codes, :class:`NvmlError`, the :class:`NvmlApi` protocol and :class:`PynvmlApi`.

The seam is a handful of methods that map one-to-one onto pynvml functions but return plain Python
values and raise only :class:`NvmlError` with NVML's numeric code; ``tests/nvml_fake.py`` implements it
from recorded host files.  Nothing here interprets what NVML says (that is :mod:`engine.inventory.nvml`).
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Protocol, TypeVar

# NVML return codes (same values as pynvml.NVML_ERROR_*).
NOT_SUPPORTED = 3
NO_PERMISSION = 4
NOT_FOUND = 6
DRIVER_NOT_LOADED = 9
LIBRARY_NOT_FOUND = 12
FUNCTION_NOT_FOUND = 13
CORRUPTED_INFOROM = 14
GPU_IS_LOST = 15
RESET_REQUIRED = 16
LIB_RM_VERSION_MISMATCH = 18
INVALID_ARGUMENT = 2
UNINITIALIZED = 1

_UNSUPPORTED = {NOT_SUPPORTED, FUNCTION_NOT_FOUND, NO_PERMISSION, NOT_FOUND, INVALID_ARGUMENT}

# Topology levels (pynvml.NVML_TOPOLOGY_*) -> `nvidia-smi topo -m` labels.
TOPOLOGY_LABELS = {0: "X", 10: "PIX", 20: "PXB", 30: "PHB", 40: "NODE", 50: "SYS"}
TOPOLOGY_LEGEND = {
    "X": "self",
    "SYS": "crosses PCIe and the SMP interconnect between NUMA nodes (e.g. QPI/UPI)",
    "NODE": "crosses PCIe and the interconnect between PCIe host bridges within a NUMA node",
    "PHB": "crosses PCIe and a PCIe host bridge (typically the CPU)",
    "PXB": "crosses multiple PCIe bridges (without a PCIe host bridge)",
    "PIX": "crosses at most a single PCIe bridge",
    "NV#": "a bonded set of # NVLinks",
}

# Clock event (throttle) reason bits (pynvml.nvmlClocksEventReason*) -> names.
CLOCK_EVENT_REASONS: dict[int, str] = {
    0x1: "gpu_idle",
    0x2: "applications_clocks_setting",
    0x4: "sw_power_cap",
    0x8: "hw_slowdown",
    0x10: "sync_boost",
    0x20: "sw_thermal_slowdown",
    0x40: "hw_thermal_slowdown",
    0x80: "hw_power_brake_slowdown",
    0x100: "display_clock_setting",
    0x200: "board_limit",
    0x400: "reliability",
}
# Reasons that mean a health problem (the others are normal operation).
BAD_CLOCK_EVENT_REASONS = frozenset(
    {"hw_slowdown", "sw_thermal_slowdown", "hw_thermal_slowdown", "hw_power_brake_slowdown"}
)

MAX_NVLINKS = 18  # H100 has 18, A100 12, V100 6; NVML answers INVALID_ARGUMENT past the last.


class NvmlError(Exception):
    """An NVML call failed; ``code`` is NVML's return code (e.g. 3 = NOT_SUPPORTED)."""

    def __init__(self, code: int, text: str = ""):
        self.code = code
        self.text = text or f"NVML error {code}"
        super().__init__(self.text)

    @property
    def unsupported(self) -> bool:
        return self.code in _UNSUPPORTED


class NvmlApi(Protocol):
    """The seam: the NVML functions inventory uses, with plain return values.

    ``handle`` is whatever :meth:`device_handle` / :meth:`mig_device_handle`
    returned.  Every method may raise :class:`NvmlError`.
    """

    def init(self) -> None: ...
    def shutdown(self) -> None: ...
    def driver_version(self) -> str: ...
    def cuda_driver_version(self) -> int:
        """e.g. 12020 for CUDA 12.2."""
    def nvml_version(self) -> str: ...
    def device_count(self) -> int: ...
    def device_handle(self, index: int) -> Any: ...
    def name(self, handle: Any) -> str: ...
    def uuid(self, handle: Any) -> str: ...
    def memory_info(self, handle: Any) -> tuple[int, int]:
        """(total bytes, used bytes)."""
    def cuda_compute_capability(self, handle: Any) -> tuple[int, int]: ...
    def pci_bus_id(self, handle: Any) -> str: ...
    def pcie_link(self, handle: Any) -> tuple[int, int, int, int]:
        """(current gen, max gen, current width, max width); NOT_SUPPORTED as a whole."""
    def persistence_mode(self, handle: Any) -> int: ...
    def mig_mode(self, handle: Any) -> tuple[int, int]:
        """(current, pending); 1 = enabled."""
    def max_mig_device_count(self, handle: Any) -> int: ...
    def mig_device_handle(self, handle: Any, index: int) -> Any:
        """NOT_FOUND when slot ``index`` holds no MIG device."""
    def gpu_instance_id(self, handle: Any) -> int: ...
    def compute_instance_id(self, handle: Any) -> int: ...
    def ecc_mode(self, handle: Any) -> tuple[int, int]:
        """(current, pending); 1 = enabled."""
    def total_ecc_errors(self, handle: Any, uncorrected: bool, aggregate: bool) -> int: ...
    def retired_pages(self, handle: Any, double_bit: bool) -> int:
        """How many pages are retired for the cause (multiple single-bit / double-bit)."""
    def retired_pages_pending(self, handle: Any) -> int: ...
    def remapped_rows(self, handle: Any) -> tuple[int, int, int, int]:
        """(corrected rows, uncorrected rows, remap pending, remap failure)."""
    def clocks_event_reasons(self, handle: Any) -> int:
        """The current clock event (throttle) reason bitmask."""
    def temperature(self, handle: Any) -> int:
        """GPU core temperature, °C."""
    def power_usage(self, handle: Any) -> int:
        """Milliwatts."""
    def power_limit(self, handle: Any) -> int:
        """The enforced power limit, milliwatts."""
    def utilization(self, handle: Any) -> tuple[int, int]:
        """(gpu %, memory %)."""
    def topology_common_ancestor(self, handle1: Any, handle2: Any) -> int:
        """An NVML topology level: 0, 10, 20, 30, 40 or 50."""
    def nvlink_state(self, handle: Any, link: int) -> int:
        """1 = active; INVALID_ARGUMENT / NOT_SUPPORTED past the GPU's last link."""
    def nvlink_remote_pci_bus_id(self, handle: Any, link: int) -> str: ...
    def numa_node(self, handle: Any) -> int: ...
    def cpu_affinity(self, handle: Any, words: int) -> list[int]:
        """The ideal CPU set as 64-bit words (bit n of word w = CPU 64*w+n)."""


# --- the real seam -----------------------------------------------------------

_F = TypeVar("_F", bound=Callable[..., Any])


def _wrapped(fn: _F) -> _F:
    @functools.wraps(fn)
    def wrapper(self: "PynvmlApi", *args: Any) -> Any:
        try:
            return fn(self, *args)
        except self._nvml.NVMLError as exc:  # type: ignore[misc]
            raise NvmlError(int(getattr(exc, "value", 999) or 999), str(exc)) from None

    return wrapper  # type: ignore[return-value]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class PynvmlApi:
    """The seam over the real ``pynvml`` module (nvidia-ml-py)."""

    def __init__(self, module: Any = None):
        if module is None:
            import pynvml as module  # noqa: PLC0415 - imported on use, so a missing lib costs nothing
        self._nvml = module

    @_wrapped
    def init(self) -> None:
        self._nvml.nvmlInit()

    @_wrapped
    def shutdown(self) -> None:
        self._nvml.nvmlShutdown()

    @_wrapped
    def driver_version(self) -> str:
        return _text(self._nvml.nvmlSystemGetDriverVersion())

    @_wrapped
    def cuda_driver_version(self) -> int:
        return int(self._nvml.nvmlSystemGetCudaDriverVersion())

    @_wrapped
    def nvml_version(self) -> str:
        return _text(self._nvml.nvmlSystemGetNVMLVersion())

    @_wrapped
    def device_count(self) -> int:
        return int(self._nvml.nvmlDeviceGetCount())

    @_wrapped
    def device_handle(self, index: int) -> Any:
        return self._nvml.nvmlDeviceGetHandleByIndex(index)

    @_wrapped
    def name(self, handle: Any) -> str:
        return _text(self._nvml.nvmlDeviceGetName(handle))

    @_wrapped
    def uuid(self, handle: Any) -> str:
        return _text(self._nvml.nvmlDeviceGetUUID(handle))

    @_wrapped
    def memory_info(self, handle: Any) -> tuple[int, int]:
        mem = self._nvml.nvmlDeviceGetMemoryInfo(handle)
        return int(mem.total), int(mem.used)

    @_wrapped
    def cuda_compute_capability(self, handle: Any) -> tuple[int, int]:
        major, minor = self._nvml.nvmlDeviceGetCudaComputeCapability(handle)
        return int(major), int(minor)

    @_wrapped
    def pci_bus_id(self, handle: Any) -> str:
        return _text(self._nvml.nvmlDeviceGetPciInfo(handle).busId)

    @_wrapped
    def pcie_link(self, handle: Any) -> tuple[int, int, int, int]:
        n = self._nvml
        return (int(n.nvmlDeviceGetCurrPcieLinkGeneration(handle)), int(n.nvmlDeviceGetMaxPcieLinkGeneration(handle)),
                int(n.nvmlDeviceGetCurrPcieLinkWidth(handle)), int(n.nvmlDeviceGetMaxPcieLinkWidth(handle)))

    @_wrapped
    def persistence_mode(self, handle: Any) -> int:
        return int(self._nvml.nvmlDeviceGetPersistenceMode(handle))

    @_wrapped
    def mig_mode(self, handle: Any) -> tuple[int, int]:
        current, pending = self._nvml.nvmlDeviceGetMigMode(handle)
        return int(current), int(pending)

    @_wrapped
    def max_mig_device_count(self, handle: Any) -> int:
        return int(self._nvml.nvmlDeviceGetMaxMigDeviceCount(handle))

    @_wrapped
    def mig_device_handle(self, handle: Any, index: int) -> Any:
        return self._nvml.nvmlDeviceGetMigDeviceHandleByIndex(handle, index)

    @_wrapped
    def gpu_instance_id(self, handle: Any) -> int:
        return int(self._nvml.nvmlDeviceGetGpuInstanceId(handle))

    @_wrapped
    def compute_instance_id(self, handle: Any) -> int:
        return int(self._nvml.nvmlDeviceGetComputeInstanceId(handle))

    @_wrapped
    def ecc_mode(self, handle: Any) -> tuple[int, int]:
        current, pending = self._nvml.nvmlDeviceGetEccMode(handle)
        return int(current), int(pending)

    @_wrapped
    def total_ecc_errors(self, handle: Any, uncorrected: bool, aggregate: bool) -> int:
        n = self._nvml
        kind = n.NVML_MEMORY_ERROR_TYPE_UNCORRECTED if uncorrected else n.NVML_MEMORY_ERROR_TYPE_CORRECTED
        counter = n.NVML_AGGREGATE_ECC if aggregate else n.NVML_VOLATILE_ECC
        return int(n.nvmlDeviceGetTotalEccErrors(handle, kind, counter))

    @_wrapped
    def retired_pages(self, handle: Any, double_bit: bool) -> int:
        n = self._nvml
        cause = (n.NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR if double_bit
                 else n.NVML_PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS)
        return len(n.nvmlDeviceGetRetiredPages(handle, cause))

    @_wrapped
    def retired_pages_pending(self, handle: Any) -> int:
        return int(self._nvml.nvmlDeviceGetRetiredPagesPendingStatus(handle))

    @_wrapped
    def remapped_rows(self, handle: Any) -> tuple[int, int, int, int]:
        corr, unc, pending, failure = self._nvml.nvmlDeviceGetRemappedRows(handle)
        return int(corr), int(unc), int(pending), int(failure)

    @_wrapped
    def clocks_event_reasons(self, handle: Any) -> int:
        n = self._nvml
        try:
            return int(n.nvmlDeviceGetCurrentClocksEventReasons(handle))
        except n.NVMLError as exc:  # drivers before 535 only have the "throttle" name
            if getattr(exc, "value", None) != FUNCTION_NOT_FOUND:
                raise
            return int(n.nvmlDeviceGetCurrentClocksThrottleReasons(handle))

    @_wrapped
    def temperature(self, handle: Any) -> int:
        return int(self._nvml.nvmlDeviceGetTemperature(handle, self._nvml.NVML_TEMPERATURE_GPU))

    @_wrapped
    def power_usage(self, handle: Any) -> int:
        return int(self._nvml.nvmlDeviceGetPowerUsage(handle))

    @_wrapped
    def power_limit(self, handle: Any) -> int:
        return int(self._nvml.nvmlDeviceGetEnforcedPowerLimit(handle))

    @_wrapped
    def utilization(self, handle: Any) -> tuple[int, int]:
        util = self._nvml.nvmlDeviceGetUtilizationRates(handle)
        return int(util.gpu), int(util.memory)

    @_wrapped
    def topology_common_ancestor(self, handle1: Any, handle2: Any) -> int:
        return int(self._nvml.nvmlDeviceGetTopologyCommonAncestor(handle1, handle2))

    @_wrapped
    def nvlink_state(self, handle: Any, link: int) -> int:
        return int(self._nvml.nvmlDeviceGetNvLinkState(handle, link))

    @_wrapped
    def nvlink_remote_pci_bus_id(self, handle: Any, link: int) -> str:
        return _text(self._nvml.nvmlDeviceGetNvLinkRemotePciInfo(handle, link).busId)

    @_wrapped
    def numa_node(self, handle: Any) -> int:
        return int(self._nvml.nvmlDeviceGetNumaNodeId(handle))

    @_wrapped
    def cpu_affinity(self, handle: Any, words: int) -> list[int]:
        return [int(w) for w in self._nvml.nvmlDeviceGetCpuAffinity(handle, words)]


