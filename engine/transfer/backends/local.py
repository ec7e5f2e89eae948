"""Local files: a sorted walk, temp-name writes renamed only when verified, pread/pwrite parts."""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat as st
from typing import BinaryIO, Iterator

from engine.errors import BadInputError
from engine.transfer.backends.base import TMP_MARK, Backend, ObjectInfo, PartUpload
from engine.transfer.backends.local_walk import WalkRules, walk
from engine.transfer.checksums import Hasher, crc_to_hex
from engine.transfer.retry import ChecksumMismatch

_BLOCK = 1 << 20
_STREAM_BLOCK = 4 << 20


def _tmp_name(final: str, src: ObjectInfo) -> str:
    digest = hashlib.sha1(f"{os.path.basename(final)}|{src.fingerprint()}".encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return os.path.join(os.path.dirname(final), f".{digest}{TMP_MARK}")


class LocalBackend(Backend):
    scheme = "file"

    @property
    def root(self) -> str:
        return self.loc.path

    def full(self, path: str) -> str:
        return os.path.join(self.root, *path.split("/"))

    def _info(self, rel: str, s: os.stat_result) -> ObjectInfo:
        return ObjectInfo(path=rel, size=s.st_size, mtime=s.st_mtime, mtime_preserved=True,
                          version=str(s.st_mtime_ns), mtime_ns=s.st_mtime_ns)

    rules = WalkRules()
    """How the walk treats symlinks (set from the transfer's options by ``open_backend``)."""

    def list(self, recursive: bool = True, start_after: str | None = None,
             end_before: str | None = None) -> Iterator[ObjectInfo]:
        if not os.path.exists(self.root):
            return
        if not os.path.isdir(self.root):
            raise BadInputError(f"{self.root} is not a directory (transfers copy trees)")
        self.temps_seen: list[str] = []
        yield from walk(self.root, recursive=recursive, rules=self.rules, info=self._info,
                        start_after=start_after, end_before=end_before, on_temp=self.temps_seen.append)

    def source_state(self, info: ObjectInfo) -> tuple[int, ...] | None:
        """What identifies the file's content now (size, mtime_ns, inode, device, ctime_ns):
        compared before and after a copy reads it (see engine.transfer.snapshot)."""
        s = os.stat(self.full(info.path))
        return (s.st_size, s.st_mtime_ns, s.st_ino, s.st_dev, s.st_ctime_ns)

    def stat(self, path: str) -> ObjectInfo | None:
        try:
            s = os.stat(self.full(path))
        except OSError:
            return None
        return self._info(path, s) if st.S_ISREG(s.st_mode) else None

    def open_read(self, info: ObjectInfo) -> BinaryIO:
        return open(self.full(info.path), "rb")

    def read_range(self, info: ObjectInfo, start: int, length: int) -> bytes:
        fd = os.open(self.full(info.path), os.O_RDONLY)
        try:
            chunks = []
            got = 0
            while got < length:
                data = os.pread(fd, length - got, start + got)
                if not data:
                    break
                chunks.append(data)
                got += len(data)
            return b"".join(chunks)
        finally:
            os.close(fd)

    # --- writing ------------------------------------------------------------
    # Verification of a local destination: the temp file is read back through the file system
    # (from the same descriptor, one pread pass) and its CRC32C compared with the CRC32C of the
    # bytes read from the source, before it is renamed into place.  That is the local
    # equivalent of "what the destination reports": it catches short or misplaced writes and
    # anything that changed the temp file, not only errors in our own buffer handling.
    # (It reads the page cache: like rclone, rsync and gsutil, nothing here claims the platter.)
    def _readback_crc(self, fd: int, size: int) -> tuple[int, int]:
        """CRC32C and length of what the file at ``fd`` holds, read back in one pass."""
        h = Hasher()
        offset = 0
        if size <= _BLOCK:
            data = os.pread(fd, size + 1, 0)
            h.update(data)
            return h.crc, h.length
        while True:
            data = os.pread(fd, _STREAM_BLOCK, offset)
            if not data:
                break
            h.update(data)
            offset += len(data)
        return h.crc, h.length

    def _publish_fd(self, fd: int, tmp: str, final: str, src: ObjectInfo, expect_crc: int) -> ObjectInfo:
        """Check the temp file behind ``fd``, set its mtime, rename it into place (fd is closed)."""
        try:
            try:
                crc, length = self._readback_crc(fd, src.size)
                if crc != expect_crc or length != src.size:
                    raise ChecksumMismatch(f"{final}: written file reads back CRC32C {crc_to_hex(crc)} "
                                           f"({length} bytes), sent {crc_to_hex(expect_crc)} ({src.size} bytes)")
                ns = file_mtime_ns(src)
                os.utime(fd, ns=(ns, ns))
                s = os.fstat(fd)
            finally:
                os.close(fd)
            try:
                os.replace(tmp, final)
            except OSError as exc:
                if os.path.isdir(final) and not os.path.islink(final):
                    raise IsADirectoryError(f"{final} is a directory in the destination; not replaced") from exc
                raise
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        info = self._info(final[len(self.root):].lstrip(os.sep).replace(os.sep, "/"), s)
        info.crc32c = crc_to_hex(crc)
        return info

    def _publish(self, tmp: str, final: str, src: ObjectInfo, expect_crc: int) -> ObjectInfo:
        """Re-read the temp file, compare with what was sent, set mtime, rename into place."""
        try:
            fd = os.open(tmp, os.O_RDWR | os.O_CLOEXEC)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        return self._publish_fd(fd, tmp, final, src, expect_crc)

    def _prepare(self, path: str) -> str:
        final = self.full(path)
        folder = os.path.dirname(final)
        made = self.__dict__.setdefault("_made_dirs", set())
        if folder not in made:
            os.makedirs(folder, exist_ok=True)
            made.add(folder)
        return final

    def _create(self, tmp: str) -> int:
        return os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)

    def put(self, path: str, data: bytes, src: ObjectInfo, expect_version: str | None, crc: int) -> ObjectInfo:
        final = self._prepare(path)
        tmp = _tmp_name(final, src)
        fd = self._create(tmp)
        with _discard_on_error(fd, tmp):
            _write_all(fd, data)
        return self._publish_fd(fd, tmp, final, src, crc)

    def put_stream(self, path: str, reader: BinaryIO, src: ObjectInfo, expect_version: str | None) -> ObjectInfo:
        final = self._prepare(path)
        tmp = _tmp_name(final, src)
        h = Hasher()
        fd = self._create(tmp)
        with _discard_on_error(fd, tmp):
            while data := reader.read(_STREAM_BLOCK):
                h.update(data)
                _write_all(fd, data)
        return self._publish_fd(fd, tmp, final, src, h.crc)

    def begin_parts(self, path: str, src: ObjectInfo, part_size: int, expect_version: str | None,
                    token: str | None = None) -> PartUpload:
        final = self._prepare(path)
        tmp = token or _tmp_name(final, src)
        if token is not None:  # continuing: the executor checks part_upload_alive before use
            return PartUpload(path=path, token=tmp, size=src.size, part_size=part_size, src=src,
                              expect_version=expect_version)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            if os.fstat(fd).st_size != src.size:
                os.ftruncate(fd, src.size)
        finally:
            os.close(fd)
        return PartUpload(path=path, token=tmp, size=src.size, part_size=part_size, src=src,
                          expect_version=expect_version)

    def part_upload_alive(self, up: PartUpload) -> bool:
        try:
            return os.path.getsize(up.token) == up.size
        except OSError:
            return False

    def put_part(self, up: PartUpload, n: int, data: bytes, crc: int) -> str:
        start, _ = up.span(n)
        fd = os.open(up.token, os.O_WRONLY)
        try:
            view = memoryview(data)
            done = 0
            while done < len(data):
                done += os.pwrite(fd, view[done:], start + done)
            # no fsync per part: the final read-back check catches anything a crash lost
        finally:
            os.close(fd)
        return ""

    def finish_parts(self, up: PartUpload, parts: dict[int, tuple[int, str]]) -> ObjectInfo:
        from engine.transfer.checksums import combine_parts

        expect = combine_parts((parts[n][0], up.span(n)[1]) for n in range(up.count))
        return self._publish(up.token, self.full(up.path), up.src, expect)

    def abort_parts(self, up: PartUpload) -> None:
        try:
            os.unlink(up.token)
        except OSError:
            pass

    def delete(self, path: str, version: str | None = None) -> None:
        full = self.full(path)
        os.unlink(full)
        self.__dict__.get("_made_dirs", set()).clear()
        # remove folders left empty, up to (not including) the root
        folder = os.path.dirname(full)
        while folder.startswith(self.root) and folder != self.root:
            try:
                os.rmdir(folder)
            except OSError:
                break
            folder = os.path.dirname(folder)


def file_mtime_ns(src: ObjectInfo) -> int:
    """The mtime a downloaded file gets: the exact one from a local source, else the source's
    mtime in whole seconds (GCS ``goog-reserved-file-mtime`` and S3 ``mtime`` metadata are
    seconds; a store's write time is used where neither exists).  Whole seconds by truncation,
    as gsutil stores them and as the planner compares them, so a pre-epoch time lands on the
    same second every run."""
    if src.mtime_ns is not None:
        return src.mtime_ns
    return int(src.mtime) * 1_000_000_000


def _write_all(fd: int, data: bytes) -> None:
    """os.write until every byte is written (a write may be short)."""
    view = memoryview(data)
    done = 0
    while done < len(data):
        done += os.write(fd, view[done:])


@contextlib.contextmanager
def _discard_on_error(fd: int, tmp: str) -> Iterator[None]:
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
