"""A full disk under the transfer's own state (its journal, its plan) is said as such, never as a traceback.

The journal and the plan are SQLite files in the state folder (or beside a session). When that disk fills, SQLite
answers ``database or disk is full`` (SQLITE_FULL) and the OS ENOSPC. That surfaced as a Python traceback, exit 1,
with no JSON summary, or, raised in a worker recording a finished copy, as that object "failed" although it was
copied. :class:`StateFull` is an environment problem (exit 4) naming the folder and the way out; the engine stops
the run on it (what was copied is kept, and the same command resumes once there is room)."""

from __future__ import annotations

import contextlib
import errno
import shutil
import sqlite3
from pathlib import Path
from typing import Any, Iterator

from engine.errors import EnvironmentProblem


class StateFull(EnvironmentProblem):
    """No room left where the transfer keeps its journal or plan."""


def is_full(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.OperationalError):
        return "full" in str(exc)
    return isinstance(exc, OSError) and exc.errno == errno.ENOSPC


def full_problem(folder: Path | str, what: str) -> StateFull:
    try:
        free = f"{shutil.disk_usage(folder).free / 1e6:,.0f} MB free"
    except OSError:
        free = "free space unknown"
    return StateFull(f"no room left in {folder} ({free}) for {what}. Free space there, or set GPUMIGRATE_STATE_DIR "
                     "to a folder on a larger disk, then run the same command again (what was copied is kept)")


@contextlib.contextmanager
def room(folder: Path | str, what: str) -> Iterator[None]:
    """Run a write; a full disk becomes :class:`StateFull`."""
    try:
        yield
    except (sqlite3.OperationalError, OSError) as exc:
        if not is_full(exc):
            raise
        raise full_problem(folder, what) from None


class RoomyConnection:
    """A SQLite connection whose statements raise :class:`StateFull` on a full disk, rolling back the
    transaction they were part of (a failed COMMIT left it open, and every later BEGIN failed too)."""

    def __init__(self, db: sqlite3.Connection, folder: Path | str, what: str):
        self._db, self._folder, self._what = db, folder, what

    def _run(self, name: str, *args: Any) -> Any:
        try:
            return getattr(self._db, name)(*args)
        except (sqlite3.OperationalError, OSError) as exc:
            if not is_full(exc):
                raise
            if self._db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
            raise full_problem(self._folder, self._what) from None

    def execute(self, *args: Any) -> Any:
        return self._run("execute", *args)

    def executemany(self, *args: Any) -> Any:
        return self._run("executemany", *args)

    def executescript(self, *args: Any) -> Any:
        return self._run("executescript", *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)
