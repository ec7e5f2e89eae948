"""Runs: the process that runs steps for a session says so, and its death is noticed at once.

A run is a row with the runner's pid, host and process start time, and a
heartbeat.  On the same host a run whose process is gone (or whose pid now
belongs to another process) is dead *now*; on another host only the heartbeat
can tell, so the run is dead once its lease expires.  Noticing a dead run marks
its running steps ``interrupted`` (resume continues from their journals) and
withdraws the approvals it was waiting for.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from typing import Any

from engine.errors import EnvironmentProblem

RUN_STATES = ("running", "finished", "dead")


class SessionBusy(EnvironmentProblem):
    """Another live run holds the session (exit 4); the message says whose and where."""


def pid_alive(pid: int) -> bool:
    """Is a process with this pid running here (zombies count as dead)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().rsplit(b")", 1)[1].split()[0]
        return state not in (b"Z", b"X")
    except (OSError, IndexError):
        return True


def _boot_id() -> str | None:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as fh:
            return fh.read().strip() or None
    except OSError:
        return None


def process_start(pid: int) -> str | None:
    """``BOOT_ID:TICKS``: this boot's id and the process's start time in clock ticks since boot
    (/proc/PID/stat field 22); together they tell a reused pid from the original, across reboots too.
    None where /proc does not say (not Linux): callers then fall back to the pid alone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            ticks = fh.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return None
    return f"{_boot_id() or 'unknown-boot'}:{ticks}"


def same_process(pid: int, recorded: str | None) -> bool:
    """Is ``pid`` (on this host) still the process that recorded ``recorded`` as its start time?

    False when the pid is gone, or belongs to a process started at another time (or boot).  A value
    written before boot ids were recorded (ticks only) is compared on ticks.  Without a recorded or a
    readable start time, the pid alone decides."""
    if not pid_alive(pid):
        return False
    if not recorded:
        return True
    now = process_start(pid)
    if now is None:
        return True
    if ":" not in recorded:
        return now.rsplit(":", 1)[1] == recorded
    return now == recorded


@dataclass(frozen=True)
class Run:
    """One process running steps for the session (a detached worker or a foreground replay)."""

    id: int
    holder: str
    operator: str
    pid: int
    host: str
    steps: list[str]
    detached: bool
    log_path: str | None
    started_at: float
    heartbeat_at: float
    ttl_s: float
    state: str
    exit_code: int | None
    ended_at: float | None
    cancel_requested_by: str | None
    uid: int | None = None
    pause_requested_by: str | None = None
    proc_start: str | None = None

    def expired(self, now: float | None = None) -> bool:
        return (now or time.time()) - self.heartbeat_at > self.ttl_s

    def process_alive(self) -> bool | None:
        """True/False when the process is on this host; None when it runs elsewhere."""
        if self.host != socket.gethostname():
            return None
        return same_process(self.pid, self.proc_start)  # a reused pid is not the run's process

    @property
    def live(self) -> bool:
        """Still running as far as anyone can tell from here (same host: the process itself)."""
        if self.state != "running":
            return False
        alive = self.process_alive()
        if alive is not None:
            return alive
        return not self.expired()

    def where(self) -> str:
        kind = "worker" if self.detached else "replay"
        return f"{self.operator}'s {kind} (pid {self.pid} on {self.host})"


def run_from_row(row: Any) -> Run:
    data = dict(row)
    data["steps"] = json.loads(data["steps"])
    data["detached"] = bool(data["detached"])
    return Run(**data)


class RunsMixin:
    """The run lease; mixed into :class:`engine.session.store.SessionStore`."""

    def begin_run(self, holder: str, steps: list[str], ttl_s: float, *, detached: bool = False,
                  log_path: str | None = None) -> int:
        """Register this process as the session's runner; refuses (exit 4) while another run is alive."""
        self.reconcile()
        now = time.time()
        me = self.identity  # type: ignore[attr-defined]
        with self._write() as db:  # type: ignore[attr-defined]
            for row in db.execute("SELECT * FROM runs WHERE state = 'running'").fetchall():
                other = run_from_row(row)
                if other.live:
                    raise SessionBusy(
                        f"session {self.name!r} is busy: {other.where()} is running "  # type: ignore[attr-defined]
                        f"{', '.join(other.steps)} since {time.strftime('%H:%M:%S', time.localtime(other.started_at))}; "
                        f"follow it with `gpumigrate session tail {self.name}`")  # type: ignore[attr-defined]
            cur = db.execute(
                """INSERT INTO runs(holder, operator, pid, host, steps, detached, log_path, started_at,
                                    heartbeat_at, ttl_s, uid, proc_start) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (holder, self.operator, me.pid, me.host, json.dumps(steps), int(detached), log_path,  # type: ignore[attr-defined]
                 now, now, ttl_s, me.uid, process_start(me.pid)),
            )
            run_id = int(cur.lastrowid or 0)
            if detached:  # a foreground replay's own step events already tell its story
                self.append("session", "run_started", {"run": run_id, "steps": steps, "pid": me.pid,  # type: ignore[attr-defined]
                                                       "host": me.host, "detached": detached, "log": log_path})
        return run_id

    def run_heartbeat(self, run_id: int) -> bool:
        """Keep the run lease; False when the run was already declared dead."""
        with self._write() as db:  # type: ignore[attr-defined]
            cur = db.execute("UPDATE runs SET heartbeat_at = ? WHERE id = ? AND state = 'running'",
                             (time.time(), run_id))
        return cur.rowcount == 1

    def end_run(self, run_id: int, exit_code: int) -> None:
        with self._write() as db:  # type: ignore[attr-defined]
            db.execute("UPDATE runs SET state = 'finished', exit_code = ?, ended_at = ? WHERE id = ?",
                       (exit_code, time.time(), run_id))
            detached = db.execute("SELECT detached FROM runs WHERE id = ?", (run_id,)).fetchone()
            if detached and detached["detached"]:
                self.append("session", "run_finished", {"run": run_id, "exit_code": exit_code})  # type: ignore[attr-defined]
            self._withdraw_approvals_of(db, run_id, f"run #{run_id} ended")  # type: ignore[attr-defined]

    def run(self, run_id: int) -> Run | None:
        row = self._db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()  # type: ignore[attr-defined]
        return run_from_row(row) if row else None

    def runs(self) -> list[Run]:
        return [run_from_row(r) for r in self._db.execute("SELECT * FROM runs ORDER BY id").fetchall()]  # type: ignore[attr-defined]

    def own_run(self) -> Run | None:
        """The live run this process registered, if any (approvals it asks for die with it)."""
        row = self._db.execute(  # type: ignore[attr-defined]
            "SELECT * FROM runs WHERE state = 'running' AND pid = ? AND host = ? ORDER BY id DESC LIMIT 1",
            (self.identity.pid, self.identity.host)).fetchone()  # type: ignore[attr-defined]
        return run_from_row(row) if row else None

    def active_run(self) -> Run | None:
        """The run in progress (after noticing dead ones), or None."""
        self.reconcile()
        row = self._db.execute("SELECT * FROM runs WHERE state = 'running' ORDER BY id DESC LIMIT 1").fetchone()  # type: ignore[attr-defined]
        return run_from_row(row) if row else None

    def request_cancel(self) -> Run | None:
        """Ask the running process to stop at its next check (it marks the step interrupted)."""
        run = self.active_run()
        if run is None:
            return None
        with self._write() as db:  # type: ignore[attr-defined]
            db.execute("UPDATE runs SET cancel_requested_by = ? WHERE id = ?", (self.operator, run.id))  # type: ignore[attr-defined]
            self.append("session", "cancel_requested", {"run": run.id, "steps": run.steps})  # type: ignore[attr-defined]
        return run

    def request_pause(self, paused: bool) -> Run | None:
        """Ask the running process to pause (or go on); the request records who asked."""
        run = self.active_run()
        if run is None:
            return None
        with self._write() as db:  # type: ignore[attr-defined]
            db.execute("UPDATE runs SET pause_requested_by = ? WHERE id = ?", (self.operator, run.id))  # type: ignore[attr-defined]
            self.set_meta(f"run:{run.id}:paused", "1" if paused else "0")  # type: ignore[attr-defined]
            self.append("session", "pause_requested" if paused else "resume_requested",  # type: ignore[attr-defined]
                        {"run": run.id, "steps": run.steps})
        return run

    def pause_requested(self, run_id: int) -> bool:
        return self.get_meta(f"run:{run_id}:paused") == "1"  # type: ignore[attr-defined]

    def pause_requested_by(self, run_id: int) -> str | None:
        row = self._db.execute("SELECT pause_requested_by FROM runs WHERE id = ?", (run_id,)).fetchone()  # type: ignore[attr-defined]
        return row["pause_requested_by"] if row else None

    def cancel_requested(self, run_id: int) -> str | None:
        row = self._db.execute("SELECT cancel_requested_by FROM runs WHERE id = ?", (run_id,)).fetchone()  # type: ignore[attr-defined]
        return row["cancel_requested_by"] if row else None

    def reconcile(self) -> list[str]:
        """Notice dead runs (same host: the process is gone; elsewhere: the lease expired).

        Their 'running' steps become 'interrupted' (resume continues from their
        journal) and their pending approvals are withdrawn.  Returns the steps
        marked.  Safe to call from any process.
        """
        marked: list[str] = []
        rows = self._db.execute("SELECT * FROM runs WHERE state = 'running'").fetchall()  # type: ignore[attr-defined]
        dead = [r for r in (run_from_row(row) for row in rows) if not r.live]
        for run in dead:
            with self._bookkeeping(), self._write() as db:  # type: ignore[attr-defined]
                cur = db.execute("UPDATE runs SET state = 'dead', ended_at = ? WHERE id = ? AND state = 'running'",
                                 (time.time(), run.id))
                if cur.rowcount != 1:
                    continue  # someone else noticed first
                live_others = [run_from_row(r) for r in
                               db.execute("SELECT * FROM runs WHERE state = 'running'").fetchall()]
                busy = {s for r in live_others for s in r.steps}
                names = [r["name"] for r in db.execute("SELECT name FROM steps WHERE state = 'running'").fetchall()
                         if r["name"] in run.steps and r["name"] not in busy]
                for name in names:
                    db.execute("UPDATE steps SET state = 'interrupted', updated_at = ? WHERE name = ?",
                               (time.time(), name))
                how = ("its process is gone" if run.process_alive() is False
                       else f"no heartbeat for {run.ttl_s:g}s")
                self.append("session", "run_died", {"run": run.id, "pid": run.pid, "host": run.host,  # type: ignore[attr-defined]
                                                    "steps_interrupted": names, "how": how,
                                                    "last_heartbeat": run.heartbeat_at})
                for name in names:
                    self.append(name, "step_interrupted",  # type: ignore[attr-defined]
                                {"reason": f"its {'worker' if run.detached else 'replay'} (pid {run.pid}) died",
                                 "run": run.id})
                self._withdraw_approvals_of(db, run.id, f"run #{run.id} died")  # type: ignore[attr-defined]
            marked.extend(names)
        with self._bookkeeping():  # type: ignore[attr-defined]
            self._withdraw_orphaned_requests()  # type: ignore[attr-defined]
        return marked
