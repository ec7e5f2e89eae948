"""The ``transfer`` step of ``replay``: runs each ``[[transfer]]`` entry with ``engine = "local"``.

``ctx.options["control"]`` may carry a :class:`TransferControl` so a screen can pause,
resume and cancel the running entry.

Entries for ``sts`` are left to the Storage Transfer Service step (reported as skipped here);
``auto`` runs locally until the STS engine decides otherwise.  Each entry journals beside the
session file when a session is given (``<session>.sqlite.journals/``), else under the state
dir, so an interrupted replay resumes where it stopped.
"""

from __future__ import annotations

import threading

from engine.errors import Interrupted
from engine.events import Message
from engine.runner import StepContext, StepResult
from engine.transfer.api import TransferControl, run_transfer


def run(ctx: StepContext) -> StepResult:
    entries = list(ctx.profile.transfer)
    if not entries:
        return StepResult(ok=True, summary="no [[transfer]] entries", data={"entries": []})
    # A front end that wants pause/resume/cancel passes its own control (the Transfer screen does).
    control = ctx.options.get("control") or TransferControl(ctx.cancel)
    results = []
    ok = True
    for i, spec in enumerate(entries):
        label = f"[[transfer]] #{i + 1} {spec.src} -> {spec.dst}"
        if spec.engine == "sts":
            ctx.emit(Message(ctx.step, text=f"{label}: engine = \"sts\", not run by the local engine", level="info"))
            results.append({"src": spec.src, "dst": spec.dst, "engine": "sts", "skipped": True})
            continue
        if ctx.cancel.is_set():
            raise Interrupted("transfer interrupted; run the same command again to resume")
        ctx.emit(Message(ctx.step, text=f"{label}{' (dry run)' if ctx.dry_run else ''}", level="info"))
        summary = run_transfer(spec, emit=ctx.emit, control=control, dry_run=ctx.dry_run, base_dir=ctx.base_dir,
                               session_path=ctx.session.path if ctx.session is not None else None)
        data = summary.to_event()
        data.pop("event")
        data.update(src=spec.src, dst=spec.dst, engine="local")
        results.append(data)
        if summary.interrupted:
            raise Interrupted(f"{label}: interrupted ({summary.line()}); run the same command again to resume")
        if not summary.ok:
            ok = False
        ctx.emit(Message(ctx.step, text=f"{label}: {summary.line()}", level="info" if summary.ok else "error"))
    totals = {k: sum(r.get(k, 0) for r in results) for k in ("copied", "deleted", "skipped", "failed", "bytes", "verified")}
    verb = "would copy" if ctx.dry_run else "copied"
    text = (f"{len(results)} transfer(s): {verb} {totals['copied']} objects ({totals['bytes']} bytes), "
            f"deleted {totals['deleted']}, skipped {totals['skipped']}, failed {totals['failed']}")
    return StepResult(ok=ok, summary=text, data={"entries": results, **totals})


__all__ = ["run", "threading"]
