"""Resolving prices: the source's and each target option's hourly price and hours per run, from the
profile and the catalog, each with its origin; and the one public question other modules ask:
:func:`price_per_run` (what one run of machine type X with N GPUs costs in region R).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from engine.catalog.check import CatalogError, check_choice, choice_count, choice_notes, machine_row
from engine.catalog.geo import FALLBACK_ELSEWHERE, continent, nearby_aws_region, nearby_words
from engine.catalog.load import EMBEDDED, NEGOTIATED, Catalog, GcpMachine, Origin


@dataclass
class Priced:
    name: str
    pricing: str
    hourly: float
    origin: Origin
    machine: str
    region: str
    gpu_model: str
    gpu_count: float
    hours: float
    hours_basis: str
    ondemand: float | None = None
    spot: float | None = None
    notes: list[str] = field(default_factory=list)
    storage_monthly: float = 0.0
    storage_detail: str = ""


def origin_text(origin: Origin, today: date | None) -> tuple[str, str]:
    if origin.kind == NEGOTIATED:
        return f"negotiated in the profile ({origin.source})", "profile"
    return f"{origin.describe(today)}: {origin.source}", origin.date or "undated"


def source_price(profile: Any, catalog: Catalog, allow_fallback: bool = False) -> Priced:
    src = profile.source
    wl = profile.workload
    hours, basis, notes = wl.source_hours_per_run, "measured", []
    if hours is None:
        hours, basis = 1.0, "unknown"
        notes.append("workload.source_hours_per_run is not set: figures are per instance-hour (1 h per run)")
    name = src.instance_type or f"{src.provider} source"
    gpu_model, gpu_count, ondemand = src.gpu_model or "", float(src.gpu_count or 0), None
    row: Any = None
    if src.provider == "aws" and src.instance_type:
        row = catalog.aws_instance(src.instance_type, src.region) or catalog.aws_instance(src.instance_type)
    elif src.provider == "gcp" and src.instance_type:
        row = (catalog.gcp_machine(src.instance_type, src.region, src.gpu_model)
               or catalog.gcp_machine(src.instance_type, None, src.gpu_model))
    if row is not None:
        gpu_model = gpu_model or row.gpu_model
        gpu_count = gpu_count or float(row.gpu_count)
        ondemand = row.ondemand_usd_per_hr
    if src.hourly_usd is None and row is not None and src.region and row.region != src.region:
        priced = sorted({r.region for r in catalog.aws_instances if r.instance_type == src.instance_type
                         and r.ondemand_usd_per_hr}) if src.provider == "aws" else [row.region]
        if not allow_fallback:
            raise CatalogError("source.region", f"the catalog has no {src.region} price for {name} (priced in "
                                f"{', '.join(priced or [row.region])}); set source.hourly_usd to what you pay, or run "
                                "`gpumigrate cost "
                                "--allow-price-fallback`"
                                + FALLBACK_ELSEWHERE +
                                " to price it at another region's rate")
        why = ""
        if src.provider == "aws" and priced:  # a Paris instance took us-east-1's rate where Ireland's was known
            near = nearby_aws_region(src.region, priced)
            row = catalog.aws_instance(src.instance_type, near) or row
            ondemand = row.ondemand_usd_per_hr
            why = nearby_words(src.region, row.region)
        notes.append(f"PRICE FALLBACK: {name} has no {src.region} price in the catalog; priced at {row.region}'s "
                     f"rate{why} (price fallback allowed), so this figure is NOT the {src.region} price")
    if src.hourly_usd is not None:
        origin = Origin(NEGOTIATED, "source.hourly_usd", "profile")
        kind = "negotiated" if src.pricing == "on-demand" else src.pricing
        return Priced(name, kind, float(src.hourly_usd), origin, name, src.region or "", gpu_model,
                       gpu_count, float(hours), basis, ondemand=ondemand, notes=notes)
    if row is None:
        if src.instance_type and src.provider in ("aws", "gcp"):
            raise CatalogError(
                "source.instance_type", f"{src.instance_type!r} is not in the {src.provider} catalog "
                f"(`gpumigrate catalog show --provider {src.provider}` lists what is known); "
                "set source.hourly_usd to price it")
        raise CatalogError("source.hourly_usd", f"the {src.provider} source has no catalog price: set source.hourly_usd")
    if ondemand is None:
        raise CatalogError("source.instance_type", f"the catalog has no trusted on-demand price for {name} "
                           f"({row.notes[:120]}); "
                            "set source.hourly_usd or run `gpumigrate catalog refresh`")
    return Priced(name, "on-demand", float(ondemand), row.price_origin, name, row.region, gpu_model, gpu_count,
                   float(hours), basis, ondemand=ondemand, notes=notes)


def priced_regions(catalog: Catalog, row: GcpMachine) -> list[str]:
    """The regions the catalog prices ``row``'s machine type (with its GPU) in."""
    return sorted({m.region for m in catalog.machines_of(row.machine_type)
                   if m.gpu_model == row.gpu_model and m.gpu_count == row.gpu_count})


def _regional_row(catalog: Catalog, row: GcpMachine, region: str, prefix: str, allow_fallback: bool,
                  notes: list[str]) -> GcpMachine:
    """The row for ``region``; without one, an error naming the regions that are priced (or, when
    ``allow_fallback``, the nearest-to-default region's row and a loud note)."""
    exact = catalog.gcp_machine(row.machine_type, region, row.gpu_model, row.gpu_count)
    if exact is not None:
        return exact
    priced = priced_regions(catalog, row)
    if not allow_fallback:
        only = (f" only: single-region data, the public per-region tables for it disagree or are missing"
                if len(priced) == 1 else "")
        raise CatalogError(f"{prefix}.region", f"the catalog has no {region} price for {row.machine_type} "
                            f"(priced in {', '.join(priced)}{only}); choose one of those, set {prefix}.hourly_usd, "
                            "or run `gpumigrate cost --allow-price-fallback`"
                            + FALLBACK_ELSEWHERE +
                            " to price it at another region's rate")
    near = [r for r in priced if continent(r) == continent(region)]
    why = ""
    if near and row.region not in near:
        # a us-central1 target fell back to asia-northeast1 (the first priced region): a same-continent rate is
        # the nearer stand-in (Google prices regions of a continent closer together than across them)
        row = catalog.gcp_machine(row.machine_type, near[0], row.gpu_model, row.gpu_count) or row
    if row.region in near:
        why = f", the first priced region on {region}'s continent"
    notes.append(f"PRICE FALLBACK: {row.machine_type} has no {region} price in the catalog; priced at "
                 f"{row.region}'s rate{why} (price fallback allowed), so this figure is NOT the {region} price")
    return row


def target_price(*, catalog: Catalog, label: str | None, machine_type: str | None, region: str,
                 gpu_model: str | None, gpu_count: int | None, pricing: str, hourly_usd: float | None,
                 hours: float | None, speedup: float | None, source_hours: float, source_basis: str,
                 field_prefix: str, inherit: tuple[str, float | None, float | None] | None = None,
                 allow_fallback: bool = False, zone: str | None = None) -> Priced:
    """One target option's hourly price and hours per run.  ``gpu_count`` None: not set in the profile;
    ``zone`` None: any zone of ``region`` (cost options always)."""
    notes: list[str] = []
    row: GcpMachine | None = None
    if machine_type:
        row = machine_row(catalog, machine_type, gpu_model, field_prefix,
                          choice_count(catalog, machine_type, gpu_count)[0])
        if row is None and hourly_usd is None:
            raise CatalogError(f"{field_prefix}.machine_type", f"{machine_type!r} is not in the Google Cloud catalog "
                                "(`gpumigrate catalog show --provider gcp`); set an hourly_usd to price it")
        if row is not None:
            problems = check_choice(catalog, prefix=field_prefix, machine_type=machine_type, gpu_model=gpu_model,
                                    gpu_count=gpu_count, region=region, zone=zone)
            if problems:
                raise CatalogError(problems[0].field, problems[0].message)
            notes += choice_notes(catalog, prefix=field_prefix, machine_type=machine_type, gpu_model=gpu_model,
                                  gpu_count=gpu_count, region=region, zone=zone)
            if hourly_usd is None:
                row = _regional_row(catalog, row, region, field_prefix, allow_fallback, notes)
                check = row.notes.find("PRICE CHECK:")
                if check >= 0:  # the row's sources disagree (some figures refused): say so where it is used
                    notes.append(f"{row.machine_type}: " + "; ".join(row.notes[check:].split("; ")[:2]))
                spot_check = row.notes.find("SPOT CHECK:")
                if spot_check >= 0 and pricing == "spot":  # the figure may be the host part alone
                    notes.append(f"{row.machine_type}: " + row.notes[spot_check:].split("; ")[0])
                if priced_regions(catalog, row) == [row.region]:
                    notes.append(f"{row.machine_type}: SINGLE-REGION price ({row.region} only; the public "
                                 "per-region tables for it disagree or are missing, so no other region is priced)")
    elif hourly_usd is None:
        raise CatalogError(f"{field_prefix}.machine_type", "set machine_type (priced from the catalog) or hourly_usd")
    name = label or f"{machine_type or 'custom'} {pricing}"
    ondemand = row.ondemand_usd_per_hr if row else None
    spot = row.spot_usd_per_hr if row else None
    # hours on the target; an extra option with the primary's GPU inherits the workload's hours/speed-up
    if hours is None and speedup is None and inherit is not None and row is not None \
            and row.gpu_model == inherit[0]:
        hours, speedup = inherit[1], inherit[2]
    if hours is not None:
        target_hours, basis = float(hours), "given"
    elif speedup is not None:
        target_hours, basis = source_hours / float(speedup), f"estimated from a {speedup:g}x speed-up"
    else:
        target_hours, basis = source_hours, "assumed equal to the source"
        notes.append(f"{name}: no target hours or speed-up given; assumed as long as on the source")
    if source_basis == "unknown" and hours is None:
        basis += " (source hours unknown)"
    count = float(row.gpu_count) if row else float(gpu_count or 1)
    model = (row.gpu_model if row else gpu_model) or ""
    mtype = machine_type or "custom"
    if hourly_usd is not None:
        origin = Origin(NEGOTIATED, f"{field_prefix}.hourly_usd", "profile")
        return Priced(name, pricing, float(hourly_usd), origin, mtype, region, model, count, target_hours, basis,
                       ondemand=ondemand, spot=spot, notes=notes)
    assert row is not None
    if pricing == "on-demand":
        if ondemand is None:
            raise CatalogError(f"{field_prefix}.machine_type", f"the catalog has no trusted on-demand price for "
                               f"{mtype} ({row.verified}); "
                                f"set {field_prefix}.hourly_usd or run `gpumigrate catalog refresh --gcp`")
        return Priced(name, pricing, ondemand, row.price_origin, mtype, row.region, model, count, target_hours,
                       basis, ondemand=ondemand, spot=spot, notes=notes)
    if pricing == "spot":
        if spot is None:
            raise CatalogError(f"{field_prefix}.pricing", f"the catalog has no spot price for {mtype} in {row.region}; "
                                f"set {field_prefix}.hourly_usd or choose another pricing")
        spot_origin = Origin(EMBEDDED, row.spot_source, row.spot_date, "") if row.spot_source \
            else Origin(row.origin, row.source, row.spot_date or row.date, row.verified)
        return Priced(name, pricing, spot, spot_origin, mtype, row.region, model, count, target_hours, basis,
                      ondemand=ondemand, spot=spot, notes=notes)
    # committed use
    direct = row.cud_1y_usd_per_hr if pricing == "cud-1y" else row.cud_3y_usd_per_hr
    if direct is not None:
        cud_origin = Origin(EMBEDDED, row.cud_source, row.cud_date, "") if row.cud_source \
            else Origin(row.origin, row.source, row.cud_date or row.date, row.verified)
        check = row.notes.find("COMMITMENT CHECK:")
        if check >= 0:  # the commitment's source disagrees with today's on-demand price: say so where it is used
            notes.append(f"{name}: {row.notes[check:].split(';')[0]}")
        return Priced(name, pricing, direct, cud_origin, mtype, row.region, model, count, target_hours,
                       basis, ondemand=ondemand, spot=spot, notes=notes)
    if ondemand is None:
        raise CatalogError(f"{field_prefix}.pricing", f"the catalog has no trusted on-demand price for {mtype} to "
                           "apply a committed-use "
                            f"discount to; set {field_prefix}.hourly_usd")
    discount = catalog.cud_discount(pricing, mtype)
    if discount is None and row.series == "n1":
        # Google publishes N1 commitments ("Commitment v1: Cpu/Ram in ..."); the catalog does not model them, so
        # it must not say "not published", nor price the option at on-demand
        skipped = (f"; the last refresh skipped {catalog.n1_commitments_skipped} N1 commitment SKUs"
                   if catalog.n1_commitments_skipped else "")
        raise CatalogError(f"{field_prefix}.pricing", f"a {pricing} price for {mtype} in {row.region} is not "
                           "available here: N1 commitments are not modelled (the embedded catalog has N1 commitment "
                           f"prices only from Google's 2022 price list, not for {row.region}{skipped}); set "
                           f"{field_prefix}.hourly_usd to the committed rate you were quoted, or price it on-demand")
    if discount is None:
        raise CatalogError(f"{field_prefix}.pricing", f"no {pricing} price is published for {mtype} in {row.region} "
                            f"({row.source}); set {field_prefix}.hourly_usd to the committed rate you were quoted")
    hourly = ondemand * (1.0 - discount.discount)
    older = min((row.date or "9999", discount.date or "9999"))
    origin = Origin(row.origin, f"on-demand {row.source} x (1 - {discount.discount:.0%} {pricing} for "
                                f"{discount.scope}: {discount.source})", older if older != "9999" else "",
                    row.verified if not discount.verified.startswith("yes") else row.verified)
    if not discount.verified.startswith("yes"):
        notes.append(f"{name}: the {pricing} rate for {discount.scope} is verified={discount.verified}")
    return Priced(name, pricing, hourly, origin, mtype, row.region, model, count, target_hours, basis,
                   ondemand=ondemand, spot=spot, notes=notes)


def _set_count(section: Any) -> int | None:
    return section.gpu_count if "gpu_count" in section.model_fields_set else None


def target_prices(profile: Any, catalog: Catalog, source: Priced, allow_fallback: bool = False) -> list[Priced]:
    tgt, wl = profile.target, profile.workload
    out = [target_price(catalog=catalog, label=None, machine_type=tgt.machine_type, region=tgt.region,
                        gpu_model=tgt.gpu_model, gpu_count=_set_count(tgt), pricing=tgt.pricing,
                        hourly_usd=tgt.hourly_usd, hours=wl.target_hours_per_run, speedup=wl.speedup,
                        source_hours=source.hours, source_basis=source.hours_basis, field_prefix="target",
                        allow_fallback=allow_fallback, zone=tgt.zone)]
    inherit = (out[0].gpu_model, wl.target_hours_per_run, wl.speedup)
    for index, opt in enumerate(profile.cost.options):
        out.append(target_price(inherit=inherit, catalog=catalog, label=opt.name, machine_type=opt.machine_type,
                                region=opt.region or tgt.region, gpu_model=opt.gpu_model, gpu_count=_set_count(opt),
                                pricing=opt.pricing, hourly_usd=opt.hourly_usd, hours=opt.hours_per_run,
                                speedup=opt.speedup, source_hours=source.hours, source_basis=source.hours_basis,
                                field_prefix=f"cost.options[{index}]", allow_fallback=allow_fallback))
    seen: dict[str, int] = {}
    for item in out:  # names must be unique: they key the table rows and the chosen option
        count = seen.get(item.name, 0)
        seen[item.name] = count + 1
        if count:
            item.name = f"{item.name} #{count + 1}"
    return out


@dataclass(frozen=True)
class RunPrice:
    """What one run costs on one Google Cloud machine shape (see :func:`price_per_run`)."""

    machine_type: str
    gpu_model: str
    gpu_count: int
    region: str
    pricing: str
    hourly_usd: float
    hours_per_run: float
    """Billable hours (spot: including the interruption overhead)."""
    cost_per_run_usd: float
    """At the list rate; for a commitment this assumes the commitment is fully used."""
    price_source: str
    price_date: str
    notes: tuple[str, ...] = ()


def price_per_run(catalog: Catalog, machine_type: str, gpu_count: int | None, region: str, hours_per_run: float,
                  *, pricing: str = "on-demand", gpu_model: str | None = None,
                  spot_interruption_overhead: float = 0.10, allow_fallback: bool = False,
                  today: date | None = None) -> RunPrice:
    """The price of one run of ``machine_type`` (with ``gpu_count`` GPUs, None: whatever it has) in ``region``.

    The public question the sizing work asks to rank shapes by price per run.  Raises BadInputError
    (naming the problem) when the catalog contradicts the choice: an unknown machine type, a GPU or
    GPU count it does not have, a region that does not offer it or has no price.
    """
    priced = target_price(catalog=catalog, label=None, machine_type=machine_type, region=region,
                          gpu_model=gpu_model, gpu_count=gpu_count, pricing=pricing, hourly_usd=None,
                          hours=hours_per_run, speedup=None, source_hours=hours_per_run, source_basis="given",
                          field_prefix="target", allow_fallback=allow_fallback)
    hours = priced.hours * (1.0 + spot_interruption_overhead) if pricing == "spot" else priced.hours
    source, when = origin_text(priced.origin, today)
    return RunPrice(machine_type, priced.gpu_model, int(priced.gpu_count), priced.region, pricing, priced.hourly,
                    hours, priced.hourly * hours, source, when, tuple(priced.notes))
