"""The ``transfer`` step of ``replay``: runs each ``[[transfer]]`` entry on the engine it asks for.

* ``engine = "local"``: this machine's engine (:func:`engine.transfer.api.run_transfer`).
* ``engine = "sts"``: Google's Storage Transfer Service
  (:func:`engine.transfer.sts.run_sts_transfer`); with ``delete`` the entry is first
  planned here (both sides listed and diffed) so STS's delete-unique-in-sink gets the
  same guards as ``-d``.
* ``engine = "auto"``: planned here first (counts and bytes), then
  :func:`engine.transfer.sts.choose_engine` picks, and its reason is emitted.

Two-person approval: when ``[cutover] require_approval`` lists ``transfer-delete`` and
the step runs in a session, an entry with deletions planned waits, after planning and
before anything is copied or deleted, until a second operator (another login name)
approves.  Declined: the entry fails and nothing is copied or deleted.

Options a front end may pass in ``ctx.options``: ``control`` (a :class:`TransferControl`
for pause/resume/cancel of a local run), ``sts_control`` (an ``StsControl``),
``yes_delete`` (the explicit confirmation STS needs when deletion counts are unknown
or over ``max_delete``), ``project`` (overrides ``[target] project`` for STS) and
``approval_timeout_s``.

Result data: ``entries`` (one dict per entry, with ``engine``, ``engine_reason``,
``planned_bytes`` and ``planned_objects``: what the plan found to copy, None when an
STS entry was not planned here) and the totals ``copied``, ``deleted``, ``skipped``,
``failed``, ``bytes``, ``verified``, ``planned_bytes``, ``planned_objects`` (the
cost step reads exactly these last two).

Each local entry journals beside the session file when a session is given
(``<session>.sqlite.journals/``), else under the state dir, so an interrupted replay
resumes where it stopped.
"""

from __future__ import annotations

import tempfile
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from engine.errors import GpumigrateError, Interrupted
from engine.events import Emit, ItemDone, Message
from engine.runner import StepContext, StepResult
from engine.transfer.api import TransferControl, TransferSpec, plan_transfer, run_transfer
from engine.transfer.summary import DRY_INTERRUPTED_TAIL, INTERRUPTED_TAIL, what_to_fix

STEP = "transfer"
APPROVAL_ACTION = "transfer-delete"
TOTAL_KEYS = ("copied", "deleted", "skipped", "failed", "bytes", "bytes_resumed", "verified")


@dataclass
class EntryOutcome:
    """How one entry ended, on either engine."""

    ok: bool
    engine: str
    reason: str
    line: str
    data: dict[str, Any] = field(default_factory=dict)
    interrupted: bool = False


def _approver(session: Any, profile: Any, cancel: threading.Event, emit: Emit, step: str,
              timeout: float | None):
    """``approve(planned, detail, paths=None)`` that blocks for a second person, or None when not required.

    ``paths`` (a callable giving the paths to delete) becomes the request's plan: the approver sees
    the first of them, the count, and a file with all of them."""
    if session is None or profile is None:
        return None
    from engine.cutover.approvals import needs_approval, require

    if not needs_approval(profile, APPROVAL_ACTION):
        return None

    def approve(planned: int, detail: str, paths: Any = None) -> None:
        require(session, APPROVAL_ACTION, detail, timeout, cancel=cancel, emit=emit, step=step,
                plan=paths() if paths is not None else None)

    return approve


def _planned_with_entry(emit: Emit, entry: int) -> Emit:
    """Planned actions carry their entry's number (data["entry"]): a front end that receives them
    late or in batches (a session's follower) cannot tell entries apart by arrival."""
    def tagged(event: Any) -> None:
        if isinstance(event, ItemDone) and event.status in ("would_copy", "would_delete"):
            event = replace(event, data={**event.data, "entry": entry})
        emit(event)
    return tagged


def run_entry(spec: TransferSpec, *, emit: Emit, dry_run: bool = False, base_dir: Path | None = None,
              control: TransferControl | None = None, cancel: threading.Event | None = None,
              session: Any = None, profile: Any = None, project: str = "", confirm_delete: bool = False,
              sts_control: Any = None, journal: Any = None, step: str = STEP,
              approval_timeout_s: float | None = None) -> EntryOutcome:
    """Run one entry on the engine it resolves to (the step and ``gpumigrate transfer`` both use this)."""
    cancel = cancel or (control.cancel_event if control is not None else threading.Event())
    approve = None if dry_run else _approver(session, profile, cancel, emit, step, approval_timeout_s)
    plan = None
    unlisted = None
    # an STS entry's deletions, listed while planning, for the approver (a local run lists its own)
    doomed = tempfile.TemporaryFile("w+", encoding="utf-8") if approve is not None and spec.delete \
        and spec.engine != "local" else None
    try:
        if spec.engine == "auto" or (spec.engine == "sts" and spec.delete):
            listed = spec.model_copy(update={"engine": "local"})  # the local planner lists both sides
            on_delete = (lambda path: doomed.write(path.replace("\n", "\\n") + "\n")) if doomed else None
            try:
                plan = plan_transfer(listed, emit=emit, base_dir=base_dir, keep=0, cancel=cancel,
                                     on_delete=on_delete, for_sts=True)  # only sts and auto plan here
            except GpumigrateError as exc:
                if spec.engine != "sts" or isinstance(exc, Interrupted):
                    raise  # auto needs the plan to choose
                # STS lists for itself (a POSIX source may exist only on its agents): go on without
                # counts; the guards then need an explicit confirmation and the approver is told
                unlisted = str(exc)
                emit(Message(step, text=f"{spec.src} -> {spec.dst}: could not list both sides here ({exc}); "
                                        "the deletions are not known before STS runs", level="warning"))
            if cancel.is_set():
                raise Interrupted("transfer interrupted while planning; nothing of this entry was copied yet")
        if spec.engine == "local":
            engine, why = "local", 'the entry says engine = "local"'
        else:
            from engine.transfer.sts import choose_engine

            engine, why = choose_engine(plan.copy_bytes if plan else None, plan.copy if plan else None, spec, None)
            emit(Message(step, text=f"{spec.src} -> {spec.dst}: {engine} engine ({why})"))
        if engine == "sts":
            return _run_sts(spec, plan, why, emit=emit, dry_run=dry_run, base_dir=base_dir, cancel=cancel,
                            project=project, confirm_delete=confirm_delete, sts_control=sts_control, step=step,
                            approve=approve, doomed=doomed, unlisted=unlisted)
    finally:
        if doomed is not None:
            doomed.close()
    local = spec if spec.engine == "local" else spec.model_copy(update={"engine": "local"})
    summary = run_transfer(local, emit=emit, control=control or TransferControl(cancel), dry_run=dry_run,
                           base_dir=base_dir, journal=journal, approve_delete=approve,
                           session_path=session.path if session is not None else None)
    data = summary.to_event()
    data.pop("event")
    data.update(src=spec.src, dst=spec.dst, engine="local", engine_reason=why)
    return EntryOutcome(ok=summary.ok, engine="local", reason=why, line=summary.line(), data=data,
                        interrupted=summary.interrupted)


def _run_sts(spec: TransferSpec, plan: Any, why: str, *, emit: Emit, dry_run: bool, base_dir: Path | None,
             cancel: threading.Event, project: str, confirm_delete: bool, sts_control: Any, step: str,
             approve: Any, doomed: Any = None, unlisted: str | None = None) -> EntryOutcome:
    from engine.transfer.sts import DeletePlan, check_delete_guards, run_sts_transfer

    sts_spec = spec if spec.engine == "sts" else spec.model_copy(update={"engine": "sts"})
    delete_plan = DeletePlan(plan.source_objects, plan.destination_objects, plan.delete) if plan else None
    if spec.delete and approve is not None and (delete_plan is None or delete_plan.deletions > 0):
        # the guards first (they refuse without asking anyone), then the second operator
        opts = spec.sts
        check_delete_guards(sts_spec, delete_plan,
                            confirmed=confirm_delete or bool(opts is not None and opts.confirm_delete))
        detail = f"{spec.src} -> {spec.dst} on Storage Transfer Service: delete "
        if delete_plan is not None:
            detail += f"{delete_plan.deletions} destination object(s) the source lacks (listed here when planned)"
        else:
            detail += ("an UNKNOWN number of destination objects the source lacks: both sides could not be "
                       f"listed here ({unlisted or 'no listing'}), so there is NO list of what STS will delete")
        paths = None
        if delete_plan is not None and doomed is not None:
            def paths() -> Any:
                doomed.flush()
                doomed.seek(0)
                return (line.rstrip("\n") for line in doomed)
        approve(delete_plan.deletions if delete_plan else -1, detail, paths)
    res = run_sts_transfer(sts_spec, project=project, emit=emit, step=step, cancel=cancel, dry_run=dry_run,
                           delete_plan=delete_plan, confirm_delete=confirm_delete,
                           planned_bytes=plan.copy_bytes if plan else None, base_dir=base_dir,
                           control=sts_control)
    totals = res.summary()
    data = res.to_dict()
    data.update(totals)
    data.update(src=spec.src, dst=spec.dst, engine="sts", engine_reason=why,
                planned_bytes=plan.copy_bytes if plan else None, planned_objects=plan.copy if plan else None)
    if res.status == "DRY_RUN":
        line = f"STS job {res.job_name} would be created ({res.mode}); nothing was called"
        line += "".join(f"; {n}" for n in res.notes if n.startswith("a real run would refuse"))
    else:
        line = (f"STS {res.status}: copied {totals['copied']:,} ({totals['bytes']:,} bytes), "
                f"deleted {totals['deleted']:,}, skipped {totals['skipped']:,}, failed {totals['failed']:,}")
    return EntryOutcome(ok=res.ok, engine="sts", reason=why, line=line, data=data)


def run(ctx: StepContext) -> StepResult:
    entries = list(ctx.profile.transfer)
    if not entries:
        return StepResult(ok=True, summary="no [[transfer]] entries",
                          data={"entries": [], "planned_bytes": 0, "planned_objects": 0})
    # A front end that wants pause/resume/cancel passes its own control (the Transfer screen does).
    control = ctx.options.get("control") or TransferControl(ctx.cancel)
    project = ctx.options.get("project") or ctx.profile.target.project or ""
    results = []
    ok = True
    for i, spec in enumerate(entries):
        label = f"[[transfer]] #{i + 1} {spec.src} -> {spec.dst}"
        if ctx.cancel.is_set():
            raise Interrupted(f"transfer interrupted before {label}; the entries before it are copied and kept, "
                              "and it goes on from there when resumed")
        ctx.emit(Message(ctx.step, text=f"{label}{' (dry run)' if ctx.dry_run else ''}", level="info"))
        out = run_entry(spec, emit=_planned_with_entry(ctx.emit, i + 1), dry_run=ctx.dry_run, base_dir=ctx.base_dir,
                        control=control,
                        cancel=ctx.cancel, session=ctx.session, profile=ctx.profile, project=project,
                        confirm_delete=bool(ctx.options.get("yes_delete")),
                        sts_control=ctx.options.get("sts_control"), step=ctx.step,
                        approval_timeout_s=ctx.options.get("approval_timeout_s"))
        results.append(out.data)
        if out.interrupted:
            done = out.line.removesuffix(INTERRUPTED_TAIL).removesuffix(DRY_INTERRUPTED_TAIL)  # said once, after it
            raise Interrupted(f"{label}: interrupted ({done}); what it copied is kept, and it goes on from there "
                              "when resumed")
        if not out.ok:
            ok = False
        ctx.emit(Message(ctx.step, text=f"{label}: {out.line}", level="info" if out.ok else "error"))
    totals = {k: sum(int(r.get(k) or 0) for r in results) for k in TOTAL_KEYS}
    for key in ("planned_bytes", "planned_objects"):
        known = [int(r[key]) for r in results if r.get(key) is not None]
        totals[key] = sum(known) if known else None  # type: ignore[assignment]
    copy, delete = ("would copy", "would delete") if ctx.dry_run else ("copied", "deleted")
    resumed = (f", {totals['bytes_resumed']:,} of them sent by an earlier run (resumed parts)"
               if totals["bytes_resumed"] else "")
    text = (f"{len(results)} transfer(s): {copy} {totals['copied']:,} objects ({totals['bytes']:,} bytes{resumed}), "
            f"{delete} {totals['deleted']:,}, skipped {totals['skipped']:,}, failed {totals['failed']:,}")
    engines = sorted({r["engine"] for r in results})
    if engines != ["local"]:
        text += f" (engines: {', '.join(engines)})"
    if totals["failed"] and not ctx.dry_run:
        errors = (str(f.get("error") or "") for r in results for f in r.get("failures") or [])
        fix = what_to_fix(totals["failed"], errors, "fix what each failed object's line names")
        # "the same command again" was false in a replay without --session (a new session redoes every completed
        # step) and the app has no command: the front end says how (replay names its command, the app its key)
        text += f"; {fix}, then run the transfer again (copied objects are skipped, failed ones retried)"
    return StepResult(ok=ok, summary=text, data={"entries": results, **totals})


__all__ = ["EntryOutcome", "run", "run_entry"]
