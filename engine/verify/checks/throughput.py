"""Throughput: a short training run from the profile prints its speed; compared with the baseline."""

from __future__ import annotations

from typing import Any

from engine.verify.checks.base import CheckContext, CheckError, Skip, Verdict, median
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


def judge(ctx: CheckContext, measured: dict[str, Any], baseline: dict[str, Any] | None) -> Verdict:
    cfg = ctx.section.throughput
    value = measured["median"]
    unit = "samples/s" if cfg.metric == "samples_per_s" else "s/step"
    summary = f"{value:.4g} {unit} (median of {measured['runs']})"
    if not baseline or "median" not in baseline:
        raise Skip(f"{summary} measured, but there is no baseline to compare with "
                   "(capture one on the source with --capture-baseline)")
    if baseline.get("metric", cfg.metric) != cfg.metric:
        raise CheckError(f"the baseline measured {baseline.get('metric')}, the profile asks for {cfg.metric}")
    base = baseline["median"]
    speed = value / base if cfg.metric == "samples_per_s" else base / value
    summary += f"; baseline {base:.4g} {unit}; relative speed {speed:.2f}x"
    threshold = f"relative speed >= {cfg.min_ratio:g}x the baseline"
    details = [] if speed >= cfg.min_ratio else [f"relative speed {speed:.2f}x is below {cfg.min_ratio:g}x"]
    measured["relative_speed"] = round(speed, 4)
    return Verdict(speed >= cfg.min_ratio, summary, threshold, details)
