"""Throughput: a short training run from the profile prints its speed; compared with the baseline."""

from __future__ import annotations

from typing import Any

from engine.verify.checks.base import (MIN_RUNS, CheckContext, CheckError, Skip, Verdict, baseline_runs, median,
                                      runs_words)
from engine.verify.checks.parsing import number_from_output
from engine.verify.commands import expand, run_command

NAME = "throughput"
TITLE = "Training throughput"
MEASURES = "samples per second (or seconds per step) printed by a short training run"


def measure(ctx: CheckContext) -> dict[str, Any]:
    cfg = ctx.section.throughput
    if not cfg.command:
        raise Skip("no training command configured ([verify.throughput] command)")
    argv = expand(cfg.command, ctx.base_dir)
    values: list[float] = []
    transcript = ""
    for i in range(cfg.runs):
        if ctx.cancel.is_set():
            raise CheckError("cancelled")
        run = run_command(argv, cwd=ctx.base_dir, timeout_s=cfg.timeout_s, env=ctx.section.env, cancel=ctx.cancel)
        transcript = run.transcript()
        why = run.failure()
        if why:
            raise CheckError(f"the training command {why} (run {i + 1} of {cfg.runs})", transcript)
        value = number_from_output(run.stdout, key=cfg.metric, pattern=cfg.pattern, transcript=transcript)
        if value <= 0:
            raise CheckError(f"the training command reported {cfg.metric} = {value}", transcript)
        values.append(value)
        ctx.progress(i + 1, cfg.runs)
    return {"metric": cfg.metric, "values": values, "median": round(median(values), 6), "runs": len(values),
            "_output": transcript}


def baseline_gap(figures: dict[str, Any]) -> str:
    """Why a target will not compare its median with this one ("" = it will)."""
    runs = int(figures.get("runs") or 0)
    if runs >= MIN_RUNS:
        return ""
    return f"its median is from {runs_words(runs)} ({MIN_RUNS} needed; raise [verify.throughput] runs)"


def judge(ctx: CheckContext, measured: dict[str, Any], baseline: dict[str, Any] | None) -> Verdict:
    """The target's median speed against the baseline's, both of at least MIN_RUNS runs to pass.

    A baseline of one run is one sample of the old system's speed (a cold cache, a noisy neighbour): it is not
    compared with.  Too few runs on the target can still fail; they cannot pass."""
    cfg = ctx.section.throughput
    value = measured["median"]
    runs = int(measured.get("runs") or 0)
    unit = "samples/s" if cfg.metric == "samples_per_s" else "s/step"
    summary = f"{value:.4g} {unit} (median of {runs})"
    if not baseline or "median" not in baseline:
        raise Skip(f"{summary} measured, but there is no baseline to compare with "
                   "(capture one on the source with --capture-baseline)")
    if baseline.get("metric", cfg.metric) != cfg.metric:
        raise CheckError(f"the baseline measured {baseline.get('metric')}, the profile asks for {cfg.metric}")
    base_runs = baseline_runs(baseline, "values")
    if base_runs < MIN_RUNS:
        raise Skip(f"{summary} measured: not compared with the old system: the baseline's median is from "
                   f"{runs_words(base_runs)} on the source ({MIN_RUNS} needed; capture it again with "
                   f"[verify.throughput] runs >= {MIN_RUNS})")
    base = baseline["median"]
    speed = value / base if cfg.metric == "samples_per_s" else base / value
    summary += f"; baseline {base:.4g} {unit} (median of {base_runs}); relative speed {speed:.2f}x"
    threshold = f"relative speed >= {cfg.min_ratio:g}x the baseline"
    details = [] if speed >= cfg.min_ratio else [f"relative speed {speed:.2f}x is below {cfg.min_ratio:g}x"]
    measured["relative_speed"] = round(speed, 4)
    if speed >= cfg.min_ratio and runs < MIN_RUNS:
        raise Skip(f"{summary}: {'one run' if runs == 1 else runs_words(runs)} cannot establish a speed "
                   f"({MIN_RUNS} needed; raise [verify.throughput] runs)")
    return Verdict(speed >= cfg.min_ratio, summary, threshold, details)
