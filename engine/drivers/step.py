"""The ``drivers`` step of ``replay``: plan the target's stack, render the artefacts, run the doctor.

The artefacts go next to the session (``<session>.artefacts/drivers/``) so a
replay leaves the exact scripts it planned; the doctor describes the machine the
step runs on (informational: that machine is usually not the target).  The step
fails only when the plan itself is red (for example a wheel that leaves out the
target GPU); a dry run renders in memory and writes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.drivers import compat, detect, render
from engine.errors import Interrupted
from engine.events import ItemDone, Message, Progress
from engine.runner import StepContext, StepResult


def artefact_dir(session: Any) -> Path:
    return Path(session.path).with_suffix(".artefacts") / "drivers"


def run(ctx: StepContext) -> StepResult:
    profile = ctx.profile
    plan = render.plan_for_profile(profile)
    for finding in plan.findings:
        if finding.status != "green":
            ctx.emit(Message(ctx.step, text=f"plan {finding.component}: {finding.reason}"
                             + (f" (fix: {finding.fix})" if finding.fix else ""),
                             level="error" if finding.status == "red" else "warning"))
    artefacts, manifest_files = render.render_all(profile, plan, base_dir=ctx.base_dir)
    total = len(artefacts) + 1
    written: list[str] = []
    out_dir = artefact_dir(ctx.session) if ctx.session is not None and not ctx.dry_run else None
    if out_dir is not None:
        from engine.session.paths import write_session_file

        written = [str(p) for p in render.write_artefacts(artefacts, manifest_files, out_dir, write=write_session_file)]
    for i, artefact in enumerate(artefacts, start=1):
        if ctx.cancel.is_set():
            raise Interrupted("drivers: interrupted; the artefacts are rendered again when resumed")
        ctx.emit(ItemDone(ctx.step, item=artefact.filename, status="rendered",
                          detail=str(out_dir / artefact.filename) if out_dir else "(dry run: not written)"))
        ctx.emit(Progress(ctx.step, done=i, total=total, unit="artefacts"))

    recorded = ctx.options.get("doctor_from")
    state = detect.detect_recorded(recorded) if recorded else detect.detect()
    findings = compat.diagnose(state, plan=None)
    for f in findings:
        ctx.emit(ItemDone(ctx.step, item=f"doctor {f.component}", status=f.status, detail=f.reason,
                          data={"code": f.code, "fix": f.fix}))
    ctx.emit(Progress(ctx.step, done=total, total=total, unit="artefacts"))

    data: dict[str, Any] = {
        "plan": {**plan.to_dict(), "container_image": render.container_image(plan)},
        "artefacts": [{"kind": a.kind, "filename": a.filename, "language": a.language} for a in artefacts],
        "written": written,
        "doctor": {"status": compat.worst(findings), "findings": [f.to_dict() for f in findings],
                   "probes": state.get("probes", [])},
    }
    summary = (f"R{plan.driver_branch} ({plan.driver_flavour}), CUDA {plan.cuda}"
               + (f", {plan.framework} {plan.framework_version} {plan.wheel}" if plan.wheel else "")
               + f"; plan {plan.status}; {len(artefacts)} artefacts"
               + (f" in {out_dir}" if out_dir else " (not written)")
               + f"; this machine: {compat.machine_word(findings)}")
    return StepResult(ok=plan.status != "red", summary=summary, data=data)
