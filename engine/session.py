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

from engine.errors import BadInputError, EnvironmentProblem
from engine.events import Event
from engine.model_base import NAME_PATTERN
from engine.secrets import redact

STEP_STATES = ("pending", "running", "completed", "failed", "interrupted", "skipped")

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
"""


def operator_name() -> str:
    """The login name recorded with every action (the audit trail's 'who')."""
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
            fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
            os.close(fd)
        elif not os.access(path, os.R_OK | os.W_OK):
            raise EnvironmentProblem(
                f"session {name!r} at {path} is not readable and writable by {operator_name()}. "
                "To share a session with another login, put the state directory on a group both "
                "belong to (chgrp GROUP DIR; chmod g+rwxs DIR; chmod g+rw DIR/*.sqlite*) and set "
                "GPUMIGRATE_STATE_DIR to it for both."
            )
        store = cls(path, operator)
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
        text = redact(json.dumps(payload or {}, default=str, ensure_ascii=False))
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
                    now if state in ("completed", "failed", "skipped") else None,
                    now, profile_digest,
                    redact(json.dumps(result, default=str)) if result is not None else None,
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


def _make_private_dir(folder: Path) -> None:
    """Create the sessions folder user-only; sharing it must be a deliberate act."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    parent = folder.parent
    if parent.exists() and parent.stat().st_uid == os.getuid():
        try:
            os.chmod(parent, parent.stat().st_mode & 0o770 | 0o700)
        except OSError:
            pass
