"""The spooled plan of a ``-d`` run: listed and diffed to the end before anything changes.

A run with ``delete=True`` must be able to refuse (the source lists empty, too many
deletions) before it copies or deletes anything, so it cannot overlap copying with
listing.  Instead the streaming diff is written, in order, to a ``plan`` table in a
SQLite file of its own, the guards are checked on the counts, and the run then reads the
plan back in pages.  Memory stays flat however many objects there are.

The file (SQLite) sits beside the journal (``JOURNAL.plan-*.plan``), or under the state
directory's ``tmp`` for a journal without a file (dry runs, ``journal=False``), and is
removed when the run ends.  It is not a table in the journal's own file: SQLite never gives
a file's pages back, so a journal that once held a 10M-object plan stayed ~1.3 GB for good.
A run killed before it could remove its file leaves it behind; each spool holds an
exclusive ``flock`` on its file while open, and the next spool in that folder removes the
files nobody holds, at once: a file is created as ``*.plan-new``, locked, and only then renamed
to ``*.plan`` (the lock is the inode's, it moves with it), so a ``*.plan`` nobody holds is
provably a dead run's. (Before, a just-created file was unlocked for an instant, so unheld files
were spared for a minute: the same command re-run soon after a kill -9 left the killed run's
plan file behind.)
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

from engine.transfer.backends.base import ObjectInfo
from engine.transfer.plan import Action
from engine.transfer.state_room import room

_SCHEMA = """
CREATE TABLE IF NOT EXISTS plan (
    seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, path TEXT NOT NULL,
    src TEXT, dst TEXT, reason TEXT NOT NULL);
"""

BATCH = 2000
"""Rows written per transaction, and read per page."""


def _dump(info: ObjectInfo | None) -> str | None:
    if info is None:
        return None
    return json.dumps([info.size, info.mtime, info.mtime_preserved, info.crc32c, info.md5, info.version,
                       info.extra or None, info.mtime_ns], separators=(",", ":"))


def _load(path: str, text: str | None) -> ObjectInfo | None:
    if text is None:
        return None
    size, mtime, preserved, crc, md5, version, extra, mtime_ns = json.loads(text)
    return ObjectInfo(path=path, size=size, mtime=mtime, mtime_preserved=preserved, crc32c=crc, md5=md5,
                      version=version, extra=extra or {}, mtime_ns=mtime_ns)


class PlanSpool:
    """A plan on disk: :meth:`write` it once (in order), then read it back by kind, in order."""

    def __init__(self, journal_path: Path | None):
        self._pending: list[tuple[Any, ...]] = []
        if journal_path is None:
            from engine.session import state_dir

            folder, prefix = state_dir() / "tmp", "plan-"
        else:
            folder, prefix = Path(journal_path).parent, Path(journal_path).name + ".plan-"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._folder = folder
        with self._room():
            fd, new = tempfile.mkstemp(prefix=prefix, suffix=NEW, dir=folder)  # not *.sqlite: no journal
        self._lock_fd = _hold(fd)
        self._temp = new[:-len(NEW)] + ".plan"
        os.rename(new, self._temp)  # named *.plan only once held
        _remove_unheld(folder, prefix, keep=self._temp)
        self._db = sqlite3.connect(self._temp, timeout=30, isolation_level=None, check_same_thread=False)
        try:
            with self._room():
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.executescript(_SCHEMA)
        except BaseException:
            self.close()
            raise

    def _room(self) -> Any:
        return room(self._folder, "this run's plan: a -d run keeps every object it will copy or delete there, about "
                    "200 bytes each, before it changes anything (a run without -d, what its copies have not caught "
                    "up with)")

    NOT_STORED = ("skip", "excluded")
    """Kinds that need no work later: counted in :attr:`not_stored`, never written (most of a
    re-sync is skips; spooling them was most of the cost of planning -d at 10M objects)."""

    def write(self, actions: Iterable[Action]) -> Iterator[Action]:
        """Store every action that needs work (in batches) and pass every action on."""
        batch: list[tuple[Any, ...]] = []
        self.not_stored = {kind: 0 for kind in self.NOT_STORED}
        for act in actions:
            if act.kind in self.not_stored:
                self.not_stored[act.kind] += 1
                yield act
                continue
            batch.append((act.kind, act.path, _dump(act.src), _dump(act.dst), act.reason))
            if len(batch) >= BATCH:
                self._flush(batch)
            yield act
        self._flush(batch)

    def _flush(self, batch: list[tuple[Any, ...]]) -> None:
        if batch:
            with self._room():
                try:
                    self._db.execute("BEGIN")
                    self._db.executemany("INSERT INTO plan(kind, path, src, dst, reason) VALUES(?, ?, ?, ?, ?)",
                                         batch)
                    self._db.execute("COMMIT")
                except BaseException:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
            batch.clear()

    def read(self, kinds: tuple[str, ...] | None = None, exclude: tuple[str, ...] = ()) -> Iterator[Action]:
        """The stored actions in plan order (only ``kinds`` / without ``exclude``), a page at a time."""
        where, args = [], []
        if kinds:
            where.append(f"kind IN ({','.join('?' * len(kinds))})")
            args.extend(kinds)
        if exclude:
            where.append(f"kind NOT IN ({','.join('?' * len(exclude))})")
            args.extend(exclude)
        cond = (" AND " + " AND ".join(where)) if where else ""
        last = 0
        while True:
            rows = self._db.execute(
                f"SELECT seq, kind, path, src, dst, reason FROM plan WHERE seq > ?{cond} ORDER BY seq LIMIT {BATCH}",
                (last, *args)).fetchall()
            if not rows:
                return
            for seq, kind, path, src, dst, reason in rows:
                last = seq
                yield Action(kind, path, _load(path, src), _load(path, dst), reason)

    def count(self, kind: str) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM plan WHERE kind = ?", (kind,)).fetchone()[0])

    def close(self) -> None:
        self._db.close()
        _unlink_db(self._temp)
        os.close(self._lock_fd)

    def add(self, act: Action) -> None:
        """Append one action (written with the next :meth:`flush`, or when a batch fills)."""
        self._pending.append((act.kind, act.path, _dump(act.src), _dump(act.dst), act.reason))
        if len(self._pending) >= BATCH:
            self._flush(self._pending)

    def page_after(self, seq: int, limit: int = BATCH) -> list[tuple[int, Action]]:
        """Up to ``limit`` stored actions after ``seq``, in order, as (seq, action); what
        :meth:`add` holds back is written first."""
        self._flush(self._pending)
        rows = self._db.execute("SELECT seq, kind, path, src, dst, reason FROM plan WHERE seq > ? ORDER BY seq "
                                "LIMIT ?", (seq, limit)).fetchall()
        return [(s, Action(kind, path, _load(path, src), _load(path, dst), reason))
                for s, kind, path, src, dst, reason in rows]


def _hold(fd: int) -> int:
    """Hold ``fd``'s file for this spool's lifetime (exclusive flock, where the platform has one)."""
    with contextlib.suppress(ImportError, OSError):
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


NEW = ".plan-new"
"""A plan file's name until its lock is taken."""
STALE_S = 60.0
"""A ``*.plan-new`` file nobody holds is removed only when it is older than this: a spool takes
its lock just after creating it, and must not lose the file in between. A ``*.plan`` nobody
holds is removed at once."""


def _remove_unheld(folder: Path, prefix: str, keep: str) -> None:
    """Remove the plan files of runs that ended without removing theirs (killed): those whose
    flock nobody holds. Where the platform has no flock, none is removed (one might be in use)."""
    try:
        import fcntl
    except ImportError:
        return
    now = time.time()
    for path in [*folder.glob(f"{prefix}*.plan"), *folder.glob(f"{prefix}*{NEW}")]:
        if str(path) == keep:
            continue
        try:
            if path.name.endswith(NEW) and now - path.lstat().st_mtime < STALE_S:
                continue
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # a live run's
        finally:
            os.close(fd)  # drops the lock taken, if any
        _unlink_db(str(path))


def _unlink_db(path: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        # PermissionError: another login's, in a folder shared with `session share` (sticky: its owner removes it)
        with contextlib.suppress(FileNotFoundError, PermissionError):
            os.unlink(path + suffix)
