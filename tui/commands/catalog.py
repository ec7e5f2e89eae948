"""``gpumigrate catalog refresh|show``: update the price cache from the providers' APIs; list what is known."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("catalog", help="GPU machine prices (USD only): refresh from the providers' APIs, show with "
                                       "their age",
                       description="GPU machine prices, USD only (US dollar list prices per hour, no currency "
                                   "conversion): refresh them from the providers' APIs, show them with their age.")
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    r = verbs.add_parser("refresh", help="update the user cache from the Cloud Billing Catalog / AWS Price List APIs")
    r.add_argument("--gcp", action="store_true", help="only Google Cloud (Cloud Billing Catalog API)")
    r.add_argument("--aws", action="store_true", help="only AWS (Price List API)")
    r.add_argument("--aws-region", default="us-east-1", type=lambda text: text.strip().lower(),
                   help="AWS region to price (default us-east-1; any case)")
    r.add_argument("--json", action="store_true", help="NDJSON events, then a summary line")
    r.set_defaults(handler=run_refresh)
    s = verbs.add_parser("show", help="list known machine types and prices (USD only), with origin and age",
                         description="List known GPU machine types and their hourly prices, USD only (US dollar "
                                     "list prices, no currency conversion), with their age and flags.")
    s.add_argument("--gpu", help='GPU model or family, e.g. "A100" or "A100 80GB"')
    s.add_argument("--provider", choices=["gcp", "aws"], help="only one provider")
    s.add_argument("--region", help="only one region")
    s.add_argument("--machine", metavar="TEXT", help='machine or instance types containing TEXT, e.g. "a2-ultra" or '
                                                     '"p4d"')
    s.add_argument("--n1-flexible", action="store_true",
                   help="also list the N1 flexible shapes (an N1 type + GPU count beyond the usual one per count; "
                        "hidden by default, counted)")
    s.add_argument("--not-offered", action="store_true",
                   help="also list rows priced in a region where the GPU is not offered (hidden by default, counted)")
    s.add_argument("--wide", action="store_true",
                   help="every column (provider, GB/GPU, offered, origin and age) in one table, for a wide terminal")
    s.add_argument("--json", action="store_true",
                   help="print one JSON document: every row that matches the filters, hidden ones included "
                        "(with shape and offered), sources, notes and commitment dates")
    s.set_defaults(handler=run_show)
    p.set_defaults(handler=lambda args: _usage(p))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def run_refresh(args: argparse.Namespace) -> int:
    from engine.errors import ExitCode, GpumigrateError, Interrupted
    from engine.events import Message, StepFinished, StepStarted
    from tui.output import make_sink, print_json

    providers = [name for name, chosen in (("gcp", args.gcp), ("aws", args.aws)) if chosen] or ["gcp", "aws"]
    if "aws" in providers:  # the source region's egress, EBS and S3 prices come with the instance prices
        providers.append("aws-network")
    sink = make_sink(args.json)
    code = ExitCode.OK
    summary: dict[str, object] = {}
    try:
        for provider in providers:
            sink(StepStarted("catalog", description=f"catalog refresh: {provider}"))
            try:
                if provider == "gcp":
                    from engine.catalog.refresh_gcp import refresh_gcp

                    result = refresh_gcp(sink)
                elif provider == "aws":
                    from engine.catalog.refresh_aws import refresh_aws

                    result = refresh_aws(sink, region=args.aws_region)
                else:
                    from engine.catalog.refresh_aws_network import refresh_aws_network

                    result = refresh_aws_network(sink, region=args.aws_region)
            except GpumigrateError as exc:  # this part alone: an earlier part's prices were written, and are kept
                # (the network part's error ended the command "the cache is unchanged", after the machine prices
                # had been written, and `--json` printed no summary)
                if isinstance(exc, Interrupted):
                    raise
                sink(Message("catalog", text=f"{provider}: {exc}", level="error"))
                sink(StepFinished("catalog", ok=False, summary=f"{provider}: not refreshed; embedded prices in use"))
                summary[provider] = {"ok": False, "error": str(exc)}
                code = max(code, exc.exit_code)
                continue
            what = "egress/EBS/S3" if provider == "aws-network" else "machine"
            text = (f"{provider}: {result.skus_seen} entries in {result.pages} pages, {len(result.rows)} {what} "
                    f"prices written to {result.path}; {len(result.problems)} reported, not guessed")
            if "prices_changed" in result.extra:  # what moved since the cache this one replaces, and what is gone
                from engine.catalog.refresh_compare import describe

                text += "; " + describe(result.extra, lambda c: " ".join(
                    str(c[f]) for f in ("machine_type", "instance_type", "region") if c.get(f)))
            not_read = result.extra.get("s3_not_refreshed")
            if not_read:  # those classes keep their embedded (dated) price: say so, not "refreshed"
                text += (f"; S3 {', '.join(not_read)} not refreshed (no single storage product of the recorded "
                         "shape; see the warnings; their embedded prices stay in use)")
            n1 = result.extra.get("n1_commitments_skipped")
            if n1:  # counted apart from the noise: a price a cud-1y/cud-3y N1 target would need
                text += (f"; skipped {n1} SKU{'s' * (n1 != 1)}: N1 commitments are not modelled (an N1 committed-"
                         "use price stays the embedded one, with its own date, or is not available)")
            sink(StepFinished("catalog", ok=True, summary=text, result=result.to_dict()))
            summary[provider] = {"ok": True, **result.to_dict()}
    finally:
        close = getattr(sink, "close", None)
        if close:
            close()
    if args.json:
        print_json({"event": "summary", "providers": summary, "exit_code": int(code)})
    return int(code)


_CHECKS = ("PRICE CHECK", "SPOT CHECK", "COMMITMENT CHECK")


def _checks(notes: str | None) -> list[str]:
    """The CHECK notes a row carries (its sources disagree, or a figure may be part of the price)."""
    return [c for c in _CHECKS if f"{c}:" in (notes or "")]


def _commitment_age(cud_date: str | None) -> dict[str, object]:
    """The commitment prices' own date and age: N1's come from Google's 2022 price list, years older than the
    row's on-demand figure whose age the row carries."""
    from engine.cost.freshness import price_age

    if cud_date is None:
        return {"cud_date": None, "cud_age_days": None, "cud_stale": False}
    age, stale = price_age(cud_date, "list", None)
    return {"cud_date": cud_date, "cud_age_days": age, "cud_stale": stale}


def _natural(name: str) -> tuple[object, ...]:
    """g2-standard-4 before g2-standard-12: numbers in a machine type compare as numbers."""
    import re

    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))


def run_show(args: argparse.Namespace) -> int:
    from engine.catalog.load import gpu_matches, load_catalog
    from engine.cost.freshness import price_age

    catalog = load_catalog()
    region = args.region = _known_region(catalog, args.region) if args.region else None
    if args.gpu:
        _known_gpu(catalog, args.gpu)
    rows = []

    def ages(date: str, spot_date: str | None) -> dict[str, object]:
        """The same flags as the cost JSON: spot stale after 30 days, any price after 180, undated stale."""
        age, stale = price_age(date, "list", None)
        spot_age, spot_stale = price_age(spot_date or date, "spot", None) if spot_date is not None else (None, False)
        return {"price_age_days": age, "stale": stale, "spot_age_days": spot_age, "spot_stale": spot_stale}

    if args.provider in (None, "gcp"):
        for m in catalog.gcp_machines:
            if args.gpu and not gpu_matches(m.gpu_model, args.gpu):
                continue
            if region and m.region != region:
                continue
            if args.machine and args.machine.lower() not in m.machine_type.lower():
                continue
            offered = catalog.gpu_offered_in(m.gpu_model, m.machine_type)
            rows.append({"provider": "gcp", "type": m.machine_type, "gpu_model": m.gpu_model,
                         "gpu_count": m.gpu_count, "gpu_memory_gb": m.gpu_memory_gb, "region": m.region,
                         "offered": "unknown" if offered is None
                         else ("yes" if any(z.region == m.region for z in offered) else "no"),
                         "ondemand_usd_per_hr": m.ondemand_usd_per_hr, "spot_usd_per_hr": m.spot_usd_per_hr,
                         "cud_1y_usd_per_hr": m.cud_1y_usd_per_hr, "cud_3y_usd_per_hr": m.cud_3y_usd_per_hr,
                         "spot_date": m.spot_date, "local_ssd_gb": m.local_ssd_gb,
                         "origin": m.price_origin.describe(), "verified": m.verified, "source": m.source,
                         **ages(m.price_origin.date, (m.spot_date or m.price_origin.date)
                                if m.spot_usd_per_hr is not None else None),
                         **_commitment_age(m.cud_date or m.price_origin.date
                                           if m.cud_1y_usd_per_hr is not None or m.cud_3y_usd_per_hr is not None
                                           else None),
                         "spot_check": "SPOT CHECK:" in (m.notes or ""), "checks": _checks(m.notes),
                         "shape": m.shape, "notes": m.notes})
    if args.provider in (None, "aws"):
        for a in catalog.aws_instances:
            if args.gpu and not gpu_matches(a.gpu_model, args.gpu):
                continue
            if region and a.region != region:
                continue
            if args.machine and args.machine.lower() not in a.instance_type.lower():
                continue
            rows.append({"provider": "aws", "type": a.instance_type, "gpu_model": a.gpu_model,
                         "gpu_count": a.gpu_count, "gpu_memory_gb": a.gpu_memory_gb, "region": a.region,
                         "offered": "unknown", "ondemand_usd_per_hr": a.ondemand_usd_per_hr, "spot_usd_per_hr": None,
                         "origin": a.price_origin.describe(), "verified": a.verified, "source": a.source,
                         **ages(a.price_origin.date, None), "spot_check": False, "checks": _checks(a.notes),
                         "shape": "", "notes": a.notes})
    rows.sort(key=lambda r: (r["provider"], r["gpu_model"], r["gpu_count"], _natural(r["type"]), r["region"]))
    from tui.output import console as make_console, print_json, report_output, say_closed

    with report_output() as out:  # `| head -1`: the table was made; only its printing ends early (Rich exited 1)
        if args.json:
            print_json({"age": catalog.age_note(), "rows": rows, "problems": catalog.problems})
        else:
            console = make_console(highlight=False)  # its width: the terminal's, else COLUMNS, else 80 (a pipe)
            if args.wide:
                _wide_table(console, rows)
            else:
                _fitted_tables(console, rows, args)
            for problem in catalog.problems:
                console.print(f"note: {problem}", style="yellow", markup=False)
            console.print(f"prices: {catalog.age_note()}; `gpumigrate catalog show --json` has sources and notes",
                          style="dim", markup=False)
    if out.closed:
        say_closed(f"{len(rows)} catalog rows (exit 0)")
    return 0


_NAMES = {"gcp": "Google Cloud", "aws": "AWS"}


def _known_gpu(catalog, typed: str) -> None:  # type: ignore[no-untyped-def]
    """A GPU no catalog row is (a typo: "H10", "A1000") is bad input naming the near matches, not "no rows match",
    exit 0, as if the catalog had no price for a GPU it does not know."""
    import difflib

    from engine.catalog.load import gpu_matches
    from engine.errors import BadInputError

    models = sorted({m.gpu_model for m in catalog.gcp_machines} | {a.gpu_model for a in catalog.aws_instances})
    if any(gpu_matches(model, typed) for model in models):
        return
    by_lower = {m.lower(): m for m in models}
    near = difflib.get_close_matches(typed.strip().lower(), list(by_lower), n=4, cutoff=0.5)
    hint = f"did you mean {', '.join(by_lower[n] for n in near)}?" if near else f"known: {', '.join(models)}"
    raise BadInputError(f"catalog show --gpu: no GPU {typed!r} in the catalog; {hint}")


def _known_region(catalog, typed: str) -> str:  # type: ignore[no-untyped-def]
    """The catalog's spelling of the region a user typed: case and spaces aside ("US-Central1 " is us-central1).
    One the catalog does not know is bad input (exit 2) naming the near matches, or the region of a zone typed
    in its place: an exact-match filter answered a typo with "no rows match" and exit 0, as if nothing were
    priced there."""
    import difflib

    from engine.errors import BadInputError

    known = sorted({m.region for m in catalog.gcp_machines} | {a.region for a in catalog.aws_instances}
                   | {z.region for z in catalog.gcp_zones})
    wanted = typed.strip().lower()
    by_lower = {r.lower(): r for r in known}
    if wanted in by_lower:
        return by_lower[wanted]
    zone_of = next((by_lower[wanted[:cut]] for cut in (wanted.rfind("-"),) if cut > 0 and wanted[:cut] in by_lower),
                   None)
    if zone_of is not None:
        hint = f"{typed!r} looks like a zone; its region is {zone_of} (--region {zone_of})"
    else:
        near = difflib.get_close_matches(wanted, list(by_lower), n=4, cutoff=0.6)
        hint = (f"did you mean {', '.join(by_lower[n] for n in near)}?" if near
                else f"the catalog knows {len(known)} regions; `gpumigrate catalog show --json` lists every row")
    raise BadInputError(f"catalog show --region: no region {typed!r} in the catalog; {hint}")


def _fitted_tables(console, rows, args) -> None:  # type: ignore[no-untyped-def]
    """One section per provider, laid out to the console's width; hidden rows counted with their flag."""
    from tui.commands.catalog_table import layout, wrap

    width = console.width
    out: list[str] = []
    filters = " ".join(f"--{name.replace('_', '-')} {value!r}" for name in ("provider", "gpu", "region", "machine")
                       if (value := getattr(args, name)))
    if not rows:
        out += wrap(f"no rows match {filters or 'the catalog'}; `gpumigrate catalog show` without filters lists "
                    "them all.", width)
    for provider in ("gcp", "aws"):
        mine = [r for r in rows if r["provider"] == provider]
        if not mine:
            continue
        flexible = [r for r in mine if r["shape"] == "n1-flexible"]
        # not offered and not already hidden as a flexible shape: the two counts add up to the rows hidden
        unoffered = [r for r in mine if r["offered"] == "no" and (args.n1_flexible or r["shape"] != "n1-flexible")]
        shown = [r for r in mine if (args.n1_flexible or r["shape"] != "n1-flexible")
                 and (args.not_offered or r["offered"] != "no")]
        hidden = []
        if flexible and not args.n1_flexible:
            hidden.append(f"{len(flexible):,} N1 flexible shapes hidden (--n1-flexible shows them)")
        if unoffered and not args.not_offered:
            hidden.append(f"{len(unoffered):,} priced where the GPU is not offered hidden (--not-offered shows "
                          "them)")
        what = ("$/h, USD only" if provider == "gcp"
                else "on-demand $/h, USD only; spot, commitments and availability are not in the catalog")
        title = f"{_NAMES[provider]} ({what}): {len(shown):,} of {len(mine):,} rows shown"
        title += f"; {'; '.join(hidden)}" if hidden else ""
        if filters:
            title += f"; filters: {filters}"
        out += ([""] if out else []) + wrap(title, width)
        if shown:
            out += layout(shown, provider, width)
    legend = ("age: days since the on-demand price was read. * = that price is STALE (spot older than 30 days, any price "
              "older than 180 days or undated). CHECK: its sources disagree, or a spot price deeper than Google's 91% maximum "
              "discount. NOT-OFFERED: priced, but the GPU is not listed in that region. 1y/3y: committed-use $/h. "
              "USD only (US dollars, no conversion). No row is a FALLBACK: that is another region's price taken by "
              "`cost --allow-price-fallback`, flagged there. More columns: --wide; notes, sources and commitment "
              "dates: --json.")
    out += [""] + wrap(legend, width)
    console.print("\n".join(out), markup=False, highlight=False, crop=False, soft_wrap=True)


def _wide_table(console, rows) -> None:  # type: ignore[no-untyped-def]
    """Every column in one rich table (a wide terminal); at 80 columns the fitted tables are the readable ones."""
    from rich.table import Table

    from engine.cost.model import usd

    table = Table(title=f"Known GPU machines ({len(rows)}; US dollars, USD only)", title_justify="left")
    for column, justify in (("provider", "left"), ("type", "left"), ("GPU", "left"), ("n", "right"),
                            ("GB/GPU", "right"), ("region", "left"), ("offered", "left"), ("on-demand $/h", "right"),
                            ("spot $/h", "right"), ("1y $/h", "right"), ("3y $/h", "right"),
                            ("origin and age", "left")):
        table.add_column(column, justify=justify, overflow="fold")  # type: ignore[arg-type]

    def price(value: object, stale: bool, check: bool = False) -> str:
        if value is None:
            return "—"
        return usd(value) + (" STALE" if stale else "") + (" CHECK" if check else "")  # type: ignore[arg-type]

    for r in rows:
        count = r["gpu_count"]
        table.add_row(r["provider"], r["type"], r["gpu_model"], f"{count:g}",
                      "" if r["gpu_memory_gb"] is None else f"{r['gpu_memory_gb']:g}", r["region"], r["offered"],
                      price(r["ondemand_usd_per_hr"], r["stale"]),
                      price(r["spot_usd_per_hr"], r["spot_stale"], r["spot_check"]),
                      price(r.get("cud_1y_usd_per_hr"), bool(r.get("cud_stale"))),
                      price(r.get("cud_3y_usd_per_hr"), bool(r.get("cud_stale"))), r["origin"])
    console.print(table)
    console.print("offered: the GPU is listed in that region by the availability source (no = priced there but not "
                  "offered; unknown = no availability data for this GPU). US dollars (USD only). STALE = spot older "
                  "than 30 days, any price older than 180 (or undated); CHECK = a spot price deeper than the 91% "
                  "discount Google's Spot pricing allows, so likely part of the price (the row's notes and checks "
                  "are in --json, where commitment prices carry their own cud_date and age).", style="dim",
                  markup=False)
