"""Writing one local file so that it is never seen half-written or unverified.

The bytes go to a temporary name beside the final file (``.<digest>.gpumigrate-tmp``: the
digest of the name and the source's fingerprint, so a resumed run finds its own parts file
and :mod:`engine.transfer.temps` can tell the engine's leftovers from anyone's data).  The
temp file is read back through the file system (from the same descriptor, one pread pass)
and its CRC32C compared with the CRC32C of the bytes read from the source, then its mtime is
set and it is renamed into place.  That is the local equivalent of "what the destination
reports": it catches short or misplaced writes and anything that changed the temp file, not
only errors in our own buffer handling.  (It reads the page cache: like rclone, rsync and
gsutil, nothing here claims the platter.)
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from typing import Callable, Iterator

from engine.transfer.backends.base import TMP_MARK, ObjectInfo
from engine.transfer.checksums import Hasher, crc_to_hex
from engine.transfer.retry import ChecksumMismatch

_BLOCK = 1 << 20
STREAM_BLOCK = 4 << 20
"""Read size of the read-back pass (and of a streamed write)."""


def tmp_name(final: str, src: ObjectInfo) -> str:
    digest = hashlib.sha1(f"{os.path.basename(final)}|{src.fingerprint()}".encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return os.path.join(os.path.dirname(final), f".{digest}{TMP_MARK}")


def readback_crc(fd: int, size: int) -> tuple[int, int]:
    """CRC32C and length of what the file at ``fd`` holds, read back in one pass."""
    h = Hasher()
    offset = 0
    if size <= _BLOCK:
        data = os.pread(fd, size + 1, 0)
        h.update(data)
        return h.crc, h.length
    while True:
        data = os.pread(fd, STREAM_BLOCK, offset)
        if not data:
            break
        h.update(data)
        offset += len(data)
    return h.crc, h.length


def publish_fd(fd: int, tmp: str, final: str, src: ObjectInfo, expect_crc: int,
               still: Callable[[], None] | None = None) -> tuple[os.stat_result, int]:
    """Check the temp file behind ``fd``, set its mtime, rename it into place (fd is closed);
    returns the published file's stat and CRC32C.  On any error the temp file is removed.
    ``still()`` runs just before the rename: it raises where the destination is no longer what planning
    saw (someone else wrote it meanwhile), and the copy is then not published over it."""
    try:
        try:
            crc, length = readback_crc(fd, src.size)
            if crc != expect_crc or length != src.size:
                raise ChecksumMismatch(f"{final}: written file reads back CRC32C {crc_to_hex(crc)} "
                                       f"({length} bytes), sent {crc_to_hex(expect_crc)} ({src.size} bytes)")
            ns = file_mtime_ns(src)
            os.utime(fd, ns=(ns, ns))
            s = os.fstat(fd)
        finally:
            os.close(fd)
        if still is not None:
            still()
        try:
            os.replace(tmp, final)
        except OSError as exc:
            if os.path.isdir(final) and not os.path.islink(final):
                raise IsADirectoryError(f"{final} is a directory in the destination where the source has a "
                                        "file; not replaced (with -d the directory's objects are deleted "
                                        "first, then the file copied)") from exc
            raise
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return s, crc


def publish(tmp: str, final: str, src: ObjectInfo, expect_crc: int,
            still: Callable[[], None] | None = None) -> tuple[os.stat_result, int]:
    """Open the temp file at ``tmp`` and :func:`publish_fd` it."""
    try:
        fd = os.open(tmp, os.O_RDWR | os.O_CLOEXEC)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return publish_fd(fd, tmp, final, src, expect_crc, still)


def file_mtime_ns(src: ObjectInfo) -> int:
    """The mtime a downloaded file gets: the exact one from a local source, else the source's
    mtime in whole seconds (GCS ``goog-reserved-file-mtime`` and S3 ``mtime`` metadata are
    seconds; a store's write time is used where neither exists).  Whole seconds by truncation,
    as gsutil stores them and as the planner compares them, so a pre-epoch time lands on the
    same second every run."""
    if src.mtime_ns is not None:
        return src.mtime_ns
    return int(src.mtime) * 1_000_000_000


def write_all(fd: int, data: bytes) -> None:
    """os.write until every byte is written (a write may be short)."""
    view = memoryview(data)
    done = 0
    while done < len(data):
        done += os.write(fd, view[done:])


@contextlib.contextmanager
def discard_on_error(fd: int, tmp: str) -> Iterator[None]:
    """On any error while writing a temporary file: close it and remove it, then re-raise."""
    try:
        yield
    except BaseException:
        os.close(fd)
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
