"""Model load time: a command from the profile, timed over several runs."""

from __future__ import annotations

from typing import Any

from engine.verify.checks.base import (MIN_RUNS, CheckContext, CheckError, Skip, Verdict, baseline_runs, median,
                                      runs_words)
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


def baseline_gap(figures: dict[str, Any]) -> str:
    """Why a target will not compare its median with this one ("" = it will)."""
    runs = int(figures.get("runs") or 0)
    if runs >= MIN_RUNS:
        return ""
    return f"its median is from {runs_words(runs)} ({MIN_RUNS} needed; raise [verify.model_load] runs)"


def judge(ctx: CheckContext, measured: dict[str, Any], baseline: dict[str, Any] | None) -> Verdict:
    ratio = ctx.section.load_time_ratio
    cfg = ctx.section.model_load
    med = measured["median_s"]
    runs = int(measured.get("runs") or 0)
    details: list[str] = []
    limits: list[str] = []
    passed = True
    base = baseline or {}
    if "median_s" in base and base.get("timing", measured["timing"]) != measured["timing"]:
        raise CheckError(f"the baseline timed the load as {base.get('timing')!r}, this run as "
                         f"{measured['timing']!r} ([verify.model_load] timing): the medians are not comparable")
    base_runs = baseline_runs(base, "samples_s")
    against_source = "median_s" in base and base_runs >= MIN_RUNS
    summary = f"median {med:.3f}s over {runs_words(runs)}"
    if against_source:
        limit = base["median_s"] * ratio
        limits.append(f"median < baseline {base['median_s']:.3f}s x {ratio:g} = {limit:.3f}s")
        summary += (f" (baseline {base['median_s']:.3f}s from {runs_words(base_runs)}, "
                    f"{med / base['median_s']:.2f}x)")
        if not med < limit:
            passed = False
            details.append(f"median {med:.3f}s is not below {limit:.3f}s "
                           f"({med / base['median_s']:.2f}x the baseline)")
    else:
        why = (f"the baseline's median is from {runs_words(base_runs)} on the source ({MIN_RUNS} needed)"
               if "median_s" in base else "no baseline median from the source")
        if cfg.max_s is None:
            raise Skip(f"{summary} measured: not compared with the old system: {why} (capture one on the source "
                       f"with --capture-baseline and [verify.model_load] runs >= {MIN_RUNS}), and no max_s")
        details.append(f"not compared with the old system: {why}: judged against [verify.model_load] max_s only")
    if cfg.max_s is not None:
        limits.append(f"median <= {cfg.max_s:g}s")
        if med > cfg.max_s:
            passed = False
            details.insert(0, f"median {med:.3f}s is above the ceiling {cfg.max_s:g}s")
    if passed and runs < MIN_RUNS:
        raise Skip(f"{summary}: {'one run' if runs == 1 else runs_words(runs)} cannot establish a load time "
                   f"({MIN_RUNS} needed; raise [verify.model_load] runs)")
    return Verdict(passed, summary, "; ".join(limits), details)
