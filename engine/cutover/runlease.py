"""The run lease: whoever runs steps for a session says so, and keeps saying so.

A process that runs steps (a detached worker, or a foreground ``replay
--session``) registers a run in the session and heartbeats it from a thread.
Any other process that opens the session can then tell a live run from a dead
one: a run whose heartbeat is older than its TTL and whose process is gone has
died, and the step it was running is marked ``interrupted`` (see
:meth:`engine.session.SessionStore.reconcile`).  The same thread watches for a
cancel request written to the session by the driver and sets ``cancel``.

A heartbeat from a thread proves only that the process lives: its steps' own thread may hang (a deadlock,
a network call that never answers) while the heartbeat goes on.  So the same thread also watches the
steps' thread: it must run at all (every loop here sleeps briefly and looks for a cancel, so a live one
is scheduled several times a second) or the session must record news of work (a pool's progress while
the steps' thread waits for it).  After ``stall_s`` of neither, the run says so in the session, with
where that thread waits, and every reader shows it as not responding (never "running").
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Callable

from engine.session import SessionStore, new_holder_id


class RunLease:
    """Context manager: register a run, heartbeat it, watch for cancel, end it."""

    def __init__(self, session: SessionStore, steps: list[str], ttl_s: float, cancel: threading.Event,
                 *, detached: bool = False, log_path: str | None = None,
                 on_tick: Callable[[SessionStore], None] | None = None, control: Any = None,
                 stall_s: float | None = None):
        self.session = session
        self.steps = steps
        self.ttl_s = ttl_s
        self.cancel = cancel
        self.detached = detached
        self.log_path = log_path
        self.on_tick = on_tick
        self.control = control
        """Pausable work (a TransferControl): pause requests written to the session reach it."""
        self._paused = False
        self.holder = new_holder_id()
        self.run_id = 0
        self.exit_code = 0
        self.cancelled_by: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.stall_s = stall_s if stall_s is not None else max(120.0, 4 * ttl_s)
        """Seconds in which the steps' thread must run, or work be recorded, before the run is not responding.
        Generous: a network call may wait up to its own timeouts, and that is still responding."""
        self._steps_thread = (threading.get_ident(), threading.get_native_id())
        self._last_mark: Any = None
        self._moved_at = (time.monotonic(), time.time())
        self._stuck = False

    @property
    def every_s(self) -> float:
        return max(0.1, min(self.ttl_s / 3, 5.0))

    def __enter__(self) -> "RunLease":
        self._steps_thread = (threading.get_ident(), threading.get_native_id())  # the thread that runs the steps
        self.run_id = self.session.begin_run(self.holder, self.steps, self.ttl_s, detached=self.detached,
                                             log_path=self.log_path)
        self._thread = threading.Thread(target=self._beat, name=f"run-lease-{self.run_id}", daemon=True)
        self._thread.start()
        return self

    def _beat(self) -> None:
        # SQLite handles belong to one thread: the heartbeat gets its own.
        store = SessionStore(Path(self.session.path), operator=self.session.declared)
        next_beat = 0.0
        alive = True
        try:
            # Cancel and pause requests are looked at four times a second; the heartbeat (a write)
            # goes out every ``every_s``.
            while not self._stop.wait(0.25):
                try:
                    if time.monotonic() >= next_beat:
                        next_beat = time.monotonic() + self.every_s
                        alive = store.run_heartbeat(self.run_id)
                        if self.on_tick is not None:
                            self.on_tick(store)
                        self._watch_steps(store)
                    who = store.cancel_requested(self.run_id)
                    self._apply_pause(store)
                except Exception as exc:  # noqa: BLE001 - a busy or broken store must not end the heartbeat silently
                    try:
                        store.append("session", "run_heartbeat_failed", {"run": self.run_id, "error": str(exc)})
                    except Exception:  # noqa: BLE001 - the store itself is the problem; try again next beat
                        pass
                    continue
                if not alive and not self.cancel.is_set():
                    # Another process declared this run dead (we stalled past the TTL) and may already
                    # be resuming it: stop at the next check rather than run the same work twice.
                    self.cancelled_by = "the session (this run's lease was declared expired)"
                    self.cancel.set()
                elif who and not self.cancel.is_set():
                    self.cancelled_by = who
                    self.cancel.set()
        finally:
            store.close()

    def _watch_steps(self, store: SessionStore) -> None:
        """Note whether the steps' thread ran, or work was recorded, since the last beat; say in the session when
        neither happened for ``stall_s`` (and when it moves again)."""
        from engine.session.liveness import thread_ran, where_thread_waits

        ran = thread_ran(self._steps_thread[1])
        if ran is None:
            return  # /proc does not say (not Linux): a hang cannot be told from a long wait here
        mark = (ran, self.session.work_moves())
        if mark != self._last_mark or self._paused:  # a paused run is said to be paused, not stuck
            self._last_mark = mark
            self._moved_at = (time.monotonic(), time.time())
        quiet = time.monotonic() - self._moved_at[0] >= self.stall_s
        # Each change is written once; a busy store (an exception here) leaves it to be written at the next beat.
        if self._stuck and not quiet:
            store.set_stalled(self.run_id, None)
            self._stuck = False
        elif quiet and not self._stuck:
            store.set_stalled(self.run_id, self._moved_at[1], where_thread_waits(self._steps_thread[0]))
            self._stuck = True

    def _apply_pause(self, store: SessionStore) -> None:
        if self.control is None:
            return
        wanted = store.pause_requested(self.run_id)
        if wanted != self._paused:
            self._paused = wanted
            (self.control.pause if wanted else self.control.resume)()
            store.append("session", "run_paused" if wanted else "run_resumed",
                         {"run": self.run_id, "requested_by": store.pause_requested_by(self.run_id)})

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if exc_type is not None and self.exit_code == 0:
            self.exit_code = 1
        self.session.end_run(self.run_id, self.exit_code)
