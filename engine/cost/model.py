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
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from engine.catalog.load import NEGOTIATED, Catalog, GcpMachine, NetPrice, Origin, load_catalog
from engine.errors import BadInputError

GIB = 1024**3
DAYS_PER_MONTH = 365.25 / 12
SPEEDUP_FACTORS = (0.5, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0)
UTILISATION_FACTORS = (0.25, 0.5, 1.0, 2.0, 4.0)


# --- display ------------------------------------------------------------------------


def usd(amount: float | None, cents: bool = True) -> str:
    """Money for people: rounded half-up to cents here and nowhere else (``$1,234.57``)."""
    if amount is None or (isinstance(amount, float) and not math.isfinite(amount)):
        return "n/a"
    quantum = Decimal("0.01") if cents else Decimal("1")
    value = Decimal(repr(float(amount))).quantize(quantum, rounding=ROUND_HALF_UP)
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,}"


def pct(fraction: float | None) -> str:
    if fraction is None or not math.isfinite(fraction):
        return "n/a"
    return f"{fraction * 100:.1f}%"


# --- results --------------------------------------------------------------------------


@dataclass
class LineItem:
    """One part of the one-off migration cost."""

    name: str
    usd: float
    detail: str = ""
    price_source: str = ""
    price_date: str = ""


@dataclass
class OptionCost:
    """One side of the comparison: the source, or one Google Cloud target option."""

    side: str
    """"source" or "target"."""
    name: str
    pricing: str
    """on-demand | spot | cud-1y | cud-3y (the source: on-demand or negotiated)."""
    hourly_usd: float
    hours_per_run: float
    """Billable hours of one run (spot: including the interruption overhead)."""
    cost_per_run_usd: float
    monthly_usd: float
    price_source: str
    price_date: str
    machine: str = ""
    region: str = ""
    gpu_model: str = ""
    gpu_count: float = 0
    hours_basis: str = ""
    """measured | given | estimated from a speed-up | assumed equal to the source | unknown."""
    runs_per_month: float = 0
    usage_hours_per_month: float = 0
    utilisation: float = 0
    """Busy hours / billable hours in a month (per committed instance for committed use)."""
    ondemand_hourly_usd: float | None = None
    spot_discount: float | None = None
    spot_overhead: float | None = None
    commitment_monthly_usd: float | None = None
    break_even_utilisation: float | None = None
    """Committed use: below this utilisation, on-demand would be cheaper."""
    break_even_utilisation_vs_spot: float | None = None
    """Committed use: below this utilisation, spot (with its overhead) would be cheaper (>1: always)."""
    effective_cost_per_run_usd: float | None = None
    """Monthly cost / runs per month (differs from cost_per_run_usd when a commitment is under-used)."""
    savings_monthly_usd: float | None = None
    savings_per_run_fraction: float | None = None
    parallel_run_usd: float | None = None
    one_off_usd: float | None = None
    break_even_months: float | None = None
    break_even_speedup: float | None = None
    """Per run: the speed-up over the source at which this option costs the same per run."""
    tco_1y_usd: float | None = None
    tco_3y_usd: float | None = None
    cumulative_usd: list[float] = field(default_factory=list)
    """Cumulative cost at month 0..horizon (one-off included at month 0 for targets)."""
    notes: list[str] = field(default_factory=list)


@dataclass
class CostReport:
    """The whole comparison; ``to_dict`` is the document ``gpumigrate cost --json`` prints."""

    options: list[OptionCost]
    one_off_items: list[LineItem]
    data_gb: float
    data_basis: str
    object_count: int
    object_basis: str
    route: str
    horizon_months: int
    catalog_age: str
    notes: list[str] = field(default_factory=list)
    sensitivity: dict[str, Any] = field(default_factory=dict)
    currency: str = "USD"

    @property
    def source(self) -> OptionCost:
        return self.options[0]

    @property
    def targets(self) -> list[OptionCost]:
        return self.options[1:]

    @property
    def primary(self) -> OptionCost:
        return self.options[1]

    @property
    def one_off_usd(self) -> float:
        return self.primary.one_off_usd or 0.0

    @property
    def shared_one_off_usd(self) -> float:
        return sum(item.usd for item in self.one_off_items)

    @property
    def break_even_months(self) -> float | None:
        return self.primary.break_even_months

    @property
    def monthly_source_usd(self) -> float:
        return self.source.monthly_usd

    @property
    def monthly_target_usd(self) -> float:
        return self.primary.monthly_usd

    def option(self, name: str) -> OptionCost | None:
        return next((o for o in self.options if o.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "options": [asdict(o) for o in self.options],
            "one_off_usd": self.one_off_usd,
            "break_even_months": self.break_even_months,
            "monthly_usd": {"source": self.monthly_source_usd, "target": self.monthly_target_usd},
            "one_off_items": [asdict(i) for i in self.one_off_items]
            + [asdict(LineItem("parallel run", self.primary.parallel_run_usd or 0.0,
                               f"{self.primary.name} for the parallel-run days"))],
            "data_gb": self.data_gb,
            "data_basis": self.data_basis,
            "object_count": self.object_count,
            "object_basis": self.object_basis,
            "route": self.route,
            "horizon_months": self.horizon_months,
            "sensitivity": self.sensitivity,
            "catalog_age": self.catalog_age,
            "notes": self.notes,
        }

    def summary(self) -> str:
        src, tgt = self.source, self.primary
        text = (f"{src.name} {usd(src.cost_per_run_usd)}/run vs {tgt.name} {usd(tgt.cost_per_run_usd)}/run"
                f" ({pct(tgt.savings_per_run_fraction)} less); monthly {usd(src.monthly_usd)} vs "
                f"{usd(tgt.monthly_usd)}; one-off {usd(self.one_off_usd)}; break-even ")
        be = self.break_even_months
        return text + (f"{be:.1f} months" if be is not None else "never at these assumptions")


# --- pure arithmetic ----------------------------------------------------------------------


def tiered_cost(volume_gb: float, tiers: list[tuple[float, float | None, float]]) -> float:
    """Cost of ``volume_gb`` in one month across (start, end, price) tiers (end None = no limit)."""
    if volume_gb <= 0:
        return 0.0
    total = 0.0
    for start, end, price in tiers:
        upper = volume_gb if end is None else min(volume_gb, end)
        if upper > start:
            total += (upper - start) * price
    return total


def tiers_with_allowance(rows: list[NetPrice], free_gb: float | None) -> list[tuple[float, float | None, float]]:
    """Tiers from catalog rows; ``free_gb`` replaces the catalog's free allowance (the zero-price first tier)."""
    tiers = [(r.tier_start_gb or 0.0, r.tier_end_gb, r.price_usd) for r in rows]
    if free_gb is None:
        return tiers
    paid = [t for t in tiers if t[2] > 0]
    out: list[tuple[float, float | None, float]] = [(0.0, free_gb, 0.0)] if free_gb > 0 else []
    first = True
    for start, end, price in paid:
        if end is not None and end <= free_gb:
            continue
        out.append((free_gb if first else max(start, free_gb), end, price))
        first = False
    return out


def egress_cost(volume_gb: float, tiers: list[tuple[float, float | None, float]], months: int = 1) -> float:
    """Tiered egress with the volume spread evenly over ``months`` billing months."""
    months = max(1, int(months))
    return months * tiered_cost(volume_gb / months, tiers)


def commitment_monthly(hourly: float, hours_per_month: float, instances: int, usage_hours: float,
                       overflow_hourly: float) -> tuple[float, float]:
    """(monthly cost, commitment part): the commitment is paid in full; use beyond it at ``overflow_hourly``."""
    capacity = hours_per_month * instances
    commit = hourly * capacity
    overflow = max(0.0, usage_hours - capacity) * overflow_hourly
    return commit + overflow, commit


# --- resolving prices from the profile and catalog ------------------------------------------


@dataclass
class _Priced:
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


def _origin_text(origin: Origin, today: date | None) -> tuple[str, str]:
    if origin.kind == NEGOTIATED:
        return f"negotiated in the profile ({origin.source})", "profile"
    return f"{origin.describe(today)}: {origin.source}", origin.date or "undated"


def _source_price(profile: Any, catalog: Catalog) -> _Priced:
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
        if src.region and row.region != src.region:
            notes.append(f"no {src.region} price for {name} in the catalog: priced at {row.region}")
    if src.hourly_usd is not None:
        origin = Origin(NEGOTIATED, "source.hourly_usd", "profile")
        return _Priced(name, "negotiated", float(src.hourly_usd), origin, name, src.region or "", gpu_model,
                       gpu_count, float(hours), basis, ondemand=ondemand, notes=notes)
    if row is None:
        if src.instance_type and src.provider in ("aws", "gcp"):
            raise BadInputError(
                f"source.instance_type {src.instance_type!r} is not in the {src.provider} catalog "
                f"(`gpumigrate catalog show --provider {src.provider}` lists what is known); "
                "set source.hourly_usd to price it")
        raise BadInputError(f"the {src.provider} source has no catalog price: set source.hourly_usd")
    if ondemand is None:
        raise BadInputError(f"the catalog has no trusted on-demand price for {name} ({row.notes[:120]}); "
                            "set source.hourly_usd or run `gpumigrate catalog refresh`")
    return _Priced(name, "on-demand", float(ondemand), row.price_origin, name, row.region, gpu_model, gpu_count,
                   float(hours), basis, ondemand=ondemand, notes=notes)


def _target_price(*, catalog: Catalog, label: str | None, machine_type: str | None, region: str,
                  gpu_model: str | None, gpu_count: int, pricing: str, hourly_usd: float | None,
                  hours: float | None, speedup: float | None, source_hours: float, source_basis: str,
                  field_prefix: str, inherit: tuple[str, float | None, float | None] | None = None) -> _Priced:
    notes: list[str] = []
    row: GcpMachine | None = None
    if machine_type:
        candidates = {m.gpu_model for m in catalog.gcp_machines if m.machine_type == machine_type}
        if gpu_model is None and len(candidates) > 1:
            raise BadInputError(f"{field_prefix}.machine_type {machine_type!r} carries one of "
                                f"{', '.join(sorted(candidates))}: set {field_prefix}.gpu_model")
        row = catalog.gcp_machine(machine_type, region, gpu_model)
        if row is None:
            row = catalog.gcp_machine(machine_type, None, gpu_model)
            if row is not None:
                notes.append(f"no {region} price for {machine_type} in the catalog: priced at {row.region}")
        if row is None and hourly_usd is None:
            raise BadInputError(f"{field_prefix}.machine_type {machine_type!r} is not in the Google Cloud catalog "
                                "(`gpumigrate catalog show --provider gcp`); set an hourly_usd to price it")
    elif hourly_usd is None:
        raise BadInputError(f"{field_prefix}: set machine_type (priced from the catalog) or hourly_usd")
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
    count = float(row.gpu_count) if row else float(gpu_count)
    model = (row.gpu_model if row else gpu_model) or ""
    mtype = machine_type or "custom"
    if hourly_usd is not None:
        origin = Origin(NEGOTIATED, f"{field_prefix}.hourly_usd", "profile")
        return _Priced(name, pricing, float(hourly_usd), origin, mtype, region, model, count, target_hours, basis,
                       ondemand=ondemand, spot=spot, notes=notes)
    assert row is not None
    if pricing == "on-demand":
        if ondemand is None:
            raise BadInputError(f"the catalog has no trusted on-demand price for {mtype} ({row.verified}); "
                                f"set {field_prefix}.hourly_usd or run `gpumigrate catalog refresh --gcp`")
        return _Priced(name, pricing, ondemand, row.price_origin, mtype, row.region, model, count, target_hours,
                       basis, ondemand=ondemand, spot=spot, notes=notes)
    if pricing == "spot":
        if spot is None:
            raise BadInputError(f"the catalog has no spot price for {mtype} in {row.region}; "
                                f"set {field_prefix}.hourly_usd or choose another pricing")
        return _Priced(name, pricing, spot, row.price_origin, mtype, row.region, model, count, target_hours, basis,
                       ondemand=ondemand, spot=spot, notes=notes)
    # committed use
    direct = row.cud_1y_usd_per_hr if pricing == "cud-1y" else row.cud_3y_usd_per_hr
    if direct is not None:
        return _Priced(name, pricing, direct, row.price_origin, mtype, row.region, model, count, target_hours,
                       basis, ondemand=ondemand, spot=spot, notes=notes)
    if ondemand is None:
        raise BadInputError(f"the catalog has no trusted on-demand price for {mtype} to apply a committed-use "
                            f"discount to; set {field_prefix}.hourly_usd")
    discount = catalog.cud_discount(pricing, mtype)
    if discount is None:
        raise BadInputError(f"the catalog has no {pricing} discount rate; set {field_prefix}.hourly_usd")
    hourly = ondemand * (1.0 - discount.discount)
    older = min((row.date or "9999", discount.date or "9999"))
    origin = Origin(row.origin, f"on-demand {row.source} x (1 - {discount.discount:.0%} {pricing} for "
                                f"{discount.scope}: {discount.source})", older if older != "9999" else "",
                    row.verified if not discount.verified.startswith("yes") else row.verified)
    if not discount.verified.startswith("yes"):
        notes.append(f"{name}: the {pricing} rate for {discount.scope} is verified={discount.verified}")
    return _Priced(name, pricing, hourly, origin, mtype, row.region, model, count, target_hours, basis,
                   ondemand=ondemand, spot=spot, notes=notes)


def _targets(profile: Any, catalog: Catalog, source: _Priced) -> list[_Priced]:
    tgt, wl = profile.target, profile.workload
    out = [_target_price(catalog=catalog, label=None, machine_type=tgt.machine_type, region=tgt.region,
                         gpu_model=tgt.gpu_model, gpu_count=tgt.gpu_count, pricing=tgt.pricing,
                         hourly_usd=tgt.hourly_usd, hours=wl.target_hours_per_run, speedup=wl.speedup,
                         source_hours=source.hours, source_basis=source.hours_basis, field_prefix="target")]
    inherit = (out[0].gpu_model, wl.target_hours_per_run, wl.speedup)
    for index, opt in enumerate(profile.cost.options):
        out.append(_target_price(inherit=inherit, catalog=catalog, label=opt.name, machine_type=opt.machine_type,
                                 region=opt.region or tgt.region, gpu_model=opt.gpu_model, gpu_count=opt.gpu_count,
                                 pricing=opt.pricing, hourly_usd=opt.hourly_usd, hours=opt.hours_per_run,
                                 speedup=opt.speedup, source_hours=source.hours, source_basis=source.hours_basis,
                                 field_prefix=f"cost.options[{index}]"))
    seen: dict[str, int] = {}
    for item in out:  # names must be unique: they key the table rows and the chosen option
        count = seen.get(item.name, 0)
        seen[item.name] = count + 1
        if count:
            item.name = f"{item.name} #{count + 1}"
    return out


# --- one-off costs -----------------------------------------------------------------------------


def _region_group(region: str) -> str:
    if region.startswith(("europe", "eu-")):
        return "eu"
    if region.startswith(("asia", "ap-", "australia")):
        return "apac"
    return "na"


def sts_entry_items(profile: Any, data_gb: float, objects: int,
                    transfer_entries: list[dict[str, Any]] | None = None) -> tuple[list[LineItem], list[str]]:
    """A "Storage Transfer Service" line per ``[[transfer]]`` entry whose engine resolves to sts.

    ``transfer_entries`` is the transfer step's result ``entries`` (``engine``,
    ``planned_bytes``, ``planned_objects`` per entry); without it, ``engine = "auto"`` is
    resolved on the data volume (a single entry only: the volume cannot be split).
    """
    from engine.transfer.sts import choose_engine, sts_cost_usd, sts_mode, sts_price

    specs = list(getattr(profile, "transfer", []) or [])
    items: list[LineItem] = []
    notes: list[str] = []
    for i, spec in enumerate(specs):
        got = transfer_entries[i] if transfer_entries and i < len(transfer_entries) else {}
        nbytes, nobjects = got.get("planned_bytes"), got.get("planned_objects")
        if nbytes is None and len(specs) == 1 and data_gb > 0:
            nbytes, nobjects = int(data_gb * GIB), objects
        engine = got.get("engine") or choose_engine(nbytes, nobjects, spec)[0]
        if engine != "sts":
            continue
        if nbytes is None:
            notes.append(f"[[transfer]] #{i + 1} runs on Storage Transfer Service; its volume is unknown, so its "
                         "STS fee is not included (run the transfer step, or set cost.data_gb)")
            continue
        mode = sts_mode(spec)
        scope = spec.sts.network_scope if spec.sts else "NA"
        row = sts_price(mode, scope)
        items.append(LineItem("Storage Transfer Service", sts_cost_usd(int(nbytes), mode, scope),
                              f"[[transfer]] #{i + 1} {spec.src}: {nbytes / GIB:,.1f} GiB, {mode} "
                              f"(${row.usd_per_gib}/GiB)", f"{row.source} (verified: {row.verified})",
                              row.source_date))
    return items, notes


def one_off_items(profile: Any, catalog: Catalog, data_gb: float, objects: int,
                  today: date | None = None,
                  transfer_entries: list[dict[str, Any]] | None = None) -> tuple[list[LineItem], list[str]]:
    """Egress, requests and transfer-service fees for moving ``data_gb`` in ``objects`` objects."""
    cost, src = profile.cost, profile.source
    items: list[LineItem] = []
    notes: list[str] = []
    sts_items, sts_notes = sts_entry_items(profile, data_gb, objects, transfer_entries)
    notes.extend(sts_notes)
    if cost.route == "sts-private-network" and src.provider == "aws":
        sts_items = []  # the route below prices STS for the whole volume already

    def item(name: str, amount: float, detail: str, row: NetPrice | None) -> None:
        if row is not None:
            source, when = _origin_text(row.price_origin, today)
        else:
            source, when = "", ""
        items.append(LineItem(name, amount, detail, source, when))

    route = cost.route
    if src.provider == "aws":
        rows = catalog.net_tiers("aws.egress.internet")
        if route == "exit-waiver":
            item("egress", 0.0, f"{data_gb:,.1f} GB under the AWS exit waiver (request it from AWS support)",
                 catalog.net_price("aws.exit_waiver"))
            notes.append("exit waiver: AWS credits the egress on request; verified=no in the catalog")
        elif route == "sts-private-network":
            row = catalog.net_price(f"sts.private_network.{_region_group(profile.target.region)}")
            price = row.price_usd if row else 0.0
            item("Storage Transfer Service (managed private network)", data_gb * price,
                 f"{data_gb:,.1f} GB x ${price}/GB; AWS egress assumed not billed to you (verify)", row)
        else:
            tiers = tiers_with_allowance(rows, cost.egress_free_gb)
            free = cost.egress_free_gb if cost.egress_free_gb is not None else next(
                (r.tier_end_gb or 0.0 for r in rows if r.price_usd == 0), 0.0)
            amount = egress_cost(data_gb, tiers, cost.transfer_months)
            item("egress", amount, f"{data_gb:,.1f} GB over {cost.transfer_months} month(s), tiered, "
                 f"{free:g} GB/month free", rows[1] if len(rows) > 1 else (rows[0] if rows else None))
            if route == "sts" and not sts_items:
                item("Storage Transfer Service", 0.0, "agentless S3 -> GCS: no STS fee",
                     catalog.net_price("sts.agentless"))
        get_row, put_row = catalog.net_price("aws.s3.get_1k"), catalog.net_price("aws.s3.put_1k")
        lists = math.ceil(objects / 1000) if objects else 0
        if get_row:
            item("S3 GET requests", objects / 1000 * get_row.price_usd, f"{objects:,} GETs", get_row)
        if put_row:
            item("S3 LIST requests", lists / 1000 * put_row.price_usd, f"{lists:,} LISTs (1,000 keys each)", put_row)
    elif src.provider == "gcp":
        same = (src.region or "") == profile.target.region
        row = catalog.net_price("gcp.egress.interregion")
        price = 0.0 if same or row is None else row.price_usd
        item("egress", data_gb * price, "same region: free" if same else f"{data_gb:,.1f} GiB inter-region", row)
        get_row = catalog.net_price("gcs.class_b_1k")
        if get_row:
            item("GCS reads (Class B)", objects / 1000 * get_row.price_usd, f"{objects:,} reads", get_row)
    else:
        item("egress", 0.0, f"leaving {src.provider} is not priced by the catalog", None)
        if src.provider not in ("local",) and data_gb > 0:
            notes.append(f"egress from {src.provider} is not in the catalog: add it by hand")
    items.extend(sts_items)
    write_row = catalog.net_price("gcs.class_a_1k")
    if write_row:
        item("GCS writes (Class A)", objects / 1000 * write_row.price_usd, f"{objects:,} object writes", write_row)
    return items, notes


# --- the model ---------------------------------------------------------------------------------


def _evaluate(priced: _Priced, side: str, runs: float, cost: Any, today: date | None) -> OptionCost:
    hours = priced.hours
    overhead = None
    if priced.pricing == "spot":
        overhead = cost.spot_interruption_overhead
        hours = hours * (1.0 + overhead)
    cost_per_run = priced.hourly * hours
    usage = hours * runs
    source, when = _origin_text(priced.origin, today)
    option = OptionCost(side=side, name=priced.name, pricing=priced.pricing, hourly_usd=priced.hourly,
                        hours_per_run=hours, cost_per_run_usd=cost_per_run, monthly_usd=cost_per_run * runs,
                        price_source=source, price_date=when, machine=priced.machine, region=priced.region,
                        gpu_model=priced.gpu_model, gpu_count=priced.gpu_count, hours_basis=priced.hours_basis,
                        runs_per_month=runs, usage_hours_per_month=usage,
                        utilisation=usage / cost.hours_per_month, ondemand_hourly_usd=priced.ondemand,
                        spot_overhead=overhead, notes=list(priced.notes))
    if priced.pricing == "spot" and priced.ondemand:
        option.spot_discount = 1.0 - priced.hourly / priced.ondemand
    if priced.pricing.startswith("cud-"):
        overflow_rate = priced.ondemand if priced.ondemand is not None else priced.hourly
        monthly, commit = commitment_monthly(priced.hourly, cost.hours_per_month, cost.commitment_instances,
                                             usage, overflow_rate)
        option.monthly_usd, option.commitment_monthly_usd = monthly, commit
        option.utilisation = usage / (cost.hours_per_month * cost.commitment_instances)
        if priced.ondemand:
            option.break_even_utilisation = priced.hourly / priced.ondemand
        if priced.spot:
            option.break_even_utilisation_vs_spot = priced.hourly / (priced.spot * (1 + cost.spot_interruption_overhead))
    option.effective_cost_per_run_usd = option.monthly_usd / runs if runs > 0 else None
    return option


def _finish_target(option: OptionCost, source: OptionCost, shared_one_off: float, cost: Any,
                   source_hourly: float, source_hours: float) -> None:
    option.savings_monthly_usd = source.monthly_usd - option.monthly_usd
    if source.cost_per_run_usd > 0:
        option.savings_per_run_fraction = 1.0 - option.cost_per_run_usd / source.cost_per_run_usd
    option.parallel_run_usd = option.monthly_usd * cost.parallel_run_days / DAYS_PER_MONTH
    option.one_off_usd = shared_one_off + option.parallel_run_usd
    if option.savings_monthly_usd > 0:
        months = option.one_off_usd / option.savings_monthly_usd
        # A saving too small to ever pay back (a denormal run rate, say) is "never", not infinity.
        option.break_even_months = months if math.isfinite(months) else None
    if source_hourly > 0 and source_hours > 0:
        overhead = option.spot_overhead or 0.0
        option.break_even_speedup = option.hourly_usd * (1.0 + overhead) / source_hourly
    option.tco_1y_usd = option.one_off_usd + 12 * option.monthly_usd
    option.tco_3y_usd = option.one_off_usd + 36 * option.monthly_usd
    option.cumulative_usd = [option.one_off_usd + m * option.monthly_usd for m in range(cost.horizon_months + 1)]


def _data_volume(profile: Any, data_bytes: int | None, basis: str | None) -> tuple[float, str]:
    if profile.cost.data_gb is not None:
        return float(profile.cost.data_gb), "cost.data_gb"
    if data_bytes is not None:
        return max(0.0, data_bytes / GIB), basis or "planned by the transfer step"
    return 0.0, "unknown"


def compute_costs(profile: Any, catalog: Catalog | None = None, data_bytes: int | None = None,
                  object_count: int | None = None, today: date | None = None,
                  with_sensitivity: bool = True, volume_basis: str | None = None,
                  transfer_entries: list[dict[str, Any]] | None = None) -> CostReport:
    """Price the source and every target option of ``profile``; raise BadInputError when a price is missing."""
    catalog = catalog if catalog is not None else load_catalog()
    cost, wl = profile.cost, profile.workload
    runs = float(wl.runs_per_month)
    source_priced = _source_price(profile, catalog)
    targets_priced = _targets(profile, catalog, source_priced)

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
    items, notes = one_off_items(profile, catalog, data_gb, objects, today, transfer_entries)
    shared = sum(i.usd for i in items)
    if data_basis == "unknown":
        notes.append("data volume unknown: egress not included (set cost.data_gb or run the transfer step)")

    source = _evaluate(source_priced, "source", runs, cost, today)
    source.cumulative_usd = [m * source.monthly_usd for m in range(cost.horizon_months + 1)]
    source.tco_1y_usd, source.tco_3y_usd = 12 * source.monthly_usd, 36 * source.monthly_usd
    options = [source]
    for priced in targets_priced:
        option = _evaluate(priced, "target", runs, cost, today)
        _finish_target(option, source, shared, cost, source_priced.hourly, source_priced.hours)
        options.append(option)
    for option in options:
        notes.extend(option.notes)
        if option.pricing.startswith("cud-") and option.break_even_utilisation is not None \
                and option.utilisation < option.break_even_utilisation:
            notes.append(f"{option.name}: the commitment is {pct(option.utilisation)} used; on-demand is cheaper "
                         f"below {pct(option.break_even_utilisation)} utilisation")
    report = CostReport(options=options, one_off_items=items, data_gb=data_gb, data_basis=data_basis,
                        object_count=objects, object_basis=object_basis, route=cost.route,
                        horizon_months=cost.horizon_months, catalog_age=catalog.age_note(today), notes=notes)
    if with_sensitivity:
        report.sensitivity = _sensitivity(profile, catalog, source_priced, targets_priced[0], shared, today)
    return report


def _sensitivity(profile: Any, catalog: Catalog, source_priced: _Priced, primary: _Priced, shared: float,
                 today: date | None) -> dict[str, Any]:
    """How the primary target's saving moves with its speed-up and with utilisation (runs per month)."""
    cost, runs = profile.cost, float(profile.workload.runs_per_month)

    def run(target: _Priced, runs_per_month: float) -> tuple[OptionCost, OptionCost]:
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
            runs_needed = opt.commitment_monthly_usd / src.cost_per_run_usd
            capacity = cost.hours_per_month * cost.commitment_instances
            if runs_needed * opt.hours_per_run <= capacity:
                out["break_even_runs_per_month"] = runs_needed
    return out


def _break_even_speedup(source: _Priced, target: _Priced, cost: Any) -> float | None:
    if source.hourly <= 0:
        return None
    overhead = cost.spot_interruption_overhead if target.pricing == "spot" else 0.0
    return target.hourly * (1.0 + overhead) / source.hourly
