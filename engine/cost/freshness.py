"""How old a price is, and when it is too old to trust without a refresh.

Google Cloud changes spot prices up to once a day, so an embedded spot price goes stale in a month;
list prices change rarely, so any other price is stale after half a year.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

from engine.catalog.load import parse_as_of

SPOT_STALE_DAYS = 30
"""Spot prices change up to once a day: older than this, a spot price is flagged stale."""
PRICE_STALE_DAYS = 180
"""Any other catalog price older than this is flagged stale."""


def price_age(origin_date: str, pricing: str, today: date | None) -> tuple[int | None, bool]:
    """(age in days, stale?) of a catalog price; a negotiated price ("profile") has neither. A catalog
    price without a readable date is stale with no age: its age is unknown, so it is not called fresh."""
    if origin_date == "profile":
        return None, False
    when = parse_as_of(origin_date) if origin_date else None
    if when is None:
        return None, True
    days = ((today or datetime.now(timezone.utc).date()) - when).days
    return days, days > (SPOT_STALE_DAYS if pricing == "spot" else PRICE_STALE_DAYS)
