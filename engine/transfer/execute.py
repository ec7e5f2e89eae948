"""Runs a transfer: streams the plan into a pool of workers, copies in parts, verifies,
journals, applies the delete guards, and reports progress through events.

Read :mod:`engine.transfer.api` for the public entry points; this module is the machinery.
"""

from __future__ import annotations

import collections
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Callable

from engine.errors import BadInputError
from engine.events import Emit, ItemDone, Message, Progress
from engine.transfer.backends.base import Backend, ObjectInfo, PartUpload
from engine.transfer.checksums import Hasher, combine_parts, crc32c, crc_to_hex
from engine.transfer.control import TransferControl
from engine.transfer.journal import Journal
from engine.transfer.plan import Action, diff
from engine.transfer.retry import ChecksumMismatch, RetryPolicy
from engine.transfer.streams import HashingReader, RateLimiter

STEP = "transfer"
SMALL_MAX = 8 << 20
"""Objects up to this size are read whole and written in one request."""
MIB = 1 << 20
BATCH_OBJECT_MAX = 256 * 1024
"""Copies up to this size may be handed to a worker in batches (see ``submit_small``)."""
BATCH_MAX = 32
"""Most copies in one batch: enough to make the hand-off cheap, few enough to keep every
worker busy near the end of a run."""
NETWORK_BATCH_MAX = 4
"""The same where either side is a network store (see ``Transfer.run``)."""
OBJECT_EVENT_MIN = 256 * 1024
"""Objects at least this large get started/progress/done events for a live in-flight table."""


class DeleteRefused(BadInputError):
    """A ``-d`` guard refused the run after planning and before anything was copied or deleted (exit 2)."""


@dataclass
class Failure:
    """One object that could not be copied or deleted, with the last error."""

    path: str
    action: str
    error: str
    attempts: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "action": self.action, "error": self.error, "attempts": self.attempts}


@dataclass
class TransferSummary:
    """What a transfer did (or, in a dry run, would do)."""

    copied: int = 0
    deleted: int = 0
    skipped: int = 0
    failed: int = 0
    bytes: int = 0
    verified: int = 0
    excluded: int = 0
    refused: int = 0
    conflicts: int = 0
    resumed_parts: int = 0
    dry_run: bool = False
    interrupted: bool = False
    delete_refused: str = ""
    """Why the deletions were refused by a guard ("" when they ran or none were planned)."""
    planned_delete: int = 0
    planned_objects: int = 0
    """Objects the plan found to copy (new or changed), whether or not they were copied."""
    planned_bytes: int = 0
    """Their bytes."""
    failures: list[Failure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and not self.interrupted and not self.delete_refused

    def to_event(self) -> dict[str, Any]:
        """The final NDJSON line: ``{"event": "summary", "copied": n, ...}``."""
        return {"event": "summary", "copied": self.copied, "deleted": self.deleted, "skipped": self.skipped,
                "failed": self.failed, "bytes": self.bytes, "verified": self.verified,
                "excluded": self.excluded, "refused": self.refused, "conflicts": self.conflicts,
                "resumed_parts": self.resumed_parts, "dry_run": self.dry_run, "interrupted": self.interrupted,
                "delete_refused": self.delete_refused or None, "planned_objects": self.planned_objects,
                "planned_bytes": self.planned_bytes, "planned_delete": self.planned_delete,
                "failures": [f.to_dict() for f in self.failures[:1000]]}

    def line(self) -> str:
        verb = "would copy" if self.dry_run else "copied"
        dverb = "would delete" if self.dry_run else "deleted"
        text = (f"{verb} {self.copied} ({_human(self.bytes)}), {dverb} {self.deleted}, skipped {self.skipped}, "
                f"failed {self.failed}, verified {self.verified}")
        if self.delete_refused:
            text += f"; deletions refused: {self.delete_refused}"
        if self.interrupted:
            text += "; interrupted (run the same command again to resume)"
        return text


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n}"


class _Stats:
    """Counters behind the progress events; thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.files_total = 0
        self.bytes_total = 0
        self.files_done = 0
        self.bytes_done = 0
        self.listing_done = False
        self.in_flight: dict[str, tuple[int, int]] = {}
        self._samples: collections.deque[tuple[float, int]] = collections.deque(maxlen=64)

    def add_bytes(self, n: int) -> None:
        with self.lock:
            self.bytes_done += n

    def rate(self) -> float | None:
        now = time.monotonic()
        with self.lock:
            self._samples.append((now, self.bytes_done))
            while len(self._samples) > 2 and now - self._samples[0][0] > 5.0:
                self._samples.popleft()
            (t0, b0), (t1, b1) = self._samples[0], self._samples[-1]
        return (b1 - b0) / (t1 - t0) if t1 - t0 > 0.2 else None


def effective_part_size(spec_part_mib: int, threshold_mib: int, size: int, dst: Backend) -> int:
    part = max(min(spec_part_mib, threshold_mib) * MIB, dst.min_part_size)
    while -(-size // part) > dst.max_parts:
        part *= 2
    return part


class Transfer:
    """One run of one spec. Build it, then call :meth:`run` once."""

    def __init__(self, *, src: Backend, dst: Backend, src_url: str, dst_url: str, emit: Emit,
                 journal: Journal, control: TransferControl, dry_run: bool = False, recursive: bool = True,
                 delete: bool = False, exclude: list[str] | None = None, checksum: bool = False,
                 max_delete: int | None = None, allow_empty_source: bool = False, jobs: int = 8,
                 bwlimit: float | None = None, part_threshold_mib: int = 150, part_size_mib: int = 16,
                 retry: RetryPolicy | None = None, approve_delete: Callable[[int, str], Any] | None = None):
        self.src, self.dst = src, dst
        self.approve_delete = approve_delete
        self.src_url, self.dst_url = src_url, dst_url
        self.emit = emit
        self.journal = journal
        self.control = control
        self.dry_run = dry_run
        self.recursive, self.delete, self.exclude, self.checksum = recursive, delete, exclude or [], checksum
        self.max_delete, self.allow_empty_source = max_delete, allow_empty_source
        self.jobs = jobs
        self.limiter = RateLimiter(bwlimit)
        self.threshold = part_threshold_mib * MIB
        self.part_size_mib = part_size_mib
        self.retry = retry or RetryPolicy()
        self._conditional = dst.scheme in ("gs", "s3")
        """Writes and deletes carry what planning saw at the destination as a precondition."""
        self.summary = TransferSummary(dry_run=dry_run)
        self.stats = _Stats()
        self._lock = threading.Lock()
        self._last_object_event: dict[str, float] = {}

    # --- events -----------------------------------------------------------------
    def _progress(self, final: bool = False) -> None:
        st = self.stats
        rate = st.rate()
        with st.lock:
            files_done, files_total = st.files_done, st.files_total
            bytes_done, bytes_total = st.bytes_done, st.bytes_total
            listing_done = st.listing_done
            in_flight = len(st.in_flight)
        s = self.summary
        eta = None
        if listing_done and rate:
            eta = max(bytes_total - bytes_done, 0) / rate if rate > 0 else None
        extra = {"files_done": files_done, "files_total": files_total, "bytes_done": bytes_done,
                 "bytes_total": bytes_total, "listing_done": listing_done, "in_flight": in_flight,
                 "copied": s.copied, "deleted": s.deleted, "skipped": s.skipped, "failed": s.failed,
                 "verified": s.verified, "paused": self.control.paused, "final": final}
        total_b = bytes_total if listing_done else None
        total_f = files_total if listing_done else None
        self.emit(Progress(STEP, done=bytes_done, total=total_b, unit="B", rate=rate, eta_s=eta, label="bytes",
                           extra=extra))
        self.emit(Progress(STEP, done=files_done, total=total_f, unit="files", label="files", extra=extra))

    def _object_event(self, path: str, phase: str, done: int, total: int) -> None:
        """Per-object progress for a live "in flight" table: phase started|progress|done|failed.

        Objects under OBJECT_EVENT_MIN bytes finish in milliseconds and get no per-object feed
        (their ItemDone still comes); failures are always reported."""
        if total < OBJECT_EVENT_MIN and phase != "failed":
            return
        if phase == "progress":
            now = time.monotonic()
            if now - self._last_object_event.get(path, 0.0) < 0.5:
                return
            self._last_object_event[path] = now
        elif phase in ("done", "failed"):
            self._last_object_event.pop(path, None)
        self.emit(Progress(STEP, done=done, total=total, unit="B", label="object",
                           extra={"path": path, "phase": phase}))

    def _fail(self, path: str, action: str, exc: BaseException | str, attempts: int = 1) -> None:
        text = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
        with self._lock:
            self.summary.failed += 1
            self.summary.failures.append(Failure(path, action, text, attempts))
        self.emit(ItemDone(STEP, item=path, status="failed", detail=text, data={"action": action, "attempts": attempts}))

    # --- the run ------------------------------------------------------------------
    def run(self) -> TransferSummary:
        run_id = self.journal.start_run(self.src_url, self.dst_url) if not self.dry_run else 0
        if not self.dry_run:
            self._abort_stale()
        stop_ticker = threading.Event()
        ticker = threading.Thread(target=self._tick, args=(stop_ticker,), daemon=True, name="transfer-progress")
        ticker.start()
        self._objects = ThreadPoolExecutor(self.jobs, thread_name_prefix="transfer-obj")
        # Small copies between two local trees are system calls of microseconds, each releasing
        # and re-taking the GIL: a second thread turns every one into a futex hand-off (5,000
        # files of 4 KiB: 1 thread 1.1-2.6 s, 2 threads 1.6-3.3 s, 8 threads 2.2-3.4 s on the
        # 2-core test VM).  So they get one worker; anything touching a network gets ``jobs``.
        both_local = self.src.scheme == "file" and self.dst.scheme == "file"
        self._small = (ThreadPoolExecutor(1, thread_name_prefix="transfer-small") if both_local
                       else self._objects)
        # Over a network a copy is a round trip of milliseconds, so hand-offs matter less than
        # the tail: the last batches run one file after another while other workers idle.
        batch_max = BATCH_MAX if both_local else NETWORK_BATCH_MAX
        self._parts = ThreadPoolExecutor(self.jobs, thread_name_prefix="transfer-part")
        slots = threading.BoundedSemaphore(self.jobs * 4)
        pending: set[Future] = set()
        spool = None
        raised = False
        src_count = dst_count = 0

        def counted(it, side: str):
            nonlocal src_count, dst_count
            for info in it:
                if side == "src":
                    src_count += 1
                else:
                    dst_count += 1
                yield info

        def take_slot() -> None:
            while not slots.acquire(timeout=0.2):
                if self.control.cancelled:
                    raise InterruptedError

        def track(fut: Future) -> None:
            fut.add_done_callback(lambda _f: slots.release())
            pending.add(fut)
            if len(pending) > self.jobs * 8:
                pending.difference_update({f for f in pending if f.done()})

        def submit(fn: Callable[..., None], *args: Any) -> None:
            take_slot()
            track(self._objects.submit(self._guarded, fn, *args))

        batch: list[Action] = []

        def submit_small(act: Action) -> None:
            """Small copies queue up while every worker is busy and go as one task when a slot
            frees (or the batch is full): one hand-off per batch, not per file.  While workers
            are idle each file goes at once; a batch started while they were busy waits at most
            until the next copy is listed (or the listing ends)."""
            batch.append(act)
            if len(batch) >= batch_max:
                take_slot()
            elif not slots.acquire(blocking=False):
                return
            flush_batch()

        def flush_batch() -> None:  # a slot is held
            track(self._small.submit(self._guarded_batch, batch[:]))
            batch.clear()

        def flush_rest() -> None:
            if batch:
                take_slot()
                flush_batch()

        try:
            actions = diff(counted(self.src.list(self.recursive), "src"),
                           counted(self.dst.list(self.recursive), "dst"),
                           checksum=self.checksum, delete=self.delete, exclude=self.exclude,
                           local_dst=self.dst.scheme == "file")
            if self.delete:
                # -d: list and diff to the end (spooled to disk), check the guards, and only then
                # change anything; without -d copying overlaps the listing.
                spool = self._plan_first(actions, lambda: (src_count, dst_count))
                actions = spool.read(exclude=("delete",))
            for act in actions:
                if self.control.cancelled:
                    raise InterruptedError
                if act.kind in ("copy", "check"):
                    if act.kind == "copy" and spool is None:
                        self._count_planned(act)
                    if act.kind == "copy" and act.size <= BATCH_OBJECT_MAX:
                        submit_small(act)
                    else:
                        submit(self._do_copy if act.kind == "copy" else self._do_check, act)
                elif act.kind == "skip":
                    with self._lock:
                        self.summary.skipped += 1
                elif act.kind == "excluded":
                    with self._lock:
                        self.summary.excluded += 1
                elif act.kind in ("refused", "conflict"):
                    with self._lock:
                        if act.kind == "refused":
                            self.summary.refused += 1
                        else:
                            self.summary.conflicts += 1
                    self._fail(act.path, act.kind, act.reason)
            flush_rest()
            with self.stats.lock:
                self.stats.listing_done = True
            if spool is not None and self.summary.planned_delete:
                self._delete_phase(spool.read(kinds=("delete",)), submit)
            wait(pending)
        except (InterruptedError, KeyboardInterrupt):
            self.control.cancel()
            self.summary.interrupted = True
        except BaseException:
            raised = True  # a listing error, a refused -d, a declined approval: not "completed"
            raise
        finally:
            if spool is not None:
                spool.close()
            self._objects.shutdown(wait=True, cancel_futures=True)
            if self._small is not self._objects:
                self._small.shutdown(wait=True, cancel_futures=True)
            self._parts.shutdown(wait=True, cancel_futures=True)
            stop_ticker.set()
            ticker.join()
            if self.control.cancelled:
                self.summary.interrupted = True
            with self.stats.lock:
                self.summary.planned_objects, self.summary.planned_bytes = self.stats.files_total, self.stats.bytes_total
            self._progress(final=True)
            if not self.dry_run:
                state = ("interrupted" if self.summary.interrupted else
                         "completed" if self.summary.ok and not raised else "failed")
                self.journal.finish_run(run_id, state, self.summary.line())
        return self.summary

    def _tick(self, stop: threading.Event) -> None:
        while not stop.wait(0.25):
            self._progress()

    def _count_planned(self, act: Action) -> None:
        with self.stats.lock:
            self.stats.files_total += 1
            self.stats.bytes_total += act.size

    def _guarded(self, fn: Callable[[Action], None], act: Action) -> None:
        if self.control.cancelled:
            return
        try:
            self.control.checkpoint()
            fn(act)
        except InterruptedError:
            pass
        except Exception as exc:  # noqa: BLE001 - a failed object is reported, the run goes on
            self._fail(act.path, "delete" if act.kind == "delete" else "copy", exc, getattr(exc, "attempts", 1))
            with self.stats.lock:
                self.stats.in_flight.pop(act.path, None)
            self._object_event(act.path, "failed", 0, act.size)

    def _guarded_batch(self, acts: list[Action]) -> None:
        for act in acts:
            self._guarded(self._do_copy, act)

    # --- deletions ------------------------------------------------------------------
    def _plan_first(self, actions, counts: Callable[[], tuple[int, int]]):
        """Spool the whole plan, then apply the -d guards; raises :class:`DeleteRefused` before any change."""
        from engine.transfer.spool import PlanSpool

        spool = PlanSpool(self.journal.path)
        try:
            planned = 0
            for act in spool.write(actions):
                if self.control.cancelled:
                    raise InterruptedError
                if act.kind == "copy":
                    self._count_planned(act)
                elif act.kind == "delete":
                    planned += 1
            src_count, dst_count = counts()
            with self._lock:  # skips and exclusions are counted here: the spool does not keep them
                self.summary.skipped += spool.not_stored["skip"]
                self.summary.excluded += spool.not_stored["excluded"]
            self.summary.planned_delete = planned
            reason = delete_guard(planned, src_count, dst_count, self.max_delete, self.allow_empty_source)
        except BaseException:
            spool.close()
            raise
        if reason:
            spool.close()
            self.summary.delete_refused = reason
            self.emit(Message(STEP, text=f"-d refused: {reason}", level="error"))
            raise DeleteRefused(f"-d refused before anything was copied or deleted: {reason}")
        if planned and self.approve_delete is not None and not self.dry_run:
            detail = (f"{self.src_url} -> {self.dst_url}: delete {planned} destination object(s) the source "
                      f"lacks (source {src_count}, destination {dst_count} objects)")
            try:
                self.approve_delete(planned, detail)  # raises to stop the run before any change
            except BaseException as exc:
                spool.close()
                self.summary.delete_refused = f"not approved: {exc}"
                raise
        with self.stats.lock:
            self.stats.listing_done = True
        return spool

    def _delete_phase(self, deletes, submit) -> None:
        for act in deletes:
            if self.control.cancelled:
                raise InterruptedError
            if self.dry_run:
                with self._lock:
                    self.summary.deleted += 1
                self.emit(ItemDone(STEP, item=act.path, status="would_delete", data={"size": act.size}))
            else:
                submit(self._do_delete, act)

    def _do_delete(self, act: Action) -> None:
        assert act.dst is not None
        attempts = [0]

        def once() -> None:
            attempts[0] += 1
            self.dst.delete(act.path, act.dst.version if self._conditional else None)

        self._with_retry(once, attempts)
        with self._lock:
            self.summary.deleted += 1
        self.emit(ItemDone(STEP, item=act.path, status="deleted", data={"size": act.size}))

    # --- checks (-c) ------------------------------------------------------------------
    def _do_check(self, act: Action) -> None:
        assert act.src is not None and act.dst is not None
        s_crc = ensure_crc32c(self.src, act.src)
        d_crc = ensure_crc32c(self.dst, act.dst)
        if s_crc == d_crc:
            with self._lock:
                self.summary.skipped += 1
            return
        act.kind, act.reason = "copy", "crc32c differs"
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

    def _done_copy(self, act: Action, info: ObjectInfo, verified: bool) -> None:
        assert act.src is not None
        with self._lock:
            self.summary.copied += 1
            self.summary.bytes += act.src.size
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
        part = effective_part_size(self.part_size_mib, self.threshold // MIB, src.size, self.dst)
        if src.size >= self.threshold and src.size > part:
            self._copy_parts(act, part)
        elif src.size <= SMALL_MAX or (self.dst.scheme == "s3" and src.size <= part):
            self._copy_small(act)
        elif self.dst.scheme == "s3":
            self._copy_parts(act, part)
        else:
            self._copy_stream(act)

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

    def _copy_small(self, act: Action) -> None:
        src = act.src
        assert src is not None
        attempts = [0]
        expect = [act.dst.version if act.dst is not None else ""]

        def once() -> tuple[ObjectInfo, bool]:
            attempts[0] += 1
            data = self.src.read_range(src, 0, src.size)
            if len(data) != src.size:
                raise ChecksumMismatch(f"{act.path}: read {len(data)} bytes, listed {src.size}")
            h = Hasher(md5=src.crc32c is None and src.md5 is not None or self.dst.scheme == "s3")
            h.update(data)
            if src.crc32c is not None and h.crc32c_hex != src.crc32c:
                raise ChecksumMismatch(f"{act.path}: read CRC32C {h.crc32c_hex}, source reports {src.crc32c}")
            if src.crc32c is None and src.md5 is not None and h.md5_hex != src.md5:
                raise ChecksumMismatch(f"{act.path}: read MD5 {h.md5_hex}, source reports {src.md5}")
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

    def _copy_stream(self, act: Action) -> None:
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
                                   cancel=self.control.cancel_event, label=act.path)
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

    def _copy_parts(self, act: Action, part_size: int) -> None:
        src = act.src
        assert src is not None
        fp = src.fingerprint()
        expect = (act.dst.version if act.dst is not None else "") if self._conditional else None
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
            self._send_parts(act, up)
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
                              "the next run tries again", level="warning"))
            return
        self.journal.forget_upload(up.token)

    def _abort_stale(self, stale: list[tuple[str, str]] | None = None) -> None:
        """Abort what earlier runs of this transfer left unfinished and no journalled object
        continues (a replaced upload, a run killed before it could clean up)."""
        if stale is None:
            stale = self.journal.stale_uploads()
        if not stale:
            return
        try:
            gone = self.dst.abort_stale(stale)
        except Exception as exc:  # noqa: BLE001 - clean-up must not stop the copy; tried again next run
            self.emit(Message(STEP, text=f"could not clean up {len(stale)} unfinished uploads left by an earlier "
                              f"run ({type(exc).__name__}: {exc}); the next run tries again", level="warning"))
            return
        for token in gone:
            self.journal.forget_upload(token)
        self.emit(Message(STEP, text=f"cleaned up {len(gone)} of {len(stale)} unfinished uploads left by an "
                          "earlier run", level="info"))

    def _send_parts(self, act: Action, up: PartUpload) -> None:
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
        self.stats.add_bytes(resumed)
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
                    raise ChecksumMismatch(f"{act.path} part {n}: read {len(data)} of {length} bytes")
                crc = crc32c(data)
                self.limiter.take(length, self.control.cancel_event)
                self.control.checkpoint()
                etag = self.dst.put_part(up, n, data, crc)
                return crc, etag

            crc, etag = self._with_retry(once, attempts)
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
        whole = combine_parts((done[n][0], up.span(n)[1]) for n in range(up.count))
        if src.crc32c is not None and crc_to_hex(whole) != src.crc32c:
            raise ChecksumMismatch(f"{act.path}: parts read give CRC32C {crc_to_hex(whole)}, source reports {src.crc32c}")
        attempts = [0]

        def finish() -> ObjectInfo:
            attempts[0] += 1
            return self.dst.finish_parts(up, done)

        info = self._with_retry(finish, attempts)
        ok = self._verify(act, info, whole)  # a mismatch: the parts are suspect, start afresh next time
        self._done_copy(act, info, ok)


def delete_guard(planned: int, src_count: int, dst_count: int, max_delete: int | None,
                 allow_empty_source: bool) -> str:
    """Why ``-d`` must not run ("" when it may): an empty source, or more deletions than the limit."""
    if planned == 0:
        return ""
    if src_count == 0 and not allow_empty_source:
        return (f"the source lists empty; -d would delete all {planned} destination objects "
                "(pass --allow-empty-source, or allow_empty_source = true in the profile entry, "
                "if that is really intended)")
    limit = max_delete if max_delete is not None else max(1, min(dst_count // 10, 1000))
    if planned > limit:
        basis = ("--max-delete" if max_delete is not None
                 else f"default: 10% of the destination's {dst_count:,} objects or 1,000, whichever is smaller")
        return (f"{planned} deletions planned, more than the limit of {limit} ({basis}); "
                f"pass --max-delete {planned} (max_delete = {planned} in the profile entry) to allow it")
    return ""


def ensure_crc32c(backend: Backend, info: ObjectInfo) -> str:
    """The object's CRC32C (hex): from the listing, from the store, or by reading it."""
    if info.crc32c is None:
        backend.full_checksums(info)
    if info.crc32c is None:
        info.crc32c = backend.hash_object(info).crc32c_hex
    return info.crc32c
