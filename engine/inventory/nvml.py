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

The module is split along its jobs: :mod:`.nvml_api` (the seam), :mod:`.nvml_model` (the data),
:mod:`.nvml_topology` (NVLink / PCIe matrix), :mod:`.nvml_record` (fixtures); this module reads a host
and re-exports the names its importers use.

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

from typing import Any, Callable

from engine.gpus.mig import parse_mig_profile
from engine.inventory.nvml_api import (  # noqa: F401 - re-exported for importers and tests/nvml_fake.py
    BAD_CLOCK_EVENT_REASONS,
    CLOCK_EVENT_REASONS,
    CORRUPTED_INFOROM,
    DRIVER_NOT_LOADED,
    FUNCTION_NOT_FOUND,
    GPU_IS_LOST,
    INVALID_ARGUMENT,
    LIB_RM_VERSION_MISMATCH,
    LIBRARY_NOT_FOUND,
    MAX_NVLINKS,
    NO_PERMISSION,
    NOT_FOUND,
    NOT_SUPPORTED,
    RESET_REQUIRED,
    TOPOLOGY_LABELS,
    TOPOLOGY_LEGEND,
    UNINITIALIZED,
    NvmlApi,
    NvmlError,
    PynvmlApi,
)
from engine.inventory.nvml_model import (  # noqa: F401 - re-exported
    EccCounts,
    GpuHost,
    GpuInfo,
    MigInstance,
    RemappedRows,
    Topology,
)
from engine.inventory.nvml_record import record_raw  # noqa: F401 - re-exported
from engine.inventory.nvml_topology import topology

# --- reading -------------------------------------------------------------------

_INIT_REASONS = {
    LIBRARY_NOT_FOUND: "no NVIDIA driver found (the NVML library libnvidia-ml.so.1 is not installed)",
    DRIVER_NOT_LOADED: "no NVIDIA driver found (the NVIDIA kernel driver is not loaded)",
    LIB_RM_VERSION_MISMATCH: "NVIDIA driver/library version mismatch (reboot after a driver upgrade)",
    NO_PERMISSION: "no permission to use NVML (check /dev/nvidia* permissions)",
}


_FAULTS = {RESET_REQUIRED: "NVML: GPU requires a reset (reset it or reboot before use)",
           CORRUPTED_INFOROM: "NVML: corrupted infoROM (the GPU should be serviced)"}
"""NVML return codes that say the GPU is unhealthy, whatever call returned them."""


def _call(notes: list[str], what: str, fn: Callable[[], Any], codes: list[int] | None = None) -> Any:
    """Run one NVML call: None when unsupported, a note (and its code in ``codes``) for any other error."""
    try:
        return fn()
    except NvmlError as exc:
        if not exc.unsupported:
            notes.append(f"{what}: {exc.text}")
            if codes is not None:
                codes.append(exc.code)
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
    codes: list[int] = []

    def call(what: str, fn: Callable[[], Any]) -> Any:
        return _call(notes, what, fn, codes)

    gpu = GpuInfo(index=index)
    gpu.name = call("name", lambda: api.name(handle))
    gpu.uuid = call("uuid", lambda: api.uuid(handle))
    mem = call("memory", lambda: api.memory_info(handle))
    if mem:
        gpu.memory_total_bytes, gpu.memory_used_bytes = mem
    cc = call("compute capability", lambda: api.cuda_compute_capability(handle))
    if cc:
        gpu.compute_capability = f"{cc[0]}.{cc[1]}"
    gpu.pci_bus_id = call("pci", lambda: api.pci_bus_id(handle))
    link = call("pcie link", lambda: api.pcie_link(handle))
    if link:
        gpu.pcie_gen_current, gpu.pcie_gen_max, gpu.pcie_width_current, gpu.pcie_width_max = link
    persistence = call("persistence mode", lambda: api.persistence_mode(handle))
    gpu.persistence_mode = None if persistence is None else bool(persistence)
    mig = call("MIG mode", lambda: api.mig_mode(handle))
    if mig:
        gpu.mig_mode_current, gpu.mig_mode_pending = bool(mig[0]), bool(mig[1])
        if mig[0]:
            gpu.mig_instances = _read_mig(api, handle, notes, codes)
    ecc_mode = call("ECC mode", lambda: api.ecc_mode(handle))
    if ecc_mode:
        gpu.ecc_mode_current, gpu.ecc_mode_pending = bool(ecc_mode[0]), bool(ecc_mode[1])
    gpu.ecc = EccCounts(
        volatile_corrected=call("ECC", lambda: api.total_ecc_errors(handle, False, False)),
        volatile_uncorrected=call("ECC", lambda: api.total_ecc_errors(handle, True, False)),
        aggregate_corrected=call("ECC", lambda: api.total_ecc_errors(handle, False, True)),
        aggregate_uncorrected=call("ECC", lambda: api.total_ecc_errors(handle, True, True)),
    )
    gpu.retired_pages_single_bit = call("retired pages", lambda: api.retired_pages(handle, False))
    gpu.retired_pages_double_bit = call("retired pages", lambda: api.retired_pages(handle, True))
    pending = call("retired pages pending", lambda: api.retired_pages_pending(handle))
    gpu.retired_pages_pending = None if pending is None else bool(pending)
    rows = call("remapped rows", lambda: api.remapped_rows(handle))
    if rows:
        gpu.remapped_rows = RemappedRows(corrected=rows[0], uncorrected=rows[1],
                                         pending=bool(rows[2]), failure=bool(rows[3]))
    mask = call("clock event reasons", lambda: api.clocks_event_reasons(handle))
    if mask is not None:
        gpu.clock_event_mask = mask
        gpu.clock_event_reasons = [name for bit, name in CLOCK_EVENT_REASONS.items() if mask & bit]
        unknown = mask & ~sum(CLOCK_EVENT_REASONS)
        if unknown:
            gpu.clock_event_reasons.append(f"unknown_0x{unknown:x}")
    gpu.temperature_c = call("temperature", lambda: api.temperature(handle))
    draw = call("power draw", lambda: api.power_usage(handle))
    gpu.power_draw_w = None if draw is None else draw / 1000
    limit = call("power limit", lambda: api.power_limit(handle))
    gpu.power_limit_w = None if limit is None else limit / 1000
    util = call("utilisation", lambda: api.utilization(handle))
    if util:
        gpu.utilization_gpu_pct, gpu.utilization_memory_pct = util
    gpu.numa_node = call("NUMA node", lambda: api.numa_node(handle))
    if gpu.numa_node is not None and gpu.numa_node < 0:
        gpu.numa_node = None
    gpu.cpu_affinity = cpu_list(call("CPU affinity", lambda: api.cpu_affinity(handle, 4)))
    gpu.notes = notes
    gpu.faults = [words for code, words in _FAULTS.items() if code in codes]
    gpu.lost = GPU_IS_LOST in codes  # it fell off the bus while being read: every later answer is missing
    return gpu


def _read_mig(api: NvmlApi, handle: Any, notes: list[str], codes: list[int]) -> list[MigInstance]:
    count = _call(notes, "MIG devices", lambda: api.max_mig_device_count(handle), codes) or 0
    out: list[MigInstance] = []
    for slot in range(count):
        mig = _call(notes, "MIG device", lambda: api.mig_device_handle(handle, slot), codes)
        if mig is None:
            continue  # an empty slot answers NOT_FOUND
        name = _call(notes, "MIG name", lambda: api.name(mig), codes)
        mem = _call(notes, "MIG memory", lambda: api.memory_info(mig), codes)
        out.append(MigInstance(
            index=slot, name=name, profile=_mig_profile(name),
            uuid=_call(notes, "MIG uuid", lambda: api.uuid(mig), codes),
            memory_total_bytes=mem[0] if mem else None, memory_used_bytes=mem[1] if mem else None,
            gpu_instance_id=_call(notes, "MIG GI", lambda: api.gpu_instance_id(mig), codes),
            compute_instance_id=_call(notes, "MIG CI", lambda: api.compute_instance_id(mig), codes),
        ))
    return out


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
                host.gpus.append(GpuInfo(index=index, notes=[f"cannot open GPU {index}: {exc.text}"],
                                         lost=exc.code == GPU_IS_LOST))
                continue
            handles.append(handle)
            host.gpus.append(_read_gpu(api, index, handle))
        readable = [g for g in host.gpus if not (g.name is None and g.notes) and not g.lost]
        if len(readable) == len(handles) == len(host.gpus):
            host.topology = topology(api, handles, host.gpus)
        return host
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

