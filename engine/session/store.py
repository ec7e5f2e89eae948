"""The session store: one SQLite file (WAL) per cutover session.

It is the spine of a cutover.  Several processes open the same file at once:
the process that drives (holding the lease), workers running long steps, and
any number of watchers following the event log by sequence number.  SQLite in
WAL mode gives every reader a consistent snapshot while one writer appends, and
``BEGIN IMMEDIATE`` serialises the read-modify-write operations.

Inside one process, a handle gives every thread its own connection (an SQLite
connection is not safe to share across threads mid-transaction) and all writes
to one file go through one process-wide lock: one writer per process, the others
wait their turn here instead of spinning on ``SQLITE_BUSY``.

The store's jobs live in their own modules and meet in :class:`SessionStore`:
events and steps (:mod:`.events`), the run lease (:mod:`.runs`), approvals
(:mod:`.approvals`), the driver's seat and attached clients (:mod:`.clients`), and whether a
heartbeat's writer is alive as this host sees it (:mod:`.liveness`).
Nothing secret is written: every text a write statement binds passes through :func:`redact` at the
connection (:class:`_RedactingConnection`), whichever mixin or caller wrote it; JSON payloads are redacted
value by value before that (:func:`dumps`) so a pattern never cuts their JSON.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from engine.errors import BadInputError, EnvironmentProblem
from engine.secrets import environment_secrets, redact, redact_data
from engine.session import schema
from engine.session.approvals import ApprovalsMixin
from engine.session.clients import ClientsMixin
from engine.session.events import EventsMixin
from engine.session.identity import declared_name, os_identity
from engine.session.liveness import LivenessMixin
from engine.session.paths import (
    check_opened,
    close_shared_folders,
    create_private_file,
    make_private_dir,
    not_shared_message,
    open_fds,
    read_only_fs,
    refuse_link,
    session_path,
    unusable_state_message,
)
from engine.session.runs import RunsMixin

_WRITES = re.compile(r"\s*(INSERT|UPDATE|REPLACE)\b", re.IGNORECASE)


class _Clean(str):
    """Text already redacted value by value (a JSON payload from :func:`dumps`): the connection binds it as is."""


def _clean(value: Any, known: list[str]) -> Any:
    if not isinstance(value, str) or isinstance(value, _Clean):
        return value
    if value[:1] in ("{", "["):  # JSON (run options, a rollback's items): value by value, so it stays JSON
        try:
            data = json.loads(value)
        except ValueError:
            pass
        else:
            return json.dumps(redact_data(data, known), ensure_ascii=False)
    return redact(value, known)


def _profile_text(text: str) -> str:
    """A profile's TOML as the store keeps it: checked by the profiles' own detector, which knows its fields (a
    path field may hold a 40-character name that free text would take for a key), so a clean profile is kept
    exactly as run; one the detector finds anything in is redacted as free text."""
    import tomllib

    from engine.secrets import find_secrets

    try:
        found = find_secrets(tomllib.loads(text))
    except ValueError:
        return text
    return text if found else _Clean(text)


def _clean_params(params: Any, known: list[str]) -> Any:
    if isinstance(params, dict):
        return {key: _clean(value, known) for key, value in params.items()}
    return tuple(_clean(value, known) for value in params)


class _RedactingConnection(sqlite3.Connection):
    """The store's write boundary: every text bound by an INSERT or UPDATE is redacted here, so a note, a
    reason, an operator's name or an error's text cannot reach the file (or its WAL) by a path that forgot to."""

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:  # type: ignore[override]
        if parameters and _WRITES.match(sql):
            parameters = _clean_params(parameters, environment_secrets())
        return super().execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> sqlite3.Cursor:  # type: ignore[override]
        if _WRITES.match(sql):
            known = environment_secrets()
            seq_of_parameters = [_clean_params(params, known) for params in seq_of_parameters]
        return super().executemany(sql, seq_of_parameters)


class WatchOnly(BadInputError):
    """A ``--watch`` client tried to change the session (exit 2)."""


_WRITE_LOCKS: dict[str, threading.RLock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def _write_lock(path: Path) -> threading.RLock:
    key = str(path.resolve())
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(key, threading.RLock())


class SessionStore(EventsMixin, RunsMixin, ApprovalsMixin, ClientsMixin, LivenessMixin):
    """A handle on one session file; safe to use from several threads.

    ``operator`` is a *declared* name (like ``$GPUMIGRATE_OPERATOR``): it becomes
    the recorded name only in a session whose profile says ``[cutover]
    shared_account = true``; otherwise the real uid's login is recorded.
    """

    def __init__(self, path: Path, operator: str | None = None):
        self.path = Path(path)
        self.name = self.path.stem
        self.identity = os_identity()
        self.declared = declared_name(operator)
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._lock = _write_lock(self.path)
        self._actor_ids: dict[str, int] = {}
        self._closed = False
        self._watch_only = False
        schema.ensure(self._conn(), self.path)
        self._shared = self.get_meta("shared_account") == "1"
        self._init_recorder()

    # --- opening -----------------------------------------------------------

    @classmethod
    def open(cls, name: str, create: bool = True, operator: str | None = None) -> "SessionStore":
        """Open (or create) the named session under the state directory."""
        path = session_path(name)
        refuse_link(path)  # SQLite would follow it: see engine.session.paths.refuse_link
        close_shared_folders()  # shared by an earlier gpumigrate without the sticky bit
        try:
            exists = path.exists()
            if exists and not (path.parent.is_dir() and _readable_writable(path)):
                if read_only_fs(path):  # nobody's `session share` makes a read-only mount writable
                    raise EnvironmentProblem(unusable_state_message(path, OSError(30, "Read-only file system")))
                raise EnvironmentProblem(not_shared_message(name, path))
            if not exists and path.parent.exists() and not _searchable(path.parent):
                raise EnvironmentProblem(not_shared_message(name, path))
        except PermissionError:
            raise EnvironmentProblem(not_shared_message(name, path)) from None
        if not exists:
            if not create:
                raise BadInputError(f"no session named {name!r} (see `gpumigrate session list`)")
            make_private_dir(path.parent)
            create_private_file(path)
        try:
            store = cls(path, operator)
        except sqlite3.OperationalError as exc:
            raise EnvironmentProblem(not_shared_message(name, path, str(exc))) from None
        except sqlite3.DatabaseError as exc:  # "file is not a database": not a session (or a link's target)
            raise BadInputError(f"{path} is not a gpumigrate session file ({exc}); it was not changed. Move it "
                                f"away (or pick another session name) and run again") from None
        if store.get_meta("created_at") is None:
            store.set_meta("created_at", repr(time.time()))
            store.set_meta("created_by", store.operator)
        return store

    def _conn(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            if self._closed:
                raise BadInputError(f"session {self.name!r} was closed")
            before = open_fds()
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False,
                                 factory=_RedactingConnection)
            try:
                check_opened(self.path, before)  # before anything is read or written through it
            except BaseException:
                db.close()
                raise
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=30000")
            self._local.db = db
            with self._conns_lock:
                self._conns.append(db)
        return db

    @property
    def _db(self) -> sqlite3.Connection:
        """This thread's connection (for read-only queries)."""
        return self._conn()

    def close(self) -> None:
        try:
            self.flush_events()
        except (sqlite3.Error, BadInputError):
            pass
        self._closed = True
        with self._conns_lock:
            conns, self._conns = self._conns, []
        for db in conns:
            try:
                db.close()
            except sqlite3.Error:
                pass
        self._local = threading.local()

    def __enter__(self) -> "SessionStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- watch only ----------------------------------------------------------

    @property
    def watch_only(self) -> bool:
        return self._watch_only

    def become_watch_only(self) -> None:
        """From now on this handle changes nothing (``attach --watch``, every ``serve --watch`` tab).

        Enforced here, below every front end: any write raises :class:`WatchOnly`, except being
        listed as attached (attach, heartbeat, detach) and noticing that a run died or that a killed
        app is gone (facts, not decisions).  There is no way back: a watch-only process reopens the session to do more.
        """
        self._watch_only = True

    @contextmanager
    def _bookkeeping(self) -> Iterator[None]:
        """Writes a watch-only handle may still make (see :meth:`become_watch_only`)."""
        before = getattr(self._local, "bookkeeping", False)
        self._local.bookkeeping = True
        try:
            yield
        finally:
            self._local.bookkeeping = before

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; re-entrant within a thread; one writer per process at a time."""
        if self._watch_only and not getattr(self._local, "bookkeeping", False):
            raise WatchOnly(f"this client watches session {self.name!r} only (--watch): it cannot change "
                            "anything (no approvals, ticks, pause, cancel, edits or the driver's seat)")
        db = self._conn()
        with self._lock:
            if db.in_transaction:  # nested in this thread's own transaction
                yield db
                return
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            else:
                db.execute("COMMIT")

    # --- who ---------------------------------------------------------------

    @property
    def shared_account(self) -> bool:
        """Does this session's profile say one account is shared by several people?"""
        return self._shared

    @property
    def operator(self) -> str:
        """The recorded name: the OS login, or the declared name in a shared-account session."""
        if self._shared and self.declared:
            return self.declared
        return self.identity.login

    @property
    def uid(self) -> int:
        return self.identity.uid

    def _actor(self, db: sqlite3.Connection) -> int:
        """This process's row in ``actors`` (inside a write transaction)."""
        key = self.operator
        actor = self._actor_ids.get(key)
        if actor is None:
            me = self.identity
            if self._shared and self.declared:
                self._refuse_anothers_name(db, self.declared)
            cur = db.execute(
                "INSERT INTO actors(login, uid, declared, pid, host, tty, ssh, first_seen) VALUES(?,?,?,?,?,?,?,?)",
                (me.login, me.uid, self.declared if self._shared else None, me.pid, me.host, me.tty, me.ssh,
                 time.time()))
            actor = self._actor_ids[key] = int(cur.lastrowid or 0)
        return actor

    def _refuse_anothers_name(self, db: sqlite3.Connection, name: str) -> None:
        """A declared name names a person on this one shared account: one that another uid acts under in this
        session (its login, or a name declared there) would put this account's acts in that person's name."""
        from engine.session.identity import OPERATOR_ENV

        row = db.execute("SELECT login, uid, declared FROM actors WHERE uid != ? AND (login = ? OR declared = ?) "
                         "LIMIT 1", (self.identity.uid, name, name)).fetchone()
        if row is not None:
            whose = (f"the login of another account (uid {row['uid']})" if row["login"] == name else
                     f"declared on another account (uid {row['uid']}, login {row['login']})")
            raise BadInputError(f"{OPERATOR_ENV}={name}: that name is {whose} that acts in session {self.name!r}; "
                                f"declare a name of your own (a declared name names a person on this one shared "
                                f"account, {self.identity.login})")

    # --- meta --------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row["value"] if row else None

    def set_meta(self, key: str, value: str) -> None:
        if key == "profile_toml":
            value = _profile_text(value)
        with self._write() as db:
            db.execute("INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                       (key, value))
        if key == "shared_account":
            self._shared = value == "1"

    def set_shared_account(self, shared: bool) -> None:
        """Record the profile's ``[cutover] shared_account`` (the runner does, from the profile it runs)."""
        if shared != self._shared or self.get_meta("shared_account") is None:
            self.set_meta("shared_account", "1" if shared else "0")

    def refresh_shared_account(self) -> bool:
        """Re-read ``shared_account`` (another process's run may have recorded its profile since)."""
        self._shared = self.get_meta("shared_account") == "1"
        return self._shared

    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])


def _readable_writable(path: Path) -> bool:
    import os

    return os.access(path, os.R_OK | os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK)


def _searchable(folder: Path) -> bool:
    import os

    return os.access(folder, os.X_OK)


def dumps(data: Any) -> str:
    """JSON for the store, with every secret-looking value redacted (marked clean for the connection)."""
    return _Clean(json.dumps(redact_data(json.loads(json.dumps(data, default=str))), ensure_ascii=False))
