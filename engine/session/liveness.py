"""Is the process behind a heartbeat (the driver's seat, a run) alive?  Judged from what this host sees.

Two things were trusted wrongly before.  On this host the pid alone decided, so a worker stopped with
SIGSTOP (ctrl+z, a debugger, a frozen container) counted as running for ever.  On another host the
writer's wall clock was compared with the reader's, so a reader whose clock ran ahead by more than the
lease time took a live remote driver for dead (and one running behind kept a dead one alive).

Now a heartbeat is a value that changes while its writer lives, and nothing more: its time is never
compared with another host's clock.  This host notes when it first saw each value (a *sighting*:
this host's monotonic clock, kept in the session so that a later command on this host continues the
watch) and a heartbeat that has not changed for the lease time, by this host's own clock, has stopped.
On the writer's own host the wall clock is the same clock, so the heartbeat's age is read directly,
and the process itself is a second signal: gone is dead at once; present but silent is *not
responding* (with what ``/proc`` says: stopped, or running without a heartbeat), never "running" and
never silently "dead".
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any


ALIVE = "alive"
"""The heartbeat changed within the lease time (or this host has only just started watching it)."""
NOT_RESPONDING = "not responding"
"""This host: the process is there but has sent no heartbeat for the lease time (stopped, hung)."""
GONE = "gone"
"""This host: the process is gone (or its pid belongs to another process now)."""
SILENT = "silent"
"""Another host: no heartbeat change seen from here for the lease time; its process cannot be checked."""


@dataclass(frozen=True)
class Pulse:
    """What this host knows of one heartbeat, and how it knows it."""

    state: str
    quiet_s: float
    """Seconds without a heartbeat change, measured on this host's own clock."""
    quiet_since: float | None
    """This host's wall-clock time of the last heartbeat it knows of (for "since HH:MM")."""
    ttl_s: float
    process: str | None = None
    """What this host's ``/proc`` says of the process (``stopped``, ``running``...); None elsewhere."""
    pid: int | None = None
    watched_s: float | None = None
    """Another host: how long this host has watched the current value (None on the writer's host)."""
    unconfirmed: bool = False
    """Another host: this host started watching less than the lease time ago and has not yet seen the
    heartbeat change, so "alive" is only the benefit of the doubt (a long-dead writer looks the same)."""
    stuck_in: str | None = None
    """The heartbeat goes on, but the thread that runs the steps has not run since :attr:`quiet_since` (a
    hang the heartbeat thread cannot hide): where that thread waits, as its own process saw it."""
    clock_of: str | None = None
    """Whose wall clock :attr:`quiet_since` is read on, when it is not this host's."""

    @property
    def alive(self) -> bool:
        return self.state == ALIVE

    @property
    def stopped(self) -> bool:
        """Past the lease time without a heartbeat (not responding, gone or silent)."""
        return self.state != ALIVE

    def since(self) -> str:
        return clock_text(self.quiet_since) + (f" by {self.clock_of}'s clock" if self.clock_of else "")

    def short(self) -> str:
        """'not responding since 00:41:05Z (pid 42 is stopped)': for one-line lists."""
        if self.state == NOT_RESPONDING and self.stuck_in is not None:
            return f"not responding since {self.since()} (pid {self.pid}: its steps wait in {self.stuck_in})"
        if self.state == NOT_RESPONDING:
            what = {"stopped": "is stopped", "disk sleep": "is blocked in the kernel"}.get(self.process or "",
                                                                                           "sends no heartbeat")
            return f"not responding since {self.since()} (pid {self.pid} {what})"
        return self.words()

    def words(self) -> str:
        """'not responding since 00:41:05Z (its process, pid 42, is stopped: SIGSTOP or ctrl+z; ...)'."""
        if self.state == NOT_RESPONDING and self.stuck_in is not None:
            return (f"not responding since {self.since()} (its process, pid {self.pid}, still sends a heartbeat, but "
                    f"the thread that runs its steps has not run since then and no work was recorded: it waits in "
                    f"{self.stuck_in}; a deadlock or a network call that never answers looks like this. It may "
                    f"still go on by itself; `kill -9 {self.pid}` ends it (its step is then interrupted, "
                    "for `session resume`))")
        if self.state == NOT_RESPONDING:
            how = {"stopped": "is stopped (SIGSTOP, ctrl+z or a debugger): `kill -CONT {pid}` lets it go on; "
                              "`kill -9 {pid}` ends it (its step is then interrupted, for `session resume`)",
                   "disk sleep": "is blocked in the kernel (disk or network filesystem I/O)"}.get(
                self.process or "", "is there but sends no heartbeat (hung?)").format(pid=self.pid)
            return f"not responding since {self.since()} (its process, pid {self.pid}, {how})"
        if self.state == SILENT:
            return (f"no heartbeat seen for {self.quiet_s:.0f}s, since {self.since()} by this host's clock "
                    "(it runs on another host: its process cannot be checked from here)")
        if self.state == GONE:
            return f"its process (pid {self.pid}) is gone"
        if self.unconfirmed:
            return (f"not yet confirmed from this host (first look {self.quiet_s:.0f}s ago; it runs on another host, "
                    f"so it counts as alive until this host has seen no heartbeat for {self.ttl_s:g}s)")
        return "alive"


def clock_text(ts: float | None) -> str:
    return time.strftime("%H:%M:%SZ", time.gmtime(ts)) if ts is not None else "?"


def process_state(pid: int) -> str | None:
    """What Linux says the process is doing: 'stopped', 'disk sleep', 'running'...; None when unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            code = fh.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None
    return {b"T": "stopped", b"t": "stopped", b"D": "disk sleep", b"R": "running", b"S": "sleeping"}.get(
        code, code.decode(errors="replace"))


def thread_ran(native_id: int) -> tuple[int, ...] | None:
    """How much a thread of this process has run so far (CPU time and times scheduled, from ``/proc``): a value
    that changes whenever the thread runs at all, even a loop that only sleeps and looks for a cancel; None
    where ``/proc`` does not say (not Linux), and then nobody can tell a hang from a long wait."""
    import os

    task = f"/proc/{os.getpid()}/task/{native_id}"
    try:
        with open(f"{task}/schedstat", "rb") as fh:
            runtime_ns, _, slices = fh.read().split()[:3]
        return int(runtime_ns), int(slices)
    except (OSError, ValueError):
        pass
    try:
        with open(f"{task}/status", "rb") as fh:
            return tuple(int(line.split()[1]) for line in fh if b"ctxt_switches" in line)
    except (OSError, ValueError, IndexError):
        return None


def where_thread_waits(ident: int) -> str:
    """'socket.py:717 in readinto, from engine/transfer/backends/s3.py:120 in get': the innermost frame of a
    thread of this process, and the innermost of gpumigrate's own (engine/, tui/) when that is another."""
    import sys

    frame = sys._current_frames().get(ident)  # noqa: SLF001 - the only way to see where another thread waits
    if frame is None:
        return "(a thread that has ended)"

    def text(f: Any) -> str:
        path = f.f_code.co_filename.replace("\\", "/")
        for root in ("/engine/", "/tui/"):
            if root in path:
                path = root[1:] + path.rsplit(root, 1)[1]
                break
        else:
            path = path.rsplit("/", 1)[-1]
        return f"{path}:{f.f_lineno} in {f.f_code.co_name}"

    inner, own = text(frame), None
    walk = frame
    while walk is not None:
        if any(root in walk.f_code.co_filename for root in ("/engine/", "/tui/")):
            own = text(walk)
            break
        walk = walk.f_back
    return inner if own is None or own == inner else f"{inner}, from {own}"


def observer() -> str:
    """This host and boot: whose monotonic clock a sighting was measured on."""
    from engine.session.runs import _boot_id

    import socket

    return f"{socket.gethostname()}/{_boot_id() or 'unknown-boot'}"


class LivenessMixin:
    """Mixed into :class:`engine.session.store.SessionStore`: judging heartbeats, and remembering sightings."""

    def pulse(self, what: str, key: str, *, pid: int | None, host: str | None, proc_start: str | None,
              heartbeat_at: float, ttl_s: float) -> Pulse:
        """Judge one heartbeat (``what``/``key``: 'lease'/holder or 'run'/id) as this host sees it."""
        from engine.session.runs import same_process

        now = time.time()
        if pid and host == self.identity.host:  # type: ignore[attr-defined]
            quiet = max(0.0, now - heartbeat_at)  # the writer's clock is ours
            if not same_process(pid, proc_start):
                return Pulse(GONE, quiet, heartbeat_at, ttl_s, None, pid)
            if quiet <= ttl_s:
                return Pulse(ALIVE, quiet, heartbeat_at, ttl_s, None, pid)
            return Pulse(NOT_RESPONDING, quiet, heartbeat_at, ttl_s, process_state(pid) or "unknown", pid)
        mono = time.monotonic()
        seen = self._sighting(what, key, heartbeat_at, mono, now)
        quiet = max(0.0, mono - seen[0])
        state = SILENT if quiet > ttl_s else ALIVE
        unconfirmed = state == ALIVE and seen[2] is not None and seen[2] == seen[0]  # never seen it change
        return Pulse(state, quiet, seen[1], ttl_s, None, pid, watched_s=quiet, unconfirmed=unconfirmed)

    def _sighting(self, what: str, key: str, value: float, mono: float,
                  wall: float) -> tuple[float, float, float | None]:
        """(this host's monotonic, wall) time when it first saw ``value`` as this heartbeat, and when it first
        saw this heartbeat at all (monotonic; equal to the first when no change was ever seen); recorded here."""
        import sqlite3

        me = observer()
        cache: dict[tuple[str, str], tuple[float, float, float, float | None]] = self.__dict__.setdefault(
            "_sightings", {})
        known = cache.get((what, key))
        if known is not None and known[0] == value:
            return known[1], known[2], known[3]
        first: float | None = known[3] if known is not None else mono
        try:
            row = self._db.execute(  # type: ignore[attr-defined]
                "SELECT value, mono, wall, first_mono FROM sightings WHERE what = ? AND key = ? AND observer = ?",
                (what, key, me)).fetchone()
            if row is not None and row["mono"] <= mono:
                first = row["first_mono"]
                if row["value"] == value:
                    cache[(what, key)] = (value, row["mono"], row["wall"], first)
                    return row["mono"], row["wall"], first
            with self._bookkeeping(), self._write() as db:  # type: ignore[attr-defined]
                prune_sightings(db)
                db.execute("INSERT INTO sightings(what, key, observer, value, mono, wall, first_mono) "
                           "VALUES(?, ?, ?, ?, ?, ?, ?) ON CONFLICT(what, key, observer) DO UPDATE SET "
                           "value = excluded.value, mono = excluded.mono, wall = excluded.wall",
                           (what, key, me, value, mono, wall, mono))
        except sqlite3.Error:  # a read-only copy: this process's own watch still counts
            pass
        cache[(what, key)] = (value, mono, wall, first)
        return mono, wall, first


def prune_sightings(db: Any) -> None:
    """Inside a write: forget the sightings of what is no longer there to watch (a run that ended or died, a
    seat holder that let go, an app that detached or was reaped), so that a long session keeps one row per
    live heartbeat and observing host, not one for everything that ever beat."""
    db.execute("DELETE FROM sightings WHERE "
               "(what = 'run' AND key NOT IN (SELECT CAST(id AS TEXT) FROM runs WHERE state = 'running')) "
               "OR (what = 'lease' AND key NOT IN (SELECT holder FROM lease)) "
               "OR (what = 'client' AND key NOT IN (SELECT holder FROM clients))")


def lease_pulse(store: Any, row: Any) -> Pulse:
    return store.pulse("lease", str(row["holder"]), pid=row["pid"], host=row["host"], proc_start=row["proc_start"],
                       heartbeat_at=row["heartbeat_at"], ttl_s=row["ttl_s"])
