"""What a person at a small terminal must be able to see: checks shared by the TUI tests."""

from __future__ import annotations

from typing import Any


def footer_misses(screen: Any) -> list[str]:
    """Every enabled key the screen offers (its own and its widgets', shown in the footer by design) whose
    footer entry is missing or not wholly visible: at 80 columns the footer ran past the right edge and
    hid "a Add entry", "d Remove entry" and ^q Quit under the palette key."""
    from textual.widgets import Footer
    from textual.widgets._footer import FooterKey

    footer = screen.query_one(Footer)
    keys = [k for k in footer.query(FooterKey)]
    palette = next((k for k in keys if k.has_class("-command-palette")), None)
    right = palette.region.x if palette is not None else footer.region.right
    shown = {k.action: k for k in keys if not k.has_class("-command-palette")}
    misses = []
    for _key, (node, binding, enabled, _tip) in screen.active_bindings.items():
        if not binding.show or not enabled or node is screen.app:
            continue
        key = shown.get(binding.action)
        if key is None:
            misses.append(f"{binding.key} {binding.description}: not in the footer")
        elif key.region.x < footer.region.x or key.region.right > right or key.region.width == 0:
            misses.append(f"{binding.key} {binding.description}: at {tuple(key.region)}, footer ends at {right}")
    quit_key = next((k for k in keys if k.action == "app.quit" or k.action == "quit"), None)
    if not screen.is_modal and (quit_key is None or quit_key.region.right > right or quit_key.region.width == 0):
        misses.append("ctrl+q Quit: not visible")  # (a dialog shows its own keys: it is answered, not quit)
    return misses


PUMP_FLAGS = ("_layout_required", "_repaint_required", "_recompose_required", "_scroll_required",
              "_refresh_styles_required")
"""Widget fields Textual's update loop reads to know a widget still has work (textual 8; pyproject pins
``textual>=8,<9``, and tests/tui/test_textual_internals.py proves each one is set as this module expects)."""


def _private(obj: Any, name: str) -> Any:
    """A Textual private field, or a loud failure: a renamed field read as "nothing pending" would make
    :func:`settled` return at once, and every check after it would read a half-drawn screen."""
    try:
        return getattr(obj, name)
    except AttributeError:
        import textual

        raise AssertionError(f"textual {textual.__version__} has no {type(obj).__name__}.{name}: settled() cannot "
                             "tell whether the app is done; see tests/tui/test_textual_internals.py") from None


def _pending(app: Any) -> list[str]:
    """What the app still has to do before the screen shows its final state: queued messages, widgets marked
    for layout, repaint or recompose, callbacks waiting for the next refresh (a footer's recompose after a
    focus change is one), a batch in progress.  Textual has no public "settled" signal: these are the
    fields its own update loop reads (textual 8), read through :func:`_private`."""
    screen = app.screen
    callbacks = _private(screen, "_callbacks")
    pending = [f"{screen!r}: {len(callbacks)} after-refresh callback(s)"] if callbacks else []
    if _private(screen, "_dirty_widgets"):
        pending.append(f"{screen!r}: {len(screen._dirty_widgets)} dirty widget(s)")
    if _private(app, "_batch_count"):
        pending.append("a batch update")
    for pump in (app, *screen.walk_children(with_self=True)):
        queue = _private(pump, "_message_queue")
        if not queue.empty():
            pending.append(f"{pump!r}: {queue.qsize()} message(s)")
        flags = [f for f in PUMP_FLAGS if pump is not app and _private(pump, f)]
        if flags:
            pending.append(f"{pump!r}: {', '.join(flags)}")
    return pending


async def settled(pilot: Any, timeout: float = 30.0) -> None:
    """Wait until the app has nothing left to draw: every message handled, the layout done, no callback waiting
    for a refresh.  One ``pilot.pause()`` is not that: it returns when the process looks idle, and on a loaded
    machine a process that gets no CPU looks idle too.  A focus change then reached the footer as a recompose
    two refreshes later, and the checks read it half-built (keys at (0, 0, 0, 0), or none yet).
    Background workers are the caller's to wait for (``app.workers.wait_for_complete()``)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        await pilot.pause()
        left = _pending(pilot.app)
        if not left:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"the app did not settle in {timeout:.0f} s: {left[:5]}")


def visible_lines(app: Any) -> list[str]:
    """The screen's rows as a person sees them: the text of the app's screenshot (what the snapshots keep),
    row by row, runs of spaces folded. A widget's text that is scrolled or clipped away is not in it."""
    import html
    import re

    rows: dict[float, list[tuple[float, str]]] = {}
    for match in re.finditer(r'<text[^>]*\bx="([\d.]+)" y="([\d.]+)"[^>]*>(.*?)</text>', app.export_screenshot()):
        rows.setdefault(float(match.group(2)), []).append((float(match.group(1)), html.unescape(match.group(3))))
    return [" ".join("".join(t for _x, t in sorted(parts)).replace("\xa0", " ").split())
            for _y, parts in sorted(rows.items())]
