"""``gpumigrate replay PROFILE``: run the profile's steps headlessly, in order."""

from __future__ import annotations

import argparse
import os
import sys
import time

# Ctrl-C on a terminal that follows a session's worker stops the following, not the run: 130 (the shell's
# code for an interrupt) says "you stopped it here", where 0 would claim the steps passed before they ended.
EXIT_DETACHED = 130


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="run a profile's steps headlessly (the same way twice)")
    p.add_argument("profile")
    p.add_argument("--steps", help="comma-separated subset: inventory,cost,transfer,drivers,verify,ops")
    p.add_argument("--again", metavar="STEPS",
                   help="with --session: run these steps even if the session completed them (a final transfer "
                        "after the source changed); they must be among the steps run")
    p.add_argument("--dry-run", "-n", action="store_true", help="plan and report; change nothing")
    p.add_argument("--json", action="store_true", help="NDJSON events, then a summary line")
    p.add_argument("--session", "-s", help="record in (and resume) this named session")
    p.add_argument("--detach", action="store_true",
                   help="start the worker and return at once (needs --session)")
    p.add_argument("--foreground", action="store_true",
                   help="with --session: run in this process instead of a worker that outlives the terminal")
    p.add_argument("--allow-price-fallback", action="store_true",
                   help="for this run, cost.allow_price_fallback = true: a region the catalog has no price for is "
                        "priced at another region's rate, with a loud PRICE FALLBACK note (the profile is not edited)")
    p.add_argument("--verbose", "-v", action="store_true")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from engine.errors import BadInputError, ExitCode
    from engine.profile import load_profile
    from engine.runner import resolve_steps, run_steps
    from engine.session import SessionStore
    from tui.output import make_sink, print_json, stop_on_sigterm

    profile = load_profile(args.profile)
    steps = resolve_steps(_named_steps(args.steps), "--steps")
    options: dict | None = {"allow_price_fallback": True} if args.allow_price_fallback else None  # read by cost
    if args.again is not None:
        again = resolve_steps(_named_steps(args.again, "--again"), "--again")
        if not args.session:
            raise BadInputError("--again needs --session NAME: without one every step runs anyway")
        outside = [n for n in again if n not in steps]
        if outside:
            raise BadInputError(f"--again {','.join(outside)}: not among the steps this run does ({','.join(steps)})")
        options = {**(options or {}), "again": again}
    if args.detach and not args.session:
        raise BadInputError("--detach needs --session NAME (the worker records there)")
    if args.detach and args.foreground:  # it ran here, to the end, and ignored --detach without a word
        raise BadInputError("--detach and --foreground contradict each other: --detach returns at once while the "
                            "session's worker runs the steps, --foreground runs them in this process; give one")
    # A dry run changes nothing and holds no run lease, so its worker registers no run that a follower could
    # wait for (it was reported "died before it finished", exit 3, after a dry run that went well): it runs
    # here, recording its events in the session, unless --detach asks for a worker.
    if args.session and not args.foreground and (args.detach or not args.dry_run):
        # Long work belongs to the session, not to this terminal: a worker runs it, and this
        # process only follows its events. A dropped SSH connection stops nothing.
        from engine.cutover.worker import launch_detached

        with SessionStore.open(args.session) as session:
            start_seq = session.last_seq()
        events_file = None
        if args.json and not args.detach:  # every object in --json output: the worker writes them all here
            from engine.session import logs_dir, private_file

            events_file = private_file(logs_dir() / f"{args.session}.follow-{os.getpid()}.ndjson")
        pid = launch_detached(args.session, Path(args.profile), steps, dry_run=args.dry_run, events_out=events_file,
                              options=options)
        if args.detach:
            follow = f"gpumigrate session tail {args.session}"
            if args.json:  # one JSON object, as --json promises (it was this text line)
                print_json({"event": "started", "session": args.session, "worker_pid": pid, "steps": steps,
                            "dry_run": args.dry_run, "follow": follow, "exit_code": 0})
                return 0
            print(f"started worker pid {pid} for session {args.session}; follow it with "
                  f"`{follow}` or `gpumigrate session attach {args.session}`")
            return 0
        return _follow(args, pid, start_seq, steps, events_file)
    name = args.session or _own_session_name(Path(args.profile))
    sink = make_sink(args.json, verbose=args.verbose)
    with SessionStore.open(name) as session, stop_on_sigterm() as cancel:
        def output_gone() -> None:  # nobody reads what this run says any more: stop it as Ctrl-C would
            # What resumes is said once the run has stopped (with the session it used): "the same command again"
            # is false for a replay without --session, which makes a new session and redoes every completed step.
            from tui.output import how_lost

            print(f"gpumigrate: {how_lost()}; stopping at the step's next check", file=sys.stderr)
            cancel.set()

        sink.on_closed = output_gone
        began = time.time()
        try:
            summary = run_steps(profile, steps, emit=sink, profile_path=Path(args.profile).resolve(),
                                dry_run=args.dry_run, session=session, cancel=cancel, options=options)
        except KeyboardInterrupt:
            # Ctrl-C between two steps (inside one, the runner makes it that step's "interrupted"): it went up to
            # the CLI's generic "run the same command again" (a new session for a replay without --session) with
            # no --json summary. Same ending as an interruption inside a step.
            summary = None
            if not args.dry_run:
                for step, record in session.steps().items():
                    if record.state == "running" and record.updated_at >= began:
                        session.set_step(step, "interrupted")
            so_far = _steps_so_far(session, steps, began, final=True)
        finally:
            sink.close()
    if summary is None:
        resume = _resume_command(args, name) if not args.dry_run else None
        print("gpumigrate: interrupted" + (f"; `{resume}` resumes it" if resume else ""), file=sys.stderr)
        if args.json:
            print_json({"event": "summary", "steps": so_far, "ok": False, "exit_code": int(ExitCode.INTERRUPTED),
                        "session": name, **({"resume": resume} if resume else {})})
        else:
            not_run = [n for n, entry in so_far.items() if entry.get("not_run")]
            print(f"session {name}: exit 3" + (f"; not run: {', '.join(not_run)}" if not_run else ""))
        return int(ExitCode.INTERRUPTED)
    # "Run the same command again to resume" is true only with the same session: a replay without --session makes
    # a new one each time, which redoes every completed step. Say the command that resumes.
    resume = _resume_command(args, name) if summary.exit_code == ExitCode.INTERRUPTED and not args.dry_run else None
    if resume:
        from engine.runner import on_resume

        cut = [on_resume(n) for n, r in summary.results.items() if r.state == "interrupted"]
        print(f"gpumigrate: stopped before the end; `{resume}` resumes it (the steps completed are skipped"
              + "".join(f"; {words}" for words in cut) + ")", file=sys.stderr)
    failed = [n for n, r in summary.results.items() if not r.ok and r.state in (None, "failed")]
    if failed and summary.exit_code == ExitCode.FAILED and not args.dry_run:
        # a failed step's words say what to fix, not how to run it again: in this session, completed steps skipped
        print(f"gpumigrate: once fixed, `{_resume_command(args, name)}` runs {', '.join(failed)} again (the steps "
              "completed are skipped)", file=sys.stderr)
    if args.json:
        from engine.secrets import redact_data

        out = summary.to_event_dict()
        out["session"] = name
        if resume:
            out["resume"] = resume
        print_json(redact_data(out))  # step summaries (an error's text) as every event before it: redacted
    else:
        state = "ok" if summary.ok else f"exit {int(summary.exit_code)}"
        if summary.not_run:
            state += f"; not run: {', '.join(summary.not_run)}"
        print(f"session {name}: {state}")
    return int(summary.exit_code)


def _own_session_name(profile: "object") -> str:
    """The session a replay without ``--session`` records in: its own, always a new one.

    It was ``replay-STEM-YYYYmmdd-HHMMSS``: two replays of one profile started in the same second (two CI jobs, a
    loop) shared it, so the second was refused as busy (exit 4) or skipped what the first had just completed; and
    a profile file named ``my profile.toml`` gave a session name the store refuses (exit 2). The stem is reduced to
    the letters a session name allows, and the process id makes it this run's."""
    import re

    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", getattr(profile, "stem", "profile")).strip("-._")[:64] or "profile"
    return f"replay-{stem}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"


def _named_steps(value: "str | None", option: str = "--steps") -> "list[str] | None":
    """The ``--steps`` names, or None (every step) when the option is not given.

    ``--steps ""`` (an empty variable in a script) names no step: refused, never read as "all of them",
    which would run the transfer and its deletions that the caller meant to leave out."""
    from engine.errors import BadInputError

    if value is None:
        return None
    names = [s.strip() for s in value.split(",") if s.strip()]
    if not names:
        raise BadInputError(f"{option} {value!r} names no step (known: inventory,cost,transfer,drivers,verify,ops"
                            + ("; leave the option out to run them all)" if option == "--steps" else ")"))
    return names


def _follow(args: argparse.Namespace, pid: int, start_seq: int, steps: list[str],
            events_file: "object | None" = None) -> int:
    """Render a worker's events as if it ran here; return its exit code when it ends.

    The worker's death is noticed within a poll (its pid is on this host): then the
    run is marked dead in the session and this exits 3 with the command that resumes.
    With ``--json`` every event, every object included, comes from the worker's own
    NDJSON file (``events_file``); the session keeps only aggregated rows.

    Ctrl-C and SIGTERM (a CI job's timeout, ``systemctl stop``) stop the following, not the worker:
    both say so on stderr and exit 130, and ``--json`` still ends with its summary object (the steps so
    far, ``"detached": true``). SIGTERM used to end this process without a word or a summary while
    the worker went on.
    """
    import signal
    import sys
    import threading
    import time

    from engine.events import from_dict
    from engine.session import SessionStore, pid_alive
    from tui.output import make_sink, print_json

    sink = make_sink(args.json, verbose=args.verbose)
    run_id = None
    exit_code = None
    started_at = None
    died = False
    step_kinds = {"step_started", "progress", "item_done", "message", "step_finished"}
    full = _EventsFile(events_file) if events_file is not None else None
    stop = threading.Event()  # set by SIGTERM/SIGINT; checked between reads, so no JSON line is cut short
    handlers = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            handlers[signum] = signal.signal(signum, lambda _signum, _frame: stop.set())

    sink.on_closed = stop.set  # the output's reader went away: stop following (the worker goes on), as Ctrl-C

    def show(data: dict) -> None:
        sink(from_dict(data))

    try:
        with SessionStore.open(args.session) as session:
            try:
                seq = start_seq
                next_check = next_silence = 0.0
                while exit_code is None:
                    if stop.is_set():
                        raise KeyboardInterrupt
                    batch = session.events_after(seq)
                    for ev in batch:
                        seq = ev.seq
                        if ev.kind == "run_started" and ev.payload.get("pid") == pid:
                            run_id, started_at = ev.payload.get("run"), ev.ts
                        elif ev.kind == "run_finished" and ev.payload.get("run") == run_id:
                            exit_code = int(ev.payload.get("exit_code", 1))
                            break
                        elif ev.kind in ("run_not_responding", "run_responding") and run_id is not None \
                                and ev.payload.get("run") == run_id:
                            # a stopped or hung worker: say so here, not only in `session show` (this terminal
                            # stood on its last line as if the run went on)
                            print(f"gpumigrate: the worker (pid {pid}) is {ev.payload.get('words')}; it still holds "
                                  f"the session" if ev.kind == "run_not_responding"
                                  else f"gpumigrate: the worker (pid {pid}) responds again", file=sys.stderr,
                                  flush=True)
                        elif ev.kind in step_kinds and run_id is not None and full is None:
                            show({**ev.payload, "event": ev.kind, "step": ev.step, "ts": ev.ts})
                    if full is not None:
                        for data in full.read():
                            show(data)
                    if exit_code is not None or batch:
                        continue
                    if time.monotonic() >= next_silence:
                        next_silence = time.monotonic() + 1.0
                        try:  # a worker silent past its lease: one run_not_responding event, printed below
                            session.reconcile()
                        except Exception:  # noqa: BLE001 - a busy store: look again at the next second
                            pass
                    if time.monotonic() >= next_check:
                        next_check = time.monotonic() + 0.25
                        if not pid_alive(pid):
                            # It may have finished between two reads: look once more before calling it dead.
                            if any(e.payload.get("run") == run_id for e in session.events_of("run_finished", seq)):
                                continue
                            session.reconcile()  # the run is dead now, its step interrupted
                            died, exit_code = True, 3
                            break
                    time.sleep(0.05)
                if full is not None:
                    for data in full.read():
                        show(data)
            except KeyboardInterrupt:
                sink.close()
                if pid_alive(pid):
                    code = EXIT_DETACHED  # not 0: nothing has passed yet, the run's outcome is still to come
                    print(f"detached: the worker (pid {pid}) goes on; `gpumigrate session attach {args.session}` "
                          f"follows it again, `gpumigrate session show {args.session}` tells how it ended",
                          file=sys.stderr)
                else:
                    code = 3
                    session.reconcile()
                    print(f"the worker (pid {pid}) is not running any more; resume with `{_resume_command(args)}`",
                          file=sys.stderr)
                if args.json:
                    print_json({"event": "summary", "steps": _steps_so_far(session, steps, started_at),
                                "ok": False, "exit_code": code, "detached": code == EXIT_DETACHED,
                                "worker_pid": pid, "session": args.session})
                return code
            finally:
                sink.close()
                if full is not None:
                    full.close()
            summary_steps = _steps_so_far(session, steps, started_at, final=True)
            cut = [n for n, r in session.steps().items() if n in steps and r.state == "interrupted"]
    finally:
        for signum, previous in handlers.items():
            signal.signal(signum, previous)
    if died:
        from engine.runner import on_resume

        print(f"gpumigrate: the worker (pid {pid}) died before it finished; `{_resume_command(args)}` resumes it "
              "(the steps completed are skipped" + "".join(f"; {on_resume(n)}" for n in cut) + ")", file=sys.stderr)
    code = exit_code if exit_code is not None else 1
    if args.json:
        print_json({"event": "summary", "steps": summary_steps, "ok": code == 0, "exit_code": code,
                    "session": args.session})
    else:
        not_run = [n for n, entry in summary_steps.items() if entry.get("not_run")]
        print(f"session {args.session}: {'ok' if code == 0 else f'exit {code}'}"
              + (f"; not run: {', '.join(not_run)}" if not_run else ""))
    return code


def _steps_so_far(session: "object", steps: list[str], started_at: "float | None", final: bool = False) -> dict:
    """The summary's ``steps`` from the session's records: each requested step this run reached (or skipped as
    completed before); with ``final`` (the run has ended) the others as ``"not_run": true``, as a foreground
    run reports them."""
    records = session.steps()  # type: ignore[attr-defined]
    summary_steps: dict = {}
    for name in steps:
        record = records.get(name)
        if record is None or (started_at and record.state != "completed" and record.updated_at < started_at):
            # not reached by this run (a record of an earlier run's is not this run's outcome)
            if final:
                summary_steps[name] = {"ok": False, "summary": "not run: the run stopped before this step",
                                       "not_run": True}
            continue
        result = record.result or {}
        entry = {"ok": record.state == "completed", "summary": result.get("summary", record.state)}
        if record.state == "completed" and started_at and (record.finished_at or 0) < started_at:
            from engine.runner import skipped_entry

            entry = skipped_entry({"summary": result.get("summary"), "completed_at": record.finished_at,
                                   "tool_version": result.get("tool_version")})
        summary_steps[name] = entry
    return summary_steps


def _resume_command(args: argparse.Namespace, session: "str | None" = None) -> str:
    import shlex

    parts = ["gpumigrate", "replay", args.profile, "--session", session or args.session]
    if args.foreground or not args.session:  # it ran here: it goes on here (a session's default is a worker)
        parts.append("--foreground")
    if args.steps:
        parts += ["--steps", args.steps]
    if args.allow_price_fallback:
        parts.append("--allow-price-fallback")
    return " ".join(shlex.quote(p) for p in parts)


class _EventsFile:
    """Reads the complete NDJSON lines a worker appends to its events file, then removes the file."""

    def __init__(self, path: "object") -> None:
        from pathlib import Path

        self.path = Path(str(path))
        self._fh = None
        self._rest = b""

    def read(self) -> "list[dict]":
        import json

        if self._fh is None:
            try:
                self._fh = open(self.path, "rb")
            except FileNotFoundError:
                return []
        chunk = self._fh.read()
        if not chunk:
            return []
        lines = (self._rest + chunk).split(b"\n")
        self._rest = lines.pop()
        return [json.loads(line) for line in lines if line.strip()]

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
        self.path.unlink(missing_ok=True)
