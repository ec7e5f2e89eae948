"""The cost model: what each side costs per run and per month, what the move costs once, and when it pays off.

All arithmetic is in float dollars and hours, never rounded; :func:`usd` rounds
to cents for display only.  Every price carries its origin (embedded with its
as-of date, refreshed with the refresh date, or negotiated in the profile).

Definitions (also shown in the report's ``notes``):

* cost per run = hourly price x hours per run (spot: hours x (1 + interruption
  overhead)); for a committed-use option this is the effective rate when the
  commitment is fully used.
* monthly = cost per run x runs per month, except committed use: the
  commitment (price x billable hours x committed instances) is paid whether
  used or not, plus on-demand for any use beyond it.
* one-off = egress for the data moved (tiered, monthly free allowance, by
  route) + request charges + Storage Transfer Service fees + the parallel run
  (the target's run-rate for ``parallel_run_days`` while the source still runs).
* break-even months = one-off / monthly saving (None when there is no saving).
"""


from __future__ import annotations

import math
from dataclasses import replace
from datetime import date
from typing import Any

from engine.catalog.load import NEGOTIATED, Catalog, load_catalog
from engine.cost.ebs import SourceVolume
from engine.cost.money import DAYS_PER_MONTH, GIB, pct, usd
from engine.cost.one_off import egress_cost, one_off_items, sts_entry_items, tiered_cost, tiers_with_allowance
from engine.cost.pricing import Priced, origin_text, price_per_run, source_price, target_prices
from engine.cost.freshness import PRICE_STALE_DAYS, SPOT_STALE_DAYS, price_age
from engine.cost.report import CostReport, LineItem, OptionCost, price_flags, spot_caveat
from engine.cost.storage import not_counted as storage_not_counted
from engine.cost.storage import source_storage, target_storage

COMMITTED = ("cud-", "reserved-", "savings-plan-")
"""Pricing paid for every hour of the term, used or not (Google Cloud CUDs; AWS RIs and Savings Plans)."""

__all__ = ["CostReport", "LineItem", "OptionCost", "commitment_monthly", "compute_costs", "egress_cost",
           "one_off_items", "pct", "price_per_run", "sts_entry_items", "tiered_cost", "tiers_with_allowance", "usd"]

SPEEDUP_FACTORS = (0.5, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0)
UTILISATION_FACTORS = (0.25, 0.5, 1.0, 2.0, 4.0)


def commitment_monthly(hourly: float, hours_per_month: float, instances: int, usage_hours: float,
                       overflow_hourly: float) -> tuple[float, float]:
    """(monthly cost, commitment part): the commitment is paid in full; use beyond it at ``overflow_hourly``."""
    capacity = hours_per_month * instances
    commit = hourly * capacity
    overflow = max(0.0, usage_hours - capacity) * overflow_hourly
    return commit + overflow, commit


def _ratio(a: float, b: float) -> float | None:
    """a / b, or None when it is not a finite number (a vanishing denominator is "no figure", never Infinity)."""
    try:
        value = a / b
    except ZeroDivisionError:
        return None
    return value if math.isfinite(value) else None


def _less(ratio: float | None) -> float | None:
    return None if ratio is None else 1.0 - ratio


def _evaluate(priced: Priced, side: str, runs: float, cost: Any, today: date | None) -> OptionCost:
    hours = priced.hours
    overhead = None
    if priced.pricing == "spot":
        overhead = cost.spot_interruption_overhead
        hours = hours * (1.0 + overhead)
    cost_per_run = priced.hourly * hours
    usage = hours * runs
    source, when = origin_text(priced.origin, today)
    age, stale = price_age(priced.origin.date, priced.pricing, today) if priced.origin.kind != NEGOTIATED \
        else (None, False)
    option = OptionCost(side=side, name=priced.name, pricing=priced.pricing, hourly_usd=priced.hourly,
                        hours_per_run=hours, cost_per_run_usd=cost_per_run, monthly_usd=cost_per_run * runs,
                        price_source=source, price_date=when, machine=priced.machine, region=priced.region,
                        gpu_model=priced.gpu_model, gpu_count=priced.gpu_count, hours_basis=priced.hours_basis,
                        runs_per_month=runs, usage_hours_per_month=usage,
                        utilisation=usage / cost.hours_per_month, ondemand_hourly_usd=priced.ondemand,
                        spot_overhead=overhead, notes=list(priced.notes), list_cost_per_run_usd=cost_per_run,
                        price_age_days=age, stale=stale)
    if stale:
        limit = SPOT_STALE_DAYS if priced.pricing == "spot" else PRICE_STALE_DAYS
        option.notes.append(f"{priced.name}: the {priced.pricing} price is {age} days old (stale after {limit}); "
                            "run `gpumigrate catalog refresh` or set the hourly price you were quoted")
    if priced.pricing == "spot" and priced.ondemand:
        option.spot_discount = _less(_ratio(priced.hourly, priced.ondemand))
    if priced.pricing.startswith(COMMITTED):
        overflow_rate = priced.ondemand if priced.ondemand is not None else priced.hourly
        monthly, commit = commitment_monthly(priced.hourly, cost.hours_per_month, cost.commitment_instances,
                                             usage, overflow_rate)
        option.monthly_usd, option.commitment_monthly_usd = monthly, commit
        option.utilisation = usage / (cost.hours_per_month * cost.commitment_instances)
        if priced.ondemand:
            option.break_even_utilisation = _ratio(priced.hourly, priced.ondemand)
        if priced.spot:
            option.break_even_utilisation_vs_spot = _ratio(priced.hourly,
                                                           priced.spot * (1 + cost.spot_interruption_overhead))
    option.price_flags = price_flags(option)
    option.storage_monthly_usd, option.storage_detail = priced.storage_monthly, priced.storage_detail
    option.bill_monthly_usd = option.monthly_usd + priced.storage_monthly
    if runs > 0 and math.isfinite(option.monthly_usd / runs):
        # The price actually paid: the monthly bill / runs (a commitment is paid whether used or not).
        option.effective_cost_per_run_usd = option.cost_per_run_usd = option.monthly_usd / runs
    return option


def _finish_target(option: OptionCost, source: OptionCost, shared_one_off: float, cost: Any,
                   source_hourly: float, source_hours: float) -> None:
    bill, source_bill = _bill(option), _bill(source)
    option.savings_monthly_usd = source_bill - bill
    # Savings come from what is billed each month (effective, storage included), never from list rates.
    # Nothing billed on the source (no runs, no storage): no percentage. One run at list rates was compared
    # instead, and a commitment billing $1,709 a month for no run read "34.5% less a month".
    if source_bill > 0:
        option.savings_monthly_fraction = _less(_ratio(bill, source_bill))
    option.parallel_run_usd = _parallel_run_rate(option, bill) * cost.parallel_run_days / DAYS_PER_MONTH
    option.one_off_usd = shared_one_off + option.parallel_run_usd
    if option.savings_monthly_usd > 0:
        months = option.one_off_usd / option.savings_monthly_usd
        # A saving too small to ever pay back (a denormal run rate, say) is "never", not infinity.
        option.break_even_months = months if math.isfinite(months) else None
    if source_hourly > 0 and source_hours > 0:
        overhead = option.spot_overhead or 0.0
        option.break_even_speedup = _ratio(option.hourly_usd * (1.0 + overhead), source_hourly)
    option.tco_1y_usd = option.one_off_usd + 12 * bill
    option.tco_3y_usd = option.one_off_usd + 36 * bill
    option.cumulative_usd = [option.one_off_usd + m * bill for m in range(cost.horizon_months + 1)]
    _commitment_owed(option, cost)


COMMITMENT_MONTHS = {"cud-1y": 12, "cud-3y": 36}
"""How long a Google Cloud commitment is paid for: it cannot be cancelled."""


def _commitment_owed(option: OptionCost, cost: Any) -> None:
    """A 3-year commitment's 1-year total was 12 monthly bills, as if a workload that stops after a year stopped
    paying: the other 24 months are owed all the same. The 1-year total now includes them, and a chart horizon
    shorter than the term says what is owed after it."""
    term = COMMITMENT_MONTHS.get(option.pricing)
    monthly = option.commitment_monthly_usd
    if not term or not monthly:
        return
    if term > 12 and option.tco_1y_usd is not None:
        owed = (term - 12) * monthly
        option.tco_1y_usd += owed
        option.notes.append(f"{option.name}: its 1-year total includes the {term - 12} months still owed on the "
                            f"{term // 12}-year commitment ({usd(owed)}, {usd(monthly)}/month): a commitment cannot "
                            "be cancelled, so a workload that stops after a year still pays them")
    if cost.horizon_months < term:
        option.notes.append(f"{option.name}: the {cost.horizon_months}-month horizon ends before the {term}-month "
                            f"commitment does: {usd((term - cost.horizon_months) * monthly)} more is owed after it "
                            "(not in the chart): for a workload that short, compare it with on-demand or spot")


def _parallel_run_rate(option: OptionCost, bill: float) -> float:
    """What the target costs a month while both environments run, and ``option.parallel_run_detail`` says how.

    A Google Cloud commitment is bought after the migration is verified (the create scripts say so: it cannot
    be cancelled), so during the parallel run the hours used are paid on demand; pricing them at the
    commitment's monthly bill charged a commitment not yet bought. Any other pricing: the monthly bill."""
    if option.pricing.startswith("cud-") and option.ondemand_hourly_usd:
        option.parallel_run_detail = (f"{option.name}: the hours used at on-demand "
                                      f"{usd(option.ondemand_hourly_usd)}/h while both environments run (the "
                                      "commitment is bought after the migration is verified)")
        return option.usage_hours_per_month * option.ondemand_hourly_usd + option.storage_monthly_usd
    option.parallel_run_detail = f"{option.name} while both environments run"
    if option.pricing.startswith("cud-"):
        option.parallel_run_detail += " (at the commitment's monthly bill: no on-demand price known)"
    return bill


def _bill(option: OptionCost) -> float:
    """The whole monthly bill: compute (effective) plus storage at rest and disks."""
    return option.bill_monthly_usd if option.bill_monthly_usd is not None else option.monthly_usd


def _data_volume(profile: Any, data_bytes: int | None, basis: str | None) -> tuple[float, str]:
    if profile.cost.data_gb is not None:
        return float(profile.cost.data_gb), "cost.data_gb"
    if data_bytes is not None:
        return max(0.0, data_bytes / GIB), basis or "planned by the transfer step"
    return 0.0, "unknown"


def compute_costs(profile: Any, catalog: Catalog | None = None, data_bytes: int | None = None,
                  object_count: int | None = None, today: date | None = None,
                  with_sensitivity: bool = True, volume_basis: str | None = None,
                  transfer_entries: list[dict[str, Any]] | None = None,
                  allow_price_fallback: bool = False,
                  source_volumes: list[SourceVolume] | None = None,
                  unsized_sources: list[str] | None = None, source_volumes_unknown: str = "") -> CostReport:
    """Price the source and every target option of ``profile``; raise BadInputError when a price is missing
    (a region without a price too, unless ``allow_price_fallback`` or the profile's cost.allow_price_fallback:
    then another region's, with a loud note).
    ``source_volumes``: the source's EBS volumes from the inventory, priced in its monthly bill
    (``source_volumes_unknown``: why there are none to price, said in the note).
    ``unsized_sources``: transfer sources whose data could not be sized (their egress is not in the one-off)."""
    catalog = catalog if catalog is not None else load_catalog()
    cost, wl = profile.cost, profile.workload
    allow_price_fallback = allow_price_fallback or cost.allow_price_fallback
    runs = float(wl.runs_per_month)
    source_priced = source_price(profile, catalog, allow_price_fallback)
    targets_priced = target_prices(profile, catalog, source_priced, allow_price_fallback)

    data_gb, data_basis = _data_volume(profile, data_bytes, volume_basis)
    if cost.object_count is not None:
        objects, object_basis = int(cost.object_count), "cost.object_count"
    elif object_count is not None:
        objects, object_basis = int(object_count), volume_basis or "planned by the transfer step"
    elif data_gb > 0:
        objects = math.ceil(data_gb * 1024 / cost.avg_object_mb)
        object_basis = f"estimated at {cost.avg_object_mb:g} MB per object"
    else:
        objects, object_basis = 0, "unknown"
    items, notes = one_off_items(profile, catalog, data_gb, objects, today, transfer_entries,
                                 allow_fallback=allow_price_fallback)
    source_priced.storage_monthly, source_priced.storage_detail, more = source_storage(
        profile, catalog, data_gb, allow_price_fallback, source_volumes, today, source_volumes_unknown)
    notes.extend(more)
    for priced in targets_priced:
        priced.storage_monthly, priced.storage_detail, more = target_storage(profile, catalog, priced.region, data_gb)
        notes.extend(n for n in more if n not in notes)
    owed = _source_commitment_owed(profile, source_priced, cost)
    if owed is not None:
        items.append(owed)
    shared = sum(i.usd for i in items)
    missing = ""
    if data_basis == "unknown":
        missing = "data volume unknown"
        notes.append("data volume unknown: egress not included (set cost.data_gb or run the transfer step)")
        for item in items:  # $0.00 read as "free": it is not priced at all
            if item.usd == 0 and item.name in ("egress", "S3 GET requests", "S3 LIST requests", "GCS writes (Class A)") \
                    and not any(word in item.detail for word in ("waiver", "same region: free", "not priced")):
                item.detail = "NOT INCLUDED: data volume unknown (set cost.data_gb, or run the transfer step)"
    elif unsized_sources:
        missing = f"{', '.join(unsized_sources)} not sized"
        notes.append(f"egress not included for {', '.join(unsized_sources)}: not sized here (set cost.data_gb "
                     "to the whole volume)")

    source = _evaluate(source_priced, "source", runs, cost, today)
    source.cumulative_usd = [m * _bill(source) for m in range(cost.horizon_months + 1)]
    source.tco_1y_usd, source.tco_3y_usd = 12 * _bill(source), 36 * _bill(source)
    options = [source]
    for priced in targets_priced:
        option = _evaluate(priced, "target", runs, cost, today)
        _finish_target(option, source, shared, cost, source_priced.hourly, source_priced.hours)
        options.append(option)
    for option in options:
        notes.extend(option.notes)
        if option.pricing == "spot":  # the tables give a spot saving like any other: the notes say what it is not
            notes.append(f"{option.name}: {spot_caveat(option)}")
        if option.break_even_months is not None and option.break_even_months > cost.horizon_months:
            notes.append(f"{option.name}: break-even {option.break_even_months:.1f} months is after the "
                         f"{cost.horizon_months}-month horizon: not paid back within it")
        if option.pricing.startswith(COMMITTED) and option.break_even_utilisation is not None \
                and option.utilisation < option.break_even_utilisation:
            notes.append(f"{option.name}: {pct(option.utilisation)} of the commitment's billed hours are used; "
                         f"on-demand is cheaper below {pct(option.break_even_utilisation)} utilisation")
    report = CostReport(options=options, one_off_items=items, data_gb=data_gb, data_basis=data_basis,
                        object_count=objects, object_basis=object_basis, route=cost.route,
                        horizon_months=cost.horizon_months, catalog_age=catalog.age_note(today), notes=notes,
                        egress_not_included=missing, not_counted=storage_not_counted(profile))
    if with_sensitivity:
        report.sensitivity = _sensitivity(profile, catalog, source_priced, targets_priced[0], shared, today)
    return report


def _source_commitment_owed(profile: Any, source: Priced, cost: Any) -> LineItem | None:
    """What the source's reserved instance / savings plan still costs after the move: paid whether the
    workload moves or not, so a cost of moving now rather than when it ends."""
    src = profile.source
    if not source.pricing.startswith(COMMITTED) or not src.commitment_months_left:
        return None
    monthly = source.hourly * cost.hours_per_month
    return LineItem("source commitment still owed", src.commitment_months_left * monthly,
                    f"{src.commitment_months_left:g} months left of {source.pricing} at {usd(source.hourly)}/h "
                    f"({usd(monthly)}/month): paid whether you move now or not",
                    "source.hourly_usd and source.commitment_months_left (profile)", "profile")


def _sensitivity(profile: Any, catalog: Catalog, source_priced: Priced, primary: Priced, shared: float,
                 today: date | None) -> dict[str, Any]:
    """How the primary target's saving moves with its speed-up and with utilisation (runs per month)."""
    cost, runs = profile.cost, float(profile.workload.runs_per_month)

    def run(target: Priced, runs_per_month: float) -> tuple[OptionCost, OptionCost]:
        src = _evaluate(source_priced, "source", runs_per_month, cost, today)
        opt = _evaluate(target, "target", runs_per_month, cost, today)
        _finish_target(opt, src, shared, cost, source_priced.hourly, source_priced.hours)
        return src, opt

    base_speedup = source_priced.hours / primary.hours if primary.hours > 0 else 1.0
    speed_rows = []
    for factor in SPEEDUP_FACTORS:
        speed = base_speedup * factor
        _, opt = run(replace(primary, hours=source_priced.hours / speed), runs)
        speed_rows.append({"factor": factor, "speedup": speed, "cost_per_run_usd": opt.cost_per_run_usd,
                           "monthly_usd": opt.monthly_usd, "monthly_savings_usd": opt.savings_monthly_usd,
                           "break_even_months": opt.break_even_months})
    util_rows = []
    for factor in UTILISATION_FACTORS:
        r = runs * factor
        src, opt = run(primary, r)
        util_rows.append({"factor": factor, "runs_per_month": r, "utilisation": opt.utilisation,
                          "source_monthly_usd": src.monthly_usd, "monthly_usd": opt.monthly_usd,
                          "monthly_savings_usd": opt.savings_monthly_usd, "break_even_months": opt.break_even_months})
    out: dict[str, Any] = {"option": primary.name, "speedup": speed_rows, "utilisation": util_rows,
                           "break_even_speedup": _break_even_speedup(source_priced, primary, cost),
                           "break_even_runs_per_month": None}
    if primary.pricing.startswith("cud-"):
        src = _evaluate(source_priced, "source", 1.0, cost, today)
        opt = _evaluate(primary, "target", 1.0, cost, today)
        if src.cost_per_run_usd > 0 and opt.commitment_monthly_usd is not None:
            runs_needed = _ratio(opt.commitment_monthly_usd, src.cost_per_run_usd)
            capacity = cost.hours_per_month * cost.commitment_instances
            if runs_needed is not None and runs_needed * opt.hours_per_run <= capacity:
                out["break_even_runs_per_month"] = runs_needed
    return out


def _break_even_speedup(source: Priced, target: Priced, cost: Any) -> float | None:
    if source.hourly <= 0:
        return None
    overhead = cost.spot_interruption_overhead if target.pricing == "spot" else 0.0
    return _ratio(target.hourly * (1.0 + overhead), source.hourly)
