"""What a refresh changed against the cache it replaces: prices that moved, and rows it no longer prices.

A refresh used to overwrite its cache in silence. A price that moved was not said, so a figure a user wrote down
(a saving, a break-even) could change under them unnoticed; a machine the new answer lacks (a partial answer, a
SKU renamed) fell back to the embedded price with no word at refresh time. Both are said now, on the refresh's
own lines and in its JSON (``prices_changed``, ``no_longer_priced``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Sequence

SHOWN = 5
"""Changes named on the refresh's summary line (the JSON lists them all)."""


def compare(path: Path, section: str, key_fields: Sequence[str], new_rows: list[dict[str, Any]],
            keep: Callable[[dict[str, Any]], bool] = lambda row: True,
            price_field: str = "ondemand_usd_per_hr",
            label: Callable[[dict[str, Any]], str] | None = None) -> dict[str, Any]:
    """The moved prices and the missing rows of ``new_rows`` against the rows of ``section`` in the cache at
    ``path`` that ``keep`` selects (an AWS refresh of one region compares that region only). Nothing to compare
    (no cache, or an unreadable one) gives empty lists and ``previous_refresh`` "": the first refresh changes nothing.

    ``label`` names a row on the refresh's line (default: its key fields); a row with a ``unit`` (the network
    prices: USD/GB, USD/GB-month) is priced in it, else per hour. Tiered prices (egress, S3) are compared tier by
    tier: keyed by their start, so a tier whose price or end moved is a change and a tier the answer lacks is no
    longer priced."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        old_rows = [r for r in data.get(section, []) if isinstance(r, dict) and keep(r)]
        when = str(data.get("refreshed_at", ""))
    except (OSError, ValueError, AttributeError):
        return {"previous_refresh": "", "prices_changed": [], "no_longer_priced": []}

    def key(row: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(row.get(f) for f in key_fields)

    new = {key(r): r for r in new_rows}
    changed, gone = [], []
    for row in old_rows:
        name = label(row) if label is not None else _default_label(row, key_fields)
        per = _per(row)
        fresh = new.get(key(row))
        if fresh is None:
            before = row.get(price_field)
            gone.append(f"{name} (was {money(before) if isinstance(before, (int, float)) else before}{per})")
            continue
        before, after = row.get(price_field), fresh.get(price_field)
        moved_end = "tier_end_gb" in row and row.get("tier_end_gb") != fresh.get("tier_end_gb")
        if isinstance(before, (int, float)) and isinstance(after, (int, float)) \
                and (abs(after - before) > 1e-9 or moved_end):
            entry = {**{f: row.get(f) for f in key_fields}, "from": before, "to": after,
                     "change": (after - before) / before if before else None}
            if label is not None or "unit" in row:
                entry.update(label=label(fresh) if label is not None else name, unit=per)
            if moved_end:
                entry.update(tier_end_from=row.get("tier_end_gb"), tier_end_to=fresh.get("tier_end_gb"))
            changed.append(entry)
    changed.sort(key=lambda c: -abs(c["change"] or 0))
    return {"previous_refresh": when, "prices_changed": changed, "no_longer_priced": sorted(gone)}


def describe(diff: dict[str, Any], label: Callable[[dict[str, Any]], str]) -> str:
    """The refresh line's clause: "3 prices changed since the previous refresh (2026-10-01): a2-highgpu-1g
    us-central1 $3.67 -> $3.96 (+7.9%), ...; 2 no longer priced (their embedded prices are used): ..."."""
    if not diff.get("previous_refresh"):
        return "no previous refresh to compare with"
    changed, gone = diff["prices_changed"], diff["no_longer_priced"]
    when = diff["previous_refresh"][:10]
    text = f"{len(changed)} price{'s' * (len(changed) != 1)} changed since the previous refresh ({when})"
    if changed:
        text += ": " + ", ".join(
            f"{c.get('label') or label(c)} {money(c['from'])} -> {money(c['to'])}{c.get('unit', '')}"
            + (f" ({c['change'] * 100:+.1f}%)" if c["change"] is not None and c["from"] != c["to"] else "")
            + (f" (tier now ends at {_gb(c['tier_end_to'])}, was {_gb(c['tier_end_from'])})"
               if "tier_end_to" in c else "") for c in changed[:SHOWN])
        text += f", {len(changed) - SHOWN} more (--json lists all)" if len(changed) > SHOWN else ""
    if gone:
        text += (f"; {len(gone)} no longer priced (not in this answer; the embedded price, with its own date, "
                 f"is used where there is one): {', '.join(gone[:SHOWN])}" + (", ..." if len(gone) > SHOWN else ""))
    return text


def money(value: float) -> str:
    """A price with the digits that tell it apart: $3.2200 an hour, $0.0900 a GB, $0.000990 a GB-month (S3
    Glacier Deep Archive: four decimals read it as $0.0010, and a move to $0.00098 as no move)."""
    return f"${value:.4f}" if value == 0 or abs(value) >= 0.01 else f"${value:.6f}"


def _gb(value: Any) -> str:
    return "no end" if value is None else f"{value:,.0f} GB"


def _per(row: dict[str, Any]) -> str:
    """"/h" for a machine price; the row's own unit for a network one ("USD/GB-month" -> "/GB-month")."""
    unit = str(row.get("unit") or "")
    return "/" + unit.split("/", 1)[1] if unit.startswith("USD/") else "/h"


def _default_label(row: dict[str, Any], key_fields: Sequence[str]) -> str:
    text = " ".join(str(row.get(f)) for f in key_fields if f != "gpu_count" and row.get(f) not in (None, ""))
    if "gpu_count" in key_fields and isinstance(row.get("gpu_count"), (int, float)):
        text += f" x{row['gpu_count']:g} GPU"
    return text


def tier_label(row: dict[str, Any]) -> str:
    """A network row on a refresh line: "internet egress next 40 TB/month me-central-1 (10,240-51,200 GB)",
    "S3 Standard me-central-1 (0-51,200 GB)"; a flat price (one tier from 0 to no end) without the range."""
    start, end = row.get("tier_start_gb") or 0.0, row.get("tier_end_gb")
    item = str(row.get("item") or row.get("key", ""))
    what = f"internet egress {item}" if str(row.get("key", "")).startswith("aws.egress") else item
    span = "" if not start and end is None else f" ({start:,.0f}-{'' if end is None else f'{end:,.0f}'} GB)"
    return f"{what} {row.get('scope', '')}{span}"
