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
            price_field: str = "ondemand_usd_per_hr") -> dict[str, Any]:
    """The moved prices and the missing rows of ``new_rows`` against the rows of ``section`` in the cache at
    ``path`` that ``keep`` selects (an AWS refresh of one region compares that region only). Nothing to compare
    (no cache, or an unreadable one) gives empty lists and ``previous_refresh`` "": the first refresh changes nothing."""
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
        label = " ".join(str(row.get(f)) for f in key_fields if f != "gpu_count" and row.get(f) not in (None, ""))
        if "gpu_count" in key_fields and isinstance(row.get("gpu_count"), (int, float)):
            label += f" x{row['gpu_count']:g} GPU"
        fresh = new.get(key(row))
        if fresh is None:
            gone.append(f"{label} (was ${row.get(price_field)}/h)")
            continue
        before, after = row.get(price_field), fresh.get(price_field)
        if isinstance(before, (int, float)) and isinstance(after, (int, float)) and abs(after - before) > 1e-9:
            changed.append({**{f: row.get(f) for f in key_fields}, "from": before, "to": after,
                            "change": (after - before) / before if before else None})
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
            f"{label(c)} ${c['from']:.4f} -> ${c['to']:.4f}"
            + (f" ({c['change'] * 100:+.1f}%)" if c["change"] is not None else "") for c in changed[:SHOWN])
        text += f", {len(changed) - SHOWN} more (--json lists all)" if len(changed) > SHOWN else ""
    if gone:
        text += (f"; {len(gone)} no longer priced (not in this answer; the embedded price, with its own date, "
                 f"is used where there is one): {', '.join(gone[:SHOWN])}" + (", ..." if len(gone) > SHOWN else ""))
    return text
