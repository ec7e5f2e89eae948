"""A one-line bar of the app's steps with their keys and states; the current one highlighted.

It must fit an 80-column terminal: when the full titles do not fit, the others shrink to short
labels, then to their number and state only, while the current step keeps its full title.
"""

from __future__ import annotations

from typing import Callable, Mapping

from rich.text import Text
from textual.widgets import Static

GLYPHS = {"completed": "✓", "skipped": "✓", "failed": "✗", "running": "●", "interrupted": "!",
          "incomplete": "!", "not responding": "?"}
"""Session step state -> the mark in the bar; anything else (not run yet) is ○."""

SHORT = {"inventory": "Inv", "cost": "Cost", "transfer": "Xfer", "drivers": "Drv", "verify": "Vfy",
         "profile": "Prof", "runbook": "Run"}


def glyph(state: str | None) -> str:
    return GLYPHS.get(state or "", "○")


class ModeBar(Static):
    """Shows ``✓1 Inventory  ○2 Cost ...`` so the keyboard route to every step, and where it stands, is visible."""

    DEFAULT_CSS = """
    ModeBar { height: 1; background: $panel; color: $text-muted; padding: 0 1; }
    """

    def __init__(self, current: str, modes: list[tuple[str, str, str]],
                 states: Callable[[], Mapping[str, str]] | None = None, stateful: tuple[str, ...] = ()) -> None:
        super().__init__()
        self._current = current
        self._modes = modes
        self._states = states
        self._stateful = stateful

    def on_mount(self) -> None:
        if self._states is not None:
            self.set_interval(1.0, self.refresh)  # a step run elsewhere (detached worker, CLI) shows up

    def _labels(self, level: int) -> list[tuple[str, str, bool]]:
        states = dict(self._states()) if self._states is not None else {}
        out = []
        for name, title, key in self._modes:
            current = name == self._current
            mark = glyph(states.get(name)) if name in self._stateful else ""
            if current or level == 0:
                label = title
            elif level == 1:
                label = SHORT.get(name, title[:4])
            else:
                label = ""
            out.append((f"{mark}{key}", label, current))
        return out

    def render(self) -> Text:
        width = max(0, self.size.width) or 200
        for level in (0, 1, 2):
            labels = self._labels(level)
            text = Text()
            for head, label, current in labels:
                style = "bold reverse" if current else ""
                text.append(f" {head}", style="bold " + ("reverse" if current else ""))
                text.append(f" {label} " if label else " ", style=style)
            if text.cell_len <= width:
                return text
        return text
