"""Copying one object: a single request, a stream, or parts, each verified and each a snapshot.

An object is ``verified`` only when the bytes written equal the source *as it was when its
copy started and still is when it ended* (rclone refuses a source "being updated"):

* local sources: the file's (size, mtime_ns, inode, device, ctime_ns) is taken before the
  first byte is read and compared after the last, before anything is published (the temp
  file renamed, the upload completed or composed);
* S3 and GCS sources: every read is pinned to the listed ETag (``If-Match``) or generation,
  so a newer version fails the read instead of mixing in.

A source that changed is copied again from its new state, at most ``SNAPSHOT_TRIES`` times
in all, then reported ``changed during copy`` (a failure).  A source deleted after it was
listed is reported ``vanished`` (not copied, not a failure; its destination object is kept); one
replaced by a folder or a special file is reported ``changed: now a folder`` (the same, in its words).

:class:`CopyJobs` is the part of :class:`engine.transfer.execute.Transfer` that does this.
"""

from __future__ import annotations

import threading
from concurrent.futures import FIRST_EXCEPTION, wait
from typing import Any, Callable

from engine.events import ItemDone, Message
from engine.transfer.backends.base import Backend, ObjectInfo, PartUpload, SourceChanged
from engine.transfer.backlog import PartBacklog
from engine.transfer.checksums import Hasher, combine_parts, crc32c, crc_to_hex
from engine.transfer.compare import resolve
from engine.transfer.plan import Action
from engine.transfer.retry import ChecksumMismatch
from engine.transfer.streams import HashingReader

STEP = "transfer"
SMALL_MAX = 8 << 20
"""Objects up to this size are read whole and written in one request."""
MIB = 1 << 20
SNAPSHOT_TRIES = 3
"""Copies of a source that keeps changing before it is reported ``changed during copy``."""
VANISHED = object()


AUTO_PART_MIN = 16 * MIB
"""Smallest part the automatic size picks: AWS's performance guidelines name 8-16 MB as the
typical size of a ranged GET, and rclone sends 16 MiB chunks to GCS. Below it, each part's fixed
cost (a request's round trip and its time to first byte) weighs more than what it carries."""
AUTO_PART_MAX = 64 * MIB
"""Largest part the automatic size picks: each part in flight is held whole in memory, so ``-j 8``
holds at most 512 MiB; 64 MiB is also the per-part size of Google's own parallel composite upload
example (Java client) and rclone's multi-thread download chunk."""


def effective_part_size(spec_part_mib: int | None, threshold_mib: int, size: int, dst: Backend,
                        jobs: int = 8, others: int = 0) -> int:
    """Bytes per part of an object of ``size`` bytes.

    ``spec_part_mib`` set: that size (the user asked for it). None (the default): as few parts as
    keep the ``jobs`` part slots busy, kept within [:data:`AUTO_PART_MIN`, :data:`AUTO_PART_MAX`].
    Alone, that is one part per slot (``size / jobs``). The slots are shared by every large
    object in flight, so ``others`` (bytes of other large objects still to send, see
    :mod:`engine.transfer.backlog`) counts too: the object takes its share of the slots,
    ``(size + others) / jobs`` a part, and still goes in 2 parts at least (or as many as alone,
    if fewer): it stays resumable in parts and has 2 streams once the others are sent. Why not
    many small parts: every part is a request on each side, and on GCS a component costs an
    upload (a Class A operation), a compose input and a delete; a ranged read of S3 or GCS pays
    its round trip and time to first byte. More parts than slots only queue behind each other;
    they add requests, not parallelism. A 200 MiB object at ``-j 8`` goes in 8 parts of 25 MiB
    alone (13 of 16 MiB before), in 4 of 50 MiB beside another 200 MiB still to send (16 parts
    of 25 MiB for 8 slots before).

    Either way the part is at most the threshold (an object at the threshold is split), at least
    the store's minimum (S3 and GCS XML multipart: 5 MiB), and doubled until the object fits the
    store's part limit (S3: 10,000)."""
    if spec_part_mib is not None:
        part = spec_part_mib * MIB
    else:
        per_slot = -(-size // max(1, jobs))
        if others > 0:
            per_slot = min(-(-(size + others) // max(1, jobs)), max(per_slot, -(-size // 2)))
        part = min(max(-(-per_slot // MIB) * MIB, AUTO_PART_MIN), AUTO_PART_MAX)
    part = max(min(part, threshold_mib * MIB), dst.min_part_size)
    while -(-size // part) > dst.max_parts:
        part *= 2
    return part


class CopyJobs:
    """Copy and check jobs; mixed into ``Transfer``, whose state (backends, journal, summary,
    stats, limiter, retry, emit) they use."""

    # provided by Transfer
    src: Backend
    dst: Backend
    dry_run: bool
    threshold: int
    part_size_mib: int | None
    jobs: int
    _not_copied: Callable[[str, str], None]
    _conditional: bool
    _parts_ok: bool | None
    _parts_lock: threading.Lock
    _orphans: dict[str, str]
    _backlog: PartBacklog
    _await_the_plan: Callable[[str], None]
    dst_url: str

    # --- checks: same size, mtime unknown on a side, or -c / bucket to bucket --------
    def _do_check(self, act: Action) -> None:
        assert act.src is not None and act.dst is not None
        same, why = resolve(self.src, self.dst, act.src, act.dst, act.reason)
        if same:
            with self._lock:
                self.summary.skipped += 1
            return
        act.kind, act.reason = "copy", why
        self._count_planned(act)
        self._do_copy(act)

    # --- copies -----------------------------------------------------------------------
    def _with_retry(self, fn: Callable[[], Any], attempts: list[int]) -> Any:
        try:
            return self.retry.call(fn, cancel=self.control.cancel_event)
        except InterruptedError:
            raise
        except Exception as exc:
            try:
                exc.attempts = attempts[0]  # type: ignore[attr-defined]
            except Exception:  # noqa: BLE001
                pass
            raise

    def _done_copy(self, act: Action, info: ObjectInfo, verified: bool, resumed: int = 0) -> None:
        """``resumed``: bytes of it an earlier run had sent (its journalled parts), not this one."""
        assert act.src is not None
        with self._lock:
            self.summary.copied += 1
            self.summary.bytes += act.src.size
            self.summary.bytes_resumed += resumed
            if verified:
                self.summary.verified += 1
        with self.stats.lock:
            self.stats.files_done += 1
            self.stats.in_flight.pop(act.path, None)
        self.journal.mark_done(act.path, act.src.fingerprint(), info.crc32c)
        self._object_event(act.path, "done", act.src.size, act.src.size)
        self.emit(ItemDone(STEP, item=act.path, status="copied", detail=act.reason,
                           data={"size": act.src.size, "crc32c": info.crc32c, "verified": verified}))

    def _do_copy(self, act: Action) -> None:
        src = act.src
        assert src is not None
        if self.dry_run:
            with self._lock:
                self.summary.copied += 1
                self.summary.bytes += src.size
            self.emit(ItemDone(STEP, item=act.path, status="would_copy", detail=act.reason, data={"size": src.size}))
            return
        with self.stats.lock:
            self.stats.in_flight[act.path] = (0, src.size)
        self._object_event(act.path, "started", 0, src.size)
        if src.size >= self.threshold:
            self._backlog.add(act.path, src.size)  # planned as a check, or planned before: the same
            if self.part_size_mib is None:
                self._await_the_plan(act.path)
        try:
            self._copy_snapshots(act)
        finally:
            self._backlog.end(act.path)

    def _copy_snapshots(self, act: Action) -> None:
        """Copy ``act`` from a snapshot of its source; again from a new one if it changed meanwhile."""
        src = act.src
        assert src is not None
        if self.dst.scheme == "file" and not src.mtime_preserved:
            stored = self.src.stored_mtime(src)  # an S3 listing lacks the mtime metadata: HEAD
            if stored is not None:
                src.mtime, src.mtime_preserved = stored, True
        tries = 0
        while True:
            tries += 1
            try:
                before = self._snapshot(act)
                if before is VANISHED:
                    return
                self._copy_once(act, before)
                return
            except SourceChanged as exc:
                if tries >= SNAPSHOT_TRIES:
                    raise SourceChanged(f"changed during copy ({tries} tries, never the same from start to end): "
                                        f"{exc}") from None
                self.emit(Message(STEP, text=f"{act.path}: the source changed while it was copied; "
                                  f"copying it again ({tries} of {SNAPSHOT_TRIES})", level="warning"))
                fresh = self.src.stat(act.path)
                if fresh is None:
                    self._vanished(act)
                    return
                act.src = src = fresh
            except InterruptedError:
                raise
            except Exception:
                if self.src.stat(act.path) is None:  # gone mid-copy: not a failure of ours
                    self._vanished(act)
                    return
                raise

    def _snapshot(self, act: Action) -> Any:
        """The source's state as its copy starts (refreshing the listed info if it moved since)."""
        assert act.src is not None
        try:
            before = self.src.source_state(act.src)
        except FileNotFoundError:
            self._vanished(act)
            return VANISHED
        # moved since listing (its size, mtime, inode or ctime): copied as it is now, under its new fingerprint, so
        # no part an earlier run journalled for the listed file is spliced into this one
        if before is not None and (before[0] != act.src.size or before[1] != act.src.mtime_ns
                                   or self.src.state_version(before) not in ("", act.src.version)):
            fresh = self.src.stat(act.path)  # changed since listing: copy it as it is now
            if fresh is None:
                self._vanished(act)
                return VANISHED
            act.src = fresh
        return before

    def _unchanged(self, act: Action, before: Any) -> None:
        """Raise :class:`SourceChanged` unless the source is as it was when the copy started."""
        if before is None:
            return  # every read was pinned to one version (S3 ETag, GCS generation)
        assert act.src is not None
        try:
            after = self.src.source_state(act.src)
        except FileNotFoundError:
            raise SourceChanged(f"{act.path}: deleted while it was copied") from None
        if after != before:
            raise SourceChanged(f"{act.path}: size, mtime, inode or ctime moved while it was read "
                                f"(size {before[0]} -> {after[0] if after else '?'})")

    def _vanished(self, act: Action) -> None:
        """The listed file is no longer one: deleted, or replaced by a folder (a checkpoint file
        that became a folder of shards) or a special file. Either way not copied and not a
        failure; the reason says which, and what the next run does about it."""
        with self.stats.lock:
            self.stats.in_flight.pop(act.path, None)
        now = self.src.gone_as(act.path)
        if not now:
            self._not_copied(act.path, "vanished: deleted from the source after it was listed")
            return
        kept = "" if act.dst is None else "; its earlier copy is kept"
        if now == "a folder":
            nxt = "the next run copies the files in it"
            if act.dst is not None:
                nxt += (" once -d has deleted the earlier copy in their way" if self.dst.scheme == "file"
                        else ", and with -d deletes the earlier copy")
        elif now == "a symlink":
            nxt = "the next run skips it (--no-follow-symlinks)"
        else:
            nxt = "the next run reports it as not a regular file"
        self._not_copied(act.path, f"changed: now {now} (it was a file when listed; not copied{kept}; {nxt})")

    def _copy_once(self, act: Action, before: Any) -> None:
        src = act.src
        assert src is not None
        part = self._part_size(act)
        if src.size >= self.threshold and src.size > part:
            if self._parts_allowed():
                self._copy_parts(act, part, before)
            else:
                self._copy_stream(act, before)
        elif src.size <= SMALL_MAX or (self.dst.scheme == "s3" and src.size <= part):
            self._copy_small(act, before)
        elif self.dst.scheme == "s3":
            self._copy_parts(act, part, before)
        else:
            self._copy_stream(act, before)

    def _part_size(self, act: Action) -> int:
        """The part size for this copy (:func:`effective_part_size`), an object at the threshold
        or above sized against the other large objects still to send. With the automatic size, an
        upload an earlier run journalled for this very source keeps its part size, so a re-run
        with another ``-j`` (or beside other objects) resumes its parts instead of starting the
        object afresh."""
        src = act.src
        assert src is not None
        others = self._backlog.others(act.path) if src.size >= self.threshold else 0
        part = effective_part_size(self.part_size_mib, self.threshold // MIB, src.size, self.dst, self.jobs, others)
        if self.part_size_mib is None and src.size >= self.threshold and not self.dry_run:
            known = self.journal.upload(act.path, src.fingerprint())
            if known is not None:
                earlier = known[1]
                if (self.dst.min_part_size <= earlier < src.size and earlier % MIB == 0
                        and -(-src.size // earlier) <= self.dst.max_parts):
                    return earlier
        return part

    def _parts_allowed(self) -> bool:
        """Whether the destination takes large objects in parts; the first time, says which way
        they go (and why not in parts, where the store's settings make that costly)."""
        with self._parts_lock:  # not self._lock: the first answer may take a request
            if self._parts_ok is None:
                why = self.dst.parts_refused()
                self._parts_ok = not why
                text = (f"large objects: {self.dst.parts_path()}" if not why
                        else f"large objects: one resumable upload each, not in parts, because {why}")
                self.emit(Message(STEP, text=text, level="info"))
            return self._parts_ok

    def _verify(self, act: Action, info: ObjectInfo, crc: int, md5: str | None = None) -> bool:
        """Compare what the destination reports with what was read; True when a checksum was compared."""
        want = crc_to_hex(crc)
        if info.crc32c is not None:
            if info.crc32c != want:
                raise ChecksumMismatch(f"{act.path}: destination reports CRC32C {info.crc32c}, sent {want}")
            return True
        if info.md5 is not None and md5 is not None:
            if info.md5 != md5:
                raise ChecksumMismatch(f"{act.path}: destination reports MD5 {info.md5}, sent {md5}")
            return True
        return False

    def _copy_small(self, act: Action, before: Any = None) -> None:
        src = act.src
        assert src is not None
        attempts = [0]
        expect = [act.dst.version if act.dst is not None else ""]

        def once() -> tuple[ObjectInfo, bool]:
            attempts[0] += 1
            data = self.src.read_range(src, 0, src.size)
            if len(data) != src.size:
                self._unchanged(act, before)  # a file that shrank: SourceChanged, not a retry
                raise ChecksumMismatch(f"{act.path}: read {len(data)} bytes, listed {src.size}")
            h = Hasher(md5=src.crc32c is None and src.md5 is not None or self.dst.scheme == "s3")
            h.update(data)
            if src.crc32c is not None and h.crc32c_hex != src.crc32c:
                raise ChecksumMismatch(f"{act.path}: read CRC32C {h.crc32c_hex}, source reports {src.crc32c}")
            if src.crc32c is None and src.md5 is not None and h.md5_hex != src.md5:
                raise ChecksumMismatch(f"{act.path}: read MD5 {h.md5_hex}, source reports {src.md5}")
            self._unchanged(act, before)
            self.limiter.take(len(data), self.control.cancel_event)
            self.control.checkpoint()
            info = self.dst.put(act.path, data, src, expect[0] if self._conditional else None, h.crc)
            try:
                ok = self._verify(act, info, h.crc, h.md5_hex)
            except ChecksumMismatch:
                expect[0] = info.version  # our own bad write: the retry may replace it
                raise
            return info, ok

        info, ok = self._with_retry(once, attempts)
        self.stats.add_bytes(src.size)
        self._done_copy(act, info, ok)

    def _copy_stream(self, act: Action, before: Any = None) -> None:
        src = act.src
        assert src is not None
        attempts = [0]
        expect = [act.dst.version if act.dst is not None else ""]
        sent = [0]

        def on_bytes(n: int) -> None:
            sent[0] += n
            self.stats.add_bytes(n)
            self.control.checkpoint()
            self._object_event(act.path, "progress", sent[0], src.size)

        def once() -> tuple[ObjectInfo, bool]:
            attempts[0] += 1
            if sent[0]:  # a retry re-sends from the start: take back what was counted
                self.stats.add_bytes(-sent[0])
                sent[0] = 0
            reader = HashingReader(self.src.open_read(src), src.size, expect_crc32c=src.crc32c,
                                   expect_md5=src.md5, limiter=self.limiter, on_bytes=on_bytes,
                                   cancel=self.control.cancel_event, label=act.path,
                                   at_end=lambda: self._unchanged(act, before))
            try:
                info = self.dst.put_stream(act.path, reader, src, expect[0] if self._conditional else None)
                reader.check()
            finally:
                reader.close()
            try:
                ok = self._verify(act, info, reader.hasher.crc)
            except ChecksumMismatch:
                expect[0] = info.version
                raise
            return info, ok

        info, ok = self._with_retry(once, attempts)
        self._done_copy(act, info, ok)

    def _copy_parts(self, act: Action, part_size: int, before: Any = None) -> None:
        src = act.src
        assert src is not None
        fp = src.fingerprint()
        expect = (act.dst.version if act.dst is not None else "") if self._conditional else None
        self._orphans.pop(act.path, None)  # resumed or replaced here, not debris of an earlier run
        up: PartUpload | None = None
        known = self.journal.upload(act.path, fp)
        if known is not None and known[1] == part_size:
            up = self.dst.begin_parts(act.path, src, part_size, expect, token=known[0])
            if not self.dst.part_upload_alive(up):
                self.journal.drop_upload(act.path)
                self.journal.forget_upload(up.token)
                up = None
        if up is None:
            up = self._with_retry(lambda: self.dst.begin_parts(act.path, src, part_size, expect), [1])
            replaced = self.journal.set_upload(act.path, fp, up.token, part_size)
            if replaced:  # an earlier run's upload of an older source or another part size
                self._abort_stale([(act.path, t) for t in replaced])
        try:
            self._send_parts(act, up, before)
        except (InterruptedError, KeyboardInterrupt):
            raise  # paused or cancelled: the journalled parts are kept for the resumed run
        except BaseException:
            self._discard(act.path, up)
            raise
        self.journal.drop_upload(act.path)
        self.journal.forget_upload(up.token)

    def _discard(self, path: str, up: PartUpload) -> None:
        """A write in parts failed: no parts left billed on the store for an object nobody sees.
        Should the store refuse the clean-up, the upload stays on the journal's ledger and the
        next run aborts it (:meth:`_abort_stale`)."""
        self.journal.drop_upload(path)
        try:
            self.dst.abort_parts(up)
        except Exception as exc:  # noqa: BLE001 - the original failure is what gets reported
            self.emit(Message(STEP, text=f"{path}: could not clean up the unfinished upload ({exc}); "
                              f"the next run tries again; {self._cleanup_hint()}", level="warning"))
            return
        self.journal.forget_upload(up.token)

    def _cleanup_hint(self) -> str:
        return f"`gpumigrate transfer --cleanup {self.dst_url}` lists it"

    def _abort_stale(self, stale: list[tuple[str, str]] | None = None) -> None:
        """Abort what earlier runs of this transfer left unfinished and no journalled object
        continues (a replaced upload, a run killed before it could clean up)."""
        if stale is None:
            stale = self.journal.stale_uploads()
        if not stale:
            return
        errors: list[str] = []
        try:
            gone = self.dst.abort_stale(stale, errors)
        except Exception as exc:  # noqa: BLE001 - clean-up must not stop the copy; tried again next run
            self.emit(Message(STEP, text=f"could not clean up {len(stale)} unfinished uploads left by an earlier "
                              f"run ({type(exc).__name__}: {exc}); the next run tries again; {self._cleanup_hint()}",
                              level="warning"))
            return
        for token in gone:
            self.journal.forget_upload(token)
        if len(gone) < len(stale):
            first = f"; {errors[0]}" if errors else ""
            self.emit(Message(STEP, text=f"could not abort {len(stale) - len(gone)} of {len(stale)} unfinished "
                              f"uploads left by an earlier run{first}; the next run tries "
                              f"again; {self._cleanup_hint()}", level="warning"))
            return
        self.emit(Message(STEP, text=f"cleaned up {len(gone)} of {len(stale)} unfinished uploads left by an "
                          "earlier run", level="info"))

    def _send_parts(self, act: Action, up: PartUpload, before: Any = None) -> None:
        src = act.src
        assert src is not None
        fp = src.fingerprint()
        done = self.journal.parts(act.path, fp)
        done = {n: v for n, v in done.items() if n < up.count}
        if done:
            for n in self.dst.missing_parts(up, done):  # journalled, but gone from the store since
                done.pop(n)
        resumed = sum(up.span(n)[1] for n in done)
        if done:
            with self._lock:
                self.summary.resumed_parts += len(done)
            self.emit(Message(STEP, text=f"{act.path}: resuming, {len(done)} of {up.count} parts already copied",
                              level="info"))
        self.stats.add_bytes(resumed, resumed=True)  # the bar moves; the rate does not
        self._backlog.sent(act.path, resumed)
        sent = [resumed]
        parts_lock = threading.Lock()

        def do_part(n: int) -> None:
            start, length = up.span(n)
            attempts = [0]

            def once() -> tuple[int, str]:
                attempts[0] += 1
                self.control.checkpoint()
                data = self.src.read_range(src, start, length)
                if len(data) != length:
                    self._unchanged(act, before)  # a file that shrank: SourceChanged, not a retry
                    raise ChecksumMismatch(f"{act.path} part {n}: read {len(data)} of {length} bytes")
                crc = crc32c(data)
                self.limiter.take(length, self.control.cancel_event)
                self.control.checkpoint()
                etag = self.dst.put_part(up, n, data, crc)
                return crc, etag

            crc, etag = self._with_retry(once, attempts)
            self._backlog.sent(act.path, length)
            self.journal.add_part(act.path, fp, n, crc, etag)
            with parts_lock:
                done[n] = (crc, etag)
                sent[0] += length
                got = sent[0]
            self.stats.add_bytes(length)
            self._object_event(act.path, "progress", got, src.size)

        futures = [self._parts.submit(do_part, n) for n in range(up.count) if n not in done]
        finished, _ = wait(futures, return_when=FIRST_EXCEPTION)
        for fut in futures:
            if fut.done() and fut.exception() is not None:
                for other in futures:
                    other.cancel()
                wait(futures)
                raise fut.exception()  # type: ignore[misc]
        wait(futures)
        if self.control.cancelled:
            raise InterruptedError
        self._unchanged(act, before)  # parts of two contents: _copy_parts discards the upload
        whole = combine_parts((done[n][0], up.span(n)[1]) for n in range(up.count))
        if src.crc32c is not None and crc_to_hex(whole) != src.crc32c:
            raise ChecksumMismatch(f"{act.path}: parts read give CRC32C {crc_to_hex(whole)}, source reports {src.crc32c}")
        attempts = [0]

        def finish() -> ObjectInfo:
            attempts[0] += 1
            return self.dst.finish_parts(up, done)

        info = self._with_retry(finish, attempts)
        ok = self._verify(act, info, whole)  # a mismatch: the parts are suspect, start afresh next time
        self._done_copy(act, info, ok, resumed)
