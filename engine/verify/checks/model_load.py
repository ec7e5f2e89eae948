"""Model load time: a command from the profile, timed over several runs."""

from __future__ import annotations

from typing import Any

from engine.verify.checks.base import CheckContext, CheckError, Skip, Verdict, median
from engine.verify.checks.parsing import number_from_output
from engine.verify.commands import expand, run_command

NAME = "model_load"
TITLE = "Model load time"
MEASURES = "median seconds to load the model, over several runs of the profile's load command"


def measure(ctx: CheckContext) -> dict[str, Any]:
    cfg = ctx.section.model_load
    if not cfg.command:
        raise Skip("no load command configured ([verify.model_load] command)")
    argv = expand(cfg.command, ctx.base_dir)
    total = cfg.warmup + cfg.runs
    samples: list[float] = []
    last = ""
    for i in range(total):
        if ctx.cancel.is_set():
            raise CheckError("cancelled")
        run = run_command(argv, cwd=ctx.base_dir, timeout_s=cfg.timeout_s, env=ctx.section.env, cancel=ctx.cancel)
        last = run.transcript()
        why = run.failure()
        if why:
            raise CheckError(f"the load command {why} (run {i + 1} of {total})", last)
        if cfg.timing == "reported":
            seconds = number_from_output(run.stdout, key="seconds", transcript=last)
        else:
            seconds = run.seconds
        if i >= cfg.warmup:
            samples.append(seconds)
        ctx.progress(i + 1, total)
    return {"runs": len(samples), "samples_s": [round(s, 6) for s in samples],
            "median_s": round(median(samples), 6), "min_s": round(min(samples), 6),
            "max_s": round(max(samples), 6), "timing": cfg.timing, "_output": last}


def judge(ctx: CheckContext, measured: dict[str, Any], baseline: dict[str, Any] | None) -> Verdict:
    ratio = ctx.section.load_time_ratio
    cfg = ctx.section.model_load
    med = measured["median_s"]
    details: list[str] = []
    limits: list[str] = []
    passed = True
    compared = False
    if baseline and "median_s" in baseline and baseline.get("timing", measured["timing"]) != measured["timing"]:
        raise CheckError(f"the baseline timed the load as {baseline.get('timing')!r}, this run as "
                         f"{measured['timing']!r} ([verify.model_load] timing): the medians are not comparable")
    if baseline and "median_s" in baseline:
        compared = True
        limit = baseline["median_s"] * ratio
        limits.append(f"median < baseline {baseline['median_s']:.3f}s x {ratio:g} = {limit:.3f}s")
        if not med < limit:
            passed = False
            details.append(f"median {med:.3f}s is not below {limit:.3f}s "
                           f"({med / baseline['median_s']:.2f}x the baseline)")
    if cfg.max_s is not None:
        compared = True
        limits.append(f"median <= {cfg.max_s:g}s")
        if med > cfg.max_s:
            passed = False
            details.append(f"median {med:.3f}s is above the ceiling {cfg.max_s:g}s")
    if compared and not (baseline and "median_s" in baseline):
        details.append("no baseline median: compared with max_s only")
    if not compared:
        raise Skip(f"median {med:.3f}s measured, but there is no baseline to compare with "
                   "(capture one on the source with --capture-baseline) and no max_s")
    summary = f"median {med:.3f}s over {measured['runs']} runs"
    if baseline and "median_s" in baseline:
        summary += f" (baseline {baseline['median_s']:.3f}s, {med / baseline['median_s']:.2f}x)"
    return Verdict(passed, summary, "; ".join(limits), details)
