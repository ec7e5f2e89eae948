"""What the cost model returns: one-off line items, one priced option per side, and the whole report."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from engine.cost.money import CURRENCY, pct, usd


@dataclass
class LineItem:
    """One part of the one-off migration cost."""

    name: str
    usd: float
    detail: str = ""
    price_source: str = ""
    price_date: str = ""
    price_age_days: int | None = None
    stale: bool = False
    """The price is over 180 days old (see engine.cost.freshness)."""


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
    """The price actually paid per run: the monthly bill / runs (equal to the list rate x hours unless a
    commitment is under-used); the list rate x hours when there are no runs."""
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
    savings_monthly_fraction: float | None = None
    """1 - this option's monthly bill / the source's (effective, storage included): the share of the source's
    monthly bill saved. The JSON also writes it as ``savings_per_run_fraction``, its old (misleading) name."""
    parallel_run_usd: float | None = None
    parallel_run_detail: str = ""
    """How the parallel run is priced (a commitment's: the hours used at on-demand, before it is bought)."""
    one_off_usd: float | None = None
    break_even_months: float | None = None
    break_even_speedup: float | None = None
    """Per run: the speed-up over the source at which this option costs the same per run."""
    tco_1y_usd: float | None = None
    tco_3y_usd: float | None = None
    cumulative_usd: list[float] = field(default_factory=list)
    """Cumulative cost at month 0..horizon (one-off included at month 0 for targets)."""
    notes: list[str] = field(default_factory=list)
    storage_monthly_usd: float = 0.0
    """Data at rest (S3 on the source; GCS on a target) and a target's boot disk, each month."""
    storage_detail: str = ""
    bill_monthly_usd: float | None = None
    """The whole monthly bill: monthly_usd (compute, effective) + storage_monthly_usd; savings use it."""
    list_cost_per_run_usd: float | None = None
    """Hourly list price x billable hours of one run (a commitment: as if fully used)."""
    price_age_days: int | None = None
    """Days since the price was read (None: negotiated in the profile)."""
    stale: bool = False
    """Spot price older than 30 days, or any catalog price older than 180 days."""
    price_flags: list[str] = field(default_factory=list)
    """What a reader must know before trusting the hourly price, in the order shown: STALE (see ``stale``),
    FALLBACK (another region's price: PRICE FALLBACK), CHECK (the catalog's sources disagree: PRICE/SPOT/
    COMMITMENT CHECK). The tables carry them beside the price's age, where an 80-column screen shows them."""

    def paid_label(self) -> str:
        """The "$/run paid" cell: with no runs a month nothing is paid per run (a commitment's bill is for none)."""
        return usd(self.effective_cost_per_run_usd) if self.effective_cost_per_run_usd is not None else "no runs"

    def age_label(self) -> str:
        """The "price age" cell: the age in days (or negotiated / undated) and the flags."""
        flags = [f for f in self.price_flags if f != "STALE"]
        if self.price_age_days is None:
            base = "undated STALE" if self.stale else "negotiated"
        else:
            base = f"{self.price_age_days} d" + (" STALE" if self.stale else "")
        return " ".join([base, *flags])


def spot_caveat(option: "OptionCost") -> str:
    """What a spot figure is not: Google's Spot VMs pages say Compute Engine may preempt them at any time, they
    are outside every SLA, and the price is Google's to change (https://cloud.google.com/compute/docs/instances/
    create-use-spot; https://cloud.google.com/spot-vms/pricing)."""
    overhead = f"+{pct(option.spot_overhead)} run time assumed for restarts" if option.spot_overhead else \
        "no restart time assumed"
    return f"SPOT: not guaranteed (the price can change; VMs can be preempted at any time, no SLA; {overhead})"


def commitment_caveat(option: "OptionCost") -> str | None:
    """A committed-use option's terms, beside its saving as SPOT's caveat is beside a spot one (Google's committed use
    discounts: billed for every hour of the term whether used or not, and not cancellable;
    https://cloud.google.com/compute/docs/instances/committed-use-discounts-overview)."""
    months = {"cud-1y": 12, "cud-3y": 36}.get(option.pricing)
    if not months or option.commitment_monthly_usd is None:
        return None
    hours = option.usage_hours_per_month / option.utilisation if option.utilisation else None
    every = f"every hour ({hours:,.0f} h)" if hours else "every hour"
    return (f"COMMITTED {months // 12} year{'s' * (months > 12)}: {usd(option.commitment_monthly_usd)} a month for "
            f"{every}, used or not ({pct(option.utilisation)} used), for {months} months; it cannot be cancelled")


def _origin(option: "OptionCost") -> str:
    """Where a side's hourly price comes from, short: "negotiated in the profile", "embedded, as of 2026-01-21",
    "refreshed, on 2026-11-30" (the one line replay prints gave its percentage with no date or source at all)."""
    return option.price_source.split(":", 1)[0].split(" (", 1)[0] or "origin unknown"


def price_flags(option: "OptionCost") -> list[str]:
    """The flags of ``option`` from its staleness and its notes (see :attr:`OptionCost.price_flags`)."""
    flags = ["STALE"] if option.stale else []
    if any("PRICE FALLBACK" in n for n in option.notes):
        flags.append("FALLBACK")
    if any(word in n for n in option.notes for word in ("PRICE CHECK:", "SPOT CHECK:", "COMMITMENT CHECK:")):
        flags.append("CHECK")
    return flags


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
    currency: str = CURRENCY
    not_counted: list[str] = field(default_factory=list)
    """Costs the storage classes add that no figure includes (a GLACIER restore, early deletion, Coldline
    retrieval): the saving and the break-even are without them, and every line giving those says so."""
    egress_not_included: str = ""
    """Why the one-off leaves out egress for some or all of the data ("data volume unknown", "s3://b/ not sized"),
    "" when every planned byte is priced: the one-off and break-even are then low, and every line that gives them
    says so."""

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
            # savings_per_run_fraction: the old name of savings_monthly_fraction, kept for existing readers
            "options": [{**asdict(o), "savings_per_run_fraction": o.savings_monthly_fraction} for o in self.options],
            "one_off_usd": self.one_off_usd,
            "break_even_months": self.break_even_months,
            "monthly_usd": {"source": self.monthly_source_usd, "target": self.monthly_target_usd},
            "bill_monthly_usd": {"source": self.source.bill_monthly_usd, "target": self.primary.bill_monthly_usd},
            "currency_note": "US dollars (USD list prices); no currency conversion",
            "one_off_items": [asdict(i) for i in self.one_off_items]
            + [asdict(self.parallel_run_item)],
            "data_gb": self.data_gb,
            "data_basis": self.data_basis,
            "object_count": self.object_count,
            "object_basis": self.object_basis,
            "route": self.route,
            "horizon_months": self.horizon_months,
            "sensitivity": self.sensitivity,
            "catalog_age": self.catalog_age,
            "notes": self.notes,
            "price_fallbacks": self.price_fallbacks,
            "egress_not_included": self.egress_not_included,
            "not_counted": self.not_counted,
        }

    @property
    def parallel_run_item(self) -> LineItem:
        """The parallel run as a one-off line: priced at the primary target's rate, so as old (and as stale)
        as that price; it was undated and never stale, even on a year-old spot price."""
        tgt = self.primary
        return LineItem("parallel run", tgt.parallel_run_usd or 0.0,
                        tgt.parallel_run_detail or f"{tgt.name} for the parallel-run days",
                        price_source=tgt.price_source, price_date=tgt.price_date, price_age_days=tgt.price_age_days,
                        stale=tgt.stale)

    @property
    def price_fallbacks(self) -> list[str]:
        """The PRICE FALLBACK notes: prices taken from another region (allowed by the flag or the profile)."""
        return list(dict.fromkeys(n for n in self.notes if n.startswith("PRICE FALLBACK")))

    def _past_horizon(self, months: float) -> str:
        """A break-even later than the horizon the chart and totals cover is not paid back within it: said, so
        "break-even 57.4 months" does not read as a plan's payback."""
        return f", after the {self.horizon_months}-month horizon" if months > self.horizon_months else ""

    def _without_egress(self) -> str:
        return f" NOT counting egress: {self.egress_not_included}" if self.egress_not_included else ""

    def headline(self, option: OptionCost | None = None) -> list[str]:
        """The promise in two short lines, for a screen with room for little else (80x24): what ``option`` (the
        chosen target by default) saves a month as a share of what base, its break-even ("never" when it is not
        cheaper, never a number), then which prices are STALE or from another region."""
        src = self.source
        tgt = option if option is not None and option.side == "target" else self.primary
        bill = src.bill_monthly_usd if src.bill_monthly_usd is not None else src.monthly_usd
        fraction, saving = tgt.savings_monthly_fraction, tgt.savings_monthly_usd or 0.0
        if fraction is None:
            share = "no percentage (nothing billed on the source a month)"
        else:
            share = (f"{pct(abs(fraction))} {'less' if fraction >= 0 else 'more'} a month than {src.name} "
                     f"({usd(abs(saving))} of its {usd(bill)} monthly bill)")
        if tgt.break_even_months is not None:
            be = (f"break-even {tgt.break_even_months:.1f} months{self._past_horizon(tgt.break_even_months)} "
                  f"(one-off {usd(tgt.one_off_usd or 0.0)}{self._without_egress()})")
        elif saving <= 0:
            be = "break-even never: it is not cheaper a month"
        else:
            be = "break-even never at these assumptions"
        lines = [f"{tgt.name}: {share}; {be}"]
        stale = [o.name for o in (src, tgt) if o.stale] + [i.name for i in self.one_off_items if i.stale and i.usd]
        warn = []
        if stale:  # the first few by name, the rest counted: the line must stay short (the notes give each)
            more = f" +{len(stale) - 3} more" if len(stale) > 3 else ""
            warn.append(f"STALE prices: {', '.join(stale[:3])}{more} (`gpumigrate catalog refresh`, or a quoted "
                        "price)")
        if self.not_counted:  # short: an 80x24 screen gives this line two rows (the notes and the JSON say why)
            warn.append(f"NOT counted: {', '.join(item.split(' (', 1)[0] for item in self.not_counted)}")
        if self.price_fallbacks:
            warn.append(f"PRICE FALLBACK: {len(self.price_fallbacks)} price(s) from another region")
        if tgt.pricing == "spot":
            warn.append(spot_caveat(tgt))
        terms = commitment_caveat(tgt)
        if terms:
            warn.append(terms)
        return lines + (["; ".join(warn)] if warn else [])

    def summary(self) -> str:
        """One line; the monthly figures are the whole bill (compute and storage), as the saving is."""
        src, tgt = self.source, self.primary

        def _bill(o: OptionCost) -> float:
            return o.bill_monthly_usd if o.bill_monthly_usd is not None else o.monthly_usd

        def per_run(o: OptionCost) -> str:
            if o.effective_cost_per_run_usd is None:  # no runs: nothing is paid per run, only the list rate
                return f"{usd(o.list_cost_per_run_usd)}/run at list rate"
            text = f"{usd(o.cost_per_run_usd)}/run"
            if o.list_cost_per_run_usd is not None and usd(o.list_cost_per_run_usd) != usd(o.cost_per_run_usd):
                text += f" (list rate {usd(o.list_cost_per_run_usd)})"
            return text

        saving = tgt.savings_monthly_fraction
        how = "less" if saving is None or saving >= 0 else "more"
        share = (f"{pct(abs(saving))} {how} a month, of the source's effective monthly bill" if saving is not None
                 else "no runs a month: no percentage" if not src.runs_per_month
                 else "nothing billed on the source a month: no percentage")
        text = (f"{src.name} {per_run(src)} vs {tgt.name} {per_run(tgt)}"
                f" ({share}); "
                f"monthly bill {usd(_bill(src))} vs "
                f"{usd(_bill(tgt))}; one-off {usd(self.one_off_usd)}{self._without_egress()}; break-even ")
        be = self.break_even_months
        text += f"{be:.1f} months{self._past_horizon(be)}" if be is not None else "never at these assumptions"
        if be is not None and self.egress_not_included:
            text += ", later once egress is counted"
        stale = [o.name for o in (src, tgt) if o.stale] + [i.name for i in self.one_off_items if i.stale and i.usd]
        text += f"; prices: {src.name} ({_origin(src)}) and {tgt.name} ({_origin(tgt)})"
        if self.not_counted:  # the saving and break-even above are without these: said on the same line
            text += f"; NOT counted: {'; '.join(self.not_counted)}"
        if stale:  # the one line is what replay, the session and the step bar keep: it must not read as current
            text += (f"; STALE prices: {', '.join(stale)} (over their age limit; `gpumigrate catalog refresh` "
                     "or a quoted price)")
        if tgt.pricing == "spot":  # a spot saving is not a promise: the one line must not read as one
            text += "; " + spot_caveat(tgt)
        terms = commitment_caveat(tgt)
        if terms:  # nor is a commitment's saving free of its terms
            text += "; " + terms
        fallbacks = len(self.price_fallbacks)
        if fallbacks:  # the one line replay prints must not read as priced where it was not
            text += (f"; PRICE FALLBACK: {fallbacks} price{'s' * (fallbacks != 1)} taken from another region, "
                     "NOT this region's (see the notes)")
        return text
