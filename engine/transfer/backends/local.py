"""Local files as a store: the listing (``local_walk``), pread reads, and writes through
``local_publish`` (temp name, read-back check, rename), large files in pwrite parts."""

from __future__ import annotations

import os
import stat as st
from typing import BinaryIO, Callable, Iterator

from engine.errors import BadInputError
from engine.transfer.backends.base import Backend, ObjectInfo, PartUpload, PreconditionLost
from engine.transfer.backends.local_publish import (STREAM_BLOCK, discard_on_error, file_mtime_ns, publish,
                                                    publish_fd, tmp_name, write_all)
from engine.transfer.backends.local_walk import WalkRules, walk
from engine.transfer.checksums import Hasher, crc_to_hex

__all__ = ["LocalBackend", "file_mtime_ns"]


def _file_above(folder: str) -> str:
    """The nearest of ``folder`` and its parents that exists (the file in the way of a makedirs)."""
    while folder and not os.path.lexists(folder):
        folder = os.path.dirname(folder)
    return folder


def _same_file(now: str, listed: str) -> bool:
    """Whether the destination file ``now`` (a version) is the one planning ``listed``: the same mtime, device
    and inode (or none in both). The ctime is left out here: a hard link to the file being replaced or deleted
    by this very run changes it (the link count), and someone else's write moves the mtime or the inode."""
    return now.rsplit(":", 1)[0] == listed.rsplit(":", 1)[0] if now and listed else now == listed


def _version(mtime_ns: int, dev: int, ino: int, ctime_ns: int) -> str:
    """A file's version: what a listing gives it and what the checks before a rename or delete compare."""
    return f"{mtime_ns}:{dev}:{ino}:{ctime_ns}"


class LocalBackend(Backend):
    scheme = "file"

    @property
    def root(self) -> str:
        return self.loc.path

    def full(self, path: str) -> str:
        return os.path.join(self.root, *path.split("/"))

    def _info(self, rel: str, s: os.stat_result) -> ObjectInfo:
        # The version (and so the journal's fingerprint, which keys an upload's parts) is what the snapshot
        # compares: mtime, device, inode and ctime. With mtime alone, a file rewritten in place between a
        # killed run and the next, its size and mtime kept (cp -p, rsync -t --inplace, touch -r), had the
        # killed run's parts spliced into its copy, and the copy was called verified.
        return ObjectInfo(path=rel, size=s.st_size, mtime=s.st_mtime, mtime_preserved=True,
                          version=_version(s.st_mtime_ns, s.st_dev, s.st_ino, s.st_ctime_ns), mtime_ns=s.st_mtime_ns)

    @staticmethod
    def _state(s: os.stat_result) -> tuple[int, ...]:
        return (s.st_size, s.st_mtime_ns, s.st_ino, s.st_dev, s.st_ctime_ns)

    def state_version(self, state: tuple[int, ...]) -> str:
        """The version a listing gives the file in ``state`` (a :meth:`source_state`)."""
        _size, mtime_ns, ino, dev, ctime_ns = state
        return _version(mtime_ns, dev, ino, ctime_ns)

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
        return self._state(os.stat(self.full(info.path)))

    def stat(self, path: str) -> ObjectInfo | None:
        try:
            s = os.stat(self.full(path))
        except OSError:
            return None
        return self._info(path, s) if st.S_ISREG(s.st_mode) else None

    def gone_as(self, path: str) -> str:
        full = self.full(path)
        if not self.rules.follow_symlinks and os.path.islink(full):
            return "a symlink"  # skipped by the walk under --no-follow-symlinks
        try:
            s = os.stat(full)  # what a link leads to, as the walk and the copy see it
        except OSError:
            return ""
        return "a folder" if st.S_ISDIR(s.st_mode) else "" if st.S_ISREG(s.st_mode) else "not a regular file"

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

    # --- writing (see engine.transfer.backends.local_publish) -------------------------
    def _published(self, final: str, stat_crc: tuple[os.stat_result, int]) -> ObjectInfo:
        s, crc = stat_crc
        info = self._info(final[len(self.root):].lstrip(os.sep).replace(os.sep, "/"), s)
        info.crc32c = crc_to_hex(crc)
        return info

    def _prepare(self, path: str) -> str:
        final = self.full(path)
        folder = os.path.dirname(final)
        made = self.__dict__.setdefault("_made_dirs", set())
        if folder not in made:
            try:
                os.makedirs(folder, exist_ok=True)
            except (FileExistsError, NotADirectoryError) as exc:
                raise NotADirectoryError(f"{_file_above(folder)} is a file in the destination where the source "
                                         "has a directory; not replaced (with -d it is deleted first, then the "
                                         "directory copied)") from exc
            made.add(folder)
        return final

    def _still(self, path: str, final: str, expect_version: str | None) -> Callable[[], None] | None:
        """The check made just before a copy is renamed over ``final``: the file there is still the one planning
        listed (``expect_version``; "" = none was there), as S3's If-Match / If-None-Match and GCS's
        ifGenerationMatch make the store check. Someone else's file written meanwhile is kept: the copy fails
        "changed since planning" and the next run plans again (a stat, then the rename: the window between
        them is not closed, as no local call checks and renames in one step)."""
        if expect_version is None:
            return None

        def check() -> None:
            try:
                s = os.stat(final)
            except FileNotFoundError:
                now = ""
            else:
                if st.S_ISDIR(s.st_mode):
                    return  # the rename refuses it, saying what to do
                now = _version(s.st_mtime_ns, s.st_dev, s.st_ino, s.st_ctime_ns)
            if not _same_file(now, expect_version):
                raise PreconditionLost(f"{path}: the destination changed since planning ("
                                       + ("a file appeared there" if not expect_version else "it was rewritten"
                                          if now else "it was deleted")
                                       + "); not overwritten — re-run to re-plan")
        return check

    def _create(self, tmp: str) -> int:
        return os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)

    def put(self, path: str, data: bytes, src: ObjectInfo, expect_version: str | None, crc: int) -> ObjectInfo:
        final = self._prepare(path)
        tmp = tmp_name(final, src)
        fd = self._create(tmp)
        with discard_on_error(fd, tmp):
            write_all(fd, data)
        return self._published(final, publish_fd(fd, tmp, final, src, crc, self._still(path, final, expect_version)))

    def put_stream(self, path: str, reader: BinaryIO, src: ObjectInfo, expect_version: str | None) -> ObjectInfo:
        final = self._prepare(path)
        tmp = tmp_name(final, src)
        h = Hasher()
        fd = self._create(tmp)
        with discard_on_error(fd, tmp):
            while data := reader.read(STREAM_BLOCK):
                h.update(data)
                write_all(fd, data)
        return self._published(final, publish_fd(fd, tmp, final, src, h.crc,
                                                 self._still(path, final, expect_version)))

    def begin_parts(self, path: str, src: ObjectInfo, part_size: int, expect_version: str | None,
                    token: str | None = None) -> PartUpload:
        final = self._prepare(path)
        tmp = token or tmp_name(final, src)
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
        final = self.full(up.path)
        return self._published(final, publish(up.token, final, up.src, expect,
                                              self._still(up.path, final, up.expect_version)))

    def abort_parts(self, up: PartUpload) -> None:
        try:
            os.unlink(up.token)
        except OSError:
            pass

    def delete(self, path: str, version: str | None = None) -> None:
        """Delete ``path``; with ``version`` (what planning listed) only if it is still that file, as S3's
        If-Match and GCS's ifGenerationMatch delete only what was planned: a file rewritten after the plan was
        shown (and approved) is someone else's now. Checked by a stat just before the unlink."""
        full = self.full(path)
        if version:
            try:
                s = os.stat(full)
            except FileNotFoundError:
                return  # already gone
            now = _version(s.st_mtime_ns, s.st_dev, s.st_ino, s.st_ctime_ns)
            if not _same_file(now, version):
                raise PreconditionLost(f"{path}: changed since planning; not deleted — re-run to re-plan")
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


