"""Cost charts: monthly cost per option (bars) and cumulative cost over the horizon (lines, break-even marked).

Attributes down: the screen hands each chart plain numbers from the engine's
CostReport; the charts only draw.  The last data drawn is kept on the widget
(``bars`` / ``series``) so tests can check what is shown.
"""

from __future__ import annotations

from textual_plotext import PlotextPlot


class MonthlyCostChart(PlotextPlot):
    """Bar chart: monthly cost of the source and of each target option."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.bars: list[tuple[str, float]] = []

    def show_bars(self, bars: list[tuple[str, float]]) -> None:
        self.bars = list(bars)
        plt = self.plt
        plt.clear_data()
        plt.clear_figure() if hasattr(plt, "clear_figure") else None
        plt.title("Monthly cost (USD)")
        if bars:
            labels = [_short(name) for name, _ in bars]
            plt.bar(labels, [value for _, value in bars])
        self.refresh()


class CumulativeCostChart(PlotextPlot):
    """Line chart: cumulative cost per option by month, with the primary target's break-even month."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.series: list[tuple[str, list[float]]] = []
        self.break_even: float | None = None

    def show_series(self, series: list[tuple[str, list[float]]], break_even: float | None) -> None:
        self.series = [(name, list(values)) for name, values in series]
        self.break_even = break_even
        plt = self.plt
        plt.clear_data()
        plt.clear_figure() if hasattr(plt, "clear_figure") else None
        title = "Cumulative cost (USD) by month"
        if break_even is not None:
            title += f" — break-even at month {break_even:.1f}"
        else:
            title += " — no break-even"
        plt.title(title)
        for name, values in series:
            plt.plot(list(range(len(values))), values, label=_short(name))
        if break_even is not None and series and break_even <= len(series[0][1]) - 1:
            plt.vline(break_even)
        plt.xlabel("month")
        self.refresh()


def _short(name: str, width: int = 18) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"
