"""Argument types for numeric CLI options: finite and inside sane bounds, or a usage error (exit 2).

``type=float`` alone accepts ``inf``, ``nan`` and ``1e308``; every numeric option goes through
:func:`bounded` so a typo is refused at the command line, like a bad profile field.
"""

from __future__ import annotations

import argparse
import math
from typing import Callable


def bounded(lo: float, hi: float, *, integer: bool = False, above: bool = False) -> Callable[[str], float]:
    """A converter for ``add_argument(type=...)``: a finite number with ``lo <= value <= hi``
    (``above``: ``lo < value``, as for a price, where 0 would be a free machine and a 100% saving)."""

    def convert(text: str) -> float:
        try:
            value: float = int(text) if integer else float(text)
        except ValueError:
            kind = "an integer" if integer else "a number"
            raise argparse.ArgumentTypeError(f"{text!r} is not {kind}") from None
        if not math.isfinite(value) or not lo <= value <= hi or (above and value == lo):
            low = f"above {lo:g}" if above else f"from {lo:g}"
            raise argparse.ArgumentTypeError(f"must be a finite number {low} to {hi:g} (got {text})")
        return value

    convert.__name__ = "integer" if integer else "number"
    return convert
