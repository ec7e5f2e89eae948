"""Local GPUs through NVML, behind a thin seam a test can replace.

API (used by inventory, the drivers doctor and the verify GPU-health check)::

    from engine.inventory.nvml import read_host, GpuHost, GpuInfo

    host = read_host()            # the real NVML (module ``pynvml`` from nvidia-ml-py)
    host = read_host(api=fake)    # any object implementing :class:`NvmlApi` (tests: tests/nvml_fake.py)
    if not host.available:
        print(host.reason)        # e.g. "no NVIDIA driver found (NVML library not found: ...)"
    for gpu in host.gpus:         # GpuInfo: see its fields; None = "not supported on this GPU"
        gpu.name, gpu.memory_total_bytes, gpu.ecc.volatile_uncorrected, gpu.clock_event_reasons
    host.topology.matrix          # [["X", "NV12", ...], ...] like `nvidia-smi topo -m`

``read_host`` never raises for NVML problems: a missing library or driver gives
``available=False`` with a ``reason``; a call a GPU does not support (NVML's
``NOT_SUPPORTED``, ``FUNCTION_NOT_FOUND``, ``NO_PERMISSION`` ...) gives ``None``
for that field.  Other per-field failures are noted in ``GpuInfo.notes``.

The seam (:class:`NvmlApi`) is a handful of methods that map one-to-one onto
pynvml functions but return plain Python values (str, int, tuples) and raise
only :class:`NvmlError` with NVML's numeric code.  :class:`PynvmlApi` is the
real implementation; ``tests/nvml_fake.py`` implements it from recorded JSON
host files (``tests/fixtures/nvml/*.json``) in the format :func:`record_raw`
writes, so a real host can be recorded with ``python -m engine.inventory.nvml
--record > host.json``.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from engine.gpus.mig import parse_mig_profile

# NVML return codes (same values as pynvml.NVML_ERROR_*).
NOT_SUPPORTED = 3
NO_PERMISSION = 4
NOT_FOUND = 6
DRIVER_NOT_LOADED = 9
LIBRARY_NOT_FOUND = 12
FUNCTION_NOT_FOUND = 13
GPU_IS_LOST = 15
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


# --- the model -----------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class MigInstance(_Model):
    """One MIG device (a GPU instance + compute instance) on a MIG-enabled GPU."""

    index: int
    """The MIG device slot on its parent GPU."""
    name: str | None = None
    """NVML's name, e.g. "NVIDIA H100 80GB HBM3 MIG 3g.40gb"."""
    profile: str | None = None
    """The MIG profile, e.g. "3g.40gb" (parsed from the name)."""
    uuid: str | None = None
    """The MIG device UUID ("MIG-...")."""
    memory_total_bytes: int | None = None
    """Memory of this instance."""
    memory_used_bytes: int | None = None
    """Memory in use in this instance."""
    gpu_instance_id: int | None = None
    """The GPU instance id (GI)."""
    compute_instance_id: int | None = None
    """The compute instance id (CI)."""


class EccCounts(_Model):
    """ECC error counters (None where the GPU does not count them)."""

    volatile_corrected: int | None = None
    """Corrected (single-bit) errors since the last driver load."""
    volatile_uncorrected: int | None = None
    """Uncorrected (double-bit) errors since the last driver load."""
    aggregate_corrected: int | None = None
    """Corrected errors over the GPU's lifetime."""
    aggregate_uncorrected: int | None = None
    """Uncorrected errors over the GPU's lifetime."""


class RemappedRows(_Model):
    """Row remapping (A100 and later; replaces page retirement)."""

    corrected: int
    """Rows remapped for correctable errors."""
    uncorrected: int
    """Rows remapped for uncorrectable errors."""
    pending: bool
    """A remap is pending: the GPU needs a reset."""
    failure: bool
    """A remap failed: the GPU should be replaced."""


class GpuInfo(_Model):
    """One physical GPU as NVML reports it. ``None`` = not supported / not readable."""

    index: int
    """NVML index (the order of `nvidia-smi`)."""
    name: str | None = None
    """e.g. "NVIDIA A100-SXM4-40GB"."""
    uuid: str | None = None
    """e.g. "GPU-1c2d..."."""
    memory_total_bytes: int | None = None
    """Framebuffer memory total."""
    memory_used_bytes: int | None = None
    """Framebuffer memory in use."""
    compute_capability: str | None = None
    """CUDA compute capability, e.g. "8.0"."""
    pci_bus_id: str | None = None
    """e.g. "00000000:10:1C.0"."""
    pcie_gen_current: int | None = None
    """Current PCIe link generation (may be low when idle)."""
    pcie_gen_max: int | None = None
    """Maximum PCIe link generation of GPU and slot."""
    pcie_width_current: int | None = None
    """Current PCIe link width (lanes)."""
    pcie_width_max: int | None = None
    """Maximum PCIe link width."""
    persistence_mode: bool | None = None
    """Persistence mode enabled."""
    mig_mode_current: bool | None = None
    """MIG enabled now (None: GPU has no MIG)."""
    mig_mode_pending: bool | None = None
    """MIG enabled after the next reset."""
    mig_instances: list[MigInstance] = Field(default_factory=list)
    """MIG devices, when MIG is enabled."""
    ecc_mode_current: bool | None = None
    """ECC enabled now."""
    ecc_mode_pending: bool | None = None
    """ECC enabled after the next reboot."""
    ecc: EccCounts = Field(default_factory=EccCounts)
    """ECC error counters."""
    retired_pages_single_bit: int | None = None
    """Pages retired after multiple single-bit errors (pre-Ampere)."""
    retired_pages_double_bit: int | None = None
    """Pages retired after a double-bit error (pre-Ampere)."""
    retired_pages_pending: bool | None = None
    """A page retirement waits for the next driver reload (pre-Ampere)."""
    remapped_rows: RemappedRows | None = None
    """Row-remapping status (Ampere and later)."""
    clock_event_reasons: list[str] | None = None
    """Why clocks are held down now, e.g. ["gpu_idle"] or ["hw_thermal_slowdown"]."""
    clock_event_mask: int | None = None
    """The raw clock event reason bitmask."""
    temperature_c: int | None = None
    """GPU core temperature, °C."""
    power_draw_w: float | None = None
    """Power draw, W."""
    power_limit_w: float | None = None
    """Enforced power limit, W."""
    utilization_gpu_pct: int | None = None
    """GPU utilisation, % (None under MIG)."""
    utilization_memory_pct: int | None = None
    """Memory-controller utilisation, %."""
    numa_node: int | None = None
    """The NUMA node of the GPU's PCIe root."""
    cpu_affinity: str | None = None
    """The CPUs close to the GPU, e.g. "0-23,48-71"."""
    nvlink_active: int | None = None
    """Active NVLink links (None: no NVLink)."""
    notes: list[str] = Field(default_factory=list)
    """Calls that failed for a reason other than "not supported"."""

    @property
    def memory_total_gib(self) -> float | None:
        return None if self.memory_total_bytes is None else self.memory_total_bytes / 2**30

    @property
    def bad_clock_event_reasons(self) -> list[str]:
        """The clock event reasons that mean a problem (thermal, power brake, HW slowdown)."""
        return [r for r in (self.clock_event_reasons or []) if r in BAD_CLOCK_EVENT_REASONS]


class Topology(_Model):
    """GPU-to-GPU topology like `nvidia-smi topo -m`."""

    labels: list[str] = Field(default_factory=list)
    """Row/column names: "GPU0", "GPU1", ..."""
    matrix: list[list[str]] = Field(default_factory=list)
    """matrix[i][j]: "X", "NV#", "PIX", "PXB", "PHB", "NODE", "SYS" (or "?" when unknown)."""
    nvlinks: list[list[int]] = Field(default_factory=list)
    """nvlinks[i][j]: NVLink links between GPU i and GPU j (directly or through NVSwitch)."""
    nvswitch: bool = False
    """GPUs connect through NVSwitch (all-to-all) rather than direct links."""
    numa_nodes: list[int | None] = Field(default_factory=list)
    """NUMA node per GPU."""
    cpu_affinity: list[str | None] = Field(default_factory=list)
    """CPU affinity per GPU."""

    @property
    def all_nvlink(self) -> bool:
        """Every pair of GPUs is connected by NVLink."""
        n = len(self.labels)
        return n > 1 and all(self.nvlinks[i][j] > 0 for i in range(n) for j in range(n) if i != j)

    def render(self) -> str:
        """The matrix as text, the way `nvidia-smi topo -m` prints it."""
        if not self.labels:
            return ""
        head = ["", *self.labels, "CPU Affinity", "NUMA Affinity"]
        rows = [head]
        for i, label in enumerate(self.labels):
            numa = self.numa_nodes[i] if i < len(self.numa_nodes) else None
            cpus = self.cpu_affinity[i] if i < len(self.cpu_affinity) else None
            rows.append([label, *self.matrix[i], cpus or "N/A", "N/A" if numa is None else str(numa)])
        widths = [max(len(r[c]) for r in rows) for c in range(len(head))]
        return "\n".join("  ".join(cell.ljust(widths[c]) for c, cell in enumerate(r)).rstrip() for r in rows)


class GpuHost(_Model):
    """This machine's GPUs, or why they could not be read."""

    available: bool
    """NVML could be initialised."""
    reason: str | None = None
    """Why not, e.g. "no NVIDIA driver found ..."."""
    error_code: int | None = None
    """NVML's error code when not available (12 = library not found, 9 = driver not loaded)."""
    driver_version: str | None = None
    """e.g. "535.183.01"."""
    cuda_driver_version: str | None = None
    """The highest CUDA version the driver supports, e.g. "12.2"."""
    nvml_version: str | None = None
    """e.g. "12.535.183.01"."""
    gpus: list[GpuInfo] = Field(default_factory=list)
    """The GPUs, by NVML index."""
    topology: Topology = Field(default_factory=Topology)
    """GPU-to-GPU topology."""

    def summary(self) -> str:
        if not self.available:
            return self.reason or "NVML not available"
        if not self.gpus:
            return f"NVIDIA driver {self.driver_version}: no GPUs"
        names: dict[str, int] = {}
        for gpu in self.gpus:
            names[gpu.name or "?"] = names.get(gpu.name or "?", 0) + 1
        what = ", ".join(f"{n}x {name}" for name, n in names.items())
        return f"{what} (driver {self.driver_version}, CUDA {self.cuda_driver_version})"


# --- reading -------------------------------------------------------------------

_INIT_REASONS = {
    LIBRARY_NOT_FOUND: "no NVIDIA driver found (the NVML library libnvidia-ml.so.1 is not installed)",
    DRIVER_NOT_LOADED: "no NVIDIA driver found (the NVIDIA kernel driver is not loaded)",
    LIB_RM_VERSION_MISMATCH: "NVIDIA driver/library version mismatch (reboot after a driver upgrade)",
    NO_PERMISSION: "no permission to use NVML (check /dev/nvidia* permissions)",
}


def _call(notes: list[str], what: str, fn: Callable[[], Any]) -> Any:
    """Run one NVML call: None when unsupported, a note for any other error."""
    try:
        return fn()
    except NvmlError as exc:
        if not exc.unsupported:
            notes.append(f"{what}: {exc.text}")
        return None


def cuda_version_text(value: int | None) -> str | None:
    """12020 -> "12.2"."""
    if value is None:
        return None
    return f"{value // 1000}.{(value % 1000) // 10}"


def cpu_list(words: list[int] | None) -> str | None:
    """CPU bitmask words -> "0-23,48-71"."""
    if not words:
        return None
    cpus = [64 * w + b for w, word in enumerate(words) for b in range(64) if word >> b & 1]
    if not cpus:
        return None
    ranges: list[str] = []
    start = prev = cpus[0]
    for cpu in cpus[1:] + [None]:  # type: ignore[list-item]
        if cpu is not None and cpu == prev + 1:
            prev = cpu
            continue
        ranges.append(str(start) if start == prev else f"{start}-{prev}")
        if cpu is not None:
            start = prev = cpu
    return ",".join(ranges)


def _mig_profile(name: str | None) -> str | None:
    """The profile part of a MIG device name, suffixes and compute-instance prefix kept ("1c.3g.71gb")."""
    profile = parse_mig_profile(name)
    return profile.text if profile else None


def _read_gpu(api: NvmlApi, index: int, handle: Any) -> GpuInfo:
    notes: list[str] = []
    gpu = GpuInfo(index=index)
    gpu.name = _call(notes, "name", lambda: api.name(handle))
    gpu.uuid = _call(notes, "uuid", lambda: api.uuid(handle))
    mem = _call(notes, "memory", lambda: api.memory_info(handle))
    if mem:
        gpu.memory_total_bytes, gpu.memory_used_bytes = mem
    cc = _call(notes, "compute capability", lambda: api.cuda_compute_capability(handle))
    if cc:
        gpu.compute_capability = f"{cc[0]}.{cc[1]}"
    gpu.pci_bus_id = _call(notes, "pci", lambda: api.pci_bus_id(handle))
    link = _call(notes, "pcie link", lambda: api.pcie_link(handle))
    if link:
        gpu.pcie_gen_current, gpu.pcie_gen_max, gpu.pcie_width_current, gpu.pcie_width_max = link
    persistence = _call(notes, "persistence mode", lambda: api.persistence_mode(handle))
    gpu.persistence_mode = None if persistence is None else bool(persistence)
    mig = _call(notes, "MIG mode", lambda: api.mig_mode(handle))
    if mig:
        gpu.mig_mode_current, gpu.mig_mode_pending = bool(mig[0]), bool(mig[1])
        if mig[0]:
            gpu.mig_instances = _read_mig(api, handle, notes)
    ecc_mode = _call(notes, "ECC mode", lambda: api.ecc_mode(handle))
    if ecc_mode:
        gpu.ecc_mode_current, gpu.ecc_mode_pending = bool(ecc_mode[0]), bool(ecc_mode[1])
    gpu.ecc = EccCounts(
        volatile_corrected=_call(notes, "ECC", lambda: api.total_ecc_errors(handle, False, False)),
        volatile_uncorrected=_call(notes, "ECC", lambda: api.total_ecc_errors(handle, True, False)),
        aggregate_corrected=_call(notes, "ECC", lambda: api.total_ecc_errors(handle, False, True)),
        aggregate_uncorrected=_call(notes, "ECC", lambda: api.total_ecc_errors(handle, True, True)),
    )
    gpu.retired_pages_single_bit = _call(notes, "retired pages", lambda: api.retired_pages(handle, False))
    gpu.retired_pages_double_bit = _call(notes, "retired pages", lambda: api.retired_pages(handle, True))
    pending = _call(notes, "retired pages pending", lambda: api.retired_pages_pending(handle))
    gpu.retired_pages_pending = None if pending is None else bool(pending)
    rows = _call(notes, "remapped rows", lambda: api.remapped_rows(handle))
    if rows:
        gpu.remapped_rows = RemappedRows(corrected=rows[0], uncorrected=rows[1],
                                         pending=bool(rows[2]), failure=bool(rows[3]))
    mask = _call(notes, "clock event reasons", lambda: api.clocks_event_reasons(handle))
    if mask is not None:
        gpu.clock_event_mask = mask
        gpu.clock_event_reasons = [name for bit, name in CLOCK_EVENT_REASONS.items() if mask & bit]
        unknown = mask & ~sum(CLOCK_EVENT_REASONS)
        if unknown:
            gpu.clock_event_reasons.append(f"unknown_0x{unknown:x}")
    gpu.temperature_c = _call(notes, "temperature", lambda: api.temperature(handle))
    draw = _call(notes, "power draw", lambda: api.power_usage(handle))
    gpu.power_draw_w = None if draw is None else draw / 1000
    limit = _call(notes, "power limit", lambda: api.power_limit(handle))
    gpu.power_limit_w = None if limit is None else limit / 1000
    util = _call(notes, "utilisation", lambda: api.utilization(handle))
    if util:
        gpu.utilization_gpu_pct, gpu.utilization_memory_pct = util
    gpu.numa_node = _call(notes, "NUMA node", lambda: api.numa_node(handle))
    if gpu.numa_node is not None and gpu.numa_node < 0:
        gpu.numa_node = None
    gpu.cpu_affinity = cpu_list(_call(notes, "CPU affinity", lambda: api.cpu_affinity(handle, 4)))
    gpu.notes = notes
    return gpu


def _read_mig(api: NvmlApi, handle: Any, notes: list[str]) -> list[MigInstance]:
    count = _call(notes, "MIG devices", lambda: api.max_mig_device_count(handle)) or 0
    out: list[MigInstance] = []
    for slot in range(count):
        mig_notes: list[str] = []
        mig = _call(mig_notes, "MIG device", lambda: api.mig_device_handle(handle, slot))
        if mig is None:
            continue  # an empty slot answers NOT_FOUND
        name = _call(notes, "MIG name", lambda: api.name(mig))
        mem = _call(notes, "MIG memory", lambda: api.memory_info(mig))
        out.append(MigInstance(
            index=slot, name=name, profile=_mig_profile(name), uuid=_call(notes, "MIG uuid", lambda: api.uuid(mig)),
            memory_total_bytes=mem[0] if mem else None, memory_used_bytes=mem[1] if mem else None,
            gpu_instance_id=_call(notes, "MIG GI", lambda: api.gpu_instance_id(mig)),
            compute_instance_id=_call(notes, "MIG CI", lambda: api.compute_instance_id(mig)),
        ))
    return out


def _nvlinks(api: NvmlApi, handle: Any) -> list[str | None] | None:
    """Remote PCI bus id per active link; None if the GPU has no NVLink."""
    remotes: list[str | None] = []
    supported = False
    for link in range(MAX_NVLINKS):
        try:
            state = api.nvlink_state(handle, link)
        except NvmlError:
            break
        supported = True
        if state:
            try:
                remotes.append(_norm_bus(api.nvlink_remote_pci_bus_id(handle, link)))
            except NvmlError:
                remotes.append(None)
    return remotes if supported else None


def _norm_bus(bus: str | None) -> str | None:
    """NVML writes bus ids with 8 or 4 domain digits, in any case; compare them normalised."""
    if not bus:
        return None
    bus = bus.upper()
    domain, _, rest = bus.partition(":")
    return f"{int(domain, 16):08X}:{rest}" if rest else bus


def _topology(api: NvmlApi, handles: list[Any], gpus: list[GpuInfo]) -> Topology:
    n = len(handles)
    labels = [f"GPU{i}" for i in range(n)]
    bus_to_index = {_norm_bus(g.pci_bus_id): g.index for g in gpus if g.pci_bus_id}
    links = [[0] * n for _ in range(n)]
    switch_links: list[int] = [0] * n
    for i, handle in enumerate(handles):
        remotes = _nvlinks(api, handle)
        gpus[i].nvlink_active = None if remotes is None else len(remotes)
        for remote in remotes or []:
            j = bus_to_index.get(remote) if remote else None
            if j is not None and j != i:
                links[i][j] += 1
            elif remote:
                switch_links[i] += 1  # the far end is not a GPU: an NVSwitch
    nvswitch = n > 1 and sum(1 for s in switch_links if s) > 1
    if nvswitch:  # all-to-all through NVSwitch: nvidia-smi shows NV<links> between every switched pair
        for i in range(n):
            for j in range(n):
                if i != j and switch_links[i] and switch_links[j]:
                    links[i][j] += min(switch_links[i], switch_links[j])
    matrix: list[list[str]] = []
    for i in range(n):
        row = []
        for j in range(n):
            if i == j:
                row.append("X")
            elif links[i][j]:
                row.append(f"NV{links[i][j]}")
            else:
                try:
                    level = api.topology_common_ancestor(handles[i], handles[j])
                    row.append(TOPOLOGY_LABELS.get(level, "?"))
                except NvmlError:
                    row.append("?")
        matrix.append(row)
    return Topology(labels=labels, matrix=matrix, nvlinks=links, nvswitch=nvswitch,
                    numa_nodes=[g.numa_node for g in gpus], cpu_affinity=[g.cpu_affinity for g in gpus])


def read_host(api: NvmlApi | None = None) -> GpuHost:
    """Everything NVML says about this machine's GPUs; never raises for NVML problems."""
    if api is None:
        try:
            api = PynvmlApi()
        except ImportError:
            return GpuHost(available=False, error_code=LIBRARY_NOT_FOUND,
                           reason="no NVIDIA driver found (the nvidia-ml-py package is not installed)")
    try:
        api.init()
    except NvmlError as exc:
        reason = _INIT_REASONS.get(exc.code, f"NVML could not start: {exc.text}")
        return GpuHost(available=False, reason=reason, error_code=exc.code)
    try:
        notes: list[str] = []
        host = GpuHost(available=True)
        host.driver_version = _call(notes, "driver", api.driver_version)
        host.cuda_driver_version = cuda_version_text(_call(notes, "cuda", api.cuda_driver_version))
        host.nvml_version = _call(notes, "nvml", api.nvml_version)
        try:
            count = api.device_count()
        except NvmlError as exc:
            return host.model_copy(update={"reason": f"could not count GPUs: {exc.text}"})
        handles: list[Any] = []
        for index in range(count):
            try:
                handle = api.device_handle(index)
            except NvmlError as exc:  # e.g. GPU_IS_LOST: report it, keep the others
                host.gpus.append(GpuInfo(index=index, notes=[f"cannot open GPU {index}: {exc.text}"]))
                continue
            handles.append(handle)
            host.gpus.append(_read_gpu(api, index, handle))
        readable = [g for g in host.gpus if not (g.name is None and g.notes)]
        if len(readable) == len(handles) == len(host.gpus):
            host.topology = _topology(api, handles, host.gpus)
        return host
    finally:
        try:
            api.shutdown()
        except NvmlError:
            pass


# --- recording (the format tests/nvml_fake.py reads) -------------------------------------------


def _raw(fn: Callable[[], Any]) -> Any:
    try:
        value = fn()
    except NvmlError as exc:
        return None if exc.unsupported else {"error": exc.code}
    return list(value) if isinstance(value, tuple) else value


def record_raw(api: NvmlApi | None = None) -> dict[str, Any]:
    """The seam's raw answers for this host as JSON-able data (a fixture for FakeNvml).

    Keys mirror the seam's method names; ``null`` means the call was not supported.
    """
    api = api or PynvmlApi()
    try:
        api.init()
    except NvmlError as exc:
        return {"init_error": exc.code}
    try:
        data: dict[str, Any] = {
            "system": {"driver_version": _raw(api.driver_version),
                       "cuda_driver_version": _raw(api.cuda_driver_version),
                       "nvml_version": _raw(api.nvml_version)},
            "gpus": [],
        }
        handles = [api.device_handle(i) for i in range(api.device_count())]
        for h in handles:
            gpu: dict[str, Any] = {}
            for key in ("name", "uuid", "memory_info", "cuda_compute_capability", "pci_bus_id", "pcie_link",
                        "persistence_mode", "mig_mode", "ecc_mode", "retired_pages_pending", "remapped_rows",
                        "clocks_event_reasons", "temperature", "power_usage", "power_limit", "utilization",
                        "numa_node"):
                gpu[key] = _raw(functools.partial(getattr(api, key), h))
            gpu["cpu_affinity"] = _raw(lambda: api.cpu_affinity(h, 4))
            gpu["total_ecc_errors"] = {
                f"{'aggregate' if agg else 'volatile'}_{'uncorrected' if unc else 'corrected'}":
                    _raw(lambda unc=unc, agg=agg: api.total_ecc_errors(h, unc, agg))
                for agg in (False, True) for unc in (False, True)}
            gpu["retired_pages"] = {"single_bit": _raw(lambda: api.retired_pages(h, False)),
                                    "double_bit": _raw(lambda: api.retired_pages(h, True))}
            links = []
            for link in range(MAX_NVLINKS):
                state = _raw(lambda: api.nvlink_state(h, link))
                if state is None or isinstance(state, dict):
                    break
                links.append({"state": state,
                              "remote_pci_bus_id": _raw(lambda: api.nvlink_remote_pci_bus_id(h, link))
                              if state else None})
            gpu["nvlinks"] = links if links else None
            migs = []
            if isinstance(gpu["mig_mode"], list) and gpu["mig_mode"][0]:
                for slot in range(_raw(lambda: api.max_mig_device_count(h)) or 0):
                    try:
                        m = api.mig_device_handle(h, slot)
                    except NvmlError:
                        continue
                    migs.append({"slot": slot, "name": _raw(lambda: api.name(m)), "uuid": _raw(lambda: api.uuid(m)),
                                 "memory_info": _raw(lambda: api.memory_info(m)),
                                 "gpu_instance_id": _raw(lambda: api.gpu_instance_id(m)),
                                 "compute_instance_id": _raw(lambda: api.compute_instance_id(m))})
            gpu["mig_devices"] = migs
            data["gpus"].append(gpu)
        data["topology_common_ancestor"] = [
            [0 if i == j else _raw(lambda a=a, b=b: api.topology_common_ancestor(a, b))
             for j, b in enumerate(handles)] for i, a in enumerate(handles)]
        return data
    finally:
        try:
            api.shutdown()
        except NvmlError:
            pass


if __name__ == "__main__":  # pragma: no cover - run on a GPU host to record a fixture
    import json
    import sys

    if "--record" in sys.argv:
        json.dump(record_raw(), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(read_host().model_dump_json(indent=1) + "\n")
