"""A one-line bar of the app's modes with their keys; the current one highlighted."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class ModeBar(Static):
    """Shows ``1 Inventory  2 Cost ...`` so the keyboard route to every step is always visible."""

    DEFAULT_CSS = """
    ModeBar { height: 1; background: $panel; color: $text-muted; padding: 0 1; }
    """

    def __init__(self, current: str, modes: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self._current = current
        self._modes = modes

    def render(self) -> Text:
        text = Text()
        for name, title, key in self._modes:
            style = "bold reverse" if name == self._current else ""
            text.append(f" {key} ", style="bold " + ("reverse" if name == self._current else "")).append(
                f"{title} ", style=style)
            text.append(" ")
        return text
