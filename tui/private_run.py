"""A step started from the app without a session runs in a private worker process.

Drawing and copying used to share one interpreter: the step ran in a thread of the app, and
every event it emitted cost the app's event loop (and the GIL the copy needs).  Now the step
runs in ``python -m engine.cutover.worker --private`` (see :func:`engine.cutover.worker.start_private`).
The worker sends only what a screen draws (totals and progress a few times a second, failures,
a dry run's first planned actions: :mod:`engine.cutover.feed`) as JSON lines; a thread here reads
them and hands them to the screen in batches (:class:`~tui.messages.EventFunnel`).

:class:`PrivateRun` is also the run's control: ``pause()``, ``resume()``, ``cancel()`` and
``paused`` as on :class:`~engine.transfer.control.TransferControl`, sent over the worker's stdin.
A private run ends with the app: closing the app closes that stdin and the worker stops the step
at its next check, resumable (a session's worker, by contrast, outlives the app).
"""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path
from typing import Any, Callable

from engine.events import Event, StepFinished, from_dict

JSON_TYPES = (str, int, float, bool, type(None))


def json_options(options: dict[str, Any] | None) -> bool:
    """Options a worker process can take (live objects, e.g. an NVML fake, cannot cross)."""
    if not options:
        return True
    try:
        json.dumps(options)
    except (TypeError, ValueError):
        return False
    return True


class PrivateRun:
    """One private worker process: its control channel and, in :meth:`follow`, its events."""

    def __init__(self, profile_path: Path, step: str, dry_run: bool, options: dict[str, Any] | None) -> None:
        self.profile_path = profile_path
        self.step = step
        self.dry_run = dry_run
        self.options = options
        self.proc: "subprocess.Popen[bytes] | None" = None
        self.paused = False
        self.cancelled = False
        self._lock = threading.Lock()
        self._pending: list[str] = []

    # --- control (the Transfer screen's pause / resume / cancel) -------------------

    def pause(self) -> None:
        self.paused = True
        self._send("pause")

    def resume(self) -> None:
        self.paused = False
        self._send("resume")

    def cancel(self) -> None:
        self.cancelled = True
        self.paused = False
        self._send("cancel")

    def close(self) -> None:
        """The app is closing: the worker sees its stdin end and stops the step (resumable)."""
        with self._lock:
            proc = self.proc
        if proc is not None and proc.stdin is not None:
            try:
                proc.stdin.close()
            except OSError:
                pass

    def _send(self, word: str) -> None:
        with self._lock:
            proc = self.proc
            if proc is None:  # not started yet: sent as soon as it is
                self._pending.append(word)
                return
        try:
            assert proc.stdin is not None
            proc.stdin.write(f"{word}\n".encode())
            proc.stdin.flush()
        except (OSError, ValueError):  # it has ended: nothing left to tell
            pass

    # --- the run (a thread body) ---------------------------------------------------------

    def follow(self, deliver: Callable[[Event], None], is_cancelled: Callable[[], bool]) -> Any:
        """Start the worker, deliver its events, and return a RunSummary when it ends."""
        from engine.cutover.worker import private_log_path, start_private
        from engine.errors import ExitCode
        from engine.runner import RunSummary, StepResult

        proc = start_private(self.profile_path, [self.step], dry_run=self.dry_run, options=self.options)
        with self._lock:
            self.proc = proc
            pending, self._pending = self._pending, []
        for word in pending:
            self._send(word)
        results: dict[str, StepResult] = {}
        end: dict[str, Any] = {}
        assert proc.stdout is not None
        for raw in proc.stdout:
            if is_cancelled() and not self.cancelled:
                self.cancel()
            try:
                data = json.loads(raw)
            except ValueError:
                continue
            kind = data.get("event")
            if kind in ("summary", "error"):
                end = data
                continue
            try:
                event = from_dict(data)
            except (TypeError, KeyError, ValueError):
                continue
            if isinstance(event, StepFinished):
                results[event.step] = StepResult(ok=event.ok, summary=event.summary, data=dict(event.result or {}))
            deliver(event)
        code = proc.wait()
        if not end and code < 0:
            # Killed by a signal it cannot catch (kill -9, the OOM killer): the step stopped part-way and
            # is resumable like any interrupted one (SIGTERM and a closed app end through the summary).
            import signal

            try:
                how = signal.Signals(-code).name
            except ValueError:
                how = f"signal {-code}"
            text = (f"the worker was killed ({how}) before {self.step} finished; run it again to resume "
                    f"(its log: {private_log_path()})")
            deliver(StepFinished(self.step, ok=False, summary=text, result={"interrupted": True}))
            results[self.step] = StepResult(ok=False, summary=text)
            return RunSummary(results=results, skipped=[], exit_code=ExitCode.INTERRUPTED)
        if end.get("event") == "error" or (not end and code != 0):
            text = end.get("text") or f"the worker stopped (exit {code}); see {private_log_path()}"
            deliver(StepFinished(self.step, ok=False, summary=str(text)))
            results[self.step] = StepResult(ok=False, summary=str(text))
        exit_code = end.get("exit_code", code)
        try:
            exit_code = ExitCode(int(exit_code))
        except ValueError:
            exit_code = ExitCode.FAILED
        return RunSummary(results=results, skipped=[], exit_code=exit_code)
