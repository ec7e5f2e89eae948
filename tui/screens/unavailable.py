"""Shown in place of a step screen that failed to import, so the rest of the app still works."""

from __future__ import annotations

from typing import Iterable

from textual.widget import Widget
from textual.widgets import Static

from tui.screens.base import StepScreen


class UnavailableScreen(StepScreen):
    def __init__(self, mode: str, reason: str) -> None:
        super().__init__()
        self._mode = mode
        self._reason = reason

    def compose_body(self) -> Iterable[Widget]:
        yield Static(f"The {self._mode} screen could not be loaded:\n\n{self._reason}", markup=False)
