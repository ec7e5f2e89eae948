"""Where a session stands, in plain data; the audit log as text, Markdown and JSON lines.

Used by ``gpumigrate session list|show|tail|export`` and by the app's event log.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from engine.session import SessionStore, StoredEvent, private_file


def iso(ts: float | None) -> str | None:
    """UTC, ISO-8601, milliseconds and the offset spelled out (``2026-11-29T13:20:05.123+00:00``)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds")


def event_dict(ev: StoredEvent) -> dict[str, Any]:
    return {"seq": ev.seq, "ts": ev.ts, "time": iso(ev.ts), "operator": ev.operator, "step": ev.step,
            "kind": ev.kind, "payload": ev.payload, "who": ev.who}


def who_text(who: dict[str, Any] | None) -> str:
    """'uid 1000 (alice), pid 42 on host, tty /dev/pts/1, from 10.0.0.5:2222' or '' for old rows."""
    if not who:
        return ""
    parts = [f"uid {who['uid']} ({who['login']})", f"pid {who['pid']} on {who['host']}"]
    if who.get("tty"):
        parts.append(f"tty {who['tty']}")
    if who.get("ssh"):
        parts.append(f"from {who['ssh']}")
    if who.get("declared"):
        parts.append(f"name declared: {who['declared']}")
    return ", ".join(parts)


def describe(ev: StoredEvent) -> str:
    """One human line for an event (without time and operator)."""
    p = ev.payload
    k = ev.kind
    if k == "step_started":
        return f"started {p.get('description') or ev.step}"
    if k == "step_finished":
        return f"{step_end_word(p)}: {p.get('summary', '')}"
    if k == "message":
        return f"{p.get('level', 'info')}: {p.get('text', '')}"
    if k == "progress":
        total = f"/{p['total']:,.0f}" if p.get("total") is not None else ""
        return f"progress {p.get('label', '')} {p.get('done', 0):,.0f}{total} {p.get('unit', '')}".replace("  ", " ")
    if k == "item_done":
        return f"{p.get('status')} {p.get('item')} {p.get('detail', '')}".rstrip()
    if k == "approval_requested":
        return f"asked for approval #{p.get('id')}: {p.get('action')} — {p.get('detail')}"
    if k in ("approval_approved", "approval_declined"):
        how = f"; {p['how']}" if p.get("how") else ""
        return f"{k.split('_')[1]} #{p.get('id')} {p.get('action')} (asked by {p.get('requested_by')}{how})"
    if k == "approval_void":
        return (f"approval #{p.get('id')} ({p.get('action')}) by {p.get('approved_by')} is void: {p.get('why')}; "
                "nothing was done")
    if k == "approval_withdrawn":
        return f"approval #{p.get('id')} withdrawn: {p.get('why')}"
    if k == "client_attached":
        return f"attached ({p.get('kind')}{', watch only' if p.get('watch_only') else ''})"
    if k == "client_detached":
        return "detached"
    if k == "client_gone":
        return (f"noticed that {p.get('operator')}'s {p.get('kind')}{' (watch only)' if p.get('watch_only') else ''} "
                f"(pid {p.get('pid')} on {p.get('host')}) is gone without detaching (killed?); "
                f"last seen {iso(p.get('last_seen_at')) or '?'}")
    if k == "control_offered":
        return f"offered the driver's seat to {p.get('to')} (offer #{p.get('id')})"
    if k.startswith("offer_"):
        return f"{k.split('_', 1)[1]} the offer of the driver's seat (#{p.get('id')})"
    if k in ("pause_requested", "resume_requested"):
        return f"asked the run to {'pause' if k == 'pause_requested' else 'go on'}"
    if k in ("run_paused", "run_resumed"):
        return f"run #{p.get('run')} {k.split('_')[1]} (asked by {p.get('requested_by') or 'someone'})"
    if k == "items_aggregated":
        counts = ", ".join(f"{n:,} {status}" for status, n in sorted(p.get("counts", {}).items()))
        listed = f"; deleted objects listed in {p['deleted_file']}" if p.get("deleted_file") else ""
        if p.get("planned_file"):
            listed += f"; the first planned actions listed in {p['planned_file']}"
        return f"objects: {counts} (counted, not listed one by one; --json lists each{listed})"
    if k == "deletions_listed":
        return f"deleting: each deleted object is listed in {p.get('file')}"
    if k == "lease_acquired":
        return "took the driver's seat" + (" (forced)" if p.get("forced") else "")
    if k == "lease_released":
        return "left the driver's seat"
    if k == "lease_handed_over":
        return f"the driver's seat went from {p.get('from_operator') or '?'} to {p.get('to_operator')}"
    if k == "control_requested":
        return f"asked to drive (request #{p.get('id')})"
    if k in ("control_accepted", "control_declined"):
        return f"{k.split('_')[1]} {p.get('to')}'s request to drive"
    if k == "run_started":
        return (f"{'worker' if p.get('detached') else 'replay'} pid {p.get('pid')} started: "
                f"{', '.join(p.get('steps', []))}")
    if k == "run_finished":
        return f"run #{p.get('run')} ended (exit {p.get('exit_code')})"
    if k == "run_died":
        how = f" ({p['how']})" if p.get("how") else ""
        return (f"run #{p.get('run')} (pid {p.get('pid')}) died{how}; interrupted: "
                f"{', '.join(p.get('steps_interrupted', [])) or 'nothing'}")
    if k == "step_interrupted":
        return f"interrupted: {p.get('reason', '')}"
    if k == "cancel_requested":
        return f"asked the run to stop ({', '.join(p.get('steps', []))})"
    if k == "runbook_ticked":
        return f"ticked {p.get('item')!r}" + (f" — {p['note']}" if p.get("note") else "")
    if k == "runbook_unticked":
        return f"unticked {p.get('item')!r}"
    if k == "profile_edited":
        return f"edited the profile: {p.get('what')}"
    if k in ("session_shared", "session_unshared"):
        did = (f"shared the session with group {p.get('group')} (`session share`)" if k == "session_shared"
               else "made the session private to its owner again (`session unshare`)")
        return f"{actor(ev)} {did}"
    if k == "cutover_signed_off":
        jobs = p.get("sts_jobs") or []
        parts = [f"{p.get('items', 0)} runbook item(s) ticked"]
        if jobs:
            parts.append(f"{len(jobs)} Storage Transfer job(s) disabled")
        if p.get("verification"):  # what the session's verification said of the copy (older records lack it)
            parts.append(str(p["verification"]))
        if p.get("approved_by"):  # who else, and how (one account's two declared names prove no second person)
            from engine.verify.report.common import second_person

            parts.append(f"approved by {second_person(p)}")  # the words every report gives a second person
        elif p.get("second_person"):
            parts.append(f"no second person: {str(p['second_person']).removeprefix('none: ')}")
        return f"{actor(ev)} signed off the cutover ({'; '.join(parts)})"
    if k == "profile_opened":
        return f"{actor(ev)} opened the profile {p.get('path')}"
    if k == "worker_failed":
        return f"the worker (pid {p.get('pid')}) failed: {p.get('error')}"
    if k == "run_not_responding":
        return f"run #{p.get('run')} ({', '.join(p.get('steps', []))}): {p.get('words')}"
    if k == "run_responding":
        return f"run #{p.get('run')} (pid {p.get('pid')}) responds again"
    if k == "run_heartbeat_failed":
        return f"run #{p.get('run')} could not write its heartbeat: {p.get('error')}"
    return plain_sentence(k, p)


def actor(ev: StoredEvent) -> str:
    """'alice (uid 1000)' as the OS recorded the acting process; the operator name for old rows."""
    if ev.who and ev.who.get("uid") is not None:
        return f"{ev.operator} (uid {ev.who['uid']})"
    return ev.operator


def plain_sentence(kind: str, payload: dict[str, Any]) -> str:
    """An event kind this version has no sentence for, in words rather than JSON."""
    text = kind.replace("_", " ")
    if payload:
        text += ": " + ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in payload.items())
    return text


def step_end_word(p: dict[str, Any]) -> str:
    """How a step ended, truly: finished, INCOMPLETE (checks did not run), interrupted, or FAILED."""
    result = p.get("result") or {}
    if result.get("interrupted"):
        return "interrupted"
    if isinstance(result.get("report"), dict) and result["report"].get("verdict") == "INCOMPLETE":
        return "INCOMPLETE"
    return "finished" if p.get("ok") else "FAILED"


_EXIT_WORDS = {1: "failed", 2: "failed (bad input)", 4: "failed (credentials, a service or a tool missing)"}


def run_state(store: SessionStore, run: Any) -> str:
    """The run's lifecycle word for JSON: running, dead, finished (ran to its end, every step done) or
    ended (stopped otherwise: cancelled, interrupted, failed, incomplete; ``outcome`` says which)."""
    if run.state != "finished":
        return str(run.state)
    return "finished" if run_outcome(store, run) == "finished" else "ended"


def run_outcome(store: SessionStore, run: Any) -> str:
    """The word for how a run stands or ended: running, died, cancelled by NAME, interrupted, failed,
    incomplete or finished (only when it ran to its end with every step done)."""
    if run.state == "running":
        if run.live and run.pulse is not None and run.pulse.unconfirmed:
            return f"running as far as this host can tell (on {run.host}: {run.pulse.words()})"
        if run.live:
            return "running"
        return run.pulse.short() if run.pulse is not None else "not heard from"
    if run.state == "dead":
        return "died (its steps were interrupted)"
    code = run.exit_code
    if code == 3:
        return f"cancelled by {run.cancel_requested_by}" if run.cancel_requested_by else "interrupted"
    steps = store.steps()
    incomplete = [s for s in run.steps if s in steps and steps[s].state == "incomplete"]
    failed = [s for s in run.steps if s in steps and steps[s].state == "failed"]
    # An INCOMPLETE check exits 1 as a failure does; with nothing failed the run is incomplete, not failed.
    if code and not (code == 1 and incomplete and not failed):
        return _EXIT_WORDS.get(code, f"failed (exit {code})")
    if incomplete:
        return f"incomplete ({'; '.join(f'{s}: {_incomplete_why(s, steps[s])}' for s in incomplete)})"
    return "finished"


def _incomplete_why(name: str, record: Any) -> str:
    """Why one step is incomplete, in its own terms: a verification's checks, a capture's baseline, or what another
    step (inventory: a folder not found, a region not read) says it did not read. Inventory's INCOMPLETE was said
    with verify's words ("checks the profile expects did not run")."""
    summary = str((record.result or {}).get("summary", ""))
    if summary.startswith("BASELINE INCOMPLETE"):
        return "the baseline lacks a check (errored or not run), or holds figures the target cannot compare with"
    if name == "verify":
        return "checks the profile expects did not run"
    parts = [part.strip() for part in summary.split("; ") if "INCOMPLETE" in part]
    return ", ".join(parts) if parts else "not everything it names was read"


def format_event(ev: StoredEvent | dict[str, Any]) -> str:
    if isinstance(ev, dict):
        ev = StoredEvent(ev["seq"], ev["ts"], ev["operator"], ev["step"], ev["kind"], ev["payload"])
    clock = datetime.fromtimestamp(ev.ts, timezone.utc).strftime("%H:%M:%SZ")
    return f"{ev.seq:>5} {clock} {ev.operator:<12} {ev.step:<9} {describe(ev)}"


def nobody_drives(store: SessionStore, lease: Any, last: Any) -> str:
    """'nobody: ...' with why the seat is empty (whose process died and when it was noticed, or whose
    heartbeat stopped) and the commands that resume the run and take the seat."""
    if last is not None and last.state == "running" and last.not_responding:
        return not_responding_seat(store, last)
    why = ""
    if last is not None and last.state == "dead":
        kind = "worker" if last.detached else "replay"
        noticed = next((e for e in reversed(store.events_of("run_died")) if e.payload.get("run") == last.id), None)
        when = f", noticed {iso(noticed.ts)}" if noticed else ""
        how = f" ({noticed.payload['how']})" if noticed and noticed.payload.get("how") else ""
        why = f"; {kind} pid {last.pid} on {last.host} (run #{last.id}) died{how}{when}"
    elif lease is not None and lease.process_alive() is False:
        why = f"; {lease.operator}'s process (pid {lease.pid} on {lease.host}) is gone"
    elif lease is not None and lease.pulse is not None:
        why = f"; {lease.operator} (pid {lease.pid} on {lease.host}) {lease.pulse.short()}"
    interrupted = [name for name, s in store.steps().items() if s.state == "interrupted"]
    resume = (f"resume {', '.join(interrupted)} with `gpumigrate session resume {store.name}`, "
              if interrupted else "")
    return f"nobody{why}: {resume}take the seat with `gpumigrate session attach {store.name}`"


def not_responding_seat(store: SessionStore, run: Any) -> str:
    """Who drives while a run's process is stopped or hung: its lease ran out, yet new runs are refused
    beside it, so taking the seat would lead nowhere. Says what to do instead (on the host it runs on)."""
    kind = "worker" if run.detached else "replay"
    pulse = run.pulse
    short = pulse.short() if pulse is not None else "not responding"
    resume = f"then `gpumigrate session resume {store.name}` resumes its steps"
    if pulse is not None and pulse.process == "stopped":
        what = f"`kill -CONT {run.pid}` lets it go on; `kill -9 {run.pid}` ends it, {resume}"
    else:
        what = f"wait for it, or end it with `kill -9 {run.pid}`, {resume}"
    return (f"nobody, but taking the seat would not help: {kind} pid {run.pid} on {run.host} (run #{run.id}) is "
            f"{short} and new runs are refused while it holds the session. On {run.host}, {what}")


def summarize(store: SessionStore, events: int = 15) -> dict[str, Any]:
    """Everything ``session show`` prints, as JSON-able data."""
    from engine.cutover import runbook

    gone: list[Any] = []
    try:  # a killed app records no detach: noticing it here writes that it went (not "attached")
        gone = store.reap_gone_clients()
    except Exception:  # noqa: BLE001 - a read-only copy of a session is still shown
        gone = []
    run = store.active_run()
    runs = store.runs()
    last = run or (runs[-1] if runs else None)
    lease = store.lease()
    steps = {}
    silent = {name: r for r in ([run] if run is not None and run.not_responding else []) for name in r.steps}
    for name, s in sorted(store.steps().items(), key=lambda kv: kv[1].updated_at):
        steps[name] = {"state": s.state, "attempt": s.attempt, "started_at": iso(s.started_at),
                       "finished_at": iso(s.finished_at),
                       "summary": (s.result or {}).get("summary")}
        if s.state == "running" and name in silent:  # recorded running; its process sends no heartbeat
            steps[name]["not_responding"] = silent[name].pulse.words()
    from engine.cutover.freshness import accepted, stale_verification

    stale = stale_verification(store) if steps.get("verify", {}).get("state") == "completed" else None
    if stale is not None:
        # `replay --again transfer` (the final pass) copied after the verification: its PASS is of an earlier copy
        steps["verify"]["before_last_transfer"] = True
        steps["verify"]["before_last_transfer_words"] = stale.words()
        gap = accepted(store, stale)
        if gap is not None:
            from engine.verify.report.common import second_person

            steps["verify"]["before_last_transfer_accepted_by"] = second_person(gap)  # with how: same account?
    book: list[dict[str, Any]] = []
    try:
        profile = runbook.session_profile(store)
    except Exception:  # noqa: BLE001 - a session without a (valid) profile has no runbook to show
        profile = None
    if profile is not None:
        for e in runbook.entries(store, profile):
            book.append({"number": e.number, "title": e.title, "gate": e.gate, "rollback": e.rollback,
                         "ticked_by": e.tick.ticked_by if e.tick else None,
                         "ticked_at": iso(e.tick.ticked_at) if e.tick else None,
                         "note": e.tick.note if e.tick else None})
    recent = store.recent_events(events) if events else []
    live_lease = lease is not None and lease.live()
    return {
        "name": store.name,
        "path": str(store.path),
        "created_at": iso(float(store.get_meta("created_at") or 0) or None),
        "created_by": store.get_meta("created_by"),
        "profile_path": store.get_meta("profile_path"),
        "shared_account": store.shared_account,
        "driver": None if lease is None else {
            "operator": lease.operator, "holder": lease.holder, "pid": lease.pid, "host": lease.host,
            "uid": lease.uid, "expired": lease.expired(), "live": live_lease,
            "process_alive": lease.process_alive(), "heartbeat_at": iso(lease.heartbeat_at)},
        "driving": (f"{lease.operator} (pid {lease.pid} on {lease.host})"
                    + (f", {lease.pulse.words()}" if lease.pulse is not None and lease.pulse.unconfirmed else "")
                    if live_lease and lease is not None else nobody_drives(store, lease, last)),
        "run": None if last is None else {
            "id": last.id, "state": run_state(store, last), "outcome": run_outcome(store, last),
            "live": last.live, "not_responding": last.not_responding,
            "steps": last.steps, "pid": last.pid,
            "host": last.host, "operator": last.operator, "detached": last.detached, "log_path": last.log_path,
            "started_at": iso(last.started_at), "exit_code": last.exit_code},
        "steps": steps,
        "approvals": [{"id": a.id, "action": a.action, "detail": a.detail, "requested_by": a.requested_by,
                       "requested_uid": a.requested_uid, "requested_at": iso(a.requested_at), "run": a.run_id,
                       "plan_count": a.plan_count, "plan_file": a.plan_path, "plan_first": a.plan_preview()}
                      for a in store.approvals("pending")],
        "control_requests": [{"id": c.id, "operator": c.operator, "requested_at": iso(c.requested_at)}
                             for c in store.control_requests("pending")],
        "clients": [{"operator": c.operator, "kind": c.kind, "pid": c.pid, "host": c.host, "uid": c.uid,
                     "watch_only": bool(c.watch_only)} for c in store.clients()],
        "clients_gone": [{"operator": c.operator, "kind": c.kind, "pid": c.pid, "host": c.host,
                          "watch_only": bool(c.watch_only), "last_seen_at": iso(c.seen_at)} for c in gone],
        "runbook": book,
        "events": [event_dict(e) for e in recent],
    }


def export(store: SessionStore, out_dir: Path) -> tuple[Path, Path]:
    """Write the audit trail: ``NAME.md`` (for people) and ``NAME.jsonl`` (every event, one per line)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    md_path = private_file(out_dir / f"{store.name}.md", make_dir=False)
    jsonl_path = private_file(out_dir / f"{store.name}.jsonl", make_dir=False)
    info = summarize(store, events=0)
    lines = [f"# Cutover session `{store.name}`", "",
             f"- created {info['created_at']} by {info['created_by']}",
             f"- profile: `{info['profile_path'] or '-'}`",
             f"- exported {iso(time.time())}", "", "## Steps", "",
             "| step | state | attempt | started | finished | summary |", "|---|---|---|---|---|---|"]
    for name, s in info["steps"].items():
        summary = (s["summary"] or "").replace("|", "\\|")
        lines.append(f"| {name} | {s['state']} | {s['attempt']} | {s['started_at'] or ''} | "
                     f"{s['finished_at'] or ''} | {summary} |")
    runs = store.runs()
    if runs:
        lines += ["", "## Runs", "", "| # | outcome | steps | by | pid | host | started | ended | exit |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in runs:
            lines.append(f"| {r.id} | {run_outcome(store, r)} | {', '.join(r.steps)} | {r.operator} | {r.pid} | "
                         f"{r.host} | {iso(r.started_at)} | {iso(r.ended_at) or ''} | "
                         f"{'' if r.exit_code is None else r.exit_code} |")
    approvals = store.approvals()
    if approvals:
        lines += ["", "## Approvals", ""]
        if info["shared_account"]:
            lines += ["This session's profile says `[cutover] shared_account = true`: approvals between two names "
                      "declared on one OS account are recorded as \"same account, name declared\"; they cannot "
                      "prove that two people were involved.", ""]
        lines += ["| # | action | detail | requested by | decision | decided by | how | when |",
                  "|---|---|---|---|---|---|---|---|"]
        for a in approvals:
            requested = f"{a.requested_by}" + (f" (uid {a.requested_uid})" if a.requested_uid is not None else "")
            decided = (a.decided_by or "") + (f" (uid {a.decided_uid})" if a.decided_uid is not None else "")
            how = a.how_approved if a.state == "approved" else (a.reason or "")
            lines.append(f"| {a.id} | {a.action} | {a.detail.replace('|', '/')} | {requested} | {a.state} | "
                         f"{decided} | {how or ''} | {iso(a.decided_at) or ''} |")
    if info["runbook"]:
        lines += ["", "## Runbook", ""]
        for e in info["runbook"]:
            mark = "x" if e["ticked_by"] else " "
            who = f" — ticked by {e['ticked_by']} at {e['ticked_at']}" if e["ticked_by"] else ""
            lines.append(f"- [{mark}] {e['number']}. {'**gate** ' if e['gate'] else ''}{e['title']}{who}")
        rollbacks = [e for e in reversed(info["runbook"]) if e["rollback"]]
        if rollbacks:
            lines += ["", "### Rollback plan (last step first)", ""]
            for e in rollbacks:
                lines.append(f"{e['number']}. {e['title']}: `{e['rollback']}`")
    lines += ["", "## Audit log", "", "Times are UTC.", "",
              "| seq | time | operator | who (as the OS says) | step | event |", "|---|---|---|---|---|---|"]
    seq = 0
    from engine.session.paths import no_follow

    with open(jsonl_path, "w", encoding="utf-8", opener=no_follow) as jf:
        while True:
            batch = store.events_after(seq, limit=5000)
            if not batch:
                break
            for ev in batch:
                seq = ev.seq
                jf.write(json.dumps(event_dict(ev), ensure_ascii=False, default=str) + "\n")
                if ev.kind == "progress":
                    continue
                text = describe(ev).replace("|", "\\|").replace("\n", " ")
                lines.append(f"| {ev.seq} | {iso(ev.ts)} | {ev.operator} | {who_text(ev.who)} | {ev.step} | {text} |")
    with open(md_path, "w", encoding="utf-8", opener=no_follow) as mf:
        mf.write("\n".join(lines) + "\n")
    return md_path, jsonl_path
