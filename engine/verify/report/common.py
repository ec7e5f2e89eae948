"""What every report format shares: marks, verdict lines, figure rows, plots."""

from __future__ import annotations

import time
from typing import Any

from engine.verify.checks.base import CheckResult
from engine.verify.plots import latency_histogram_svg, loss_curves_svg
from engine.verify.suite import VerifyReport
from engine.verify.textsafe import readable

MARK = {"pass": "✅ pass", "fail": "❌ FAIL", "error": "⚠ ERROR", "not-run": "⏭ not run"}
_HIDDEN_FIGURES = {"histogram", "baseline_curve", "target_curve", "samples_s", "values", "gpus", "pairs",
                   "matrix", "labels", "dcgm", "tag", "method", "sources"}


def mark(result: CheckResult) -> str:
    """The result as a word: a not-run check says whether it was expected (INCOMPLETE) or optional."""
    if result.status != "not-run":
        return MARK[result.status]
    if result.gap:
        return "⛔ NOT RUN (expected)"
    if result.optional:
        return "⏭ not run (optional)"
    return MARK["not-run"]


def css_class(result: CheckResult) -> str:
    return "gap" if result.gap else result.status


def when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts)) if ts else "?"


def clean(text: Any) -> str:
    """Command-printed text as a terminal showed it, without a byte a report format forbids."""
    return readable(str(text))


def fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(fmt(v) for v in value) if len(value) <= 8 else f"{len(value)} values"
    return clean(value)


def figure_rows(result: CheckResult) -> list[tuple[str, str, str]]:
    """(figure, target, baseline) for the scalar figures of a check."""
    base = result.baseline or {}
    rows = []
    for key, value in result.figures.items():
        if key in _HIDDEN_FIGURES or key.startswith("_") or isinstance(value, dict):
            continue
        rows.append((key, fmt(value), fmt(base.get(key)) if key in base else ""))
    return rows


def plots(report: VerifyReport, p99_ms: float | None = None) -> dict[str, tuple[str, str]]:
    """Plot name -> (caption, SVG text) for the checks that have something to draw."""
    out: dict[str, tuple[str, str]] = {}
    conv = report.result("convergence")
    if conv and conv.figures.get("target_curve") and conv.figures.get("baseline_curve"):
        out["convergence"] = (
            "Loss curves: baseline (blue), target (orange), tolerance band (light blue)",
            loss_curves_svg(conv.figures["baseline_curve"], conv.figures["target_curve"],
                            conv.figures.get("tolerance"), conv.figures.get("method", "relative")))
    lat = report.result("latency")
    if lat and lat.figures.get("histogram"):
        out["latency"] = ("Latency histogram with P50/P95/P99 and the P99 limit (red)",
                          latency_histogram_svg(lat.figures, p99_ms, lat.baseline))
    return out


def optional_line(report: VerifyReport) -> str:
    """Optional checks that did not run, said once at the top (they leave the verdict alone)."""
    names = [r.name for r in report.results if r.status == "not-run" and r.optional]
    return f"Optional in this profile and not run: {', '.join(names)}" if names else ""


def second_person(signoff: dict[str, Any]) -> str:
    """Who approved an accepted-with-gaps sign-off, and how (one account with two declared names proves less)."""
    who = signoff.get("approved_by") or "—"
    return f"{who} ({signoff['approved_how']})" if signoff.get("approved_how") else who
