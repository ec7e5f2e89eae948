"""Training convergence: the target's loss curve stays in a band around the source's.

Compared step by step: at every step the target logged inside the
baseline's range, the baseline is read there (linearly interpolated between
its logged steps, exact where both logged the step).  Pass when the share of
steps outside the band is at most ``max_outside`` and the target's final loss
(mean of the last ``final_window`` compared steps) is no worse than the
baseline's final loss plus the band.  A NaN or infinite target loss is
always outside the band.
"""

from __future__ import annotations

import math
from typing import Any

from engine.errors import BadInputError
from engine.verify.checks.base import CheckContext, CheckError, Skip, Verdict
from engine.verify.curves import downsample, interpolate, read_curve, smooth

NAME = "convergence"
TITLE = "Training convergence"
MEASURES = "the target's loss curve against the source's, step by step, within a tolerance band"

PLOT_POINTS = 400

MIN_COMPARED_STEPS = 10
"""Fewer compared steps than this (or than ``final_window``) cannot show convergence (one logged step that matched
the source's first loss was a PASS); they can still show a divergence or a NaN loss (FAIL)."""


def measure(ctx: CheckContext) -> dict[str, Any]:
    cfg = ctx.section.convergence
    if not cfg.target_file and not cfg.baseline_file:
        raise Skip("no loss curves configured ([verify.convergence] baseline_file and target_file)")
    figures: dict[str, Any] = {"tag": cfg.tag}
    try:
        if cfg.baseline_file:
            base = read_curve(ctx.path(cfg.baseline_file), cfg.tag)
            figures["baseline_curve"] = downsample(base, PLOT_POINTS) if len(base) > 5000 else base
            figures["baseline_file"] = cfg.baseline_file
        if cfg.target_file:
            target = read_curve(ctx.path(cfg.target_file), cfg.tag)
            figures["target_curve"] = target
            figures["target_file"] = cfg.target_file
    except BadInputError as exc:
        raise CheckError(str(exc)) from None
    return figures


def band(value: float, tolerance: float, method: str) -> float:
    return tolerance * abs(value) if method == "relative" else tolerance


def judge(ctx: CheckContext, measured: dict[str, Any], baseline: dict[str, Any] | None) -> Verdict:
    cfg = ctx.section.convergence
    base_curve = measured.get("baseline_curve") or (baseline or {}).get("baseline_curve")
    target_curve = measured.get("target_curve")
    if not target_curve:
        raise Skip("no target loss curve ([verify.convergence] target_file)")
    if not base_curve:
        raise Skip("no baseline loss curve: set [verify.convergence] baseline_file or capture a baseline")
    base = smooth([(int(s), float(v)) for s, v in base_curve], cfg.smoothing)
    target = smooth([(int(s), float(v)) for s, v in target_curve], cfg.smoothing)
    rows: list[tuple[int, float, float]] = []
    for step, value in target:
        ref = interpolate(base, step)
        if ref is not None:
            rows.append((step, ref, value))
    if not rows:
        raise CheckError(f"the curves share no steps: baseline {base[0][0]}..{base[-1][0]}, "
                         f"target {target[0][0]}..{target[-1][0]}")
    broken = [step for step, ref, _ in rows if not math.isfinite(ref)]
    if broken:  # a NaN reference admits anything (no value is "outside" a NaN band) and fails a sound target
        raise CheckError(f"the baseline loss curve is NaN or infinite at {len(broken)} of the {len(rows)} compared "
                         f"steps (first at step {broken[0]}): the target cannot be judged against it there; "
                         "fix or re-capture the source's curve")
    outside = [(s, b, t) for s, b, t in rows
               if not math.isfinite(t) or abs(t - b) > band(b, cfg.tolerance, cfg.method)]
    share = len(outside) / len(rows)
    window = rows[-cfg.final_window:]
    final_base = sum(b for _, b, _ in window) / len(window)
    final_target = sum(t for _, _, t in window) / len(window)
    final_ok = math.isfinite(final_target) and final_target <= final_base + band(final_base, cfg.tolerance, cfg.method)
    worst = max(rows, key=lambda r: abs(r[2] - r[1]) if math.isfinite(r[2]) else math.inf)
    tol_text = f"{cfg.tolerance:.0%} of the baseline" if cfg.method == "relative" else f"±{cfg.tolerance:g}"
    threshold = (f"{cfg.method} band {tol_text}; at most {cfg.max_outside:.0%} of steps outside; final loss "
                 f"(mean of last {len(window)}) no worse than baseline + band"
                 + (f"; smoothing window {cfg.smoothing}" if cfg.smoothing > 1 else ""))
    details: list[str] = []
    if outside:
        first = outside[0]
        details.append(f"{len(outside)} of {len(rows)} steps outside the band; first at step {first[0]}: "
                       f"target {first[2]:.4g} vs baseline {first[1]:.4g}")
    if not final_ok:
        details.append(f"final loss {final_target:.4g} is worse than the baseline's {final_base:.4g} beyond the band")
    skipped_steps = len(target) - len(rows)
    if skipped_steps:
        details.append(f"{skipped_steps} target steps outside the baseline's range were not compared")
    measured.update({
        "compared_steps": len(rows), "outside": len(outside), "outside_share": round(share, 6),
        "final_baseline": round(final_base, 6), "final_target": round(final_target, 6) if math.isfinite(final_target) else None,
        "max_abs_diff": round(abs(worst[2] - worst[1]), 6) if math.isfinite(worst[2]) else None,
        "worst_step": worst[0], "method": cfg.method, "tolerance": cfg.tolerance,
    })
    measured["target_curve"] = downsample(target_curve, PLOT_POINTS)
    measured["baseline_curve"] = downsample(base_curve, PLOT_POINTS)
    passed = share <= cfg.max_outside and final_ok
    needed = max(MIN_COMPARED_STEPS, cfg.final_window)
    if passed and len(rows) < needed:  # too few steps can show a divergence (or a NaN), never convergence
        raise Skip(f"only {len(rows)} step(s) of the target fall inside the baseline's steps "
                   f"{base[0][0]}..{base[-1][0]}: at least {needed} are needed to judge convergence "
                   "(log the loss more often or train longer)")
    first, last = rows[0][0], rows[-1][0]
    logged = sum(1 for step, _ in base if first <= step <= last)
    if passed and logged < needed:  # between two logged steps the "baseline" is interpolated, not measured
        raise Skip(f"{len(rows)} target steps in {first}..{last}, but the baseline logged only {logged} step(s) in "
                   f"{first}..{last}: the target was compared with a straight line between them, not the source's "
                   f"curve; at least {needed} logged baseline steps are needed to judge convergence (log the "
                   "source's loss more often)")
    summary = (f"{len(rows)} steps compared, {len(outside)} outside the band; final loss "
               f"{final_target:.4g} vs baseline {final_base:.4g}")
    span = base[-1][0] - base[0][0]
    reached = rows[-1][0] - base[0][0]
    if span > 0 and reached < span:  # the target stopped early: its "final" loss is the source's at that step
        summary += f" at step {rows[-1][0]} ({reached / span:.0%} of the baseline's {base[0][0]}..{base[-1][0]})"
        details.append(f"the target's curve ends at step {rows[-1][0]}, the baseline's at {base[-1][0]}: "
                       "convergence is judged only up to that step")
        if passed and reached < cfg.min_coverage * span:
            raise Skip(f"{summary}: the curves agree so far, but the target stopped before "
                       f"{cfg.min_coverage:.0%} of the baseline's steps ([verify.convergence] min_coverage): "
                       "convergence was not shown (train the target as long, or lower min_coverage to judge a "
                       "shortened run)")
    return Verdict(passed, summary, threshold, details)
