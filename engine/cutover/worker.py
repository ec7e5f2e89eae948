"""The detached worker: long steps run in a process that belongs to the session.

``launch_detached`` starts ``python -m engine.cutover.worker`` in its own
session and process group (``start_new_session``), with stdin from /dev/null
and stdout/stderr appended to ``state_dir()/logs/NAME.log``.  Closing the
terminal, a ``SIGHUP`` from a dropped SSH connection or ``kill -9`` of the TUI
that started it stops nothing: the worker records every event in the session
store, where any attached TUI or ``gpumigrate session tail`` follows it.

The worker holds the session's run lease (heartbeat thread, see
:mod:`engine.cutover.runlease`) and, when nobody drives, the driver's seat too;
a person who asks for control while the worker holds the seat gets it (the
worker is not a person and keeps running under its run lease).  ``SIGTERM`` or
``SIGINT`` (or ``gpumigrate session cancel``) stop it at the step's next check,
leaving the step interrupted; running it again resumes it (a transfer from its journal; the
other steps keep none and run again from their start).

A *private* run (``--private``, started by :func:`start_private`) is the app's way to run a
step without a session, still outside the app's process so that drawing never competes with
the copy for the interpreter: no session, no lease; the events a screen draws (see
:mod:`engine.cutover.feed`) go to the worker's stdout as JSON lines, and its stdin carries
``pause`` / ``resume`` / ``cancel``.  Nobody else can follow or stop a private run, so it
ends with its app: when stdin closes (the app quit, crashed or was killed) the step is
cancelled at its next check and left resumable.  A run that must outlive the app belongs in a
session (``gpumigrate --session NAME``).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from contextlib import contextmanager
from typing import Any, Iterator, TextIO

from engine.errors import BadInputError, ExitCode, GpumigrateError
from engine.events import Event, ItemDone, Message, Progress, StepFinished, StepStarted
from engine.secrets import redact
from engine.session import (
    OPERATOR_ENV,
    SessionBusy,
    SessionStore,
    logs_dir,
    operator_name,
    private_file,
    session_path,
)
from engine.session.paths import no_follow


def log_path_for(session_name: str) -> Path:
    session_path(session_name)  # validates the name
    return logs_dir() / f"{session_name}.log"


def launch_detached(session: str, profile_path: Path | str, steps: list[str], *, dry_run: bool = False,
                    operator: str | None = None, options: dict[str, Any] | None = None,
                    wait_s: float = 15.0, events_out: Path | None = None) -> int:
    """Start a worker for ``steps`` of the profile in session ``session``; returns its pid.

    Refuses (``GpumigrateError``) while another run of the session is alive.
    Waits until the worker has registered its run (or exited early, whose log
    tail then becomes the error) so that problems show up here, not later.
    """
    profile_path = Path(profile_path).resolve()
    if not profile_path.is_file():
        raise BadInputError(f"{profile_path}: no such profile")
    with SessionStore.open(session, operator=operator) as store:
        busy = store.active_run()  # dead ones noticed first: what is left holds the session (a stopped one too)
        if busy is not None:
            raise SessionBusy(f"session {session!r} is busy: {busy.busy_words()}; "
                              f"follow it with `gpumigrate session tail {session}`")
        if not dry_run:  # refused here, in one line, rather than from the worker's log
            from engine.cutover.steering import check_steer

            check_steer(store, "starting steps")
        before = max((r.id for r in store.runs()), default=0)
        operator = store.declared
    log = private_file(log_path_for(session))
    env = dict(os.environ)
    if operator:  # a declared name travels to the worker; its uid is ours anyway
        env[OPERATOR_ENV] = operator
    cmd = [sys.executable, "-m", "engine.cutover.worker", "--session", session, "--profile", str(profile_path),
           "--steps", ",".join(steps)]
    if dry_run:
        cmd.append("--dry-run")
    if options:
        cmd += ["--options-json", json.dumps(options)]
    if events_out is not None:
        cmd += ["--events-out", str(events_out)]
    with open(log, "ab", opener=no_follow) as out:
        out.write(redact(f"--- {_now()} worker starting: steps {','.join(steps)}{' (dry run)' if dry_run else ''} "
                         f"by {operator}\n").encode())
        out.flush()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, close_fds=True, env=env, cwd=str(profile_path.parent))
    # Reap it when it ends, so a finished worker is not a zombie while we live.
    threading.Thread(target=proc.wait, name=f"reap-{proc.pid}", daemon=True).start()
    if dry_run or wait_s <= 0:
        return proc.pid
    deadline = time.time() + wait_s
    with SessionStore.open(session, create=False, operator=operator) as store:
        while time.time() < deadline:
            if any(r.pid == proc.pid and r.id > before for r in store.runs()):
                return proc.pid
            if proc.poll() is not None:
                break
            time.sleep(0.05)
    if proc.poll() is not None and proc.returncode != 0:
        raise GpumigrateError(f"the worker stopped at once (exit {proc.returncode}): {_tail(log)}")
    return proc.pid


def private_log_path() -> Path:
    return logs_dir() / "private-runs.log"


def start_private(profile_path: Path | str, steps: list[str], *, dry_run: bool = False,
                  options: dict[str, Any] | None = None) -> "subprocess.Popen[bytes]":
    """Start a private run of ``steps`` (see the module docstring); the caller reads its stdout.

    The child gets its own process group, so a Ctrl+C meant for the app's terminal does not
    reach it; it stops when the caller closes its stdin (or dies)."""
    profile_path = Path(profile_path).resolve()
    if not profile_path.is_file():
        raise BadInputError(f"{profile_path}: no such profile")
    log = private_file(private_log_path())
    cmd = [sys.executable, "-m", "engine.cutover.worker", "--private", "--profile", str(profile_path),
           "--steps", ",".join(steps)]
    if dry_run:
        cmd.append("--dry-run")
    if options:
        cmd += ["--options-json", json.dumps(options)]
    with open(log, "ab", opener=no_follow) as err:
        err.write(f"--- {_now()} private run starting: steps {','.join(steps)}"
                  f"{' (dry run)' if dry_run else ''} for pid {os.getpid()}\n".encode())
        err.flush()
        return subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                                start_new_session=True, close_fds=True, cwd=str(profile_path.parent))


class RedactingStream:
    """The worker's stdout and stderr are its log file: a library's warning or debug line printed there (a URL
    with its password, an echoed request) passes through :func:`redact` like the log's own lines. Whole lines
    are redacted (a secret is not cut across two writes); what is left is written at ``flush``."""

    def __init__(self, stream: TextIO):
        from engine.secrets import environment_secrets

        self._stream = stream
        self._known = environment_secrets()
        self._held = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            held = self._held + text
            cut = held.rfind("\n") + 1
            self._held = held[cut:]
            if cut:
                self._stream.write(redact(held[:cut], self._known))
        return len(text)

    def flush(self) -> None:
        with self._lock:
            if self._held:
                self._stream.write(redact(self._held, self._known))
                self._held = ""
        self._stream.flush()

    def __getattr__(self, name: str) -> Any:  # fileno, isatty, encoding ... of the stream underneath
        return getattr(self._stream, name)


def _tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return " | ".join(text[-lines:]) or "(empty log)"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class LogSink:
    """Writes events to the worker's log as plain lines (progress at most every few seconds)."""

    def __init__(self, stream: TextIO, progress_every_s: float = 5.0):
        self.stream = stream
        self.progress_every_s = progress_every_s
        self._last: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        line = self._format(event)
        if line is None:
            return
        with self._lock:
            self.stream.write(redact(f"{_now()} {event.step}: {line}") + "\n")
            self.stream.flush()

    def _format(self, event: Event) -> str | None:
        if isinstance(event, StepStarted):
            return f"started {event.description}"
        if isinstance(event, StepFinished):
            return f"{'finished' if event.ok else 'FAILED'}: {event.summary}"
        if isinstance(event, Message):
            return f"{event.level}: {event.text}"
        if isinstance(event, ItemDone):
            return f"{event.status} {event.item} {event.detail}".rstrip() if event.status in (
                "failed", "error") else None
        if isinstance(event, Progress):
            key = (event.step, event.label)
            if event.ts - self._last.get(key, 0.0) < self.progress_every_s:
                return None
            self._last[key] = event.ts
            total = f"/{event.total:,.0f}" if event.total is not None else ""
            return f"progress {event.label} {event.done:,.0f}{total} {event.unit}".rstrip()
        return None


class JsonLinesSink:
    """Every event as one redacted JSON line (the session itself keeps aggregated rows only)."""

    def __init__(self, stream: Any, flush_every_s: float = 0.2):
        self.stream = stream
        self.flush_every_s = flush_every_s
        self._last_flush = 0.0
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        from engine.secrets import redact_data

        line = json.dumps(redact_data(event.to_dict()), ensure_ascii=False, default=str)
        with self._lock:
            self.stream.write(line + "\n")
            now = time.monotonic()
            if now - self._last_flush >= self.flush_every_s or not isinstance(event, (ItemDone, Progress)):
                self.stream.flush()
                self._last_flush = now


@contextmanager
def _events_out(path: str) -> Iterator[JsonLinesSink | None]:
    if not path:
        yield None
        return
    target = private_file(Path(path), make_dir=False)
    with open(target, "a", encoding="utf-8", opener=no_follow) as stream:
        yield JsonLinesSink(stream)


def _drive_while_free(session: SessionStore, ttl_s: float) -> Any:
    """Take the driver's seat if nobody has it; returns an on_tick for the run lease."""
    from engine.cutover.pairing import Pairing

    pairing = Pairing(session, ttl_s=ttl_s)
    if not pairing.try_drive():
        return pairing, None

    def on_tick(store: SessionStore) -> None:
        if not pairing.driving:
            return
        if not store.heartbeat(pairing.holder):
            pairing.driving = False
            return
        for request in store.control_requests("pending"):
            store.decide_control(request.id, True, pairing.holder)
            pairing.driving = False
            break

    return pairing, on_tick


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gpumigrate-worker")
    parser.add_argument("--session", default="")
    parser.add_argument("--private", action="store_true",
                        help="no session: events for a screen on stdout, pause/resume/cancel on stdin")
    parser.add_argument("--profile", required=True)
    parser.add_argument("--steps", default="")
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--options-json", default="", help="step options (a JSON object)")
    parser.add_argument("--events-out", default="",
                        help="also write every event (every object) as NDJSON here, for a --json follower")
    args = parser.parse_args(argv)
    sys.stderr = RedactingStream(sys.stderr)  # type: ignore[assignment]
    if args.private:  # its stdout is the feed (redacted event by event)
        return _private_main(args)
    sys.stdout = RedactingStream(sys.stdout)  # type: ignore[assignment]
    if not args.session:
        parser.error("--session is required (or --private)")

    cancel = threading.Event()
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a dropped SSH connection stops nothing

    def stop(signum: int, _frame: object) -> None:
        cancel.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    log = private_file(log_path_for(args.session))
    with open(log, "a", encoding="utf-8", opener=no_follow) as stream, _events_out(args.events_out) as full:
        log_sink = LogSink(stream)

        def sink(event: Event) -> None:
            log_sink(event)
            if full is not None:
                full(event)

        try:
            return _work(args, sink, cancel, str(log))
        except GpumigrateError as exc:
            stream.write(redact(f"{_now()} worker: {exc}") + "\n")
            return int(exc.exit_code)
        except BaseException as exc:  # noqa: BLE001 - the log is the only place left to say it
            import traceback

            stream.write(redact(f"{_now()} worker crashed: {type(exc).__name__}: {exc}\n"
                                + traceback.format_exc()) + "\n")
            return int(ExitCode.FAILED)


def _work(args: argparse.Namespace, sink: Any, cancel: threading.Event, log: str) -> int:
    from engine.profile import load_profile
    from engine.runner import resolve_steps, run_steps

    steps = resolve_steps([s for s in args.steps.split(",") if s] or None)
    profile_path = Path(args.profile)
    with SessionStore.open(args.session, create=False) as session:
        try:
            profile = load_profile(profile_path)
        except GpumigrateError as exc:
            session.append("session", "worker_failed", {"error": str(exc), "pid": os.getpid()})
            raise
        pairing, on_tick = (None, None) if args.dry_run else _drive_while_free(session, profile.cutover.lease_ttl_s)
        sink(Message("session", text=f"worker pid {os.getpid()} for {operator_name()}: "
                                     f"{', '.join(steps)}{' (dry run)' if args.dry_run else ''}"))
        try:
            summary = run_steps(profile, steps, emit=sink, profile_path=profile_path.resolve(),
                                dry_run=args.dry_run, session=session, cancel=cancel, detached=True,
                                options=json.loads(args.options_json) if args.options_json else None,
                                log_path=log, on_tick=on_tick)
        finally:
            if pairing is not None:
                pairing.release()
        sink(Message("session", text=f"worker done: exit {int(summary.exit_code)}"))
        return int(summary.exit_code)


def _private_main(args: argparse.Namespace) -> int:
    """A private run: the feed on stdout, commands on stdin, plain log lines on stderr."""
    from engine.cutover.feed import FeedFilter
    from engine.profile import load_profile
    from engine.runner import resolve_steps, run_steps
    from engine.secrets import redact_data
    from engine.transfer.control import TransferControl

    cancel = threading.Event()
    control = TransferControl(cancel)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the end of stdin, not the terminal, decides

    def stop(_signum: int, _frame: object) -> None:
        control.cancel()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    out = sys.stdout
    lock = threading.Lock()
    viewer = {"gone": False}

    def write(data: dict[str, Any]) -> None:
        line = json.dumps(redact_data(data), ensure_ascii=False, default=str) + "\n"
        with lock:
            if viewer["gone"]:
                return
            try:
                out.write(line)
                out.flush()
            except (BrokenPipeError, OSError, ValueError):
                viewer["gone"] = True

    feed = FeedFilter(lambda event: write(event.to_dict()))
    log_sink = LogSink(sys.stderr)

    def sink(event: Event) -> None:
        log_sink(event)
        feed(event)

    def commands() -> None:
        for raw in sys.stdin:
            word = raw.strip()
            if word == "pause":
                control.pause()
            elif word == "resume":
                control.resume()
            elif word == "cancel":
                control.cancel()
        if not cancel.is_set():  # stdin closed: the app that started this run is gone
            sys.stderr.write(f"{_now()} worker: the app closed; stopping (run it again to resume)\n")
            control.cancel()

    threading.Thread(target=commands, name="commands", daemon=True).start()
    code = int(ExitCode.FAILED)
    try:
        steps = resolve_steps([s for s in args.steps.split(",") if s] or None)
        profile_path = Path(args.profile)
        profile = load_profile(profile_path)
        options = json.loads(args.options_json) if args.options_json else {}
        options["control"] = control
        summary = run_steps(profile, steps, emit=sink, profile_path=profile_path.resolve(), dry_run=args.dry_run,
                            cancel=cancel, options=options)
        feed.close()
        write(summary.to_event_dict())
        code = int(summary.exit_code)
    except GpumigrateError as exc:
        feed.close()
        write({"event": "error", "text": str(exc), "exit_code": int(exc.exit_code)})
        sys.stderr.write(redact(f"{_now()} worker: {exc}") + "\n")
        code = int(exc.exit_code)
    except BaseException as exc:  # noqa: BLE001 - the log and the app are the only places left to say it
        import traceback

        feed.close()
        write({"event": "error", "text": f"{type(exc).__name__}: {exc}", "exit_code": int(ExitCode.FAILED)})
        sys.stderr.write(redact(f"{_now()} worker crashed: {type(exc).__name__}: {exc}\n"
                                + traceback.format_exc()) + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
