"""What a toast shows: the whole message when it fits the screen, else its start and where the rest is.

A toast taller than the screen lost its first lines (the rack scrolls to its end) and went after a few
seconds.  Every message is also kept in the app's Messages view (F2), whole, so a toast may show only
the start of a long one, and says so.
"""

from __future__ import annotations

import textwrap

POINTER = "… (the whole message: F2: Messages)"
TOAST_WIDTH = 60
"""Cells a toast takes at most (Textual's default), and at most 90% of the screen (not 50%)."""


def toast_width(screen_width: int) -> int:
    return max(20, min(TOAST_WIDTH, screen_width * 9 // 10))


def toast_lines(screen_height: int) -> int:
    """Text lines one toast may take: the screen less the footer, the toast's padding and margins, and
    room for the header and another toast."""
    return max(3, screen_height - 10)


def _wrapped(message: str, width: int) -> list[str]:
    lines: list[str] = []
    for paragraph in message.splitlines() or [""]:
        lines.extend(textwrap.wrap(paragraph, width, break_long_words=True, break_on_hyphens=False) or [""])
    return lines


def toast_height(message: str, width: int) -> int:
    """Rows a toast of ``message`` takes: its lines at ``width``, its padding (2) and its top margin (1)."""
    return len(_wrapped(message, width)) + 3


def toast_text(message: str, width: int, max_lines: int) -> str:
    """``message`` if it wraps into ``max_lines`` lines of ``width`` cells; else as many of its lines as
    fit, cut at a word, then the pointer to the Messages view."""
    lines = _wrapped(message, width)
    if len(lines) <= max_lines:
        return message
    pointer = textwrap.wrap(POINTER, width)
    kept = lines[:max(1, max_lines - len(pointer))]
    return "\n".join(kept) + "\n" + "\n".join(pointer)
