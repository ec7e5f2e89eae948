"""Running the checks: capture a baseline on the source, or verify the target against it.

:func:`run_verification` runs the selected checks in order, reporting each
through events (``ItemDone`` per check with its status, ``Progress`` per
check and for the whole run) and returns a :class:`VerifyReport`
(:mod:`engine.verify.outcome`).  Baselines are read and written by
:mod:`engine.verify.baseline`; both are re-exported here for existing imports.
"""

from __future__ import annotations

import platform
import threading
import time
from pathlib import Path
from typing import Any

from engine.errors import refuse_unknown
from engine.events import Emit, ItemDone, Message, Progress, discard
from engine.verify import checks as check_modules
from engine.verify.baseline import (BASELINE_FORMAT, BASELINE_VERSION, baseline_from_report, load_baseline,
                                    save_baseline)
from engine.verify.checks.base import CheckContext, CheckResult, run_check
from engine.verify.expect import is_optional, why_expected
from engine.verify.outcome import VerifyReport, json_safe
from engine.verify.section import CHECK_NAMES, VerifySection

__all__ = ["BASELINE_FORMAT", "BASELINE_VERSION", "VerifyReport", "baseline_from_report", "json_safe",
           "load_baseline", "run_verification", "save_baseline", "selected_checks"]


# --- running ---------------------------------------------------------------------------


def check_only(only: list[str], option: str | None = None) -> None:
    """Refuse a check name that is not one (bad input, before anything runs), naming the option it came from
    and a near match, as ``--steps`` does (`--only: unknown check(s): topolgy (topolgy: did you mean topology?)`)."""
    refuse_unknown(only, list(CHECK_NAMES), "check", option)


def selected_checks(section: VerifySection, only: list[str] | None = None) -> list[str]:
    names = list(section.checks) if section.checks else list(CHECK_NAMES)
    if only:
        check_only(only)
        names = [n for n in names if n in only]
    return [n for n in CHECK_NAMES if n in names]


def run_verification(
    section: VerifySection,
    *,
    base_dir: Path,
    step: str = "verify",
    emit: Emit = discard,
    baseline: dict[str, Any] | None = None,
    baseline_file: str | None = None,
    capture: bool = False,
    only: list[str] | None = None,
    target_gpu_count: int | None = None,
    target_gpu_model: str | None = None,
    nvml_api: Any = None,
    cancel: threading.Event | None = None,
    profile_name: str | None = None,
    transfers: list[Any] | None = None,
    driver_plan: Any = None,
    last_copy: tuple[float, str] | None = None,
) -> VerifyReport:
    """Run the checks; never raises for a check's own outcome."""
    names = selected_checks(section, only)
    cancel = cancel or threading.Event()
    report = VerifyReport(mode="capture" if capture else "verify", results=[], profile_name=profile_name,
                          host=platform.node(), started_at=time.time(), baseline_file=baseline_file,
                          baseline_captured_at=(baseline or {}).get("captured_at"),
                          baseline_host=(baseline or {}).get("host"))
    if section.checks and set(CHECK_NAMES) - set(section.checks):  # named beside the verdict, PASS or not
        report.only = [n for n in CHECK_NAMES if n in section.checks]
        report.not_run_by_profile = [n for n in CHECK_NAMES if n not in section.checks]
    base_checks = (baseline or {}).get("checks", {})
    shared_cache: dict[str, Any] = {}
    try:
        _run_checks(report, names, section, base_dir, step, emit, base_checks, capture, target_gpu_count,
                    target_gpu_model, nvml_api, cancel, transfers, driver_plan, last_copy, shared_cache)
    except KeyboardInterrupt:  # Ctrl-C inside a check: the same stop as a cancel, so the reports say what ran
        cancel.set()
    stopped = [n for n in names if report.result(n) is None] if cancel.is_set() else []
    for name in stopped:  # never PASS on part of the checks: each one left is a gap, whatever the profile says
        module = check_modules.load(name)
        report.results.append(CheckResult(name=name, title=module.TITLE, measures=module.MEASURES, status="not-run",
                                          summary="not run: the verification was stopped before it (Ctrl-C, a "
                                                  "cancel or SIGTERM)", expected="the run was stopped"))
    if not capture and not cancel.is_set():
        for result in _left_out(section, names, only, target_gpu_count) + _left_out_by_profile(section,
                                                                                               target_gpu_count):
            report.results.append(result)
            emit(ItemDone(step, item=result.name, status=result.status, detail=result.summary,
                          data={"title": result.title, "threshold": "", "duration_s": 0.0,
                                "result": json_safe(result.to_dict())}))
    emit(Progress(step, done=len(names), total=len(names), unit="checks", label="checks"))
    report.finished_at = time.time()
    return report


def _run_checks(report: VerifyReport, names: list[str], section: VerifySection, base_dir: Path, step: str,
                emit: Emit, base_checks: dict[str, Any], capture: bool, target_gpu_count: int | None,
                target_gpu_model: str | None, nvml_api: Any, cancel: threading.Event, transfers: list[Any] | None,
                driver_plan: Any, last_copy: tuple[float, str] | None, shared_cache: dict[str, Any]) -> None:
    """Each check in turn, its result appended to ``report`` as it ends; stops between checks on ``cancel``."""
    for index, name in enumerate(names):
        if cancel.is_set():
            break
        module = check_modules.load(name)
        emit(Progress(step, done=index, total=len(names), unit="checks", label="checks",
                      extra={"check": name, "title": module.TITLE}))

        def progress(done: float, total: float | None, _name: str = name) -> None:
            emit(Progress(step, done=done, total=total, label=_name))

        ctx = CheckContext(section=section, base_dir=base_dir, target_gpu_count=target_gpu_count,
                           target_gpu_model=target_gpu_model, nvml_api=nvml_api, cancel=cancel,
                           progress=progress, log=lambda text: emit(Message(step, text=text, level="debug")),
                           transfers=list(transfers or []), driver_plan=driver_plan,
                           last_copy=last_copy, _cache=shared_cache)
        result = run_check(module, ctx, base_checks.get(name), capture=capture)
        result.expected = why_expected(section, name, target_gpu_count)
        result.optional = is_optional(section, name)
        _say_measured_without_a_driver(result, ctx)
        report.results.append(result)
        emit(ItemDone(step, item=name, status=result.status, detail=result.summary,
                      data={"title": result.title, "threshold": result.threshold,
                            "duration_s": round(result.duration_s, 3), "result": json_safe(result.to_dict())}))


GPU_WORKLOADS = ("model_load", "latency", "throughput")
"""Checks whose commands are meant to run on the GPUs (a framework with no driver falls back to the CPU)."""


def _say_measured_without_a_driver(result: CheckResult, ctx: CheckContext) -> None:
    """Beside a GPU workload's figures, when this run's NVML reading (the GPU checks run first) found no driver.

    The command ran on whatever answered: a load time or a P99 from a CPU fallback is not the target GPUs'
    figure, whatever it was judged against.  (The GPU checks themselves are not run, which leaves the
    verdict INCOMPLETE unless the profile marks them optional.)"""
    from engine.verify.checks.nvml_host import no_driver_reason

    why = no_driver_reason(ctx) if result.name in GPU_WORKLOADS and result.status in ("pass", "fail") else None
    if why is not None:
        result.details.append(f"measured where no NVIDIA driver answers (NVML: {why}): these figures may not be "
                              "the target GPUs'")


GPU_CHECKS = ("gpu_health", "topology")


def profile_left_out_gpu_checks(section: VerifySection, target_gpu_count: int | None) -> list[tuple[str, str]]:
    """The GPU checks a ``[verify] checks`` list leaves out on a target that must show GPUs: (name, why expected).

    They exist to prove the target's GPUs: a list without them gave "PASS (only: latency ...)" on a target that
    must show 8 GPUs, which one person could approve, while ``--only latency`` was INCOMPLETE.  They are expected
    as under ``--only``; ``optional = true`` in their sub-table is the one way to verify without them (shown)."""
    if not section.checks:
        return []
    out = []
    for name in GPU_CHECKS:
        why = why_expected(section, name, target_gpu_count)
        if name not in section.checks and why and not is_optional(section, name):
            out.append((name, why))
    return out


def _left_out_by_profile(section: VerifySection, target_gpu_count: int | None) -> list[CheckResult]:
    out = []
    for name, why in profile_left_out_gpu_checks(section, target_gpu_count):
        module = check_modules.load(name)
        field = "gpu" if name == "gpu_health" else name
        out.append(CheckResult(name=name, title=module.TITLE, measures=module.MEASURES, status="not-run",
                               summary=f"left out by [verify] checks: the GPUs were not checked (add it to the list, "
                                       f"or set [verify.{field}] optional = true to verify without it)",
                               expected=why))
    return out


def _left_out(section: VerifySection, names: list[str], only: list[str] | None,
              target_gpu_count: int | None) -> list[CheckResult]:
    """Expected checks of the profile that ``--only`` left out, each *not run* with why.

    Leaving a check out does not prove what it exists to prove: `--only data_integrity` on a target
    that must show 8 GPUs was a PASS one person could approve.  ``optional = true`` lifts it.
    """
    if not only:
        return []
    out = []
    for name in selected_checks(section):
        why = why_expected(section, name, target_gpu_count)
        if name in names or not why or is_optional(section, name):
            continue
        module = check_modules.load(name)
        out.append(CheckResult(name=name, title=module.TITLE, measures=module.MEASURES, status="not-run",
                               summary=f"not selected (--only {','.join(only)})", expected=why))
    return out
