"""The session store: one SQLite file (WAL) per cutover session.

It is the spine of a cutover.  Several processes open the same file at once:
the process that drives (holding the lease), workers running long steps, and
any number of watchers following the event log by sequence number.  SQLite in
WAL mode gives every reader a consistent snapshot while one writer appends, and
``BEGIN IMMEDIATE`` serialises the few read-modify-write operations (the lease,
approvals).

Nothing secret is written: every payload passes through :func:`redact`.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import socket
import sqlite3
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from engine.errors import BadInputError, EnvironmentProblem, GpumigrateError
from engine.events import Event
from engine.model_base import NAME_PATTERN
from engine.secrets import redact, redact_data

STEP_STATES = ("pending", "running", "completed", "failed", "interrupted", "incomplete", "skipped")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS steps (
    name TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 0,
    started_at REAL,
    finished_at REAL,
    updated_at REAL NOT NULL,
    profile_digest TEXT,
    result TEXT
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    operator TEXT NOT NULL,
    step TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS lease (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    holder TEXT NOT NULL,
    operator TEXT NOT NULL,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    acquired_at REAL NOT NULL,
    heartbeat_at REAL NOT NULL,
    ttl_s REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS approvals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    action TEXT NOT NULL,
    detail TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    decided_by TEXT,
    decided_at REAL
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    holder TEXT NOT NULL,
    operator TEXT NOT NULL,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    steps TEXT NOT NULL,
    detached INTEGER NOT NULL DEFAULT 0,
    log_path TEXT,
    started_at REAL NOT NULL,
    heartbeat_at REAL NOT NULL,
    ttl_s REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'running',
    exit_code INTEGER,
    ended_at REAL,
    cancel_requested_by TEXT
);
CREATE TABLE IF NOT EXISTS control_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    holder TEXT NOT NULL,
    operator TEXT NOT NULL,
    requested_at REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    decided_by TEXT,
    decided_at REAL
);
CREATE TABLE IF NOT EXISTS clients (
    holder TEXT PRIMARY KEY,
    operator TEXT NOT NULL,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    kind TEXT NOT NULL,
    attached_at REAL NOT NULL,
    seen_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS runbook_ticks (
    item TEXT PRIMARY KEY,
    ticked_by TEXT NOT NULL,
    ticked_at REAL NOT NULL,
    note TEXT NOT NULL DEFAULT ''
);
"""

RUN_STATES = ("running", "finished", "dead")
OPERATOR_ENV = "GPUMIGRATE_OPERATOR"
"""Overrides the login name recorded as the operator (one per process: tests, shared accounts)."""


def operator_name() -> str:
    """The login name recorded with every action (the audit trail's 'who').

    ``$GPUMIGRATE_OPERATOR`` overrides it for the process (e.g. two people sharing
    one service account on a jump host each set their own name).
    """
    override = os.environ.get(OPERATOR_ENV, "").strip()
    if override:
        if not re.match(NAME_PATTERN, override):
            raise BadInputError(f"{OPERATOR_ENV}={override!r}: use letters, digits, '.', '_' and '-'")
        return override
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        return f"uid{os.getuid()}"


def state_dir() -> Path:
    """Where sessions live: ``$GPUMIGRATE_STATE_DIR`` or the platform's user state dir."""
    override = os.environ.get("GPUMIGRATE_STATE_DIR")
    if override:
        return Path(override)
    from platformdirs import user_state_dir

    return Path(user_state_dir("gpumigrate"))


def sessions_dir() -> Path:
    return state_dir() / "sessions"


def session_path(name: str) -> Path:
    if not re.match(NAME_PATTERN, name):
        raise BadInputError(
            f"session name {name!r} is not allowed: use letters, digits, '.', '_' and '-' (at most 128)"
        )
    return sessions_dir() / f"{name}.sqlite"


def list_sessions() -> list[str]:
    folder = sessions_dir()
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.sqlite"))


@dataclass(frozen=True)
class Lease:
    """Who drives a session, and whether they are still alive."""

    holder: str
    operator: str
    pid: int
    host: str
    acquired_at: float
    heartbeat_at: float
    ttl_s: float

    def expired(self, now: float | None = None) -> bool:
        return (now or time.time()) - self.heartbeat_at > self.ttl_s


@dataclass(frozen=True)
class Run:
    """One process running steps for the session (a detached worker or a foreground replay).

    Its heartbeat is the run lease: a run whose heartbeat is older than ``ttl_s``
    and whose process is gone has died, and the step it was running is interrupted.
    """

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

    def expired(self, now: float | None = None) -> bool:
        return (now or time.time()) - self.heartbeat_at > self.ttl_s

    def process_alive(self) -> bool | None:
        """True/False when the process is on this host; None when it runs elsewhere."""
        if self.host != socket.gethostname():
            return None
        return pid_alive(self.pid)

    @property
    def live(self) -> bool:
        """Still running as far as anyone can tell from here."""
        if self.state != "running":
            return False
        alive = self.process_alive()
        if alive is False and self.expired():
            return False
        return not self.expired() or alive is True


@dataclass(frozen=True)
class ControlRequest:
    """A watcher asking the driver for the driver's seat."""

    id: int
    holder: str
    operator: str
    requested_at: float
    state: str
    decided_by: str | None
    decided_at: float | None


@dataclass(frozen=True)
class Client:
    """A process attached to the session (a TUI, a tail, a browser tab)."""

    holder: str
    operator: str
    pid: int
    host: str
    kind: str
    attached_at: float
    seen_at: float


@dataclass(frozen=True)
class Tick:
    """A runbook item ticked by someone."""

    item: str
    ticked_by: str
    ticked_at: float
    note: str


def pid_alive(pid: int) -> bool:
    """Is a process with this pid running here (zombies count as dead)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().rsplit(b")", 1)[1].split()[0]
        return state not in (b"Z", b"X")
    except (OSError, IndexError):
        return True


@dataclass(frozen=True)
class StoredEvent:
    """One row of the audit log."""

    seq: int
    ts: float
    operator: str
    step: str
    kind: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class StepRecord:
    name: str
    state: str
    attempt: int
    started_at: float | None
    finished_at: float | None
    updated_at: float
    profile_digest: str | None
    result: dict[str, Any] | None


@dataclass(frozen=True)
class Approval:
    id: int
    action: str
    detail: str
    requested_by: str
    requested_at: float
    state: str
    decided_by: str | None
    decided_at: float | None


def new_holder_id() -> str:
    """A lease holder id unique to this process and call."""
    return f"{operator_name()}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class SessionStore:
    """A handle on one session file. Cheap to open; open one per thread or process."""

    def __init__(self, path: Path, operator: str | None = None):
        self.path = Path(path)
        self.name = self.path.stem
        self.operator = operator or operator_name()
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=30000")
        self._db.executescript(_SCHEMA)

    # --- opening -----------------------------------------------------------

    @classmethod
    def open(cls, name: str, create: bool = True, operator: str | None = None) -> "SessionStore":
        """Open (or create) the named session under the state directory."""
        path = session_path(name)
        if not path.exists():
            if not create:
                raise BadInputError(f"no session named {name!r} (see `gpumigrate session list`)")
            _make_private_dir(path.parent)
            fd = os.open(path, os.O_CREAT | os.O_RDWR, _file_mode(path.parent))
            os.close(fd)
        elif not os.access(path, os.R_OK | os.W_OK):
            raise EnvironmentProblem(_sharing_hint(name, path, "permission denied"))
        try:
            store = cls(path, operator)
        except sqlite3.OperationalError as exc:
            raise EnvironmentProblem(_sharing_hint(name, path, str(exc))) from None
        if store.get_meta("created_at") is None:
            store.set_meta("created_at", repr(time.time()))
            store.set_meta("created_by", store.operator)
        return store

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "SessionStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        else:
            self._db.execute("COMMIT")

    # --- meta --------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row["value"] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, redact(value)),
        )

    # --- events ------------------------------------------------------------

    def append(self, step: str, kind: str, payload: dict[str, Any] | None = None,
               operator: str | None = None) -> int:
        """Append one event to the audit log; returns its sequence number."""
        text = json.dumps(redact_data(json.loads(json.dumps(payload or {}, default=str))), ensure_ascii=False)
        cur = self._db.execute(
            "INSERT INTO events(ts, operator, step, kind, payload) VALUES(?, ?, ?, ?, ?)",
            (time.time(), operator or self.operator, step, kind, text),
        )
        return int(cur.lastrowid or 0)

    def record(self, event: Event) -> int:
        """Append an engine event (the runner's sink)."""
        data = event.to_dict()
        data.pop("step", None)
        kind = data.pop("event")
        return self.append(event.step, kind, data)

    def events_after(self, seq: int = 0, limit: int = 10_000) -> list[StoredEvent]:
        rows = self._db.execute(
            "SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)
        ).fetchall()
        return [
            StoredEvent(r["seq"], r["ts"], r["operator"], r["step"], r["kind"], json.loads(r["payload"]))
            for r in rows
        ]

    def last_seq(self) -> int:
        row = self._db.execute("SELECT MAX(seq) AS m FROM events").fetchone()
        return int(row["m"] or 0)

    def follow(self, after: int = 0, poll_s: float = 0.05, stop: Any = None) -> Iterator[StoredEvent]:
        """Yield events as they are appended, forever (or until ``stop()`` is true)."""
        seq = after
        while not (stop and stop()):
            batch = self.events_after(seq)
            for event in batch:
                seq = event.seq
                yield event
            if not batch:
                time.sleep(poll_s)

    # --- steps -------------------------------------------------------------

    def set_step(self, name: str, state: str, result: dict[str, Any] | None = None,
                 profile_digest: str | None = None) -> None:
        if state not in STEP_STATES:
            raise ValueError(f"unknown step state {state!r}")
        now = time.time()
        with self._write() as db:
            row = db.execute("SELECT attempt FROM steps WHERE name = ?", (name,)).fetchone()
            attempt = (row["attempt"] if row else 0) + (1 if state == "running" else 0)
            db.execute(
                """INSERT INTO steps(name, state, attempt, started_at, finished_at, updated_at, profile_digest, result)
                   VALUES(?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(name) DO UPDATE SET
                     state = excluded.state, attempt = excluded.attempt,
                     started_at = COALESCE(CASE WHEN excluded.state = 'running' THEN excluded.started_at END, steps.started_at),
                     finished_at = excluded.finished_at, updated_at = excluded.updated_at,
                     profile_digest = COALESCE(excluded.profile_digest, steps.profile_digest),
                     result = COALESCE(excluded.result, steps.result)""",
                (
                    name, state, attempt,
                    now if state == "running" else None,
                    now if state in ("completed", "failed", "incomplete", "skipped") else None,
                    now, profile_digest,
                    json.dumps(redact_data(json.loads(json.dumps(result, default=str))))
                    if result is not None else None,
                ),
            )

    def steps(self) -> dict[str, StepRecord]:
        rows = self._db.execute("SELECT * FROM steps").fetchall()
        return {
            r["name"]: StepRecord(
                r["name"], r["state"], r["attempt"], r["started_at"], r["finished_at"], r["updated_at"],
                r["profile_digest"], json.loads(r["result"]) if r["result"] else None,
            )
            for r in rows
        }

    def step(self, name: str) -> StepRecord | None:
        return self.steps().get(name)

    # --- the driver lease --------------------------------------------------

    def lease(self) -> Lease | None:
        row = self._db.execute("SELECT * FROM lease WHERE id = 1").fetchone()
        if not row:
            return None
        return Lease(row["holder"], row["operator"], row["pid"], row["host"], row["acquired_at"],
                     row["heartbeat_at"], row["ttl_s"])

    def acquire_lease(self, holder: str, ttl_s: float = 15.0, force: bool = False) -> bool:
        """Become the driver if nobody alive is, or if ``force``; True when we hold it."""
        now = time.time()
        with self._write() as db:
            row = db.execute("SELECT holder, heartbeat_at, ttl_s FROM lease WHERE id = 1").fetchone()
            free = row is None or row["holder"] == holder or now - row["heartbeat_at"] > row["ttl_s"]
            if not (free or force):
                return False
            previous = row["holder"] if row else None
            db.execute(
                """INSERT INTO lease(id, holder, operator, pid, host, acquired_at, heartbeat_at, ttl_s)
                   VALUES(1, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(id) DO UPDATE SET holder = excluded.holder, operator = excluded.operator,
                     pid = excluded.pid, host = excluded.host,
                     acquired_at = CASE WHEN lease.holder = excluded.holder THEN lease.acquired_at ELSE excluded.acquired_at END,
                     heartbeat_at = excluded.heartbeat_at, ttl_s = excluded.ttl_s""",
                (holder, self.operator, os.getpid(), socket.gethostname(), now, now, ttl_s),
            )
        if previous != holder:
            self.append("session", "lease_acquired", {"holder": holder, "previous": previous, "forced": force})
        return True

    def heartbeat(self, holder: str) -> bool:
        """Keep the lease alive; False means it was lost (expired and taken, or handed over)."""
        cur = self._db.execute(
            "UPDATE lease SET heartbeat_at = ? WHERE id = 1 AND holder = ?", (time.time(), holder)
        )
        return cur.rowcount == 1

    def release_lease(self, holder: str) -> None:
        cur = self._db.execute("DELETE FROM lease WHERE id = 1 AND holder = ?", (holder,))
        if cur.rowcount:
            self.append("session", "lease_released", {"holder": holder})

    def transfer_lease(self, holder: str, to_holder: str, to_operator: str) -> bool:
        """Hand the driver's seat to another holder (the driver accepting a request)."""
        with self._write() as db:
            cur = db.execute(
                "UPDATE lease SET holder = ?, operator = ?, acquired_at = ?, heartbeat_at = ? WHERE id = 1 AND holder = ?",
                (to_holder, to_operator, time.time(), time.time(), holder),
            )
            ok = cur.rowcount == 1
        if ok:
            self.append("session", "lease_handed_over", {"from": holder, "to": to_holder, "to_operator": to_operator})
        return ok

    # --- approvals ---------------------------------------------------------

    def request_approval(self, action: str, detail: str) -> int:
        cur = self._db.execute(
            "INSERT INTO approvals(action, detail, requested_by, requested_at) VALUES(?, ?, ?, ?)",
            (action, redact(detail), self.operator, time.time()),
        )
        approval_id = int(cur.lastrowid or 0)
        self.append("session", "approval_requested", {"id": approval_id, "action": action, "detail": detail})
        return approval_id

    def decide_approval(self, approval_id: int, approve: bool) -> Approval:
        """Approve or decline; the approver must be a different login name than the requester."""
        with self._write() as db:
            row = db.execute("SELECT * FROM approvals WHERE id = ?", (approval_id,)).fetchone()
            if row is None:
                raise BadInputError(f"no approval request #{approval_id}")
            if row["state"] != "pending":
                raise BadInputError(f"approval #{approval_id} was already {row['state']} by {row['decided_by']}")
            if approve and row["requested_by"] == self.operator:
                raise BadInputError(
                    f"approval #{approval_id} needs a second person: {self.operator} requested it "
                    "and cannot approve it too"
                )
            state = "approved" if approve else "declined"
            db.execute(
                "UPDATE approvals SET state = ?, decided_by = ?, decided_at = ? WHERE id = ?",
                (state, self.operator, time.time(), approval_id),
            )
        self.append("session", f"approval_{state}", {"id": approval_id, "action": row["action"],
                                                     "requested_by": row["requested_by"]})
        return self.approval(approval_id)  # type: ignore[return-value]

    def approval(self, approval_id: int) -> Approval | None:
        row = self._db.execute("SELECT * FROM approvals WHERE id = ?", (approval_id,)).fetchone()
        return Approval(**dict(row)) if row else None

    def approvals(self, state: str | None = None) -> list[Approval]:
        if state:
            rows = self._db.execute("SELECT * FROM approvals WHERE state = ? ORDER BY id", (state,)).fetchall()
        else:
            rows = self._db.execute("SELECT * FROM approvals ORDER BY id").fetchall()
        return [Approval(**dict(r)) for r in rows]

    # --- runs (the run lease of whoever runs steps) --------------------------

    def begin_run(self, holder: str, steps: list[str], ttl_s: float, *, detached: bool = False,
                  log_path: str | None = None) -> int:
        """Register this process as the session's runner; refuses while another run is alive."""
        self.reconcile()
        now = time.time()
        with self._write() as db:
            for row in db.execute("SELECT * FROM runs WHERE state = 'running'").fetchall():
                other = _run_from_row(row)
                if other.live:
                    raise GpumigrateError(
                        f"session {self.name!r} is busy: {other.operator}'s "
                        f"{'worker' if other.detached else 'replay'} (pid {other.pid} on {other.host}) is "
                        f"running {', '.join(other.steps)}; follow it with `gpumigrate session tail {self.name}`"
                    )
            cur = db.execute(
                """INSERT INTO runs(holder, operator, pid, host, steps, detached, log_path, started_at,
                                    heartbeat_at, ttl_s) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (holder, self.operator, os.getpid(), socket.gethostname(), json.dumps(steps),
                 int(detached), log_path, now, now, ttl_s),
            )
            run_id = int(cur.lastrowid or 0)
        if detached:  # a foreground replay's own step events already tell its story
            self.append("session", "run_started", {"run": run_id, "steps": steps, "pid": os.getpid(),
                                                   "host": socket.gethostname(), "detached": detached,
                                                   "log": log_path})
        return run_id

    def run_heartbeat(self, run_id: int) -> bool:
        """Keep the run lease; False when the run was already declared dead."""
        cur = self._db.execute("UPDATE runs SET heartbeat_at = ? WHERE id = ? AND state = 'running'",
                               (time.time(), run_id))
        return cur.rowcount == 1

    def end_run(self, run_id: int, exit_code: int) -> None:
        self._db.execute("UPDATE runs SET state = 'finished', exit_code = ?, ended_at = ? WHERE id = ?",
                         (exit_code, time.time(), run_id))
        run = self.run(run_id)
        if run is not None and run.detached:
            self.append("session", "run_finished", {"run": run_id, "exit_code": exit_code})

    def run(self, run_id: int) -> Run | None:
        row = self._db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return _run_from_row(row) if row else None

    def runs(self) -> list[Run]:
        return [_run_from_row(r) for r in self._db.execute("SELECT * FROM runs ORDER BY id").fetchall()]

    def active_run(self) -> Run | None:
        """The run in progress (after noticing dead ones), or None."""
        self.reconcile()
        row = self._db.execute("SELECT * FROM runs WHERE state = 'running' ORDER BY id DESC LIMIT 1").fetchone()
        return _run_from_row(row) if row else None

    def request_cancel(self) -> Run | None:
        """Ask the running process to stop at its next check (it marks the step interrupted)."""
        run = self.active_run()
        if run is None:
            return None
        self._db.execute("UPDATE runs SET cancel_requested_by = ? WHERE id = ?", (self.operator, run.id))
        self.append("session", "cancel_requested", {"run": run.id, "steps": run.steps})
        return run

    def request_pause(self, paused: bool) -> Run | None:
        """Ask the running process to pause (or go on); its run lease passes it to the step's control."""
        run = self.active_run()
        if run is None:
            return None
        self.set_meta(f"run:{run.id}:paused", "1" if paused else "0")
        self.append("session", "pause_requested" if paused else "resume_requested",
                    {"run": run.id, "steps": run.steps})
        return run

    def pause_requested(self, run_id: int) -> bool:
        return self.get_meta(f"run:{run_id}:paused") == "1"

    def cancel_requested(self, run_id: int) -> str | None:
        row = self._db.execute("SELECT cancel_requested_by FROM runs WHERE id = ?", (run_id,)).fetchone()
        return row["cancel_requested_by"] if row else None

    def reconcile(self) -> list[str]:
        """Notice dead runs: a run whose lease expired and whose process is gone.

        Its 'running' steps become 'interrupted' (resume continues from their
        journal).  Returns the steps marked.  Safe to call from any process.
        """
        marked: list[str] = []
        rows = self._db.execute("SELECT * FROM runs WHERE state = 'running'").fetchall()
        dead = [r for r in (_run_from_row(row) for row in rows) if not r.live]
        if not dead:
            return marked
        for run in dead:
            with self._write() as db:
                cur = db.execute("UPDATE runs SET state = 'dead', ended_at = ? WHERE id = ? AND state = 'running'",
                                 (time.time(), run.id))
                if cur.rowcount != 1:
                    continue  # someone else noticed first
                live_others = [_run_from_row(r) for r in
                               db.execute("SELECT * FROM runs WHERE state = 'running'").fetchall()]
                busy = {s for r in live_others for s in r.steps}
                names = [r["name"] for r in db.execute("SELECT name FROM steps WHERE state = 'running'").fetchall()
                         if r["name"] in run.steps and r["name"] not in busy]
                for name in names:
                    db.execute("UPDATE steps SET state = 'interrupted', updated_at = ? WHERE name = ?",
                               (time.time(), name))
            marked.extend(names)
            self.append("session", "run_died", {"run": run.id, "pid": run.pid, "host": run.host,
                                                "steps_interrupted": names,
                                                "last_heartbeat": run.heartbeat_at})
            for name in names:
                self.append(name, "step_interrupted",
                            {"reason": f"its {'worker' if run.detached else 'replay'} (pid {run.pid}) died",
                             "run": run.id})
        return marked

    # --- pairing: attached clients, control requests ---------------------------

    def attach_client(self, holder: str, kind: str = "tui") -> None:
        now = time.time()
        self._db.execute(
            """INSERT INTO clients(holder, operator, pid, host, kind, attached_at, seen_at) VALUES(?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT(holder) DO UPDATE SET seen_at = excluded.seen_at""",
            (holder, self.operator, os.getpid(), socket.gethostname(), kind, now, now),
        )

    def detach_client(self, holder: str) -> None:
        self._db.execute("DELETE FROM clients WHERE holder = ?", (holder,))

    def clients(self, fresh_within_s: float = 30.0) -> list[Client]:
        rows = self._db.execute("SELECT * FROM clients WHERE seen_at >= ? ORDER BY attached_at",
                                (time.time() - fresh_within_s,)).fetchall()
        return [Client(**dict(r)) for r in rows]

    def request_control(self, holder: str) -> int:
        """A watcher asks to drive; the driver accepts or declines."""
        with self._write() as db:
            db.execute("UPDATE control_requests SET state = 'withdrawn' WHERE holder = ? AND state = 'pending'",
                       (holder,))
            cur = db.execute("INSERT INTO control_requests(holder, operator, requested_at) VALUES(?, ?, ?)",
                             (holder, self.operator, time.time()))
            request_id = int(cur.lastrowid or 0)
        self.append("session", "control_requested", {"id": request_id, "holder": holder})
        return request_id

    def control_request(self, request_id: int) -> ControlRequest | None:
        row = self._db.execute("SELECT * FROM control_requests WHERE id = ?", (request_id,)).fetchone()
        return ControlRequest(**dict(row)) if row else None

    def control_requests(self, state: str | None = "pending") -> list[ControlRequest]:
        if state:
            rows = self._db.execute("SELECT * FROM control_requests WHERE state = ? ORDER BY id", (state,))
        else:
            rows = self._db.execute("SELECT * FROM control_requests ORDER BY id")
        return [ControlRequest(**dict(r)) for r in rows.fetchall()]

    def decide_control(self, request_id: int, accept: bool, holder: str) -> ControlRequest:
        """The driver (``holder``) accepts (handing the lease over) or declines a request.

        The lease check, the request's new state and the hand-over are one transaction, so
        the audit log never says "accepted" for a hand-over that did not happen.
        """
        now = time.time()
        with self._write() as db:
            lease = db.execute("SELECT holder FROM lease WHERE id = 1").fetchone()
            if lease is None or lease["holder"] != holder:
                raise BadInputError("only the driver can accept or decline a request for control")
            row = db.execute("SELECT * FROM control_requests WHERE id = ?", (request_id,)).fetchone()
            if row is None:
                raise BadInputError(f"no control request #{request_id}")
            if row["state"] != "pending":
                raise BadInputError(f"control request #{request_id} was already {row['state']}")
            db.execute("UPDATE control_requests SET state = ?, decided_by = ?, decided_at = ? WHERE id = ?",
                       ("accepted" if accept else "declined", self.operator, now, request_id))
            if accept:
                db.execute("UPDATE lease SET holder = ?, operator = ?, acquired_at = ?, heartbeat_at = ? "
                           "WHERE id = 1 AND holder = ?", (row["holder"], row["operator"], now, now, holder))
        if accept:
            self.append("session", "lease_handed_over", {"from": holder, "to": row["holder"],
                                                         "to_operator": row["operator"]})
        self.append("session", "control_accepted" if accept else "control_declined",
                    {"id": request_id, "to": row["operator"], "holder": row["holder"]})
        return self.control_request(request_id)  # type: ignore[return-value]

    # --- the runbook ----------------------------------------------------------

    def tick(self, item: str, note: str = "") -> Tick:
        now = time.time()
        with self._write() as db:
            row = db.execute("SELECT * FROM runbook_ticks WHERE item = ?", (item,)).fetchone()
            if row is not None:
                raise BadInputError(f"runbook item {item!r} was already ticked by {row['ticked_by']}")
            db.execute("INSERT INTO runbook_ticks(item, ticked_by, ticked_at, note) VALUES(?, ?, ?, ?)",
                       (item, self.operator, now, redact(note)))
        self.append("runbook", "runbook_ticked", {"item": item, "note": note})
        return Tick(item, self.operator, now, redact(note))

    def untick(self, item: str) -> None:
        cur = self._db.execute("DELETE FROM runbook_ticks WHERE item = ?", (item,))
        if cur.rowcount:
            self.append("runbook", "runbook_unticked", {"item": item})

    def ticks(self) -> dict[str, Tick]:
        rows = self._db.execute("SELECT * FROM runbook_ticks").fetchall()
        return {r["item"]: Tick(**dict(r)) for r in rows}


def _run_from_row(row: sqlite3.Row) -> Run:
    data = dict(row)
    data["steps"] = json.loads(data["steps"])
    data["detached"] = bool(data["detached"])
    return Run(**data)


def _sharing_hint(name: str, path: Path, why: str) -> str:
    return (
        f"session {name!r} at {path} cannot be opened by {operator_name()} ({why}). Sessions are "
        "private to the login that made them. To pair with another login, share the state directory "
        "deliberately through a group both belong to: chgrp -R GROUP DIR && chmod g+rwxs DIR DIR/sessions "
        "&& chmod g+rw DIR/sessions/*, then set GPUMIGRATE_STATE_DIR=DIR for both logins."
    )


def _file_mode(folder: Path) -> int:
    """0600, or 0660 in a folder someone deliberately shared with a group (g+w)."""
    try:
        shared = folder.stat().st_mode & 0o020
    except OSError:
        shared = 0
    return 0o660 if shared else 0o600


def private_file(path: Path, make_dir: bool = True) -> Path:
    """Create (if needed) a file with the same permissions as a session file (logs, exports).

    ``make_dir`` creates its folder user-only (for folders under the state dir).
    """
    if make_dir:
        _make_private_dir(path.parent)
    fd = os.open(path, os.O_CREAT | os.O_APPEND | os.O_WRONLY, _file_mode(path.parent))
    os.close(fd)
    return path


def logs_dir() -> Path:
    return state_dir() / "logs"


def _make_private_dir(folder: Path) -> None:
    """Create the sessions folder user-only; sharing it must be a deliberate act."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    parent = folder.parent
    if parent.exists() and parent.stat().st_uid == os.getuid():
        try:
            os.chmod(parent, parent.stat().st_mode & 0o770 | 0o700)
        except OSError:
            pass
