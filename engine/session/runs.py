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
from dataclasses import dataclass, field
from typing import Any

from engine.errors import EnvironmentProblem
from engine.session.liveness import prune_sightings

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

    pulse: Any = field(default=None, compare=False, repr=False)
    """How this host judges the run's heartbeat (:class:`engine.session.liveness.Pulse`), set by the store."""

    def expired(self) -> bool:
        """No heartbeat for the lease time, as this host measures it (never another host's clock)."""
        return self.pulse is not None and self.pulse.quiet_s > self.pulse.ttl_s

    def process_alive(self) -> bool | None:
        """True/False when the process is on this host; None when it runs elsewhere."""
        if self.host != socket.gethostname():
            return None
        return same_process(self.pid, self.proc_start)  # a reused pid is not the run's process

    @property
    def live(self) -> bool:
        """Running and heard from: a process that is there but sends no heartbeat (stopped, hung) is not."""
        return self.state == "running" and self.pulse is not None and self.pulse.alive

    @property
    def not_responding(self) -> bool:
        """Its process is on this host but silent past the lease time: neither running nor dead."""
        from engine.session.liveness import NOT_RESPONDING

        return self.state == "running" and self.pulse is not None and self.pulse.state == NOT_RESPONDING

    @property
    def gone(self) -> bool:
        """To be declared dead: its process is gone (this host), or silent past the lease time (another host)."""
        from engine.session.liveness import GONE, SILENT

        return self.state == "running" and self.pulse is not None and self.pulse.state in (GONE, SILENT)

    def where(self) -> str:
        kind = "worker" if self.detached else "replay"
        return f"{self.operator}'s {kind} (pid {self.pid} on {self.host})"

    def busy_words(self) -> str:
        """Why this run still holds the session, as far as this host can tell (for 'is busy' errors)."""
        since = time.strftime("%H:%M:%SZ", time.gmtime(self.started_at))
        base = f"{self.where()} is running {', '.join(self.steps)} since {since}"
        if self.not_responding:
            return f"{self.where()}, started {since} for {', '.join(self.steps)}, is {self.pulse.words()}"
        if self.pulse is not None and self.pulse.unconfirmed:
            return f"{base} ({self.pulse.words()})"
        if self.pulse is not None and self.pulse.watched_s is not None:
            return (f"{base}; this host saw its heartbeat change {self.pulse.quiet_s:.0f}s ago (it counts as dead "
                    f"after {self.ttl_s:g}s without one, as seen from here)")
        return base


def run_from_row(row: Any, store: Any = None) -> Run:
    """A run from its row; with ``store``, judged as that store's host sees its heartbeat (see :attr:`Run.pulse`)."""
    data = dict(row)
    data["steps"] = json.loads(data["steps"])
    data["detached"] = bool(data["detached"])
    if store is not None and data["state"] == "running":
        pulse = store.pulse("run", str(data["id"]), pid=data["pid"], host=data["host"],
                            proc_start=data.get("proc_start"), heartbeat_at=data["heartbeat_at"], ttl_s=data["ttl_s"])
        stuck = store.get_meta(f"run:{data['id']}:stalled") if pulse.alive else None
        if stuck:  # its heartbeat goes on, but its own process saw the steps' thread stand still (RunLease)
            from dataclasses import replace

            from engine.session.liveness import NOT_RESPONDING

            info = json.loads(stuck)
            pulse = replace(pulse, state=NOT_RESPONDING, quiet_since=info["since"], stuck_in=info["where"],
                            process=None, unconfirmed=False,
                            clock_of=None if data["host"] == socket.gethostname() else data["host"])
        data["pulse"] = pulse
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
                other = run_from_row(row, self)
                if not other.gone:  # alive, or stopped but still there: a second copy beside it is refused
                    raise SessionBusy(
                        f"session {self.name!r} is busy: {other.busy_words()}; "  # type: ignore[attr-defined]
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

    def set_stalled(self, run_id: int, since: float | None = None, where: str = "") -> None:
        """Said by the run's own process: the thread that runs its steps has not run since ``since`` (wall clock)
        and no work was recorded, though its heartbeat goes on; ``since`` None: it moves again."""
        value = json.dumps({"since": since, "where": where}) if since is not None else ""
        self.set_meta(f"run:{run_id}:stalled", value)  # type: ignore[attr-defined]

    def end_run(self, run_id: int, exit_code: int) -> None:
        with self._write() as db:  # type: ignore[attr-defined]
            db.execute("UPDATE runs SET state = 'finished', exit_code = ?, ended_at = ? WHERE id = ?",
                       (exit_code, time.time(), run_id))
            detached = db.execute("SELECT detached FROM runs WHERE id = ?", (run_id,)).fetchone()
            if detached and detached["detached"]:
                self.append("session", "run_finished", {"run": run_id, "exit_code": exit_code})  # type: ignore[attr-defined]
            self._withdraw_approvals_of(db, run_id, f"run #{run_id} ended")  # type: ignore[attr-defined]
            prune_sightings(db)

    def run(self, run_id: int) -> Run | None:
        row = self._db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()  # type: ignore[attr-defined]
        return run_from_row(row, self) if row else None

    def runs(self) -> list[Run]:
        return [run_from_row(r, self) for r in self._db.execute("SELECT * FROM runs ORDER BY id").fetchall()]  # type: ignore[attr-defined]

    def own_run(self) -> Run | None:
        """The live run this process registered, if any (approvals it asks for die with it)."""
        row = self._db.execute(  # type: ignore[attr-defined]
            "SELECT * FROM runs WHERE state = 'running' AND pid = ? AND host = ? ORDER BY id DESC LIMIT 1",
            (self.identity.pid, self.identity.host)).fetchone()  # type: ignore[attr-defined]
        return run_from_row(row, self) if row else None

    def active_run(self) -> Run | None:
        """The run in progress (after noticing dead ones), or None."""
        self.reconcile()
        row = self._db.execute("SELECT * FROM runs WHERE state = 'running' ORDER BY id DESC LIMIT 1").fetchone()  # type: ignore[attr-defined]
        return run_from_row(row, self) if row else None

    def silent_runs(self) -> list[Run]:
        """Runs recorded running whose process (on this host) is there but sends no heartbeat: their steps
        are neither running nor dead, and front ends say "not responding since ..." (a read; no reconcile)."""
        rows = self._db.execute("SELECT * FROM runs WHERE state = 'running'").fetchall()  # type: ignore[attr-defined]
        return [r for r in (run_from_row(row, self) for row in rows) if r.not_responding]

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
        """Notice dead runs (this host: the process is gone; elsewhere: no heartbeat change seen from here
        for the lease time) and silent ones (this host: the process is there but sends no heartbeat).

        A dead run's 'running' steps become 'interrupted' (resume continues from their journal) and its
        pending approvals are withdrawn.  A silent run is left as it is (its process may go on: a second
        copy beside it is refused) and one ``run_not_responding`` event says so, with what is known;
        ``run_responding`` follows if it beats again.  Returns the steps marked interrupted.  Safe to call
        from any process."""
        marked: list[str] = []
        rows = self._db.execute("SELECT * FROM runs WHERE state = 'running'").fetchall()  # type: ignore[attr-defined]
        judged = [run_from_row(row, self) for row in rows]
        for run in judged:
            self._note_silence(run)
        for run in [r for r in judged if r.gone]:
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
                       else run.pulse.words() if run.pulse is not None else f"no heartbeat for {run.ttl_s:g}s")
                self.append("session", "run_died", {"run": run.id, "pid": run.pid, "host": run.host,  # type: ignore[attr-defined]
                                                    "steps_interrupted": names, "how": how,
                                                    "last_heartbeat": run.heartbeat_at})
                for name in names:
                    self.append(name, "step_interrupted",  # type: ignore[attr-defined]
                                {"reason": f"its {'worker' if run.detached else 'replay'} (pid {run.pid}) died",
                                 "run": run.id})
                self._withdraw_approvals_of(db, run.id, f"run #{run.id} died")  # type: ignore[attr-defined]
                prune_sightings(db)
            marked.extend(names)
        with self._bookkeeping():  # type: ignore[attr-defined]
            self._withdraw_orphaned_requests()  # type: ignore[attr-defined]
        return marked

    def _note_silence(self, run: Run) -> None:
        """One event when a run on this host stops responding (and one when it beats again): every follower
        (app, tail) shows it, instead of a step that says running for ever."""
        key = f"run:{run.id}:not_responding"
        noted = self.get_meta(key)  # type: ignore[attr-defined]
        # A silent heartbeat is one value; a stuck thread beside a beating heartbeat is one stall (its start).
        mark = (f"stuck {run.pulse.quiet_since!r}" if run.not_responding and run.pulse.stuck_in is not None
                else repr(run.heartbeat_at))
        if run.not_responding and noted != mark:
            with self._bookkeeping(), self._write():  # type: ignore[attr-defined]
                if self.get_meta(key) == mark:  # type: ignore[attr-defined]
                    return  # another process noted it first
                self.set_meta(key, mark)  # type: ignore[attr-defined]
                self.append("session", "run_not_responding", {  # type: ignore[attr-defined]
                    "run": run.id, "pid": run.pid, "host": run.host, "steps": run.steps,
                    "since": run.pulse.quiet_since, "process": run.pulse.process, "stuck_in": run.pulse.stuck_in,
                    "words": run.pulse.words()})
        elif noted and run.live:
            with self._bookkeeping(), self._write():  # type: ignore[attr-defined]
                if not self.get_meta(key):  # type: ignore[attr-defined]
                    return
                self.set_meta(key, "")  # type: ignore[attr-defined]
                self.append("session", "run_responding", {"run": run.id, "pid": run.pid, "steps": run.steps})  # type: ignore[attr-defined]
