"""How many GPUs (and which) a chosen Google Cloud target really has: the one answer that cost, the
create scripts, verify and the app all use.

``target.gpu_count`` defaults to 1 in the profile model, but only N1 takes attached GPUs in a count the
profile chooses; every other series (A2, A3, A4, G2, ...) comes with its GPUs bundled, so a2-highgpu-8g
with the count unset has 8. Reading ``target.gpu_count`` directly priced 8 GPUs while the verify step
expected 1 (a correct 8-GPU machine failed, a 1-GPU machine passed) and the GKE notes asked for 1.
An explicit count is returned as written: whether it matches the machine type is
:func:`engine.catalog.check.check_choice`'s job, which refuses a mismatch at validate time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.catalog.check import DEFAULT_GPU_COUNT, CatalogError, choice_count, machine_row
from engine.catalog.load import Catalog, load_catalog
from engine.catalog.n1 import excluded_zones, smaller_limit_text


@dataclass(frozen=True)
class TargetGpus:
    gpu_model: str | None
    """The profile's ``gpu_model`` when set, else the GPU the machine type carries (None: unknown)."""
    gpu_count: int
    """GPUs the instance shows."""
    why: str
    """Where the count comes from, for messages ("target.gpu_count", "a2-highgpu-8g comes with 8 x A100 40GB")."""


def target_gpus(section: Any, catalog: Catalog | None = None, prefix: str = "target") -> TargetGpus:
    """The GPUs of ``[target]`` (or a ``cost.options[]`` entry: anything with ``machine_type``, ``gpu_model``
    and ``gpu_count``).  ``catalog`` None: the catalog ``gpumigrate`` prices with (embedded + refreshed)."""
    explicit = section.gpu_count if "gpu_count" in section.model_fields_set else None
    machine_type, gpu_model = section.machine_type, section.gpu_model
    if explicit is not None:
        return TargetGpus(gpu_model or _carried(catalog, machine_type, None, explicit), explicit,
                          f"{prefix}.gpu_count")
    if not machine_type:
        return TargetGpus(gpu_model, DEFAULT_GPU_COUNT, f"{prefix}.gpu_count (default)")
    cat = catalog if catalog is not None else load_catalog()
    count, defaulted = choice_count(cat, machine_type, None)
    try:
        row = machine_row(cat, machine_type, gpu_model, prefix, count)
    except CatalogError:  # a GPU the machine does not carry: validate refuses it, nothing better to say here
        row = None
    if row is None:
        return TargetGpus(gpu_model, DEFAULT_GPU_COUNT, f"{prefix}.gpu_count (default; {machine_type} is not in "
                                                        "the catalog)")
    if defaulted:
        return TargetGpus(gpu_model or row.gpu_model, DEFAULT_GPU_COUNT,
                          f"{prefix}.gpu_count (default: {machine_type} takes attached GPUs)")
    return TargetGpus(gpu_model or row.gpu_model, row.gpu_count,
                      f"{machine_type} comes with {row.gpu_count} x {row.gpu_model}")


def _carried(catalog: Catalog | None, machine_type: str | None, gpu_model: str | None, count: int) -> str | None:
    """The GPU ``machine_type`` carries (None when unknown or ambiguous): lets the driver plan and verify's
    model check know the GPU when only the machine type is written."""
    if not machine_type:
        return None
    cat = catalog if catalog is not None else load_catalog()
    try:
        row = machine_row(cat, machine_type, gpu_model, "target", count)
    except CatalogError:
        return None
    return row.gpu_model if row is not None else None


def zones_for(catalog: Catalog, machine_type: str | None, gpus: TargetGpus,
              region: str) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    """(the zones of ``region`` that take this machine and GPU shape, the zones of ``region`` offering the GPU
    that do not take this shape, why not) for a target with no zone: the create script names them instead of
    "a zone that offers the GPU" (4 x P100 on n1-standard-96 is refused in us-east1-c, which offers P100)."""
    if not gpus.gpu_model:
        return (), (), ""
    offered = catalog.gpu_offered_in(gpus.gpu_model, machine_type) or []
    zones = sorted({z.zone for z in offered if z.region == region and z.zone})
    excluded: tuple[str, ...] = ()
    why = ""
    if machine_type:
        try:
            row = machine_row(catalog, machine_type, gpus.gpu_model, "target", gpus.gpu_count)
        except CatalogError:
            row = None
        if row is not None and row.series == "n1" and row.gpu_count == gpus.gpu_count:
            excluded = tuple(z for z in excluded_zones(row.gpu_model, gpus.gpu_count, row.vcpus or 0,
                                                       row.memory_gb or 0) if z.startswith(region + "-"))
            why = smaller_limit_text(row.gpu_model, gpus.gpu_count) if excluded else ""
    return tuple(z for z in zones if z not in excluded), excluded, why
