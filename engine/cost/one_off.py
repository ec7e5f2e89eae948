"""The one-off cost of moving: egress (tiered, by route), request charges and Storage Transfer Service fees."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from engine.catalog.check import CatalogError
from engine.catalog.geo import FALLBACK_ELSEWHERE, continent, nearby_aws_region, nearby_words
from engine.catalog.load import Catalog, NetPrice
from engine.cost.freshness import price_age
from engine.cost.money import GIB
from engine.cost.pricing import origin_text
from engine.cost.report import LineItem


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


def _region_group(region: str) -> str:
    if region.startswith(("europe", "eu-")):
        return "eu"
    if region.startswith(("asia", "ap-", "australia")):
        return "apac"
    return "na"


def sts_entry_items(profile: Any, data_gb: float, objects: int,
                    transfer_entries: list[dict[str, Any]] | None = None) -> tuple[list[LineItem], list[str]]:
    items, notes, _ = _sts_entries(profile, data_gb, objects, transfer_entries)
    return items, notes


def _sts_entries(profile: Any, data_gb: float, objects: int,
                 transfer_entries: list[dict[str, Any]] | None = None) -> tuple[list[LineItem], list[str], float]:
    """A "Storage Transfer Service" line per ``[[transfer]]`` entry whose engine resolves to sts.

    ``transfer_entries`` is the transfer step's result ``entries`` (``engine``,
    ``planned_bytes``, ``planned_objects`` per entry); without it, ``engine = "auto"`` is
    resolved on the data volume (a single entry only: the volume cannot be split).
    """
    from engine.transfer.sts import choose_engine, sts_cost_usd, sts_mode, sts_price

    specs = list(getattr(profile, "transfer", []) or [])
    items: list[LineItem] = []
    notes: list[str] = []
    private_gb = 0.0
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
        if mode == "managed_private_network":
            private_gb += nbytes / GIB
        scope = spec.sts.network_scope if spec.sts else "NA"
        row = sts_price(mode, scope)
        items.append(LineItem("Storage Transfer Service", sts_cost_usd(int(nbytes), mode, scope),
                              f"[[transfer]] #{i + 1} {spec.src}: {nbytes / GIB:,.1f} GiB, {mode} "
                              f"(${row.usd_per_gib}/GiB)", f"{row.source} (verified: {row.verified})",
                              row.source_date))
    return items, notes, private_gb


def _aws_egress_rows(catalog: Catalog, region: str | None, allow_fallback: bool,
                     notes: list[str]) -> list[NetPrice]:
    key = "aws.egress.internet"
    if region is None:
        notes.append("source.region is not set: AWS egress priced with us-east-1's tiers")
        region = "us-east-1"
    rows = catalog.net_tiers_in(key, region)
    if rows:
        return rows
    known = ", ".join(catalog.net_scopes(key))
    if not allow_fallback:
        raise CatalogError("source.region", f"the catalog has no AWS internet egress tiers for {region} (known: "
                            f"{known}); set cost.route = \"exit-waiver\" if AWS waives it, or run `gpumigrate cost "
                            "--allow-price-fallback`"
                            + FALLBACK_ELSEWHERE +
                            " to price it with a nearby region's tiers")
    near = nearby_aws_region(region, catalog.net_scopes(key))
    why = nearby_words(region, near)
    notes.append(f"PRICE FALLBACK: no AWS egress tiers for {region} in the catalog; priced with {near}'s{why} "
                 f"(price fallback allowed), so the egress figure is NOT the {region} price")
    return catalog.net_tiers_in(key, near)


def one_off_items(profile: Any, catalog: Catalog, data_gb: float, objects: int,
                  today: date | None = None,
                  transfer_entries: list[dict[str, Any]] | None = None,
                  allow_fallback: bool = False) -> tuple[list[LineItem], list[str]]:
    """Egress, requests and transfer-service fees for moving ``data_gb`` in ``objects`` objects."""
    cost, src = profile.cost, profile.source
    items: list[LineItem] = []
    notes: list[str] = []
    sts_items, sts_notes, private_gb = _sts_entries(profile, data_gb, objects, transfer_entries)
    notes.extend(sts_notes)
    if src.provider == "aws" and cost.route in ("internet", "sts") and private_gb > 0:
        # Data that leaves over Google's managed private network is not AWS internet egress: STS bills it
        # (the line above), AWS does not; charging both was a double count.
        notes.append(f"{private_gb:,.1f} GB go over the managed private network ([[transfer]] with "
                     "sts.managed_private_network): priced by Storage Transfer Service, not as AWS egress")
        data_gb_egress = max(0.0, data_gb - private_gb)
    else:
        data_gb_egress = data_gb
    if cost.route == "sts-private-network" and src.provider == "aws":
        sts_items = []  # the route below prices STS for the whole volume already

    def item(name: str, amount: float, detail: str, row: NetPrice | None) -> None:
        if row is not None:
            source, when = origin_text(row.price_origin, today)
            age, stale = price_age(row.date, "list", today)
        else:
            source, when, age, stale = "", "", None, False
        items.append(LineItem(name, amount, detail, source, when, age, stale))
        if stale and amount > 0:
            hint = (f"; `gpumigrate catalog refresh --aws --aws-region {row.scope}` reads today's"
                    if row is not None and row.key == "aws.egress.internet" and not row.scope.startswith("all")
                    else "")
            how_old = f"is {age} days old (stale after 180)" if age is not None else "has no date (its age is unknown)"
            notes.append(f"{name}: the price {how_old}: check it before trusting "
                         f"this line ({row.source if row else ''}){hint}")

    route = cost.route
    if src.provider == "aws":
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
            rows = _aws_egress_rows(catalog, src.region, allow_fallback, notes) if data_gb_egress > 0 \
                else catalog.net_tiers_in("aws.egress.internet", src.region or "us-east-1")
            tiers = tiers_with_allowance(rows, cost.egress_free_gb)
            free = cost.egress_free_gb if cost.egress_free_gb is not None else next(
                (r.tier_end_gb or 0.0 for r in rows if r.price_usd == 0), 0.0)
            amount = egress_cost(data_gb_egress, tiers, cost.transfer_months)
            paid = next((r for r in rows if r.price_usd > 0), rows[0] if rows else None)
            item("egress", amount, f"{data_gb_egress:,.1f} GB over {cost.transfer_months} month(s), tiered "
                 f"({paid.scope if paid else '?'}), {free:g} GB/month free", paid)
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
        if same:
            item("egress", 0.0, "same region: free", None)
        else:
            pair = "-".join(sorted((continent(src.region or "us-central1"), continent(profile.target.region))))
            found = catalog.net_tiers_in("gcp.egress.interregion", pair)
            if not found:
                known = ", ".join(catalog.net_scopes("gcp.egress.interregion"))
                why = (" (no public price list recorded here prices Middle East or Africa pairs: Google's 2022 "
                       "list predates those regions and the recorded 2024 SKU prices do not include them)"
                       if {"ME", "AF"} & set(pair.split("-")) else "")
                if not allow_fallback:
                    raise CatalogError("source.region", f"the catalog has no Google Cloud inter-region price for "
                                        f"{pair}{why} (known continent pairs: {known}); run `gpumigrate cost "
                                        "--allow-price-fallback`"
                                        + FALLBACK_ELSEWHERE +
                                        " to price it at the dearest known pair")
                found = sorted((r for r in catalog.network if r.key == "gcp.egress.interregion"),
                               key=lambda r: r.price_usd)[-1:]
                notes.append(f"PRICE FALLBACK: no inter-region price for {pair}; priced at {found[0].scope}'s "
                             f"${found[0].price_usd}/GiB (price fallback allowed)")
            row = found[0]
            if row.date[:4] < "2024" and row.notes:  # from a list older than Google's 2024 change: say what it knows
                notes.append(f"egress {pair}: {row.notes}")
            item("egress", data_gb * row.price_usd,
                 f"{data_gb:,.1f} GiB inter-region {src.region} -> {profile.target.region} ({row.scope}, "
                 f"${row.price_usd}/GiB)", row)
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
