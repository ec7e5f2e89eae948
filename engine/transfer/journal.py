"""The resume journal: one SQLite file per (source, destination) pair.

It records every finished part of a large object (with its CRC32C and the store's
part token) as soon as the part is durable, the upload handle it belongs to, and each
finished object.  Re-running the same transfer re-plans (finished objects now compare
equal and are skipped) and continues half-copied large objects from their finished
parts.  Parts are keyed by the source's fingerprint, so a source that changed in
between never reuses stale parts.

Bare CLI: ``<state_dir>/journals/<hash>.sqlite``.  In a session: beside the session
file, ``sessions/<name>.journals/<hash>.sqlite`` (a separate file, so the heavy writes
of a transfer never contend with the session's event log).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS uploads (
    path TEXT NOT NULL, fp TEXT NOT NULL, token TEXT NOT NULL, part_size INTEGER NOT NULL,
    started_at REAL NOT NULL, PRIMARY KEY (path, fp));
CREATE TABLE IF NOT EXISTS parts (
    path TEXT NOT NULL, fp TEXT NOT NULL, n INTEGER NOT NULL, crc INTEGER NOT NULL, etag TEXT NOT NULL,
    PRIMARY KEY (path, fp, n));
CREATE TABLE IF NOT EXISTS done (
    path TEXT PRIMARY KEY, fp TEXT NOT NULL, crc32c TEXT, finished_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS own_uploads (
    token TEXT PRIMARY KEY, path TEXT NOT NULL, started_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, started_at REAL NOT NULL, finished_at REAL,
    state TEXT NOT NULL, summary TEXT);
"""


JOURNAL_VERSION = 1
"""``PRAGMA user_version`` of a journal file.  Version 0 is a file written before versions were set;
its tables are the same, so migrating it only records the version."""
_MIGRATIONS: list[str] = [""]


def _ensure_schema(db: sqlite3.Connection, where: str) -> None:
    from engine.sqlite_schema import upgrade

    upgrade(db, _SCHEMA, _MIGRATIONS, lambda found, known: (
        f"{where} was written by a newer gpumigrate (journal schema {found}, this one knows up to {known}): "
        "use that version to resume this transfer"))


def pair_key(src_url: str, dst_url: str) -> str:
    return hashlib.sha256(f"{src_url}\n{dst_url}".encode()).hexdigest()[:24]


def default_journal_path(src_url: str, dst_url: str, session_path: Path | None = None) -> Path:
    """Where the journal for this pair lives (beside the session file, or under the state dir)."""
    from engine.session import state_dir

    name = f"{pair_key(src_url, dst_url)}.sqlite"
    if session_path is not None:
        return Path(f"{session_path}.journals") / name
    return state_dir() / "journals" / name


def last_run(path: Path) -> tuple[str, str | None, float] | None:
    """The last run recorded in the journal at ``path``: (state, summary, when), None without one.

    Read only (looking never creates, migrates or locks a journal): a front end opened after a run
    was stopped (the app closed under a private run, a killed CLI) says the copy is half done and
    resumable rather than "not run".  A run still marked ``running`` that nothing runs was killed
    before it could say so: the caller knows whether it runs one.
    """
    if not path.is_file():
        return None
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
        try:
            row = db.execute("SELECT state, summary, COALESCE(finished_at, started_at) FROM runs "
                             "ORDER BY id DESC LIMIT 1").fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return None
    return (str(row[0]), row[1], float(row[2])) if row else None


@dataclass
class JournalledUpload:
    """An unfinished upload a journal on this machine records as started by this engine."""

    token: str
    path: str
    """The object's path relative to the transfer's destination."""
    src: str
    dst: str
    journal: Path
    continues: bool
    """True: the next run of ``src -> dst`` resumes it from its parts; False: that run aborts it
    (replaced by another upload, or left by a run that could not clean up)."""
    running: bool = False
    """A run of that transfer holds the journal now: its uploads are in use, whatever their age."""


def running(path: Path) -> bool:
    """Whether a run holds the journal at ``path`` now (:meth:`Journal.hold`'s lock): asked
    without waiting, and without creating anything."""
    try:
        import fcntl
    except ImportError:
        return False
    try:
        fd = os.open(f"{path}.lock", os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # releases the shared lock if it was taken
    return False


def journal_files() -> list[Path]:
    """Every resume journal under the state dir: the bare CLI's and those beside sessions kept
    there. A journal elsewhere (a session file given by another path) is not found."""
    from engine.session.paths import sessions_dir, state_dir

    found = set((state_dir() / "journals").glob("*.sqlite"))
    found.update(sessions_dir().glob("*.journals/*.sqlite"))
    return sorted(found)


def journalled_uploads(files: list[Path] | None = None) -> dict[str, JournalledUpload]:
    """{token: upload} of the uploads the journals record as this engine's own and not yet
    finished or aborted. Read only, like :func:`last_run`: a transfer running meanwhile is
    neither locked nor changed. Unreadable files are skipped."""
    out: dict[str, JournalledUpload] = {}
    for path in journal_files() if files is None else files:
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
            try:
                meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
                own = db.execute("SELECT token, path FROM own_uploads").fetchall()
                live = {r[0] for r in db.execute("SELECT token FROM uploads")}
            finally:
                db.close()
        except sqlite3.Error:
            continue
        now = running(path) if own else False
        for token, rel in own:
            out[str(token)] = JournalledUpload(token=str(token), path=str(rel), src=str(meta.get("src", "?")),
                                               dst=str(meta.get("dst", "?")), journal=path, continues=token in live,
                                               running=now)
    return out


def _lock(fd: int) -> str | None:
    """Take the run lock on ``fd`` (exclusive; flock); None when taken, else the holder's pid as
    written in the file. `--cleanup` peeks with a shared lock for an instant: waited for 0.3 s."""
    import fcntl

    deadline = time.monotonic() + 0.3
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return None
        except OSError:
            if time.monotonic() < deadline:
                time.sleep(0.02)
                continue
        return os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"


def _in_progress(holder: str, journal: Path) -> Exception:
    from engine.errors import EnvironmentProblem

    return EnvironmentProblem(
        f"another run of this transfer is in progress (pid {holder}, journal {journal}): let it "
        "finish or stop it, then run the same command again (two runs would resume the same "
        "uploads and break each other's parts)")


def open_for_run(path: Path) -> tuple["Journal", list[Path]]:
    """A run's journal at ``path``: opened (created on the first run), its run lock held (see
    :meth:`Journal.hold`), and the unfinished uploads other journals of the same transfer left
    taken over (:meth:`Journal.adopt_uploads`, which returns the journals they came from)."""
    jr = Journal(path)
    try:
        jr.hold()
        return jr, jr.adopt_uploads()
    except BaseException:
        jr.close()
        raise


class Journal:
    """Thread-safe; part records are committed at once, object records in small batches."""

    def __init__(self, path: Path | str | None):
        self.path = Path(path) if path else None
        target = ":memory:"
        if self.path is not None:
            from engine.session.paths import private_file

            private_file(self.path)  # 0600 like the session (0660 in a folder shared with `session share`)
            target = str(self.path)
        from engine.transfer.state_room import RoomyConnection

        self._db = RoomyConnection(sqlite3.connect(target, timeout=30, isolation_level=None, check_same_thread=False),
                                   self.path.parent if self.path is not None else "memory",
                                   "this transfer's journal (each object copied, each part sent)")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        _ensure_schema(self._db, target)
        self._lock = threading.Lock()
        self._pending_done: list[tuple[str, str, str | None, float]] = []
        self._last_flush = time.monotonic()
        self._held: int | None = None
        """The run lock's file descriptor while :meth:`hold` holds it."""

    # --- runs -----------------------------------------------------------------
    def start_run(self, src_url: str, dst_url: str) -> int:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES('src', ?)", (src_url,))
            self._db.execute("INSERT OR REPLACE INTO meta VALUES('dst', ?)", (dst_url,))
            cur = self._db.execute("INSERT INTO runs(started_at, state) VALUES(?, 'running')", (time.time(),))
            return int(cur.lastrowid or 0)

    def finish_run(self, run_id: int, state: str, summary: str) -> None:
        self.flush()
        with self._lock:
            self._db.execute("UPDATE runs SET finished_at = ?, state = ?, summary = ? WHERE id = ?",
                             (time.time(), state, summary, run_id))

    def runs(self) -> list[tuple[int, str, str | None]]:
        with self._lock:
            return [(r[0], r[1], r[2]) for r in self._db.execute("SELECT id, state, summary FROM runs ORDER BY id")]

    # --- large objects ----------------------------------------------------------
    def upload(self, path: str, fp: str) -> tuple[str, int] | None:
        with self._lock:
            row = self._db.execute("SELECT token, part_size FROM uploads WHERE path = ? AND fp = ?", (path, fp)).fetchone()
        return (row[0], int(row[1])) if row else None

    def set_upload(self, path: str, fp: str, token: str, part_size: int) -> list[str]:
        """Record the upload ``path`` continues with; it also joins the ledger of uploads this
        engine started (:meth:`stale_uploads`) until :meth:`forget_upload`. Returns the tokens
        of the uploads it replaces (for an older source, another part size): to be aborted."""
        with self._lock:
            replaced = [r[0] for r in self._db.execute("SELECT token FROM uploads WHERE path = ? AND token != ?",
                                                       (path, token))]
            self._db.execute("DELETE FROM parts WHERE path = ?", (path,))
            self._db.execute("DELETE FROM uploads WHERE path = ?", (path,))
            self._db.execute("INSERT INTO uploads VALUES(?, ?, ?, ?, ?)", (path, fp, token, part_size, time.time()))
            self._db.execute("INSERT OR IGNORE INTO own_uploads VALUES(?, ?, ?)", (token, path, time.time()))
        return replaced

    def stale_uploads(self) -> list[tuple[str, str]]:
        """(path, token) of uploads this engine started that no journalled object continues:
        replaced (the source changed, another part size), or left by a run that failed to clean
        up. S3 lists no metadata of an unfinished upload, so this ledger is what marks them ours."""
        with self._lock:
            rows = self._db.execute("SELECT path, token FROM own_uploads WHERE token NOT IN "
                                    "(SELECT token FROM uploads) ORDER BY started_at").fetchall()
        return [(r[0], r[1]) for r in rows]

    def forget_upload(self, token: str) -> None:
        """The upload is finished or aborted: nothing of it is left to clean up."""
        with self._lock:
            self._db.execute("DELETE FROM own_uploads WHERE token = ?", (token,))

    def parts(self, path: str, fp: str) -> dict[int, tuple[int, str]]:
        with self._lock:
            rows = self._db.execute("SELECT n, crc, etag FROM parts WHERE path = ? AND fp = ?", (path, fp)).fetchall()
        return {int(n): (int(crc), etag) for n, crc, etag in rows}

    def add_part(self, path: str, fp: str, n: int, crc: int, etag: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO parts VALUES(?, ?, ?, ?, ?)", (path, fp, n, crc, etag))

    def drop_upload(self, path: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM parts WHERE path = ?", (path,))
            self._db.execute("DELETE FROM uploads WHERE path = ?", (path,))

    def pending_uploads(self) -> list[tuple[str, str, str]]:
        with self._lock:
            return [(r[0], r[1], r[2]) for r in self._db.execute("SELECT path, fp, token FROM uploads")]

    # --- finished objects ---------------------------------------------------------
    def mark_done(self, path: str, fp: str, crc32c: str | None) -> None:
        with self._lock:
            self._pending_done.append((path, fp, crc32c, time.time()))
            due = len(self._pending_done) >= 500 or time.monotonic() - self._last_flush > 0.5
        if due:
            self.flush()

    def done(self, path: str) -> tuple[str, str | None] | None:
        self.flush()
        with self._lock:
            row = self._db.execute("SELECT fp, crc32c FROM done WHERE path = ?", (path,)).fetchone()
        return (row[0], row[1]) if row else None

    def done_count(self) -> int:
        self.flush()
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM done").fetchone()[0])

    def flush(self) -> None:
        with self._lock:
            batch, self._pending_done = self._pending_done, []
            self._last_flush = time.monotonic()
            if batch:
                self._db.execute("BEGIN")
                self._db.executemany("INSERT OR REPLACE INTO done VALUES(?, ?, ?, ?)", batch)
                self._db.execute("COMMIT")

    def adopt_uploads(self) -> list[Path]:
        """Take over the unfinished uploads other journals of this same transfer record, from
        files no run holds now; returns the journals they came from.

        Why: a transfer journals beside its session, and `gpumigrate replay PROFILE` starts a new
        session each time, so running the same command again after a kill -9 found an empty
        journal: the half-copied object started over, and the killed run's upload (S3 parts,
        GCS components, a local temp file) stayed billed with nothing left to resume or abort it
        (`--cleanup` said "the next run resumes it"). The same for the bare CLI after a replay and
        back. Taken over, they are resumed, or aborted as replaced, by this run's own rules."""
        if self.path is None:
            return []
        try:
            import fcntl
        except ImportError:
            return []
        mine = self.path.resolve()
        taken: list[Path] = []
        for other in journal_files():
            if other.name != self.path.name or other.resolve() == mine or not os.access(other, os.W_OK):
                continue
            try:
                fd = os.open(f"{other}.lock", os.O_RDWR)
            except FileNotFoundError:
                fd = None  # never held: no run can hold it while we read
            except OSError:
                continue  # a lock we may not take: its uploads stay its own
            try:
                if fd is not None:
                    holder = _lock(fd)
                    if holder is not None:  # the same transfer, journalled elsewhere, running now
                        raise _in_progress(holder, other)
                if self._take_from(other):
                    taken.append(other)
            except (OSError, sqlite3.Error):
                continue  # unreadable: its uploads stay its own
            finally:
                if fd is not None:
                    os.close(fd)
        return taken

    def _take_from(self, other: Path) -> bool:
        db = sqlite3.connect(str(other), timeout=1, isolation_level=None)
        try:
            db.execute("BEGIN IMMEDIATE")
            own = db.execute("SELECT token, path, started_at FROM own_uploads").fetchall()
            if not own:
                db.execute("ROLLBACK")
                return False
            uploads = db.execute("SELECT path, fp, token, part_size, started_at FROM uploads").fetchall()
            with self._lock:
                self._db.execute("BEGIN")
                try:
                    self._db.executemany("INSERT OR IGNORE INTO own_uploads VALUES(?, ?, ?)", own)
                    for path, fp, token, part_size, started in uploads:
                        if self._db.execute("SELECT 1 FROM uploads WHERE path = ?", (path,)).fetchone():
                            continue  # this journal continues the object already: the other upload is stale
                        self._db.execute("INSERT INTO uploads VALUES(?, ?, ?, ?, ?)",
                                         (path, fp, token, part_size, started))
                        self._db.executemany("INSERT OR REPLACE INTO parts VALUES(?, ?, ?, ?, ?)", db.execute(
                            "SELECT path, fp, n, crc, etag FROM parts WHERE path = ? AND fp = ?",
                            (path, fp)).fetchall())
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            db.execute("DELETE FROM parts")
            db.execute("DELETE FROM uploads")
            db.execute("DELETE FROM own_uploads")
            db.execute("COMMIT")
            return True
        finally:
            db.close()

    def hold(self) -> None:
        """Make this the one run of its transfer: two runs on one journal would resume the same
        multipart uploads and break each other's parts. An exclusive lock on ``<journal>.lock``
        (the holder's pid written in it), released by :meth:`close` or by the process ending,
        kill -9 included; a second run is refused, naming the first."""
        if self.path is None or self._held is not None:
            return
        try:
            import fcntl
        except ImportError:  # no flock on this platform: runs are not kept apart
            return
        from engine.session.paths import private_file

        lock = private_file(Path(f"{self.path}.lock"))
        fd = os.open(lock, os.O_RDWR)
        holder = _lock(fd)
        if holder is not None:
            os.close(fd)
            raise _in_progress(holder, self.path)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._held = fd

    def close(self) -> None:
        self.flush()
        with self._lock:
            self._db.close()
        if self._held is not None:
            os.close(self._held)  # releases the lock
            self._held = None
