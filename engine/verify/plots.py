"""The report's plots as PNG: loss curves (with the tolerance band) and the latency histogram."""

from __future__ import annotations

import math
from typing import Any, Sequence

from engine.verify.png import (BLACK, BLUE, DARK_GREY, GREY, LIGHT_BLUE, ORANGE, RED, Canvas, Color)

WIDTH, HEIGHT = 720, 360
LEFT, RIGHT, TOP, BOTTOM = 80, 20, 40, 50


def _tick_label(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1e5 or abs(value) < 1e-3:
        return f"{value:.1e}".replace("e+0", "e").replace("e-0", "e-")
    return f"{value:.4g}"


def _nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
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


class _Frame:
    def __init__(self, canvas: Canvas, x_range: tuple[float, float], y_range: tuple[float, float]):
        self.c = canvas
        self.x0, self.x1 = x_range
        self.y0, self.y1 = y_range
        if self.x1 <= self.x0:
            self.x1 = self.x0 + 1
        if self.y1 <= self.y0:
            self.y1 = self.y0 + 1
        self.px0, self.px1 = LEFT, canvas.width - RIGHT
        self.py0, self.py1 = canvas.height - BOTTOM, TOP

    def x(self, value: float) -> int:
        return round(self.px0 + (value - self.x0) / (self.x1 - self.x0) * (self.px1 - self.px0))

    def y(self, value: float) -> int:
        return round(self.py0 + (value - self.y0) / (self.y1 - self.y0) * (self.py1 - self.py0))

    def axes(self, x_label: str, y_label: str) -> None:
        c = self.c
        for t in _nice_ticks(self.y0, self.y1):
            py = self.y(t)
            c.line(self.px0, py, self.px1, py, GREY)
            label = _tick_label(t)
            c.text(self.px0 - 6 - Canvas.text_width(label), py - 5, label, DARK_GREY)
        for t in _nice_ticks(self.x0, self.x1, 6):
            px = self.x(t)
            c.line(px, self.py0, px, self.py0 + 4, BLACK)
            label = _tick_label(t)
            c.text(px - Canvas.text_width(label) // 2, self.py0 + 8, label, DARK_GREY)
        c.line(self.px0, self.py0, self.px1, self.py0, BLACK)
        c.line(self.px0, self.py0, self.px0, self.py1, BLACK)
        c.text((self.px0 + self.px1 - Canvas.text_width(x_label)) // 2, c.height - 18, x_label, BLACK)
        c.text(8, 10, y_label, BLACK)


def _legend(c: Canvas, items: Sequence[tuple[str, Color]]) -> None:
    x = c.width - RIGHT
    for label, color in reversed(items):
        x -= Canvas.text_width(label) + 22
        c.rect(x, 12, x + 12, 20, color)
        c.text(x + 16, 11, label, BLACK)
        x -= 10


def loss_curves_png(baseline: list[Sequence[float]], target: list[Sequence[float]],
                    tolerance: float | None = None, method: str = "relative") -> bytes:
    """Baseline (blue), target (orange), and the tolerance band around the baseline (light blue)."""
    finite = [(float(s), float(v)) for s, v in [*baseline, *target] if v is not None and math.isfinite(v)]
    c = Canvas(WIDTH, HEIGHT)
    if not finite:
        c.text(LEFT, HEIGHT // 2, "no finite values", RED)
        return c.to_png()
    band = [(s, v, (tolerance * abs(v) if method == "relative" else tolerance) if tolerance is not None else 0)
            for s, v in baseline if v is not None and math.isfinite(v)]
    ys = [v for _, v in finite] + [v + b for _, v, b in band] + [v - b for _, v, b in band]
    lo, hi = min(ys), max(ys)
    pad = (hi - lo) * 0.05 or abs(hi) * 0.05 or 1.0
    frame = _Frame(c, (min(s for s, _ in finite), max(s for s, _ in finite)), (lo - pad, hi + pad))
    if tolerance:
        for (s0, v0, b0), (s1, v1, b1) in zip(band, band[1:]):
            px0, px1 = frame.x(s0), frame.x(s1)
            for px in range(px0, max(px0, px1) + 1):
                f = 0.0 if px1 == px0 else (px - px0) / (px1 - px0)
                v, b = v0 + (v1 - v0) * f, b0 + (b1 - b0) * f
                c.line(px, frame.y(v + b), px, frame.y(v - b), LIGHT_BLUE)
    frame.axes("step", "loss")
    for points, color in ((baseline, BLUE), (target, ORANGE)):
        prev: tuple[int, int] | None = None
        for s, v in points:
            if v is None or not math.isfinite(v):
                prev = None
                continue
            here = (frame.x(s), frame.y(v))
            if prev:
                c.line(prev[0], prev[1], here[0], here[1], color, thickness=2)
            else:
                c.rect(here[0], here[1], here[0] + 1, here[1] + 1, color)
            prev = here
    legend = [("baseline", BLUE), ("target", ORANGE)]
    if tolerance:
        legend.append(("band", LIGHT_BLUE))
    _legend(c, legend)
    return c.to_png()


def latency_histogram_png(figures: dict[str, Any], threshold_ms: float | None = None,
                          baseline: dict[str, Any] | None = None) -> bytes:
    """Bars of the request-time histogram; P50/P95/P99 as dashed lines, the threshold in red."""
    hist = figures["histogram"]
    counts: list[int] = hist["counts"]
    lo, width = float(hist["lo_ms"]), float(hist["width_ms"])
    hi = lo + width * len(counts)
    marks = [("p50", figures["p50_ms"], DARK_GREY), ("p95", figures["p95_ms"], DARK_GREY),
             ("p99", figures["p99_ms"], ORANGE)]
    x_hi = max([hi] + [m[1] for m in marks] + ([threshold_ms] if threshold_ms else []))
    x_lo = min(lo, 0.0)
    c = Canvas(WIDTH, HEIGHT)
    frame = _Frame(c, (x_lo, x_hi * 1.05), (0, max(counts) * 1.15 if counts else 1))
    frame.axes("ms", "requests")
    for i, n in enumerate(counts):
        if n:
            c.rect(frame.x(lo + i * width) + 1, frame.y(n), max(frame.x(lo + (i + 1) * width) - 1,
                                                               frame.x(lo + i * width) + 1), frame.py0 - 1, BLUE)
    for label, value, color in marks:
        px = frame.x(value)
        c.line(px, frame.py0, px, frame.py1, color, dash=4)
        c.text(px + 3, frame.py1 + 2 + 12 * marks.index((label, value, color)), label, color)
    if threshold_ms:
        px = frame.x(threshold_ms)
        c.line(px, frame.py0, px, frame.py1, RED, thickness=2)
        c.text(px - Canvas.text_width("limit") - 3, frame.py1 + 2, "limit", RED)
    legend = [("requests", BLUE), ("p99", ORANGE)]
    if baseline and baseline.get("p99_ms"):
        px = frame.x(float(baseline["p99_ms"]))
        c.line(px, frame.py0, px, frame.py1, GREY, dash=2)
        legend.append(("baseline p99", GREY))
    _legend(c, legend)
    return c.to_png()
