"""The report's plots as SVG: loss curves (with the tolerance band) and the latency histogram.

SVG because its text is text: tick labels, legends and captions are ``<text>``
elements any browser, Markdown viewer or ``grep`` reads, in any character (the
PNG these replace drew a 3x5-pixel font in which every unknown letter was a
``0``).  Deterministic: the same figures give the same bytes, so reports can be
snapshot-tested.  No plotting library: two charts do not earn matplotlib's weight.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any, Sequence

WIDTH, HEIGHT = 720, 360
LEFT, RIGHT, TOP, BOTTOM = 80, 20, 40, 50

BLACK, GREY, DARK_GREY = "#000000", "#c8c8c8", "#6e6e6e"
BLUE, ORANGE, LIGHT_BLUE, RED = "#1f77b4", "#e66e14", "#cde1f5", "#c81e1e"


def _num(value: float) -> str:
    """Coordinates with one decimal, no trailing zeros (stable bytes, small files)."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def tick_label(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1e5 or abs(value) < 1e-3:
        return f"{value:.1e}".replace("e+0", "e").replace("e-0", "e-")
    return f"{value:.4g}"


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step) * step
    ticks = []
    value = start
    while value <= hi + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


class Svg:
    """A few SVG primitives, appended in drawing order."""

    def __init__(self, width: int, height: int, title: str):
        self.width, self.height = width, height
        self.parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
                      f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
                      f"<title>{escape(title)}</title>",
                      f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>']

    def line(self, x0: float, y0: float, x1: float, y1: float, color: str, width: float = 1,
             dash: int = 0) -> None:
        extra = f' stroke-dasharray="{dash},{dash}"' if dash else ""
        self.parts.append(f'<line x1="{_num(x0)}" y1="{_num(y0)}" x2="{_num(x1)}" y2="{_num(y1)}" '
                          f'stroke="{color}" stroke-width="{_num(width)}"{extra}/>')

    def rect(self, x0: float, y0: float, x1: float, y1: float, color: str) -> None:
        x, y = min(x0, x1), min(y0, y1)
        self.parts.append(f'<rect x="{_num(x)}" y="{_num(y)}" width="{_num(abs(x1 - x0))}" '
                          f'height="{_num(abs(y1 - y0))}" fill="{color}"/>')

    def polyline(self, points: Sequence[tuple[float, float]], color: str, width: float = 2) -> None:
        pts = " ".join(f"{_num(x)},{_num(y)}" for x, y in points)
        self.parts.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="{_num(width)}"/>')

    def polygon(self, points: Sequence[tuple[float, float]], color: str) -> None:
        pts = " ".join(f"{_num(x)},{_num(y)}" for x, y in points)
        self.parts.append(f'<polygon points="{pts}" fill="{color}" stroke="none"/>')

    def text(self, x: float, y: float, text: str, color: str = BLACK, anchor: str = "start") -> None:
        self.parts.append(f'<text x="{_num(x)}" y="{_num(y)}" fill="{color}" text-anchor="{anchor}">'
                          f"{escape(text)}</text>")

    def render(self) -> str:
        return "\n".join(self.parts + ["</svg>"]) + "\n"


class Frame:
    """Data coordinates to pixels inside the plot area."""

    def __init__(self, svg: Svg, x_range: tuple[float, float], y_range: tuple[float, float]):
        self.svg = svg
        self.x0, self.x1 = x_range
        self.y0, self.y1 = y_range
        if self.x1 <= self.x0:
            self.x1 = self.x0 + 1
        if self.y1 <= self.y0:
            self.y1 = self.y0 + 1
        self.px0, self.px1 = LEFT, svg.width - RIGHT
        self.py0, self.py1 = svg.height - BOTTOM, TOP

    def x(self, value: float) -> float:
        return self.px0 + (value - self.x0) / (self.x1 - self.x0) * (self.px1 - self.px0)

    def y(self, value: float) -> float:
        return self.py0 + (value - self.y0) / (self.y1 - self.y0) * (self.py1 - self.py0)

    def axes(self, x_label: str, y_label: str) -> None:
        s = self.svg
        for t in nice_ticks(self.y0, self.y1):
            py = self.y(t)
            s.line(self.px0, py, self.px1, py, GREY)
            s.text(self.px0 - 6, py + 4, tick_label(t), DARK_GREY, anchor="end")
        for t in nice_ticks(self.x0, self.x1, 6):
            px = self.x(t)
            s.line(px, self.py0, px, self.py0 + 4, BLACK)
            s.text(px, self.py0 + 18, tick_label(t), DARK_GREY, anchor="middle")
        s.line(self.px0, self.py0, self.px1, self.py0, BLACK)
        s.line(self.px0, self.py0, self.px0, self.py1, BLACK)
        s.text((self.px0 + self.px1) / 2, s.height - 10, x_label, anchor="middle")
        s.text(8, 20, y_label)


def _legend(svg: Svg, items: Sequence[tuple[str, str]]) -> None:
    x = svg.width - RIGHT - 8 * sum(len(label) + 4 for label, _ in items)
    for label, color in items:
        svg.rect(x, 12, x + 12, 22, color)
        svg.text(x + 16, 21, label)
        x += 8 * (len(label) + 4)


def loss_curves_svg(baseline: list[Sequence[float]], target: list[Sequence[float]],
                    tolerance: float | None = None, method: str = "relative") -> str:
    """Baseline (blue), target (orange), and the tolerance band around the baseline (light blue)."""
    svg = Svg(WIDTH, HEIGHT, "Loss curves: baseline, target and tolerance band")
    finite = [(float(s), float(v)) for s, v in [*baseline, *target] if v is not None and math.isfinite(v)]
    if not finite:
        svg.text(LEFT, HEIGHT / 2, "no finite values", RED)
        return svg.render()
    band = [(float(s), float(v), (tolerance * abs(v) if method == "relative" else tolerance)
             if tolerance is not None else 0.0)
            for s, v in baseline if v is not None and math.isfinite(v)]
    ys = [v for _, v in finite] + [v + b for _, v, b in band] + [v - b for _, v, b in band]
    lo, hi = min(ys), max(ys)
    pad = (hi - lo) * 0.05 or abs(hi) * 0.05 or 1.0
    frame = Frame(svg, (min(s for s, _ in finite), max(s for s, _ in finite)), (lo - pad, hi + pad))
    if tolerance and len(band) > 1:
        upper = [(frame.x(s), frame.y(v + b)) for s, v, b in band]
        lower = [(frame.x(s), frame.y(v - b)) for s, v, b in reversed(band)]
        svg.polygon(upper + lower, LIGHT_BLUE)
    frame.axes("step", "loss")
    for points, color in ((baseline, BLUE), (target, ORANGE)):
        run: list[tuple[float, float]] = []
        for s, v in [*points, (None, None)]:
            if s is None or v is None or not math.isfinite(v):
                if len(run) > 1:
                    svg.polyline(run, color)
                elif run:
                    svg.rect(run[0][0] - 1, run[0][1] - 1, run[0][0] + 1, run[0][1] + 1, color)
                run = []
                continue
            run.append((frame.x(float(s)), frame.y(float(v))))
    legend = [("baseline", BLUE), ("target", ORANGE)]
    if tolerance:
        legend.append((f"band ±{tolerance:g}{' (relative)' if method == 'relative' else ''}", LIGHT_BLUE))
    _legend(svg, legend)
    return svg.render()


def latency_histogram_svg(figures: dict[str, Any], threshold_ms: float | None = None,
                          baseline: dict[str, Any] | None = None) -> str:
    """Bars of the request-time histogram; P50/P95/P99 as dashed lines, the limit in red."""
    svg = Svg(WIDTH, HEIGHT, "Latency histogram with P50, P95, P99 and the P99 limit")
    hist = figures["histogram"]
    counts: list[int] = hist["counts"]
    lo, width = float(hist["lo_ms"]), float(hist["width_ms"])
    hi = lo + width * len(counts)
    marks = [("P50", figures["p50_ms"], DARK_GREY), ("P95", figures["p95_ms"], DARK_GREY),
             ("P99", figures["p99_ms"], ORANGE)]
    x_hi = max([hi] + [m[1] for m in marks] + ([threshold_ms] if threshold_ms else []))
    frame = Frame(svg, (min(lo, 0.0), x_hi * 1.05), (0, max(counts) * 1.15 if counts else 1))
    frame.axes("milliseconds", "requests")
    for i, n in enumerate(counts):
        if n:
            left, right = frame.x(lo + i * width), frame.x(lo + (i + 1) * width)
            svg.rect(left + 0.5, frame.y(n), max(right - 0.5, left + 1), frame.py0, BLUE)
    for index, (label, value, color) in enumerate(marks):
        px = frame.x(value)
        svg.line(px, frame.py0, px, frame.py1, color, dash=4)
        svg.text(px + 3, frame.py1 + 12 + 13 * index, f"{label} {value:.4g} ms", color)
    legend = [("requests", BLUE), ("P99", ORANGE)]
    if threshold_ms:
        px = frame.x(threshold_ms)
        svg.line(px, frame.py0, px, frame.py1, RED, width=2)
        svg.text(px - 3, frame.py1 + 12, f"limit {threshold_ms:g} ms", RED, anchor="end")
        legend.append(("limit", RED))
    if baseline and baseline.get("p99_ms"):
        px = frame.x(float(baseline["p99_ms"]))
        svg.line(px, frame.py0, px, frame.py1, GREY, dash=2)
        legend.append(("baseline P99", GREY))
    _legend(svg, legend)
    return svg.render()
