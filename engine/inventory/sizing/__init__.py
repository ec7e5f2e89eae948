"""Sizing: the model's real shape, a memory estimate a practitioner would accept, Google Cloud shapes from need.

Modules, one job each: :mod:`.shapes` (the shipped model table and the workload's own fields),
:mod:`.estimate` (every term with its formula, and how it splits across GPUs), :mod:`.candidates`
(every catalog shape that holds it, ranked by price), :mod:`.advice` (warnings against the source and
per target).  GPU names and facts come from :mod:`engine.gpus`.
"""

from engine.gpus import names as _names
from engine.inventory.sizing.candidates import (
    PEAK_DENSE_FP16_TFLOPS,
    RELATIVE_SPEED,
    gcp_nvlink,
    interconnect,
    recommend,
)
from engine.inventory.sizing.estimate import estimate_memory, layouts, per_gpu_gib
from engine.inventory.sizing.shapes import find_model, known_models, resolve_shape
from engine.inventory.sizing.types import (
    GIB,
    Candidate,
    MemoryEstimate,
    ModelShape,
    Recommendation,
    SizingResult,
    SourceShape,
    Term,
    WorkloadSpec,
)


def normalize_gpu_model(name: str | None, memory_gib: float | None = None) -> str | None:
    """"Tesla V100-SXM2-16GB" / AWS "A100" + 40 GiB / "NVIDIA H100 80GB HBM3" -> the shared matcher's key."""
    return _names.normalize_gpu_model(name, memory_gib * 1024 if memory_gib else None)


__all__ = ["GIB", "PEAK_DENSE_FP16_TFLOPS", "RELATIVE_SPEED", "Candidate", "MemoryEstimate", "ModelShape", "Recommendation", "SizingResult",
           "SourceShape", "Term", "WorkloadSpec", "estimate_memory", "find_model", "gcp_nvlink", "interconnect",
           "known_models", "layouts", "normalize_gpu_model", "per_gpu_gib", "recommend", "resolve_shape"]
