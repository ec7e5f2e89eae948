"""What NVML says about a host, as data: GPUs, MIG instances, ECC, topology (pydantic models, no I/O)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from engine.inventory.nvml_api import BAD_CLOCK_EVENT_REASONS

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
    faults: list[str] = Field(default_factory=list)
    """Answers that are themselves a hardware verdict: NVML said the GPU needs a reset (16) or its infoROM is
    corrupted (14) while being read."""
    lost: bool = False
    """NVML answered GPU_IS_LOST for it (on opening or part-way through reading): it has fallen off the bus
    (the XID 79 case), and whatever was not read before is unknown, not absent."""

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
    """matrix[i][j]: "X", "NV#", "PIX", "PXB", "PHB", "NODE", "SYS", "NV?" (NVLink unknown under MIG) or "?"."""
    nvlinks: list[list[int]] = Field(default_factory=list)
    """nvlinks[i][j]: NVLink links between GPU i and GPU j (directly or through NVSwitch)."""
    nvswitch: bool = False
    """GPUs connect through NVSwitch (all-to-all) rather than direct links."""
    nvlink_known: bool = True
    """False when NVML refused the NVLink queries (GPUs in MIG mode): "NV?" in the matrix, unknown, not none."""
    numa_nodes: list[int | None] = Field(default_factory=list)
    """NUMA node per GPU."""
    cpu_affinity: list[str | None] = Field(default_factory=list)
    """CPU affinity per GPU."""

    @property
    def all_nvlink(self) -> bool:
        """Every pair of GPUs is connected by NVLink (False also when unknown: see ``nvlink_known``)."""
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

    def first_readable(self) -> GpuInfo | None:
        """The first GPU NVML could name and did not lose: what the host's GPU model is read from (GPU0 may be
        the one that fell off the bus)."""
        return next((g for g in self.gpus if g.name and not g.lost), None)

    def summary(self) -> str:
        if not self.available:
            return self.reason or "NVML not available"
        if self.reason:  # available, but the GPUs could not even be counted
            return f"NVIDIA driver {self.driver_version}: {self.reason}"
        if not self.gpus:
            return f"NVIDIA driver {self.driver_version}: no GPUs"
        names: dict[str, int] = {}
        for gpu in self.gpus:  # a lost GPU is said lost, not an unnamed "?" counted with the others
            label = "lost (NVML: GPU is lost)" if gpu.lost else (gpu.name or "?")
            names[label] = names.get(label, 0) + 1
        what = ", ".join(f"{n}x {name}" for name, n in names.items())
        return f"{what} (driver {self.driver_version}, CUDA {self.cuda_driver_version})"


