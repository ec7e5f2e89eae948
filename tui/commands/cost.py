"""``gpumigrate cost PROFILE [--json]``: what the move costs and saves, every price with its origin and age."""

from __future__ import annotations

import argparse
from pathlib import Path

from tui.argtypes import bounded

DATA_GB_MAX = 1e9
"""1 EB, as cost.data_gb (engine.cost.section.MAX_DATA_GB; not imported here to keep the CLI's start cheap)."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cost", help="compare the source with the Google Cloud options: per run, per month, break-even "
                                          "(USD only: US dollar list prices, no currency conversion)",
                       description="Compare the source with the Google Cloud options: per run, per month, "
                                   "break-even. USD only: every figure is in US dollars (list prices or your "
                                   "hourly_usd), no currency conversion. Percentages are of the source's "
                                   "monthly bill (effective: what is billed, commitments included).")
    p.add_argument("profile", help="the TOML profile")
    p.add_argument("--json", action="store_true", help="print one JSON document instead of tables")
    p.add_argument("--data-gb", type=bounded(0, DATA_GB_MAX), default=None, metavar="GB",
                   help="data moved off the source, in GB, 0 to 1e9 (overrides cost.data_gb)")
    p.add_argument("--session", default=None, metavar="NAME",
                   help="read that session's inventory: the transfer sources it sized give the data volume (unless "
                        "cost.data_gb or --data-gb is set) and the source's EBS volumes (read only)")
    p.add_argument("--allow-price-fallback", action="store_true",
                   help="price a region the catalog has no price for at another region's rate, with a loud note "
                        "(default: an error naming the regions that are priced)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from engine.catalog.check import CatalogError
    from engine.catalog.load import load_catalog
    from engine.cost.model import compute_costs
    from engine.profile import load_profile, located_error

    profile = load_profile(args.profile)
    if args.data_gb is not None:
        profile = profile.model_copy(update={"cost": profile.cost.model_copy(update={"data_gb": args.data_gb})})
    catalog = load_catalog()
    try:
        if args.session:
            from engine.cost.volume import compute_with_inventory

            data, origin = _session_inventory(args.session)
            report = compute_with_inventory(profile, catalog, data, origin, Path(args.profile).resolve().parent,
                                            allow_price_fallback=args.allow_price_fallback)
            if data is None:
                report.notes.append(origin)
        else:
            report = compute_costs(profile, catalog, allow_price_fallback=args.allow_price_fallback)
    except CatalogError as exc:  # a price the catalog refuses: point at the profile's line
        raise located_error(args.profile, [(exc.field, str(exc).split(": ", 1)[1])]) from None
    from tui.output import print_json, report_output, say_closed

    with report_output() as out:  # `| head -1`: the report was made; only its printing ends early
        if args.json:
            print_json(report.to_dict())
        else:
            _render(report, catalog)
    if out.closed:
        say_closed(f"{len(report.options)} options priced (exit 0)")
    return 0


def _session_inventory(name: str) -> tuple[dict | None, str]:
    from engine.cost.volume import recorded_inventory
    from engine.session import SessionStore

    with SessionStore.open(name, create=False) as store:
        return recorded_inventory(store)


def _options_table(console, report):  # type: ignore[no-untyped-def]
    """One row per option when the terminal is wide enough; else one column per option.

    Thirteen columns do not fit 80 (the width of many terminals and of every pipe): rich cut each cell
    to two letters and an ellipsis, the dollar figures included. Turned on its side the same figures
    stay whole.
    """
    from rich.measure import Measurement
    from rich.table import Table

    from engine.cost.model import pct, usd
    from engine.cost.report import commitment_caveat

    columns = (("side", "left"), ("option", "left"), ("pricing", "left"), ("$/h", "right"),
               ("h/run", "right"), ("$/run paid", "right"), ("$/run list", "right"),
               ("compute/mo", "right"), ("storage/mo", "right"), ("saving/month", "right"),
               ("one-off", "right"), ("break-even", "right"), ("price age", "right"))
    rows = []
    partial = " *" if report.egress_not_included else ""  # one-off and break-even without (some) egress
    for o in report.options:
        be = "" if o.side == "source" else ("never" if o.break_even_months is None
                                            else f"{o.break_even_months:.1f} mo{partial}")
        age = o.age_label()
        saving = "" if o.savings_monthly_usd is None else \
            usd(o.savings_monthly_usd) + ("" if o.savings_monthly_fraction is None
                                         else f" ({pct(o.savings_monthly_fraction)})")
        rows.append((o.side, o.name, o.pricing, usd(o.hourly_usd), f"{o.hours_per_run:.2f}", o.paid_label(),
                     usd(o.list_cost_per_run_usd), usd(o.monthly_usd), usd(o.storage_monthly_usd), saving,
                     "" if o.one_off_usd is None else usd(o.one_off_usd) + partial, be, age))
    captions = ([f"* egress NOT counted: {report.egress_not_included}"] if partial else []) + \
        ([f"NOT counted: {'; '.join(report.not_counted)}"] if report.not_counted else []) + \
        [f"{o.name}: {terms}" for o in report.options if o.side == "target" and (terms := commitment_caveat(o))]
    caption = "\n".join(captions) or None  # under the table that gives the saving and the break-even
    wide = Table(title="Cost per run and per month", title_justify="left", caption=caption, caption_justify="left")
    for column, justify in columns:
        wide.add_column(column, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        wide.add_row(*row)
    if Measurement.get(console, console.options.update_width(10_000), wide).maximum <= console.width:
        return wide
    narrow = Table(title="Cost per run and per month", title_justify="left", caption=caption, caption_justify="left")
    narrow.add_column("")
    for row in rows:
        narrow.add_column(f"{row[1]} ({row[0]})", justify="right", overflow="fold")
    for index, (column, _) in enumerate(columns[2:], start=2):
        narrow.add_row(column, *(row[index] for row in rows))
    return narrow


def _render(report, catalog) -> None:  # type: ignore[no-untyped-def]
    from rich.table import Table

    from engine.cost.model import pct, usd
    from tui.output import console as make_console

    console = make_console(highlight=False)
    console.print(_options_table(console, report))

    detail = Table(title="Where each price comes from", title_justify="left", show_lines=False)
    detail.add_column("option")
    detail.add_column("price origin", overflow="fold")
    detail.add_column("hours")
    detail.add_column("notes", overflow="fold")
    for o in report.options:
        extra = []
        if o.spot_discount is not None:
            extra.append(f"spot {pct(o.spot_discount)} off on-demand, +{pct(o.spot_overhead)} run time for restarts")
        if o.break_even_utilisation is not None:
            extra.append(f"commitment {usd(o.commitment_monthly_usd)}/month, {pct(o.utilisation)} of its billed "
                         f"hours used; on-demand cheaper below {pct(o.break_even_utilisation)} use")
        if o.break_even_speedup is not None:
            extra.append(f"same cost per run at {o.break_even_speedup:.2f}x the source speed")
        if o.storage_detail:
            extra.append(f"storage {usd(o.storage_monthly_usd)}/month: {o.storage_detail}")
        detail.add_row(o.name, o.price_source, o.hours_basis, "; ".join(extra))
    console.print(detail)

    one_off = Table(title="One-off migration cost (primary target)", title_justify="left")
    one_off.add_column("item")
    one_off.add_column("USD", justify="right")
    one_off.add_column("detail", overflow="fold")
    for item in report.one_off_items:  # not priced at all is "not included", never "$0.00" (read as free)
        one_off.add_row(item.name, "not included" if item.detail.startswith("NOT INCLUDED") else usd(item.usd),
                        item.detail, style="yellow" if item.detail.startswith("NOT INCLUDED") else None)
    one_off.add_row("parallel run", usd(report.primary.parallel_run_usd), report.parallel_run_item.detail)
    total = f"[bold]{usd(report.one_off_usd)}[/]"
    one_off.add_row("[bold]total[/]", total + (" [yellow]without egress[/]" if report.egress_not_included else ""),
                    f"egress NOT counted: {report.egress_not_included}" if report.egress_not_included else "")
    console.print(one_off)

    tco = Table(title="Totals", title_justify="left")
    for column in ("option", "1-year TCO", "3-year TCO"):
        tco.add_column(column, justify="left" if column == "option" else "right")
    for o in report.options:
        tco.add_row(o.name, usd(o.tco_1y_usd), usd(o.tco_3y_usd))
    console.print(tco)

    sens = report.sensitivity
    if sens:
        speed = ", ".join(f"{row['speedup']:.2f}x: {usd(row['monthly_savings_usd'])}" for row in sens["speedup"])
        util = ", ".join(f"{row['runs_per_month']:g} runs: {usd(row['monthly_savings_usd'])}"
                         for row in sens["utilisation"])
        console.print(f"Saving per month vs speed-up ({sens['option']}): {speed}", markup=False)
        console.print(f"Saving per month vs runs per month: {util}", markup=False)
    console.print(f"Data moved: {report.data_gb:,.1f} GB ({report.data_basis}); "
                  f"{report.object_count:,} objects ({report.object_basis}); route: {report.route}", markup=False)
    for note in report.notes:
        console.print(f"note: {note}", style="yellow", markup=False)
    console.print("$/run paid = the monthly compute bill / runs (a commitment is paid whether used or not); $/run "
                  "list = list rate x hours; storage/mo = data at rest and boot disk; savings come from the whole "
                  "monthly bill: the % in saving/month is of the source's monthly bill (effective). USD only: all "
                  "figures in US dollars (USD list prices; no currency conversion).",
                  style="dim", markup=False)
    console.print(f"prices: {catalog.age_note()} (figures rounded to cents for display only; STALE = spot price "
                  "over 30 days old or any price over 180 days old)", style="dim", markup=False)
