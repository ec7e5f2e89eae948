"""What ``gpumigrate validate`` asks the cost model: would ``cost`` (and replay's cost step) price this profile?

The answer comes from the pricing functions the cost model itself runs (:func:`source_price`,
:func:`target_price`, then :func:`compute_costs` for the region-dependent parts: egress, storage at rest,
EBS), not from a second list of rules, so a profile that validates is one ``cost`` prices.  Each refusal
is a :class:`CatalogProblem` naming its profile field, so validate can point at the line.

A choice still open (no source instance type or price, no target machine type or price: the ``left to
decide`` lines of validate) is not priced here and is not a problem.
"""

from __future__ import annotations

from typing import Any

from engine.catalog.check import CatalogError, CatalogProblem, choice_notes
from engine.catalog.load import Catalog
from engine.cost.pricing import source_price, target_price


def _problem(exc: CatalogError) -> CatalogProblem:
    return CatalogProblem(exc.field, str(exc).split(": ", 1)[1])


def _source_chosen(profile: Any) -> bool:
    src = profile.source
    return src.hourly_usd is not None or (src.provider in ("aws", "gcp") and bool(src.instance_type))


def price_problems(profile: Any, catalog: Catalog,
                   allow_price_fallback: bool = False) -> tuple[list[CatalogProblem], list[str]]:
    """(problems, notes): every price the cost step would refuse, and its PRICE FALLBACK notes when a
    fallback is allowed (``allow_price_fallback`` or the profile's cost.allow_price_fallback)."""
    from engine.cost.model import compute_costs

    allow = allow_price_fallback or profile.cost.allow_price_fallback
    problems: list[CatalogProblem] = []
    notes: list[str] = []
    source_ok = _source_chosen(profile)
    if source_ok:
        try:
            notes += [n for n in source_price(profile, catalog, allow).notes if n.startswith("PRICE FALLBACK")]
        except CatalogError as exc:
            problems.append(_problem(exc))
    tgt, wl = profile.target, profile.workload
    choices: list[dict[str, Any]] = []
    if tgt.machine_type or tgt.hourly_usd is not None:
        choices.append({"machine_type": tgt.machine_type, "region": tgt.region, "gpu_model": tgt.gpu_model,
                        "gpu_count": tgt.gpu_count if "gpu_count" in tgt.model_fields_set else None,
                        "pricing": tgt.pricing, "hourly_usd": tgt.hourly_usd, "field_prefix": "target",
                        "zone": tgt.zone})
    target_ok = bool(choices)
    for index, opt in enumerate(profile.cost.options):
        choices.append({"machine_type": opt.machine_type, "region": opt.region or tgt.region,
                        "gpu_model": opt.gpu_model,
                        "gpu_count": opt.gpu_count if "gpu_count" in opt.model_fields_set else None,
                        "pricing": opt.pricing, "hourly_usd": opt.hourly_usd, "field_prefix": f"cost.options[{index}]"})
    for choice in choices:
        try:
            priced = target_price(catalog=catalog, label=None, hours=wl.target_hours_per_run, speedup=wl.speedup,
                                  source_hours=1.0, source_basis="given", allow_fallback=allow, **choice)
        except CatalogError as exc:
            problems.append(_problem(exc))
            continue
        said = choice_notes(catalog, prefix=choice["field_prefix"], machine_type=choice["machine_type"],
                            gpu_model=choice["gpu_model"], gpu_count=choice["gpu_count"], region=choice["region"],
                            zone=choice.get("zone"))
        notes += [n for n in priced.notes if (n.startswith("PRICE FALLBACK") or n in said) and n not in notes]
    if problems or not (source_ok and target_ok):
        return problems, notes
    try:  # the parts priced per region from the whole profile: egress, storage at rest, EBS, one-off fees
        report = compute_costs(profile, catalog, with_sensitivity=False, allow_price_fallback=allow)
    except CatalogError as exc:
        return [_problem(exc)], notes
    notes += [n for n in report.notes if n.startswith("PRICE FALLBACK") and n not in notes]
    return problems, notes
