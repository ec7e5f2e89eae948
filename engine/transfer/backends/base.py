"""The backend interface every store implements, and the object record they list.

Listings are streams in byte order of the relative path (what S3 and GCS
return natively; local walks sort each directory to match), so two listings
diff as a merge with flat memory.  Writes never expose a partial object: local
files go to a temporary name and are renamed when verified; cloud objects
appear only when complete (single request, compose, or multipart complete).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO, Callable, Iterator

from engine.transfer.urls import Location

if TYPE_CHECKING:
    from engine.transfer.checksums import Hasher

TMP_MARK = ".gpumigrate-tmp"
"""Temporary objects/files carry this in their name; listings never show them."""


class PreconditionLost(Exception):
    """The destination changed since planning; a newer object is never overwritten or deleted."""


@dataclass(slots=True)
class ObjectInfo:
    """One object or file, as listed."""

    path: str
    """Relative path under the location's prefix, "/"-separated."""
    size: int
    mtime: float
    """Modification time (seconds): the preserved source mtime, or the store's write time."""
    mtime_preserved: bool = False
    """True when ``mtime`` is a copied source mtime (local files, our metadata), False for a write time."""
    crc32c: str | None = None
    """Lowercase hex (8 chars), when the store reports it for the whole object."""
    md5: str | None = None
    """Lowercase hex (32 chars), when the store reports a real MD5 (not an S3 multipart ETag)."""
    version: str = ""
    """What pins this exact content: GCS generation, S3 ETag, a local file's "mtime_ns:device:inode:ctime_ns"."""
    extra: dict[str, Any] = field(default_factory=dict)
    mtime_ns: int | None = None
    """The exact modification time in nanoseconds, where the store keeps one (local files only)."""
    problem: str = ""
    """Why this listed entry cannot be copied ("" for a normal object): an unreadable folder, a
    broken or skipped symlink... The entry is reported, never copied, and its path never deleted."""
    problem_is_error: bool = False
    """The problem is an error (a failure, and no deletion runs in that transfer), not a notice."""

    def fingerprint(self) -> str:
        """Identifies this content for the journal: a changed source never reuses old parts."""
        return f"{self.size}:{self.version}:{int(self.mtime)}"


ETAG_UNCONFIRMED = "md5?"
"""``ObjectInfo.extra`` key: its ``md5`` is a listing's 32-hex ETag, not yet known to be an MD5. S3's ETag is the
MD5 of the bytes only for a single-part object stored as plaintext or under SSE-S3; under SSE-KMS, DSSE-KMS or
SSE-C it is not (S3 API reference, Object.ETag), and only a HEAD or GET says which (a listing does not). Read
as an MD5, every single-part KMS object failed its copy ("read MD5 ..., source reports ...") and a re-sync
to GCS copied it again each run. Short: a -d run spools every copy's ``extra``."""


NOT_RECURSIVE = "folder not copied (without -r only the top level is copied)"


def folder_not_copied(path: str) -> ObjectInfo:
    """A sub-folder (``path`` ends with "/") a listing without -r does not enter: listed, so it is
    said ("copied 3, verified 3" read as the whole tree) and nothing below it is deleted."""
    return ObjectInfo(path=path, size=0, mtime=0.0, problem=NOT_RECURSIVE)


def with_folders(objects: Iterator[ObjectInfo], folders: list[str]) -> Iterator[ObjectInfo]:
    """One page of a delimiter listing, its objects and its sub-folders (``CommonPrefixes``,
    ``prefixes``: relative, ending in "/") merged in byte order, as a local walk yields them."""
    import heapq

    if not folders:  # a recursive listing (no delimiter): nothing to merge
        yield from objects
        return
    yield from heapq.merge(objects, (folder_not_copied(f) for f in sorted(folders)), key=lambda i: i.path)


class SourceChanged(Exception):
    """The source changed while it was being copied (a pinned read found a new version, or a
    local file's size, mtime, inode or ctime moved): the copy is torn and must not be published."""


@dataclass
class PartUpload:
    """A large object being written in parts (S3 multipart, GCS components, a local temp file)."""

    path: str
    token: str
    """S3 upload id, GCS component prefix, or local temp path: persisted in the journal for resume."""
    size: int
    part_size: int
    src: ObjectInfo
    expect_version: str | None = None
    """Destination version seen at planning ("" = must not exist); a newer one is never overwritten."""

    @property
    def count(self) -> int:
        return max(1, -(-self.size // self.part_size))

    def span(self, n: int) -> tuple[int, int]:
        """Offset and length of part ``n`` (0-based)."""
        start = n * self.part_size
        return start, min(self.part_size, self.size - start)


class Backend(ABC):
    """A store of objects under one location."""

    scheme: str = ""
    min_part_size: int = 1
    max_parts: int = 1_000_000

    def __init__(self, loc: Location):
        self.loc = loc
        self.warn: Callable[[str], None] | None = None
        """Where the backend says, once, something the user must know about the whole run
        (set by the caller; e.g. that overwrites on this endpoint are unguarded)."""
        self.unguarded = ""
        """Why writes to this store ran without their preconditions ("" when they did not)."""

    # --- reading ------------------------------------------------------------
    @abstractmethod
    def list(self, recursive: bool = True, start_after: str | None = None,
             end_before: str | None = None) -> Iterator[ObjectInfo]:
        """Objects in byte order of ``path``; ``start_after``/``end_before`` bound a key range
        (so a lister can split the key space and list ranges in parallel)."""

    @abstractmethod
    def stat(self, path: str) -> ObjectInfo | None:
        """The object at ``path`` now, or None."""

    @abstractmethod
    def open_read(self, info: ObjectInfo) -> BinaryIO:
        """A sequential reader of exactly this version of the object."""

    def hash_object(self, info: ObjectInfo, md5: bool = False, sha256: bool = False) -> "Hasher":
        """Read the whole object once and hash it (CRC32C always; MD5/SHA-256 when asked)."""
        from engine.transfer.checksums import Hasher

        h = Hasher(md5=md5, sha256=sha256)
        reader = self.open_read(info)
        try:
            while data := reader.read(4 << 20):
                h.update(data)
        finally:
            try:
                reader.close()
            except Exception:  # noqa: BLE001 - a failing close must not hide the read's result or error
                pass
        return h

    @abstractmethod
    def read_range(self, info: ObjectInfo, start: int, length: int) -> bytes:
        """``length`` bytes from ``start`` of exactly this version."""

    def stored_mtime(self, info: ObjectInfo) -> float | None:
        """The source mtime stored with the object (seconds), or None where it has none.
        Stores whose listings lack metadata (S3) read it back here (one HEAD)."""
        return info.mtime if info.mtime_preserved else None

    def source_state(self, info: ObjectInfo) -> tuple[int, ...] | None:
        """What identifies the object's content now, compared before and after a copy reads it;
        None where every read is already pinned to one version (S3 ETag, GCS generation)."""
        return None

    def state_version(self, state: tuple[int, ...]) -> str:
        """The ``version`` a listing would give the object in ``state`` (a :meth:`source_state`); "" where
        the store has no such state (its reads are pinned instead)."""
        return ""

    def gone_as(self, path: str) -> str:
        """What stands at ``path`` now that it is no longer an object that can be copied: "" when
        nothing does (deleted), "a folder", "a symlink" (one the walk skips) or "not a regular
        file" (local trees only: a key cannot turn into a folder in a bucket)."""
        return ""

    def full_checksums(self, info: ObjectInfo) -> ObjectInfo:
        """Fill in checksums the listing did not carry, when the store can say without reading."""
        return info

    # --- writing ------------------------------------------------------------
    @abstractmethod
    def put(self, path: str, data: bytes, src: ObjectInfo, expect_version: str | None,
            crc: int) -> ObjectInfo:
        """Write a whole object in one request; returns what the store reports after the write."""

    @abstractmethod
    def put_stream(self, path: str, reader: BinaryIO, src: ObjectInfo, expect_version: str | None) -> ObjectInfo:
        """Write a whole object from a sequential reader of ``src.size`` bytes."""

    @abstractmethod
    def begin_parts(self, path: str, src: ObjectInfo, part_size: int, expect_version: str | None,
                    token: str | None = None) -> PartUpload:
        """Start (or, with a journalled ``token``, continue) a write in parts."""

    @abstractmethod
    def put_part(self, up: PartUpload, n: int, data: bytes, crc: int) -> str:
        """Write part ``n``; returns what must be journalled to finish it later (e.g. an ETag)."""

    @abstractmethod
    def finish_parts(self, up: PartUpload, parts: dict[int, tuple[int, str]]) -> ObjectInfo:
        """Join the parts ({n: (crc, etag)}) into the final object; returns it as the store reports it."""

    @abstractmethod
    def abort_parts(self, up: PartUpload) -> None:
        """Clean up an unfinished write in parts (raises when the store refused: the caller
        keeps it on its ledger and tries again next run)."""

    def abort_stale(self, stale: list[tuple[str, str]], errors: list[str] | None = None) -> list[str]:
        """Clean up unfinished writes in parts ((path, token) from the journal's ledger) that
        an earlier run left; returns the tokens now gone from the store. What the store
        refused stays on the ledger for the next run, its answer appended to ``errors``."""
        gone = []
        for path, token in stale:
            try:
                self.abort_parts(PartUpload(path=path, token=token, size=0, part_size=1,
                                            src=ObjectInfo(path=path, size=0, mtime=0.0)))
            except Exception as exc:  # noqa: BLE001 - stays on the ledger for the next run
                if errors is not None:
                    errors.append(f"{path}: {type(exc).__name__}: {exc}")
                continue
            gone.append(token)
        return gone

    def parts_refused(self) -> str:
        """Why a large object must not be written in parts here ("" when it may); it is then
        written as one stream instead."""
        return ""

    def parts_path(self) -> str:
        """How a write in parts goes on this store, in words (said once per run)."""
        return "parallel parts"

    def part_upload_alive(self, up: PartUpload) -> bool:
        """Whether a journalled part upload can still be continued."""
        return True

    def missing_parts(self, up: PartUpload, done: dict[int, tuple[int, str]]) -> set[int]:
        """Journalled parts the store no longer has (they are sent again on resume)."""
        return set()

    @abstractmethod
    def delete(self, path: str, version: str | None = None) -> None:
        """Delete ``path`` (only this version, where the store supports it)."""

    def close(self) -> None:
        """Release clients and pools."""
