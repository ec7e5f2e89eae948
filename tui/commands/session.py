"""``gpumigrate session ...``: list, inspect, follow, export and steer cutover sessions."""

from __future__ import annotations

import argparse
import os
import sys

from tui.argtypes import bounded


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("session", help="cutover sessions: list, show, attach, tail, export, approve, tick")
    ss = p.add_subparsers(dest="session_command", metavar="ACTION", required=True)

    q = ss.add_parser("list", help="the sessions in the state directory")
    q.add_argument("--json", action="store_true")

    q = ss.add_parser("show", help="where a session stands: steps, driver, run, approvals, runbook")
    q.add_argument("name")
    q.add_argument("--json", action="store_true")
    q.add_argument("--events", type=bounded(0, 100_000, integer=True), default=15, help="how many recent events to show")

    q = ss.add_parser("attach", help="open the app on a session (drive if nobody does, else approve and tick as "
                       "the second person; --watch: only watch)")
    q.add_argument("name")
    q.add_argument("--watch", action="store_true", help="only watch, even if nobody drives")

    q = ss.add_parser("tail", help="print a session's events as they happen (a plain-terminal watcher)")
    q.add_argument("name")
    q.add_argument("--from", dest="from_seq", type=bounded(0, 2**63 - 1, integer=True), default=None,
                   help="start after this sequence number (default: the last 20 events)")
    q.add_argument("--json", action="store_true", help="one JSON object per event")
    q.add_argument("--no-follow", action="store_true", help="print what is there and stop")
    q.add_argument("--until-idle", action="store_true",
                   help="stop once no run is in progress (after printing everything)")
    q.add_argument("--progress", action="store_true", help="include progress events")

    q = ss.add_parser("export", help="write the audit log as Markdown and JSON lines")
    q.add_argument("name")
    q.add_argument("--out", default=".", help="folder to write NAME.md and NAME.jsonl in")

    for verb in ("approve", "decline"):
        q = ss.add_parser(verb, help=f"{verb} a pending two-person approval (as a different login)")
        q.add_argument("name")
        q.add_argument("id", type=bounded(1, 2**63 - 1, integer=True))

    q = ss.add_parser("tick", help="tick a runbook item (its number or exact title)")
    q.add_argument("name")
    q.add_argument("item")
    q.add_argument("--note", default="")

    q = ss.add_parser("cancel", help="ask the session's running worker to stop (the step can be resumed)")
    q.add_argument("name")

    q = ss.add_parser("pause", help="pause the session's running worker (objects in flight hold; nothing is lost)")
    q.add_argument("name")

    q = ss.add_parser("continue", help="let a paused worker go on")
    q.add_argument("name")

    q = ss.add_parser("share", help="share a session with a group both logins belong to (modes, setgid folders)")
    q.add_argument("name")
    q.add_argument("--group", required=True, help="the Unix group to share with")

    q = ss.add_parser("unshare", help="make a shared session user-only again")
    q.add_argument("name")

    q = ss.add_parser("resume", help="start a detached worker that continues the session's last run")
    q.add_argument("name")
    q.add_argument("--profile", help="profile to run (default: the one the session ran)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    handler = globals()[f"_{args.session_command}"]
    return int(handler(args))


def _list(args: argparse.Namespace) -> int:
    from engine.cutover.status import summarize
    from engine.session import SessionStore, list_sessions
    from tui.output import print_json

    rows = []
    for name in list_sessions():
        try:
            with SessionStore.open(name, create=False) as store:
                rows.append(summarize(store, events=0))
        except Exception as exc:  # noqa: BLE001 - one unreadable session must not hide the rest
            rows.append({"name": name, "error": str(exc)})
    if args.json:
        print_json({"sessions": rows})
        return 0
    if not rows:
        print("no sessions yet (start one with `gpumigrate replay PROFILE --session NAME`)")
        return 0
    for row in rows:
        if "error" in row:
            print(f"{row['name']:<24} {row['error']}")
            continue
        steps = " ".join(f"{n}:{'NOT-RESPONDING' if s.get('not_responding') else s['state']}"
                         for n, s in row["steps"].items()) or "no steps yet"
        driver = row["driver"]["operator"] if row["driver"] and row["driver"]["live"] else "nobody"
        if driver == "nobody" and row["run"] and row["run"]["state"] == "running" and row["run"]["not_responding"]:
            # its lease ran out, but a new run beside it is refused: "nobody" read as "the seat is free"
            driver = f"held by run #{row['run']['id']} (pid {row['run']['pid']}, not responding; see session show)"
        last = row["run"]["outcome"] if row["run"] else "never ran"
        last = last if row["run"] and row["run"]["state"] == "running" else f"idle, last run {last}"
        print(f"{row['name']:<24} {last} — driver {driver}; {steps}")
    return 0


def _show(args: argparse.Namespace) -> int:
    from engine.cutover.status import format_event, summarize
    from engine.session import SessionStore
    from tui.output import print_json

    with SessionStore.open(args.name, create=False) as store:
        info = summarize(store, events=args.events)
    if args.json:
        print_json(info)
        return 0
    print(f"session {info['name']}  ({info['path']})")
    print(f"  created {info['created_at']} by {info['created_by']}; profile {info['profile_path'] or '-'}")
    print(f"  driving: {info['driving']}")
    attached = [f"{c['operator']} ({c['kind']}{', watch only' if c['watch_only'] else ''}, pid {c['pid']} on {c['host']})"
                for c in info["clients"]]
    print(f"  attached: {'; '.join(attached) if attached else 'nobody'}")
    for c in info["clients_gone"]:
        print(f"  gone: {c['operator']}'s {c['kind']} (pid {c['pid']} on {c['host']}) ended without detaching "
              f"(killed?); last seen {c['last_seen_at']}")
    if info["shared_account"]:
        print("  shared account: names are declared (GPUMIGRATE_OPERATOR); approvals on it say "
              "'same account, name declared'")
    r = info["run"]
    if r:
        print(f"  last run #{r['id']}: {r['outcome']}, {','.join(r['steps'])} "
              f"by {r['operator']}, pid {r['pid']}{', log ' + r['log_path'] if r['log_path'] else ''}")
    print("  steps:")
    for name, s in info["steps"].items():
        state = "NOT RESPONDING" if s.get("not_responding") else s["state"]
        print(f"    {name:<10} {state:<12} attempt {s['attempt']}  {s.get('summary') or ''}".rstrip())
        if s.get("not_responding"):
            print(f"               {s['not_responding']}")
        if s.get("before_last_transfer"):
            print("               this verify result is from before the last transfer: it does not cover the copy "
                  "now at the destination (`gpumigrate replay PROFILE --session NAME --again verify` checks it)")
            if s.get("before_last_transfer_accepted_by"):
                print(f"               accepted with this gap, approved by {s['before_last_transfer_accepted_by']}")
            else:
                print("               a cutover sign-off is refused until it is verified again or this gap is "
                      "accepted (`gpumigrate verify PROFILE --session NAME --sign-off accept-gaps --note TEXT`)")
    if info["approvals"]:
        print("  approvals waiting:")
        for a in info["approvals"]:
            print(f"    #{a['id']} {a['action']}: {a['detail']} (asked by {a['requested_by']}) — "
                  f"`gpumigrate session approve {info['name']} {a['id']}`")
            if a["plan_count"] is None and a["action"] == "transfer-delete":
                print("      no list of paths comes with this request: what would be deleted was not listed "
                      "(the request says why)")
            if a["plan_count"] is not None:
                print(f"      it covers {a['plan_count']:,} path(s); the whole list: {a['plan_file']}")
                for path in a["plan_first"]:
                    print(f"        {path}")
                if a["plan_count"] > len(a["plan_first"]):
                    print(f"        … and {a['plan_count'] - len(a['plan_first']):,} more")
    if info["runbook"]:
        print("  runbook:")
        for e in info["runbook"]:
            mark = "x" if e["ticked_by"] else " "
            who = f" — {e['ticked_by']} {e['ticked_at']}" if e["ticked_by"] else ""
            print(f"    [{mark}] {e['number']}. {'GATE ' if e['gate'] else ''}{e['title']}{who}")
    if info["events"]:
        print("  recent events:")
        for ev in info["events"]:
            print("    " + format_event(ev))
    return 0


def _attach(args: argparse.Namespace) -> int:
    from engine.session import SessionStore
    from tui.app import run_app

    SessionStore.open(args.name, create=False).close()  # a clear error before the screen opens
    return run_app(session=args.name, watch=args.watch)


def _tail(args: argparse.Namespace) -> int:
    import time

    from engine.cutover.status import event_dict, format_event
    from engine.session import SessionStore
    from tui.output import print_json

    with SessionStore.open(args.name, create=False) as store:
        seq = args.from_seq if args.from_seq is not None else max(0, store.last_seq() - 20)
        followed = store.active_run()  # the worker this terminal follows: its death ends the tail (exit 3)
        checked = time.monotonic()
        try:
            while True:
                batch = store.events_after(seq)
                for ev in batch:
                    seq = ev.seq
                    if ev.kind == "progress" and not args.progress:
                        continue
                    if args.json:
                        print_json(event_dict(ev))
                    else:
                        print(format_event(ev), flush=True)
                if batch:
                    continue
                if args.no_follow:
                    return 0
                if args.until_idle:
                    run = store.active_run()  # dead runs noticed first; a stopped one is still in progress
                    if run is None and not store.events_after(seq, limit=1):
                        return 0
                if followed is not None and time.monotonic() - checked >= 0.5:
                    checked = time.monotonic()
                    now = store.active_run()
                    if now is None or now.id != followed.id:
                        dead = next((r for r in store.runs() if r.id == followed.id and r.state == "dead"), None)
                        if dead is None:
                            followed = now  # it ended (or another run began): go on following
                        elif not store.events_after(seq, limit=1):  # its last events printed first
                            print(f"gpumigrate: the worker (pid {dead.pid} on {dead.host}) died before it finished; "
                                  f"resume with `gpumigrate session resume {args.name}`", file=sys.stderr)
                            return 3
                time.sleep(0.05)
        except KeyboardInterrupt:
            return 0


def _export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from engine.cutover.status import export
    from engine.session import SessionStore

    with SessionStore.open(args.name, create=False) as store:
        md, jsonl = export(store, Path(args.out))
    print(f"wrote {md} and {jsonl}")
    return 0


def _decide(args: argparse.Namespace, approve: bool) -> int:
    from engine.cutover.steering import check_approver
    from engine.session import SessionStore

    with SessionStore.open(args.name, create=False) as store:
        check_approver(store, f"{'approving' if approve else 'declining'} #{args.id}")
        if approve:  # a cutover on a verification older than the last transfer run: refused, as its sign-off is
            from engine.cutover.freshness import check_approval

            check_approval(store, args.id)
        a = store.decide_approval(args.id, approve)
    print(f"#{a.id} {a.action} {a.state} by {a.decided_by} (requested by {a.requested_by})")
    return 0


def _approve(args: argparse.Namespace) -> int:
    return _decide(args, True)


def _decline(args: argparse.Namespace) -> int:
    return _decide(args, False)


def _tick(args: argparse.Namespace) -> int:
    from engine.cutover import runbook
    from engine.cutover.steering import check_approver
    from engine.session import SessionStore

    with SessionStore.open(args.name, create=False) as store:
        check_approver(store, f"ticking {args.item!r}")
        profile = runbook.session_profile(store)
        number, title = runbook.find(profile, args.item)
        tick = runbook.tick(store, profile, args.item, args.note)
    print(f"ticked {number}. {title} — {tick.ticked_by}")
    return 0


def _cancel(args: argparse.Namespace) -> int:
    from engine.cutover.steering import check_steer
    from engine.session import SessionStore

    with SessionStore.open(args.name, create=False) as store:
        check_steer(store, "cancelling the run")
        run = store.request_cancel()
    if run is None:
        print(f"session {args.name}: nothing is running", file=sys.stderr)
        return 1
    print(f"asked run #{run.id} (pid {run.pid}) to stop; the step will show as interrupted and can be resumed "
          f"with `gpumigrate session resume {args.name}`")
    return 0


def _pause(args: argparse.Namespace, paused: bool = True) -> int:
    from engine.cutover.steering import check_steer
    from engine.session import SessionStore

    with SessionStore.open(args.name, create=False) as store:
        check_steer(store, "pausing the run" if paused else "letting the run go on")
        run = store.request_pause(paused)
    if run is None:
        print(f"session {args.name}: nothing is running", file=sys.stderr)
        return 1
    print(f"asked run #{run.id} (pid {run.pid}) to {'pause' if paused else 'go on'}")
    return 0


def _continue(args: argparse.Namespace) -> int:
    return _pause(args, paused=False)


def _resume(args: argparse.Namespace) -> int:
    from pathlib import Path

    from engine.cutover.worker import launch_detached
    from engine.errors import BadInputError
    from engine.session import SessionStore

    from engine.cutover.steering import check_steer

    from engine.runner import resume_options

    with SessionStore.open(args.name, create=False) as store:
        check_steer(store, "resuming the run")
        runs = store.runs()
        profile_path = args.profile or store.get_meta("profile_path")
        options = resume_options(store)
    if not runs:
        raise BadInputError(f"session {args.name!r} has never run anything: use `gpumigrate replay PROFILE "
                            f"--session {args.name} --detach`")
    if not profile_path:
        raise BadInputError("the session does not say which profile it ran: pass --profile PATH")
    from engine.cutover.runbook import readable

    if not args.profile and not readable(Path(profile_path)):  # the driver's file, in a home you cannot read
        why = "which this login cannot read"
        try:
            if not Path(profile_path).exists() and os.access(Path(profile_path).parent, os.X_OK):
                why = "which is not there any more (moved or deleted)"  # "cannot read" sent people to chmod
        except OSError:
            pass
        raise BadInputError(f"session {args.name!r} ran the profile {profile_path}, {why}: "
                            "pass --profile PATH (your copy of it, beside the same data folders)")
    done = _nothing_to_resume(args.name, Path(profile_path), runs[-1].steps)
    if done:
        raise BadInputError(f"session {args.name!r}: nothing to resume: {done} (run #{runs[-1].id}); "
                            f"`gpumigrate replay PROFILE --session {args.name}` runs steps again")
    pid = launch_detached(args.name, Path(profile_path), runs[-1].steps, options=options or None)
    print(f"resumed {','.join(runs[-1].steps)} in worker pid {pid}; follow it with "
          f"`gpumigrate session tail {args.name}`")
    return 0


def _nothing_to_resume(name: str, profile_path: "Path", steps: list[str]) -> str:
    """When every step of the last run completed: which, and when ("transfer completed at ..."), with a
    note where the profile changed since (that is a reason to run again, not something to resume);
    "" when some step is left to resume.  Resume exits 2 then, as for a session that never ran."""
    from engine.cutover.status import iso
    from engine.errors import GpumigrateError
    from engine.profile import load_profile
    from engine.runner import profile_digest
    from engine.session import SessionStore

    with SessionStore.open(name, create=False) as store:
        records = store.steps()
    if not steps or not all(records.get(s) is not None and records[s].state == "completed" for s in steps):
        return ""
    try:
        loaded = load_profile(profile_path)
        digests: tuple[str, ...] | None = (profile_digest(loaded, profile_path), profile_digest(loaded))
    except (GpumigrateError, OSError):
        digests = None  # the profile cannot be read here: say what completed, without comparing
    done = ", ".join(f"{s} completed at {iso(records[s].finished_at or records[s].updated_at)}" for s in steps)
    changed = [s for s in steps if digests is not None and records[s].profile_digest not in digests]
    if changed:
        done += f"; the profile changed since {', '.join(changed)} completed"
    from engine.runner import step_outdated

    moved = [s for s in steps if s not in changed and step_outdated(s, records[s].result)]
    if moved:  # cost's figures come from prices a refresh changed: replay runs it again, as for a changed profile
        done += f"; the prices changed since {', '.join(moved)} completed"
    return done


def _share(args: argparse.Namespace) -> int:
    from engine.session import state_dir
    from engine.session.sharing import share

    warnings = share(args.name, args.group)
    print(f"session {args.name} is shared with group {args.group}: the other login sets "
          f"GPUMIGRATE_STATE_DIR={state_dir()} and attaches with `gpumigrate session attach {args.name}`; "
          f"undo with `gpumigrate session unshare {args.name}`")
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def _unshare(args: argparse.Namespace) -> int:
    from engine.session.sharing import unshare

    warnings = unshare(args.name)
    print(f"session {args.name} is private to its owner again")
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0
