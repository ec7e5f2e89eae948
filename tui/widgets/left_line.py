"""The one line under the step bar that says what is left to decide on a step's screen."""

from __future__ import annotations

from typing import Any

from textual.widget import Widget

from engine.guide import hint_line


class LeftLine(Widget):
    """Drawn for its own width (engine.guide.hint_line drops hints, then items, before it would be cut),
    so a resize or a narrow terminal still names what is left, or says how many more there are."""

    def __init__(self, profile: Any, step: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.profile = profile
        self.step = step

    def show(self, profile: Any) -> None:
        self.profile = profile
        self.refresh()

    def render(self) -> str:
        width = self.content_size.width
        return hint_line(self.profile, self.step, width or None)
