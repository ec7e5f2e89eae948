"""The one GPU-name matcher: NVML, AWS, Google Cloud and marketing names -> one canonical key.

Inventory (NVML names), sizing (AWS ``GpuInfo`` names, catalog rows, profile fields) and the drivers
module (NVML names, GCE accelerator types) all call :func:`match_gpu`, so a name means the same GPU
everywhere.  Matching is by whole tokens, never by substring: "RTX A6000", "RTX 6000 Ada Generation"
and "RTX PRO 6000 Blackwell" are three different GPUs of three architectures, and "L4" is not "L40".

Facts per GPU (architecture, compute capability, the memory NVML reports as its total, MIG support,
peak memory bandwidth)
live in ``data/gpus.csv`` with the origin of each memory figure; :func:`gpu_spec` returns them.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

MIB = 2**20
GIB = 2**30

# Tokens that say nothing about which GPU it is (form factor, memory type, brand).
_NOISE = {"NVIDIA", "TESLA", "GEFORCE", "QUADRO", "PCIE", "PCI", "E", "SXM", "SXM2", "SXM3", "SXM4", "SXM5",
          "HBM2", "HBM2E", "HBM3", "HBM3E", "GPU", "DATA", "CENTER", "GRAPHICS", "DEVICE"}
ARCH_ORDER = ("Kepler", "Maxwell", "Pascal", "Volta", "Turing", "Ampere", "Ada", "Hopper", "Blackwell")


@dataclass(frozen=True)
class GpuSpec:
    """What the tool knows about one GPU model (one row of data/gpus.csv)."""

    key: str
    family: str
    """Architecture: Volta, Turing, Ampere, Ada, Hopper, Blackwell ..."""
    compute_capability: str
    nominal_gb: float
    """The marketing size ("80GB")."""
    usable_mib: int
    """The total NVML reports (what a job can at most allocate, before the CUDA context)."""
    usable_source: str
    """Where that figure comes from."""
    mig: bool
    """Supports Multi-Instance GPU."""
    drivers_row: str | None
    """The model name of its row in engine/drivers/data/gpu_arch.csv, when there is one."""
    memory_bandwidth_gbs: float | None = None
    """Peak memory bandwidth per GPU, GB/s (datasheet; what LLM decode speed is bound by)."""

    @property
    def usable_gib(self) -> float:
        return self.usable_mib * MIB / GIB

    def at_least(self, family: str) -> bool:
        """The architecture is ``family`` or newer (TF32 needs Ampere, fp8 needs Hopper or Ada)."""
        return ARCH_ORDER.index(self.family) >= ARCH_ORDER.index(family)


@lru_cache(maxsize=1)
def specs() -> dict[str, GpuSpec]:
    text = resources.files("engine.gpus").joinpath("data", "gpus.csv").read_text(encoding="utf-8")
    out: dict[str, GpuSpec] = {}
    for row in csv.DictReader(text.splitlines()):
        out[row["key"]] = GpuSpec(key=row["key"], family=row["family"], compute_capability=row["compute_capability"],
                                  nominal_gb=float(row["nominal_gb"]), usable_mib=int(row["usable_mib"]),
                                  usable_source=row["usable_source"], mig=row["mig"] == "yes",
                                  drivers_row=row["drivers_row"] or None,
                                  memory_bandwidth_gbs=float(row["memory_bandwidth_gbs"])
                                  if row.get("memory_bandwidth_gbs") else None)
    return out


def gpu_spec(key_or_name: str | None, memory_mib: float | None = None) -> GpuSpec | None:
    """The facts for a canonical key or any name :func:`match_gpu` understands."""
    if not key_or_name:
        return None
    table = specs()
    if key_or_name in table:
        return table[key_or_name]
    key = match_gpu(key_or_name, memory_mib)
    return table.get(key) if key else None


def _tokens(name: str) -> list[str]:
    text = re.sub(r"[-_,()/]", " ", name.upper())
    return [t for t in text.split() if t and t not in _NOISE]


def _memory_gb(tokens: list[str], memory_mib: float | None) -> float | None:
    for t in tokens:
        m = re.fullmatch(r"(\d+)GB", t)
        if m:
            return float(m.group(1))
    return memory_mib * MIB / 1e9 if memory_mib else None


def parent_name(name: str) -> str:
    """An NVML MIG device name without its profile: "NVIDIA H100 80GB HBM3 MIG 3g.40gb" -> the GPU's name."""
    return re.split(r"\s+MIG\s+", name, maxsplit=1)[0]


def match_gpu(name: str | None, memory_mib: float | None = None) -> str | None:
    """The canonical key for a GPU name, or None when the name is not a GPU this tool knows.

    ``memory_mib`` (NVML's total, or AWS's ``MemoryInfo.SizeInMiB``) tells the sizes of a name that
    does not carry one ("A100" from AWS, "NVIDIA A100 80GB PCIe" does).
    """
    if not name or not name.strip():
        return None
    raw = re.sub(r"^nvidia-(tesla-)?", "", parent_name(name.strip()), flags=re.I)  # GCE accelerator types
    tokens = _tokens(raw)
    have = set(tokens)
    gb = _memory_gb(tokens, memory_mib)
    if "RTX" in have:
        if {"PRO", "6000"} <= have:
            return "RTX PRO 6000"
        if {"6000", "ADA"} <= have:
            return "RTX 6000 Ada"
        if "A6000" in have:
            return "RTX A6000"
        return None  # other workstation / consumer boards: not sized, not in the drivers table
    for key in ("GB300", "GB200", "GH200", "GB10", "B300", "B200", "H200", "H20"):
        if key in have:
            return key
    if "H100" in have:
        return "H100 NVL" if "NVL" in have or (gb is not None and gb > 90) else "H100"
    if "A100" in have:
        return "A100 80GB" if gb is not None and gb > 48 else "A100 40GB"
    if "V100S" in have:
        return "V100S"
    if "V100" in have:
        return "V100 32GB" if gb is not None and gb > 20 else "V100"
    for key in ("L40S", "L40", "L4", "A10G", "A10", "A30", "A40", "T4", "P100", "P40", "P4", "M60", "K80"):
        if key in have:
            return key
    if "T4G" in have:  # AWS g5g's "T4g": a T4 attached to a Graviton host
        return "T4"
    return None


def normalize_gpu_model(name: str | None, memory_mib: float | None = None) -> str | None:
    """The canonical key when known, otherwise the name as given (so nothing silently disappears)."""
    if not name:
        return None
    return match_gpu(name, memory_mib) or name.strip()


def gpu_family(key: str) -> str:
    """A canonical key without its memory variant: "A100 80GB" -> "A100", "H100 NVL" -> "H100", "V100 32GB" -> "V100"."""
    return re.sub(r" (\d+GB|NVL)$", "", key)


def _names_a_size(name: str, memory_mib: float | None) -> bool:
    return memory_mib is not None or any(re.fullmatch(r"\d+GB", t) or t == "NVL" for t in _tokens(name))


def same_gpu(name: str, other: str, memory_mib: float | None = None, other_mib: float | None = None) -> bool:
    """``other`` names the GPU ``name`` is: the same canonical key, or ``other`` gives no memory size and names its
    family ("A100" for "NVIDIA A100-SXM4-80GB").  Names the matcher does not know compare by whole tokens, never by
    substring, so "L4" is not "NVIDIA L40S" and "A10" is not "A100"."""
    a, b = match_gpu(name, memory_mib), match_gpu(other, other_mib)
    if a is None or b is None:
        mine = set(_tokens(re.sub(r"^nvidia-(tesla-)?", "", parent_name(name.strip()), flags=re.I)))
        wanted = set(_tokens(re.sub(r"^nvidia-(tesla-)?", "", parent_name(other.strip()), flags=re.I)))
        return bool(wanted) and a is None and b is None and wanted <= mine
    if a == b:
        return True
    return not _names_a_size(other, other_mib) and gpu_family(a) == gpu_family(b)
