"""Money for people: dollars rounded half-up to cents at display time only, and the units the model uses.

Every figure is in US dollars (the catalog holds list prices in USD; no currency conversion anywhere).
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

CURRENCY = "USD"
GIB = 1024**3
DAYS_PER_MONTH = 365.25 / 12


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
