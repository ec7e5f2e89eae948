"""Pure formatting for progress displays: bytes, rates, ETAs, percentages, transfer options.

No Textual import and no state: screens and widgets call these, unit tests call them
directly.  Unknown values (``None``) render as an em dash so a display never shows a
made-up number (and snapshots stay deterministic before anything was measured).
"""

from __future__ import annotations

import math
from typing import Any

DASH = "—"
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def human_bytes(n: float | None) -> str:
    """1536 -> "1.5 KiB"; whole bytes below 1 KiB; None -> "—"."""
    if n is None or (isinstance(n, float) and not math.isfinite(n)):
        return DASH
    value = float(n)
    sign = "-" if value < 0 else ""
    value = abs(value)
    for unit in _UNITS:
        if value < 1024 or unit == _UNITS[-1]:
            if unit == "B":
                return f"{sign}{int(value)} B"
            return f"{sign}{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def human_rate(bytes_per_s: float | None) -> str:
    """Bytes per second -> "12.0 MiB/s"; None (not measured yet) -> "—"."""
    if bytes_per_s is None or not math.isfinite(bytes_per_s) or bytes_per_s < 0:
        return DASH
    return f"{human_bytes(bytes_per_s)}/s"


def human_eta(seconds: float | None) -> str:
    """Seconds -> "42s", "3m 05s", "2h 07m", "3d 04h"; None or negative -> "—"."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return DASH
    s = int(math.ceil(seconds))
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m {s:02d}s"
    h, m = divmod(m, 60)
    if h < 24:
        return f"{h}h {m:02d}m"
    d, h = divmod(h, 24)
    return f"{d}d {h:02d}h"


def percent(done: float | None, total: float | None) -> str:
    """"37%" (rounded down: only a finished job shows 100%); "—" when the total is unknown."""
    if done is None or total is None:
        return DASH
    if total <= 0:
        return "100%"  # nothing to do is done
    return f"{math.floor(max(0.0, min(100.0, 100.0 * done / total)))}%"


def count_of(done: int | float | None, total: int | float | None) -> str:
    """"12 / 40"; "12 / …" while the total is still being listed."""
    left = DASH if done is None else f"{int(done):,}"
    right = "…" if total is None else f"{int(total):,}"
    return f"{left} / {right}"


def bytes_of(done: float | None, total: float | None) -> str:
    """"1.2 MiB / 4.0 MiB"; "1.2 MiB / …" while the total is still being listed."""
    return f"{human_bytes(done)} / {'…' if total is None else human_bytes(total)}"


def plural(n: int, word: str, words: str | None = None) -> str:
    """plural(1, "object") -> "1 object"; plural(1200, "object") -> "1,200 objects"."""
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


def transfer_options(spec: Any) -> str:
    """A [[transfer]] entry's options as the equivalent command-line flags (defaults left out).

    ``spec`` is anything with TransferSpec's attributes.
    """
    flags: list[str] = []
    if getattr(spec, "recursive", True):
        flags.append("-r")
    if getattr(spec, "delete", False):
        flags.append("-d")
    if getattr(spec, "checksum", False):
        flags.append("-c")
    for pattern in getattr(spec, "exclude", None) or []:
        flags.append(f"-x {pattern}")
    jobs = getattr(spec, "jobs", None)
    if jobs is not None:  # unset: the engine's defaults (TransferSpec.jobs)
        flags.append(f"-j {jobs}")
    if getattr(spec, "bwlimit", None):
        flags.append(f"--bwlimit {spec.bwlimit}")
    if getattr(spec, "max_delete", None) is not None:
        flags.append(f"--max-delete {spec.max_delete}")
    if getattr(spec, "allow_empty_source", False):
        flags.append("--allow-empty-source")
    if not getattr(spec, "follow_symlinks", True):
        flags.append("--no-follow-symlinks")
    if getattr(spec, "skip_broken_symlinks", False):
        flags.append("--skip-broken-symlinks")
    return " ".join(flags)
