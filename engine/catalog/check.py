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
from engine.catalog.n1 import N1_LIMITS_SOURCE, excluded_zones, limits_text, smaller_limit_text, zone_problem
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


DEFAULT_GPU_COUNT = 1
"""The default of ``target.gpu_count`` and ``cost.options[].gpu_count`` (engine.profile, engine.cost.section):
the count the create script attaches to an N1 machine and verify expects."""
_UNSET = "the default, which the create script attaches and verify expects"


def choice_count(catalog: Catalog, machine_type: str | None, gpu_count: int | None) -> tuple[int | None, bool]:
    """(the GPU count a choice is checked and priced with, whether it is the unset default).

    A machine type with bundled GPUs (A2, A3, G2, ...) implies its count, so an unset count stays None and the
    row's count is used.  N1 takes attached GPUs in several counts and its machine type implies none: an unset
    count is the profile's default, the count the create script attaches; pricing the catalog's first shape
    instead (n1-standard-96 + 8 V100) would price a machine nobody creates."""
    if gpu_count is None and machine_type and any(r.series == "n1" for r in catalog.machines_of(machine_type)):
        return DEFAULT_GPU_COUNT, True
    return gpu_count, False


def _zones_left(catalog: Catalog, row: GcpMachine, count: int,
                region: str) -> tuple[list[str], list[str], list[str]] | None:
    """For an N1 shape under the page's zone exception in ``region``: (its excluded zones there, the zones of
    ``region`` offering the GPU, those left for this shape); None when the exception does not touch ``region``."""
    excluded = excluded_zones(row.gpu_model, count, row.vcpus or 0, row.memory_gb or 0)
    here = sorted(z for z in excluded if z.startswith(region + "-"))
    if not here:
        return None
    offered = catalog.gpu_offered_in(row.gpu_model, row.machine_type) or []
    zones = sorted({z.zone for z in offered if z.region == region and z.zone})
    return here, zones, [z for z in zones if z not in excluded]


def check_choice(catalog: Catalog, *, prefix: str, machine_type: str | None, gpu_model: str | None,
                 gpu_count: int | None, region: str, zone: str | None) -> list[CatalogProblem]:
    """Every catalog problem of one target choice (``gpu_count`` None: not set, nothing to compare)."""
    problems: list[CatalogProblem] = []
    row: GcpMachine | None = None
    count, defaulted = choice_count(catalog, machine_type, gpu_count)
    if machine_type:
        try:
            row = machine_row(catalog, machine_type, gpu_model, prefix, count)
        except CatalogError as exc:
            return [CatalogProblem(exc.field, str(exc).split(": ", 1)[1])]
    if row is not None and count is not None:
        counts = _counts(catalog, row.machine_type, row.gpu_model)
        if count not in counts:
            same = sorted({m.machine_type for m in catalog.gcp_machines
                           if m.gpu_model == row.gpu_model and m.gpu_count == count and not m.shape})
            hint = f" ({count} x {row.gpu_model}: {_list(same, 6)})" if same else ""
            if row.series == "n1" and limits_text(row.gpu_model):
                hint += (f"; N1 takes {limits_text(row.gpu_model)}, and {row.machine_type} has "
                         f"{row.vcpus:g} vCPUs and {row.memory_gb:g} GB ({N1_LIMITS_SOURCE})")
            valid = " or ".join(str(c) for c in counts)
            if defaulted:
                fix = f"= {counts[0]}" if len(counts) == 1 else f"to {valid}"
                message = (f"not set, so {count} ({_UNSET}), but {row.machine_type} takes only {valid} "
                           f"{row.gpu_model}{hint}: set {prefix}.gpu_count {fix}")
            else:
                message = f"{count} does not match {row.machine_type}, which has {valid} {row.gpu_model}{hint}"
            problems.append(CatalogProblem(f"{prefix}.gpu_count", message))
    if row is not None and row.series == "n1" and count is not None and not problems:
        why = zone_problem(row.gpu_model, count, row.vcpus or 0, row.memory_gb or 0, zone)
        if why:
            problems.append(CatalogProblem(f"{prefix}.zone", why))
        left = None if zone else _zones_left(catalog, row, count, region)
        if left is not None and left[1] and not left[2]:
            problems.append(CatalogProblem(
                f"{prefix}.region", f"{count} x {row.gpu_model} on {row.machine_type} ({row.vcpus:g} vCPUs, "
                f"{row.memory_gb:g} GB) is not offered in any zone of {region}: the zones offering "
                f"{row.gpu_model} there ({', '.join(left[1])}) are the page's exception, where "
                f"{smaller_limit_text(row.gpu_model, count)}; choose a smaller N1 type or another region"))
    model = row.gpu_model if row is not None else gpu_model
    if model:
        problem = availability_problem(catalog, model, region, zone, prefix,
                                       row.machine_type if row is not None else None)
        if problem is not None:
            problems.append(problem)
    return problems


def choice_notes(catalog: Catalog, *, prefix: str, machine_type: str | None, gpu_model: str | None,
                 gpu_count: int | None, region: str, zone: str | None) -> list[str]:
    """What a choice :func:`check_choice` accepts leaves for the user to know: an unset N1 count priced as the
    default while the type takes others too, and, with a region but no zone, the zones of that region the
    page's exception excludes for this shape.  Empty when nothing is worth saying (or the choice is refused)."""
    count, defaulted = choice_count(catalog, machine_type, gpu_count)
    if not machine_type or count is None:
        return []
    try:
        row = machine_row(catalog, machine_type, gpu_model, prefix, count)
    except CatalogError:
        return []
    if row is None or row.series != "n1" or row.gpu_count != count:
        return []
    notes: list[str] = []
    others = [str(c) for c in _counts(catalog, row.machine_type, row.gpu_model) if c != count]
    if defaulted and others:
        notes.append(f"{prefix}.gpu_count is not set: priced as {count} x {row.gpu_model} ({_UNSET}); "
                     f"{row.machine_type} also takes {' or '.join(others)} x {row.gpu_model}: set {prefix}.gpu_count "
                     "to price another count")
    left = None if zone else _zones_left(catalog, row, count, region)
    if left is not None and (left[2] or not left[1]):
        where = (f"zones of {region} that take it: {', '.join(left[2])}; "
                 + (f"set {prefix}.zone to one of them" if prefix == "target" else "place it in one of them")
                 if left[2] else f"the catalog does not list which zones of {region} offer {row.gpu_model}")
        notes.append(f"{prefix}.region: {count} x {row.gpu_model} on {row.machine_type} is not offered in "
                     f"{', '.join(left[0])} ({smaller_limit_text(row.gpu_model, count)}); {where}")
    return notes


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
