"""``catalog show``'s table, laid out to the terminal's width.

Ten rich columns at 80 (an SSH jump host, every pipe) folded each cell to five characters: "$30.1 / 0",
"p4d.2 / 4xlar / ge", 38,000 lines for 3,887 rows. Here the figures a user compares (on-demand, spot, 1- and
3-year $/h, the price's age and flags) are laid out as plain columns, never cut: one line per row where they
fit, else grouped under a "machine  GPU" heading with the region leading each line. The rest (offered,
GB/GPU, origin, notes) is in ``--wide`` and ``--json``.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from engine.cost.money import usd

Row = dict[str, Any]

GAP = "  "


@dataclass(frozen=True)
class Column:
    header: str
    cell: Callable[[Row], str]
    right: bool = False


def _price(value: float | None, stale: bool) -> str:
    """A $/h figure, marked ``*`` when that very price is stale (the row's flags say STALE)."""
    return "—" if value is None else usd(value) + ("*" if stale else "")


def gpu_cell(row: Row) -> str:
    return f"{row['gpu_count']:g}x {row['gpu_model']}"


def age_cell(row: Row) -> str:
    """The on-demand price's age in days, then the row's flags: STALE (any of its prices), CHECK (its sources
    disagree, or a spot price deeper than Google allows), NOT-OFFERED (priced where the GPU is not offered)."""
    age = row.get("price_age_days")
    words = [f"{age}d" if age is not None else "undated"]
    if row.get("stale") or row.get("spot_stale") or row.get("cud_stale"):
        words.append("STALE")
    if row.get("checks") or row.get("spot_check"):
        words.append("CHECK")
    if row.get("offered") == "no":
        words.append("NOT-OFFERED")
    return " ".join(words)


MACHINE = Column("machine", lambda r: str(r["type"]))
GPU = Column("GPU", gpu_cell)
REGION = Column("region", lambda r: str(r["region"]))
PRICES = {
    "gcp": [Column("on-demand", lambda r: _price(r["ondemand_usd_per_hr"], bool(r.get("stale"))), right=True),
            Column("spot", lambda r: _price(r["spot_usd_per_hr"], bool(r.get("spot_stale"))), right=True),
            Column("1y", lambda r: _price(r.get("cud_1y_usd_per_hr"), bool(r.get("cud_stale"))), right=True),
            Column("3y", lambda r: _price(r.get("cud_3y_usd_per_hr"), bool(r.get("cud_stale"))), right=True)],
    "aws": [Column("on-demand", lambda r: _price(r["ondemand_usd_per_hr"], bool(r.get("stale"))), right=True)],
}
AGE = Column("age, flags", age_cell)


def _widths(columns: Sequence[Column], cells: list[list[str]]) -> list[int]:
    return [max([len(c.header), *(len(line[i]) for line in cells)]) for i, c in enumerate(columns)]


def _line(values: Sequence[str], widths: Sequence[int], columns: Sequence[Column], indent: str = "",
          gap: str = GAP) -> str:
    parts = [v.rjust(w) if c.right else v.ljust(w) for v, w, c in zip(values, widths, columns)]
    return (indent + gap.join(parts)).rstrip()


def _total(widths: Sequence[int], gap: str, indent: str = "") -> int:
    return len(indent) + sum(widths) + len(gap) * (len(widths) - 1)


def layout(rows: Sequence[Row], provider: str, width: int) -> list[str]:
    """The lines of one provider's rows: flat (machine, region, GPU, prices, age) when that fits ``width``,
    else grouped by machine and GPU, a heading line each, the region first on the lines below it; narrower
    still, one space between columns, and last the age/flags cell wraps onto the next line (the figures never
    do)."""
    prices = PRICES[provider]
    flat = [MACHINE, REGION, GPU, *prices, AGE]
    cells = [[c.cell(r) for c in flat] for r in rows]
    widths = _widths(flat, cells)
    if _total(widths, GAP) <= width:
        lines = [_line([c.header for c in flat], widths, flat), _line(["-" * w for w in widths], widths, flat)]
        return lines + [_line(line, widths, flat) for line in cells]
    grouped = [REGION, *prices, AGE]
    sub = [line[1:2] + line[3:] for line in cells]
    widths = _widths(grouped, sub)
    indent = GAP
    gap = GAP if _total(widths, GAP, indent) <= width else " "
    room = width - _total(widths[:-1], gap, indent) - len(gap)
    if widths[-1] > room:  # the flags wrap under their column rather than push the line past the width
        widths[-1] = max(room, len(AGE.header), 6)
    lines = [_line([c.header for c in grouped], widths, grouped, indent, gap),
             _line(["-" * w for w in widths], widths, grouped, indent, gap)]
    heading = None
    for row, line in zip(rows, sub):
        this = f"{row['type']}  {gpu_cell(row)}"
        if this != heading:
            lines.append(this)
            heading = this
        first, *more = textwrap.wrap(line[-1], widths[-1], break_on_hyphens=False) or [""]
        lines.append(_line([*line[:-1], first], widths, grouped, indent, gap))
        lines += [_line([*([""] * (len(line) - 1)), rest], widths, grouped, indent, gap) for rest in more]
    return lines


def wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width=max(width, 40), break_on_hyphens=False) or [""]
