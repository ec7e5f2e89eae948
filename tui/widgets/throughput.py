"""Throughput over time: a Sparkline of the last N rate samples with current / average / peak.

Attributes down: the owner calls :meth:`Throughput.add_sample` with a rate in bytes per
second (``None`` when nothing was measured: drawn as 0, left out of the figures) on its
own refresh timer; the widget keeps the window and only draws.
"""

from __future__ import annotations

import textwrap
from collections import deque

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline, Static

from tui.widgets.format import DASH, human_rate


def _lines(text: str, width: int) -> int:
    """How many lines ``text`` wraps to at ``width`` cells (word wrap, as Static does)."""
    return len(textwrap.wrap(text, width)) or 1


class Throughput(Vertical):
    """A titled sparkline of throughput samples (bytes/s), newest on the right."""

    DEFAULT_CSS = """
    Throughput { height: auto; }
    Throughput > .throughput-figures { height: auto; }
    Throughput > Sparkline { height: 3; }
    """

    def __init__(self, window: int = 60, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.window = window
        self.samples: deque[float] = deque(maxlen=window)
        self._measured: deque[float] = deque(maxlen=window)
        self._drawn = ""

    def compose(self) -> ComposeResult:
        self._drawn = self.figures()
        yield Static(self._drawn, classes="throughput-figures", markup=False)
        yield Sparkline([], summary_function=max)

    def add_sample(self, rate: float | None) -> None:
        """Append one sample (None or negative counts as 0 in the line, not in the figures)."""
        value = float(rate) if rate is not None and rate > 0 else 0.0
        self.samples.append(value)
        if rate is not None:
            self._measured.append(max(0.0, float(rate)))
        else:
            self._measured.append(float("nan"))
        self._redraw()

    def reset(self) -> None:
        self.samples.clear()
        self._measured.clear()
        self._redraw()

    @property
    def current(self) -> float | None:
        if not self._measured or self._measured[-1] != self._measured[-1]:  # NaN: not measured
            return None
        return self._measured[-1]

    @property
    def peak(self) -> float | None:
        values = [v for v in self._measured if v == v]
        return max(values) if values else None

    @property
    def average(self) -> float | None:
        values = [v for v in self._measured if v == v]
        return sum(values) / len(values) if values else None

    def figures(self) -> str:
        return (f"throughput now {human_rate(self.current)} · avg {human_rate(self.average)} · "
                f"peak {human_rate(self.peak)}" if self._measured else f"throughput {DASH}")

    def _redraw(self) -> None:
        if not self.is_mounted:
            return
        figures = self.query_one(".throughput-figures", Static)
        text = self.figures()
        if text != self._drawn:
            # A layout (a reflow of the whole screen) only when the line may change its height:
            # four times a second during a run it was the UI's largest cost.
            width = figures.content_size.width
            same_height = width > 0 and _lines(text, width) == _lines(self._drawn, width)
            figures.update(text, layout=not same_height)
            self._drawn = text
        self.query_one(Sparkline).data = list(self.samples)
