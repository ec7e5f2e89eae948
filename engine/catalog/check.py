"""What the catalog says about a chosen Google Cloud machine: does it exist, does its GPU match what
the profile says, does its GPU count, is it offered in the chosen region and zone.

Used twice: by profile validation (so ``gpumigrate validate`` reports these with file:line) and by
the cost model (so nothing is priced that cannot be bought).  A problem is a :class:`CatalogProblem`
naming the profile field it is about.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.catalog.load import Catalog, GcpMachine, gpu_matches
from engine.catalog.n1 import N1_LIMITS_SOURCE, limits_text, zone_problem
from engine.errors import BadInputError


@dataclass(frozen=True)
class CatalogProblem:
    field: str
    """The dotted profile field (``target.zone``, ``cost.options[1].gpu_count``)."""
    message: str


class CatalogError(BadInputError):
    """A choice the catalog contradicts; ``field`` names the profile field."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")


def _list(items: list[str], limit: int = 12) -> str:
    more = len(items) - limit
    return ", ".join(items[:limit]) + (f" and {more} more" if more > 0 else "")


def machine_row(catalog: Catalog, machine_type: str, gpu_model: str | None, prefix: str,
                gpu_count: int | None = None) -> GcpMachine | None:
    """Any row of ``machine_type`` carrying ``gpu_model`` (None: not in the catalog at all).

    Raises :class:`CatalogError` when the machine type exists but carries another GPU (naming both), or
    carries several GPUs and ``gpu_model`` is unset.
    """
    rows = catalog.machines_of(machine_type)
    if not rows:
        return None
    carried = sorted({m.gpu_model for m in rows})
    if gpu_model is None:
        if len(carried) > 1:
            raise CatalogError(f"{prefix}.gpu_model", f"{machine_type} carries one of {', '.join(carried)}: "
                                                      "say which")
        return catalog.gcp_machine(machine_type, None, None, gpu_count) or catalog.gcp_machine(machine_type)
    row = catalog.gcp_machine(machine_type, None, gpu_model, gpu_count) or catalog.gcp_machine(machine_type, None,
                                                                                                 gpu_model)
    if row is None:
        with_gpu = sorted({m.machine_type for m in catalog.gcp_machines
                           if gpu_matches(m.gpu_model, gpu_model) and not m.shape})
        hint = f"; {gpu_model} comes with {_list(with_gpu, 6)}" if with_gpu else ""
        if machine_type.startswith("n1-") and limits_text(gpu_model):
            hint += f"; N1 takes {limits_text(gpu_model)} ({N1_LIMITS_SOURCE})"
        raise CatalogError(f"{prefix}.gpu_model", f"{gpu_model!r} does not match {prefix}.machine_type "
                                                  f"{machine_type!r}, which carries {' or '.join(carried)}{hint}")
    return row


def _counts(catalog: Catalog, machine_type: str, gpu_model: str) -> list[int]:
    return sorted({m.gpu_count for m in catalog.machines_of(machine_type) if m.gpu_model == gpu_model})


def check_choice(catalog: Catalog, *, prefix: str, machine_type: str | None, gpu_model: str | None,
                 gpu_count: int | None, region: str, zone: str | None) -> list[CatalogProblem]:
    """Every catalog problem of one target choice (``gpu_count`` None: not set, nothing to compare)."""
    problems: list[CatalogProblem] = []
    row: GcpMachine | None = None
    if machine_type:
        try:
            row = machine_row(catalog, machine_type, gpu_model, prefix, gpu_count)
        except CatalogError as exc:
            return [CatalogProblem(exc.field, str(exc).split(": ", 1)[1])]
    if row is not None and gpu_count is not None:
        counts = _counts(catalog, row.machine_type, row.gpu_model)
        if gpu_count not in counts:
            same = sorted({m.machine_type for m in catalog.gcp_machines
                           if m.gpu_model == row.gpu_model and m.gpu_count == gpu_count and not m.shape})
            hint = f" ({gpu_count} x {row.gpu_model}: {_list(same, 6)})" if same else ""
            if row.series == "n1" and limits_text(row.gpu_model):
                hint += (f"; N1 takes {limits_text(row.gpu_model)}, and {row.machine_type} has "
                         f"{row.vcpus:g} vCPUs and {row.memory_gb:g} GB ({N1_LIMITS_SOURCE})")
            problems.append(CatalogProblem(f"{prefix}.gpu_count",
                                           f"{gpu_count} does not match {row.machine_type}, which has "
                                           f"{' or '.join(str(c) for c in counts)} {row.gpu_model}{hint}"))
    if row is not None and row.series == "n1" and gpu_count is not None:
        why = zone_problem(row.gpu_model, gpu_count, row.vcpus or 0, row.memory_gb or 0, zone)
        if why:
            problems.append(CatalogProblem(f"{prefix}.zone", why))
    model = row.gpu_model if row is not None else gpu_model
    if model:
        problem = availability_problem(catalog, model, region, zone, prefix,
                                       row.machine_type if row is not None else None)
        if problem is not None:
            problems.append(problem)
    return problems


def availability_problem(catalog: Catalog, gpu_model: str, region: str, zone: str | None,
                         prefix: str, machine_type: str | None = None) -> CatalogProblem | None:
    """The GPU (on ``machine_type``'s series, where the catalog lists that series' zones) is not offered in
    ``zone`` (or, without a zone, anywhere in ``region``); None when it is or when the catalog has no
    availability data for this GPU (then nothing is claimed either way)."""
    offered = catalog.gpu_offered_in(gpu_model, machine_type)
    if offered is None:
        return None
    in_region = [z for z in offered if z.region == region]
    if not in_region:
        regions = sorted({z.region for z in offered})
        return CatalogProblem(f"{prefix}.zone" if zone else f"{prefix}.region",
                              f"{gpu_model} is not offered in {region} (offered in {_list(regions, 30)}; "
                              f"source: {offered[0].source}, {offered[0].date})")
    zones = sorted({z.zone for z in in_region if z.zone})
    if zone and zones and zone not in zones:
        return CatalogProblem(f"{prefix}.zone", f"{gpu_model} is not offered in {zone}; zones of {region} that "
                                                f"offer it: {', '.join(zones)} (source: {in_region[0].source})")
    return None


def source_problems(catalog: Catalog, source: Any) -> list[CatalogProblem]:
    """An AWS source whose ``gpu_model`` or ``gpu_count`` contradicts its instance type (the cost and the
    speed ratio would otherwise use the stated GPU, not the one the instance carries)."""
    if getattr(source, "provider", None) != "aws" or not getattr(source, "instance_type", None):
        return []
    rows = [r for r in catalog.aws_instances if r.instance_type == source.instance_type]
    if not rows:
        return []
    carried = sorted({r.gpu_model for r in rows})
    if source.gpu_model and not any(gpu_matches(m, source.gpu_model) for m in carried):
        return [CatalogProblem("source.gpu_model", f"{source.gpu_model!r} does not match source.instance_type "
                                                   f"{source.instance_type!r}, which carries {' or '.join(carried)}")]
    counts = sorted({r.gpu_count for r in rows})
    whole = all(float(c).is_integer() and c >= 1 for c in counts)
    if "gpu_count" in source.model_fields_set and source.gpu_count is not None and whole \
            and source.gpu_count not in counts:
        return [CatalogProblem("source.gpu_count", f"{source.gpu_count} does not match {source.instance_type}, "
                                                   f"which has {' or '.join(f'{c:g}' for c in counts)} "
                                                   f"{' or '.join(carried)}")]
    return []


def profile_problems(profile: Any, catalog: Catalog) -> list[CatalogProblem]:
    """The catalog problems of ``[source]``, ``[target]`` and every ``[[cost.options]]`` entry."""
    tgt = profile.target
    problems = source_problems(catalog, profile.source)
    problems += check_choice(catalog, prefix="target", machine_type=tgt.machine_type, gpu_model=tgt.gpu_model,
                            gpu_count=tgt.gpu_count if "gpu_count" in tgt.model_fields_set else None,
                            region=tgt.region, zone=tgt.zone)
    for index, opt in enumerate(profile.cost.options):
        region = opt.region or tgt.region  # an option is placed in any zone of its region
        problems += check_choice(catalog, prefix=f"cost.options[{index}]", machine_type=opt.machine_type,
                                 gpu_model=opt.gpu_model,
                                 gpu_count=opt.gpu_count if "gpu_count" in opt.model_fields_set else None,
                                 region=region, zone=None)
    return problems
