"""The one line under the step bar that says what is left to decide on a step's screen."""

from __future__ import annotations

from typing import Any, Callable

from textual.widget import Widget

from engine.guide import hint_line


class LeftLine(Widget):
    """Drawn for its own width (engine.guide.hint_line drops hints, then items, before it would be cut),
    so a resize or a narrow terminal still names what is left, or says how many more there are."""

    def __init__(self, profile: Any, step: str, last_run: Callable[[str], str | None] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.profile = profile
        self.step = step
        self._last_run = last_run
        """How the step's last remembered run ended, or that the profile changed since (no session)."""

    def show(self, profile: Any) -> None:
        self.profile = profile
        self.refresh()

    def render(self) -> str:
        width = self.content_size.width
        tail = self._last_run(self.step) if self._last_run is not None else None
        if not tail:
            return hint_line(self.profile, self.step, width or None)
        room = max(40, width - len(tail) - 3) if width else None  # the hint keeps 40 cells; the tail is cut first
        return hint_line(self.profile, self.step, room) + " · " + tail
