"""The ``verify`` step of ``replay``: run the checks against the baseline and write the reports.

Options (``ctx.options``, set by ``gpumigrate verify``): ``baseline`` (a
path, overrides ``[verify] baseline``), ``capture_baseline`` (capture on
this machine and write the file instead of judging), ``only`` (check names),
``markdown`` / ``html`` / ``junit`` / ``json`` (report paths), ``nvml_api``
(the NVML seam, for tests).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.errors import ExitCode
from engine.runner import StepContext, StepResult
from engine.verify.checks import load
from engine.verify.report import write_reports
from engine.verify.baseline import other_gpu_note
from engine.verify.suite import (load_baseline, profile_left_out_gpu_checks, run_verification, save_baseline,
                                 selected_checks)


def _resolve(ctx: StepContext, value: str | Path) -> Path:
    path = Path(str(value)).expanduser()
    return path if path.is_absolute() else ctx.base_dir / path


GPU_CHECKS = ("gpu_health", "topology")
"""Checks that run whenever this machine shows GPUs; the others need inputs in the profile."""


def _target_gpus(ctx: StepContext) -> Any:
    """The GPUs the target must show: the same count cost prices (a2-highgpu-8g with no ``target.gpu_count``
    has 8, not the field's default 1) and the machine type's GPU when ``target.gpu_model`` is unset."""
    from engine.catalog.target_gpus import target_gpus

    return target_gpus(ctx.profile.target)


def _last_copy(ctx: StepContext) -> tuple[float, str] | None:
    """When the session's last transfer run ended (or began, still running), with its state: what manifest files
    must be newer than to describe the copy now at the destination."""
    record = ctx.session.step("transfer") if ctx.session is not None else None
    if record is None:
        return None
    when = record.started_at if record.state == "running" else record.finished_at
    return (float(when), record.state) if when else None


def _driver_plan(ctx: StepContext, names: list[str]) -> Any:
    """The drivers plan GPU health judges the installed driver against: only when GPU health runs and the profile
    plans its stack (a ``[drivers]`` section; without one the plan is the defaults, which the person may never
    install)."""
    if "gpu_health" not in names or "drivers" not in ctx.profile.model_fields_set:
        return None
    from engine.drivers.render import plan_for_profile

    return plan_for_profile(ctx.profile)


def _dry_run(ctx: StepContext, names: list[str], capture_to: Any, baseline_value: Any) -> StepResult:
    """Say which checks will run and which will only report *not run*.

    A selected check with nothing to measure (no command, no manifests) is reported not run; a dry
    run that counted it as "would run" promised a verification the profile cannot give.
    """
    from engine.verify.expect import why_expected

    section = ctx.profile.verify
    expected = [n for n in names if why_expected(section, n, _target_gpus(ctx).gpu_count)]
    gpu_only = [n for n in names if n not in expected and n in GPU_CHECKS]
    idle = [n for n in names if n not in expected and n not in GPU_CHECKS]
    mode = f"capture a baseline into {capture_to}" if capture_to else (
        f"verify against {baseline_value}" if baseline_value else "verify without a baseline")
    ctx.message(f"would {mode}: " + (", ".join(f"{n} ({load(n).TITLE})" for n in expected) or "no expected check"))
    if gpu_only:
        ctx.message(f"run only if the machine shows GPUs: {', '.join(gpu_only)}")
    left = profile_left_out_gpu_checks(section, _target_gpus(ctx).gpu_count) if not capture_to else []
    if left:
        ctx.message("left out by [verify] checks, so the verdict will be INCOMPLETE: "
                    + ", ".join(f"{n} ({why})" for n, why in left) + ("; add it" if len(left) == 1 else "; add them")
                    + ", or set optional = true in " + ("its sub-table" if len(left) == 1 else "their sub-tables"))
    if idle:
        ctx.message(f"nothing configured, so reported not run: {', '.join(idle)}")
    if not capture_to and not baseline_value:
        own_limit = {"latency": section.p99_ms is not None, "model_load": section.model_load.max_s is not None}
        blind = [n for n in expected if n in ("latency", "model_load", "throughput") and not own_limit.get(n)]
        if blind:
            ctx.message("no baseline and no limit of the profile's own, so reported not run (not compared with "
                        f"the old system): {', '.join(blind)}")
    return StepResult(ok=True, summary=f"dry run: {len(expected)} of {len(names)} check(s) expected to run",
                      data={"checks": names, "expected": expected})


def _transfer_not_done(ctx: StepContext) -> str | None:
    """How the transfer this verification follows did not finish ("failed in this run: ..."), or None.

    A replay goes on after a failed step, and verify's data_integrity on manifest files passed right after a
    transfer that copied nothing: the PASS was about the files, not the destination. Known from this run's
    result, else from the session's record of the step; nothing is said when no transfer ran here at all
    (the data may have moved another way)."""
    earlier = ctx.results.get("transfer")
    if earlier is not None:
        return None if earlier.ok else "failed in this run"
    if ctx.session is None:
        return None
    record = ctx.session.step("transfer")
    if record is None or record.state == "completed":
        return None
    return f"is {record.state} in session {ctx.session.name}"


def run(ctx: StepContext) -> StepResult:
    section = ctx.profile.verify
    opts: dict[str, Any] = ctx.options
    names = selected_checks(section, opts.get("only"))
    capture_to = opts.get("capture_baseline")
    baseline_value = opts.get("baseline") or section.baseline
    if ctx.dry_run:
        return _dry_run(ctx, names, capture_to, baseline_value)
    gpus = _target_gpus(ctx)
    baseline = None
    if baseline_value and not capture_to:
        baseline = load_baseline(_resolve(ctx, baseline_value))
    report = run_verification(
        section, base_dir=ctx.base_dir, step=ctx.step, emit=ctx.emit, baseline=baseline,
        baseline_file=str(baseline_value) if baseline and baseline_value else None, capture=bool(capture_to),
        only=opts.get("only"), target_gpu_count=gpus.gpu_count,
        target_gpu_model=gpus.gpu_model, nvml_api=opts.get("nvml_api"), cancel=ctx.cancel,
        profile_name=ctx.profile.name, transfers=ctx.profile.transfer, driver_plan=_driver_plan(ctx, names),
        last_copy=_last_copy(ctx),
    )
    note = other_gpu_note(baseline, ctx.profile.source.gpu_model)
    if note:
        ctx.message(note, level="warning")
        for r in report.results:
            if r.baseline is not None:
                r.details.append(note)
    summary = report.summary()
    unproven = _transfer_not_done(ctx) if not capture_to else None
    integrity = next((r for r in report.results if r.name == "data_integrity" and r.status == "pass"), None)
    # Only the entries the local engine runs are compared live; a Storage Transfer entry's data is known from the
    # manifest files alone, so the note is dropped only when every entry's destination was compared now.
    live = (section.data_integrity.transfers and bool(ctx.profile.transfer)
            and all(t.engine == "local" for t in ctx.profile.transfer))
    if unproven and integrity is not None and section.data_integrity.manifests and not live:
        note = (f"the transfer step {unproven}: data_integrity compared the manifest files, which this run did not "
                "write; they may describe an earlier copy, not the destination now")
        ctx.message(note, level="warning")
        integrity.details.append(note)
        summary += f" (data integrity from manifest files only: the transfer step {unproven})"
    files: list[str] = []
    unwritten: list[str] = []
    """Files the verdict promises that could not be written (a read-only profile folder): said, and the step fails
    with the environment's exit code; it was "unexpected error: OSError", the verdict lost."""
    if capture_to:
        path = _resolve(ctx, capture_to)
        try:
            save_baseline(report, path)
        except OSError as exc:
            unwritten.append(f"the baseline could not be written to {path} ({exc.strerror or exc})")
        else:
            files.append(str(path))
            ctx.message(f"baseline written to {path}")
    targets: dict[str, Path | None] = {k: _resolve(ctx, opts[k]) if opts.get(k) else None
                                       for k in ("markdown", "html", "junit", "json")}
    if section.report_dir and not any(targets.values()):
        folder = _resolve(ctx, section.report_dir)
        targets = {"markdown": folder / "report.md", "html": folder / "report.html",
                   "junit": folder / "junit.xml", "json": folder / "report.json"}
    if any(targets.values()):
        try:
            written = write_reports(report, markdown=targets["markdown"], html_path=targets["html"],
                                    junit=targets["junit"], json_path=targets["json"], p99_ms=section.p99_ms)
        except OSError as exc:
            written = []
            unwritten.append(f"the reports could not be written ({exc.filename or 'a report file'}: "
                             f"{exc.strerror or exc})")
        files += [str(p) for p in written]
        for p in written:
            if p.suffix != ".png":
                ctx.message(f"report written: {p}")
    if report.incomplete_line():
        ctx.message(report.incomplete_line(), level="warning")
    for r in report.results:
        if r.status == "not-run" and r.optional and r.expected:
            ctx.message(f"{r.name} is optional in this profile and did not run: {r.summary}")
    data = {"report": report.to_dict(), "files": files}
    if unwritten:
        for line in unwritten:
            ctx.message(line, level="error")
        return StepResult(ok=False, summary=f"{summary}; {'; '.join(unwritten)}", data=data,
                          exit_code=ExitCode.ENVIRONMENT)
    return StepResult(ok=report.ok, summary=summary, data=data,
                      state="incomplete" if report.verdict in ("INCOMPLETE", "BASELINE INCOMPLETE") else None)
