"""Runs a transfer: streams the plan into a pool of workers, applies the delete guards,
runs the deletions last (none after any error), and reports progress through events.

Read :mod:`engine.transfer.api` for the public entry points; this module is the machinery.
The copies themselves are in :mod:`engine.transfer.copying`, the counts in
:mod:`engine.transfer.summary`, the ``-d`` guards in :mod:`engine.transfer.guards`.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, Callable

from engine.events import Emit, ItemDone, Message, Progress
from engine.transfer.backends.base import Backend
from engine.transfer.backlog import PartBacklog
from engine.transfer.compare import ensure_crc32c
from engine.transfer.control import TransferControl
from engine.transfer.copying import MIB, SMALL_MAX, STEP, CopyJobs, effective_part_size
from engine.transfer.guards import DeleteRefused, delete_guard, deletions_blocked
from engine.transfer.in_order import InOrder
from engine.transfer.journal import Journal
from engine.transfer.plan import Action, diff, without_placeholders
from engine.transfer.readahead import ReadAhead
from engine.transfer.retry import RetryPolicy
from engine.transfer.spec import JOBS
from engine.transfer.state_room import StateFull
from engine.transfer.streams import RateLimiter
from engine.transfer.summary import Failure, TransferSummary

__all__ = ["DeleteRefused", "Failure", "Transfer", "TransferSummary", "delete_guard", "effective_part_size",
           "ensure_crc32c", "SMALL_MAX", "STEP"]

BATCH_OBJECT_MAX = 256 * 1024
"""Copies up to this size may be handed to a worker in batches (see ``submit_small``)."""
BATCH_MAX = 32
"""Most copies in one batch: enough to make the hand-off cheap, few enough to keep every
worker busy near the end of a run."""
NETWORK_BATCH_MAX = 4
"""The same where either side is a network store (see ``Transfer.run``)."""
PLAN_WAIT_S = 0.1
"""Longest a large object waits for the next action to be planned before it is sized: about a
listing page's round trip to S3 or GCS from the same region."""
OBJECT_EVENT_MIN = 256 * 1024
"""Objects at least this large get started/progress/done events for a live in-flight table."""


class _Stats:
    """Counters behind the progress events; thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.files_total = 0
        self.bytes_total = 0
        self.files_done = 0
        self.bytes_done = 0
        self.bytes_resumed = 0
        """Of ``bytes_done``: parts an earlier run had sent (the bar counts them, the rate must not)."""
        self.listing_done = False
        self.in_flight: dict[str, tuple[int, int]] = {}
        self._samples: collections.deque[tuple[float, int]] = collections.deque(maxlen=64)

    def add_bytes(self, n: int, resumed: bool = False) -> None:
        with self.lock:
            self.bytes_done += n
            if resumed:
                self.bytes_resumed += n

    def rate(self) -> float | None:
        now = time.monotonic()
        with self.lock:
            self._samples.append((now, self.bytes_done - self.bytes_resumed))  # what this run sent
            while len(self._samples) > 2 and now - self._samples[0][0] > 5.0:
                self._samples.popleft()
            (t0, b0), (t1, b1) = self._samples[0], self._samples[-1]
        return (b1 - b0) / (t1 - t0) if t1 - t0 > 0.2 else None


class _InTheWay:
    """Finds, in a byte-ordered plan, the deletions a copy at a local destination needs first:
    the file ``a`` where the source now has a folder ``a/...`` (a copy below a deletion), and the
    folder's objects ``a/...`` where the source now has a file ``a`` (a deletion below a copy).
    A path's range ``p/...`` follows ``p`` in byte order, so each list keeps only open ranges."""

    def __init__(self) -> None:
        self.found: set[str] = set()
        self._deletes: list[str] = []
        self._copies: list[str] = []

    def see(self, path: str, is_delete: bool) -> None:
        for ranges in (self._deletes, self._copies):
            ranges[:] = [p for p in ranges if path[:len(p) + 1] <= p + "/"]
        if is_delete:
            if any(path.startswith(p + "/") for p in self._copies):
                self.found.add(path)
            self._deletes.append(path)
        else:
            for p in self._deletes:
                if path.startswith(p + "/"):
                    self.found.add(p)
            self._copies.append(path)


class Transfer(CopyJobs):
    """One run of one spec. Build it, then call :meth:`run` once."""

    def __init__(self, *, src: Backend, dst: Backend, src_url: str, dst_url: str, emit: Emit,
                 journal: Journal, control: TransferControl, dry_run: bool = False, recursive: bool = True,
                 delete: bool = False, exclude: list[str] | None = None, checksum: bool = False,
                 max_delete: int | None = None, allow_empty_source: bool = False, jobs: int = JOBS,
                 small_jobs: int | None = None,
                 bwlimit: float | None = None, part_threshold_mib: int = 150, part_size_mib: int | None = None,
                 retry: RetryPolicy | None = None, approve_delete: Callable[..., Any] | None = None):
        self.src, self.dst = src, dst
        self.approve_delete = approve_delete
        self.src_url, self.dst_url = src_url, dst_url
        self.emit = emit
        self._in_order: InOrder | None = None
        """Dry run: the workers' per-object lines go out in plan (key) order (see engine.transfer.in_order)."""
        if dry_run:
            self._in_order = InOrder(emit)
            self._held = threading.local()
            self.emit = self._emit_held
        self.journal = journal
        self.control = control
        self.dry_run = dry_run
        self.recursive, self.delete, self.exclude, self.checksum = recursive, delete, exclude or [], checksum
        self.max_delete, self.allow_empty_source = max_delete, allow_empty_source
        self.jobs = jobs
        self.small_jobs = max(jobs, small_jobs or jobs)
        """Small objects in flight: ``jobs`` shared with everything else, or more in a pool of their own."""
        self.limiter = RateLimiter(bwlimit)
        self.threshold = part_threshold_mib * MIB
        self.part_size_mib = part_size_mib
        self.retry = retry or RetryPolicy()
        self._parts_ok: bool | None = None
        self._parts_lock = threading.Lock()
        self._backlog = PartBacklog()
        """Large objects' bytes still to send: each is sized against the others (see engine.transfer.backlog)."""
        self._planned = 0
        """Actions the planner has dealt with so far (handed on or accounted); only it writes this."""
        self._plan_mark: dict[str, int] = {}
        """A large copy's ``_planned`` when it was handed on (see :meth:`_await_the_plan`)."""
        self._in_the_way: set[str] = set()
        """-d at a local destination: deletions that run before the copies (see _clear_the_way)."""
        self._conditional = dst.scheme in ("gs", "s3", "file")  # a local destination checks before its rename
        """Writes and deletes carry what planning saw at the destination as a precondition."""
        self.summary = TransferSummary(dry_run=dry_run)
        self.stats = _Stats()
        self._lock = threading.Lock()
        self._last_object_event: dict[str, float] = {}

    # --- events -----------------------------------------------------------------
    def _emit_held(self, event: Any) -> None:
        """Dry run: a per-object event waits for its turn in plan order: a worker's under its
        action's ticket (see _guarded), the planner's own (not copied, would delete) under a
        ticket of its own taken now."""
        assert self._in_order is not None
        if isinstance(event, ItemDone):
            held = getattr(self._held, "events", None)
            if held is not None:
                held.append(event)
                return
            self._in_order.put(self._in_order.ticket(), [event])
            return
        self._in_order.emit(event)

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
                 "verified": s.verified, "paused": self.control.paused, "final": final,
                 "dry_run": self.dry_run}  # in a dry run "copied" counts what would be copied
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
            self.summary.note_failure(Failure(path, action, text, attempts))
        self.emit(ItemDone(STEP, item=path, status="failed", detail=text, data={"action": action, "attempts": attempts}))

    # --- the run ------------------------------------------------------------------
    def run(self) -> TransferSummary:
        self._state_full: StateFull | None = None
        """The journal or the plan found its disk full: the run stops and says so (engine.transfer.state_room)."""
        run_id = self.journal.start_run(self.src_url, self.dst_url) if not self.dry_run else 0
        if not self.dry_run:
            self._abort_stale()
        self._orphans = {} if self.dry_run else {path: token for path, _fp, token in self.journal.pending_uploads()}
        """Journalled uploads no copy in parts of this run has taken over: debris at the end (the
        source vanished, is up to date, or now goes in one request: it shrank below the threshold)."""
        stop_ticker = threading.Event()
        ticker = threading.Thread(target=self._tick, args=(stop_ticker,), daemon=True, name="transfer-progress")
        ticker.start()
        self._objects = ThreadPoolExecutor(self.jobs, thread_name_prefix="transfer-obj")
        # Small copies between two local trees are system calls of microseconds, each releasing
        # and re-taking the GIL: a second thread turns every one into a futex hand-off (5,000
        # files of 4 KiB: 1 thread 1.1-2.6 s, 2 threads 1.6-3.3 s, 8 threads 2.2-3.4 s on the
        # 2-core test VM).  So they get one worker; anything touching a network gets ``jobs``.
        both_local = self.src.scheme == "file" and self.dst.scheme == "file"
        # Over a network a small copy is round trips: with more small workers than ``jobs`` they
        # get a pool of their own, so large objects never leave them waiting (see spec.SMALL_JOBS).
        own_small = not both_local and self.small_jobs > self.jobs
        self._small = (ThreadPoolExecutor(1, thread_name_prefix="transfer-small") if both_local
                       else ThreadPoolExecutor(self.small_jobs, thread_name_prefix="transfer-small") if own_small
                       else self._objects)
        # Over a network a copy is a round trip of milliseconds, so hand-offs matter less than
        # the tail: the last batches run one file after another while other workers idle.
        batch_max = BATCH_MAX if both_local else NETWORK_BATCH_MAX
        self._parts = ThreadPoolExecutor(self.jobs, thread_name_prefix="transfer-part")
        slots = threading.BoundedSemaphore((self.jobs + (self.small_jobs if own_small else 0)) * 4)
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

        def acquire(block: bool) -> bool:
            if block:
                take_slot()
                return True
            return slots.acquire(blocking=False)

        tickets: list[int] = []  # dry run: each batched action's place in the plan's order
        in_order = self._in_order

        def flush_batch() -> None:  # a slot is held
            track(self._small.submit(self._guarded_batch, batch[:], tickets[:]))
            batch.clear()
            tickets.clear()

        def ticket() -> int | None:
            return in_order.ticket() if in_order is not None else None

        def pump(block: bool) -> None:
            """Hand waiting actions to workers: while slots are free, or (``block``) all of them.

            Small copies queue up in a batch while every worker is busy and go as one task when
            a slot frees (or the batch is full): one hand-off per batch, not per file.  While
            workers are idle each file goes at once.  Without ``block`` this never waits, so the
            planner calls it between actions and keeps planning: the listing finishes (and the
            totals are known) long before the copies do."""
            while True:
                if self.control.cancelled:
                    raise InterruptedError
                act = ahead.peek()
                if act is None:
                    if batch and block:
                        take_slot()
                        flush_batch()
                    return
                if in_order is not None:
                    if in_order.full():
                        # Dry run, a slow object holds up the lines behind it: no more tickets until
                        # half are out (the batch goes first: every ticket must be with a worker).
                        if batch:
                            if not acquire(block):
                                return
                            flush_batch()
                        if not block:
                            return
                        in_order.wait_room(lambda: self.control.cancelled)
                    if act.kind not in ("copy", "check"):  # a line the planner says itself, in its turn
                        self._guarded(self._account, ahead.pop(), ticket())
                        continue
                small = act.kind == "copy" and act.size <= BATCH_OBJECT_MAX
                if small and len(batch) < batch_max:
                    batch.append(ahead.pop())
                    tickets.append(ticket())  # type: ignore[arg-type]
                    if slots.acquire(blocking=False):
                        flush_batch()
                    continue
                if not acquire(block):
                    return
                if small:  # the batch is full: it goes, this one starts the next
                    flush_batch()
                    continue
                ahead.pop()
                track(self._objects.submit(self._guarded, self._do_copy if act.kind == "copy" else self._do_check,
                                           act, ticket()))

        # A temporary file of its own (not the journal's): the -d plan lives in the journal's.
        ahead = ReadAhead(None)
        try:
            both_cloud = self.src.scheme != "file" and self.dst.scheme != "file"
            # A dry run's lines come out in key order (engine.transfer.in_order): without -d the
            # planner's own lines (not copied, a listing error) queue with the copies for their turn.
            actions = self._accounted(diff(counted(without_placeholders(self.src.list(self.recursive)), "src"),
                                           counted(without_placeholders(self.dst.list(self.recursive)), "dst"),
                                           checksum=self.checksum, delete=self.delete, exclude=self.exclude,
                                           dst_scheme=self.dst.scheme, both_cloud=both_cloud),
                                      defer=self.dry_run and not self.delete)
            if self.delete:
                # -d: list and diff to the end (spooled to disk), check the guards, and only then
                # change anything; without -d copying overlaps the listing.
                spool = self._plan_first(actions, lambda: (src_count, dst_count))
                if self._in_the_way and not self.dry_run:
                    self._clear_the_way(spool)
                actions = spool.read(exclude=("delete",))
            for act in actions:
                if self.control.cancelled:
                    raise InterruptedError
                if act.kind == "copy" and spool is None:
                    self._count_planned(act)
                self._planned += 1
                if act.kind == "copy" and act.size >= self.threshold and not self.dry_run:
                    self._backlog.add(act.path, act.size)  # seen by the large objects sized before it starts
                    self._plan_mark[act.path] = self._planned
                ahead.put(act)
                # A -d plan is on disk already (its totals known): read it at the workers' pace.
                pump(block=spool is not None)
                if ahead:
                    # Work is waiting for a worker: let the workers have the GIL now.  A planner
                    # that never blocks otherwise keeps it for whole switch intervals while each
                    # worker waits 5 ms at every lock or system call (a 1M-entry dry run took
                    # 32 s instead of 14 s, its workers starved until planning ended).
                    time.sleep(0)
            with self.stats.lock:
                self.stats.listing_done = True
            self._progress()  # the totals, as soon as planning knows them
            pump(block=True)
            if spool is not None and self.summary.planned_delete:
                # Deletions run last, and only when nothing failed: a listing or read error may
                # have hidden source objects, and their destination copies would be deleted.
                wait(pending)
                if self.control.cancelled:
                    raise InterruptedError
                with self._lock:
                    errors = self.summary.failed
                blocked = deletions_blocked(errors)
                if blocked:
                    self.summary.deletions_skipped = blocked
                    self.emit(Message(STEP, text=f"deletions skipped: {blocked} in this run; none of the "
                                      f"{self.summary.planned_delete} planned deletions ran (fix the errors "
                                      "and run again)", level="error"))
                else:
                    cleared = self._in_the_way if not self.dry_run else set()
                    self._delete_phase((a for a in spool.read(kinds=("delete",)) if a.path not in cleared), submit)
            wait(pending)
            # Only after a clean, whole listing: a folder that could not be listed did not plan
            # objects whose half-copied uploads are still worth resuming (without -r, only the
            # top level was listed: _clean_debris judges nothing below it).
            if not self.dry_run and not self.control.cancelled and self.summary.failed == 0:
                self._clean_debris()
        except (InterruptedError, KeyboardInterrupt):
            self.control.cancel()
            self.summary.interrupted = True
        except BaseException as exc:
            raised = True  # a listing error, a refused -d, a declined approval: not "completed"
            if isinstance(exc, Exception):
                try:  # what was planned, copied and why it stopped: a --json run ends with it
                    exc.summary = self.summary  # type: ignore[attr-defined]
                except AttributeError:
                    pass
            raise
        finally:
            if spool is not None:
                spool.close()
            ahead.close()
            self._objects.shutdown(wait=True, cancel_futures=True)
            if self._small is not self._objects:
                self._small.shutdown(wait=True, cancel_futures=True)
            self._parts.shutdown(wait=True, cancel_futures=True)
            if self._in_order is not None:
                self._in_order.drain()  # cut short: what finished still goes out, in order
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
                try:
                    self.journal.finish_run(run_id, state, self.summary.line())
                except StateFull as exc:
                    self._state_full = self._state_full or exc
        if self._state_full is not None:  # said as what it is (exit 4), with what was done before it stopped
            self._state_full.summary = self.summary  # type: ignore[attr-defined]
            raise self._state_full
        return self.summary

    def _await_the_plan(self, path: str) -> None:
        """Before a large object is sized: wait until the planner has dealt with the next action
        (so a large object listed right after it is in the backlog), the listing is over, or
        :data:`PLAN_WAIT_S` has passed. A fresh worker otherwise sized the first of two large
        objects before the second was planned (8 + 4 parts at ``-j 8`` instead of 4 + 4). Usually
        microseconds; up to a listing page where it ends one; bounded, so a listing that stalls
        never holds a copy back for long."""
        mark = self._plan_mark.pop(path, None)
        if mark is None:
            return
        deadline = time.monotonic() + PLAN_WAIT_S
        while (self._planned <= mark and not self.stats.listing_done and not self.control.cancelled
               and time.monotonic() < deadline):
            time.sleep(0.002)  # the planner needs the GIL to get on

    def _accounted(self, actions, defer: bool = False):
        """Count and report the actions that need no worker; pass on copy, check and delete
        (``defer``: also those that print a line, counted and said by :meth:`_account` in turn)."""
        for act in actions:
            kind = act.kind
            if self._orphans and kind == "error":  # not listed whole: its upload may still be worth resuming
                self._orphans.pop(act.path, None)
            if kind in ("copy", "check", "delete") or (defer and kind != "skip" and act.src is not None):
                yield act
            else:
                self._planned += 1
                self._account(act)

    def _account(self, act: Action) -> None:
        """Count and report one action that needs no worker."""
        kind = act.kind
        if kind == "skip":
            with self._lock:
                self.summary.skipped += 1
        elif kind == "excluded":
            with self._lock:
                self.summary.excluded += 1
            if act.src is not None:
                self._not_copied(act.path, "excluded (matches -x)")
        elif kind == "notcopied":
            self._not_copied(act.path, act.reason)
        elif kind == "kept":
            with self._lock:
                self.summary.kept_below_links += 1
            self.emit(ItemDone(STEP, item=act.path, status="kept", detail=act.reason, data={"size": act.size}))
        else:  # error, refused, conflict: failures
            with self._lock:
                if kind == "refused":
                    self.summary.refused += 1
                elif kind == "conflict":
                    self.summary.conflicts += 1
            self._fail(act.path, "list" if kind == "error" else kind, act.reason)

    def _clean_debris(self) -> None:
        """After a run that listed to the end: abort journalled uploads no copy in parts of this
        run continued (the source vanished, or went in one request), and remove local temp files
        nothing continues."""
        from engine.transfer.backends.base import ObjectInfo, PartUpload
        from engine.transfer.temps import stray_local_temps

        removed = 0
        orphans = self._orphans if self.recursive else {p: t for p, t in self._orphans.items() if "/" not in p}
        for path, token in list(orphans.items()):
            try:
                self.dst.abort_parts(PartUpload(path=path, token=token, size=0, part_size=1,
                                                src=ObjectInfo(path=path, size=0, mtime=0.0)))
            except Exception as exc:  # noqa: BLE001 - tried again by the next run
                self.emit(Message(STEP, text=f"{path}: could not remove an unfinished copy ({exc}); the next "
                                  f"run tries again; {self._cleanup_hint()}", level="warning"))
                continue
            self.journal.drop_upload(path)
            self.journal.forget_upload(token)
            removed += 1
        seen = getattr(self.dst, "temps_seen", [])
        if seen:
            keep = {token for _path, _fp, token in self.journal.pending_uploads()}
            for temp in stray_local_temps(seen, keep):
                try:
                    os.unlink(temp)
                    removed += 1
                except OSError:
                    pass
        if removed:
            with self._lock:
                self.summary.temps_removed += removed
            self.emit(Message(STEP, text=f"removed {removed} temporary file(s) or upload(s) left by an earlier "
                              "run that this run did not continue (source gone, up to date, or now copied in one "
                              "request)", level="info"))

    def _not_copied(self, path: str, reason: str, event: bool = True) -> None:
        """A source entry not copied (not a failure): counted by reason, listed in the summary."""
        with self._lock:
            self.summary.note_not_copied(path, reason)
        if event:
            self.emit(ItemDone(STEP, item=path, status="not_copied", detail=reason))

    def _tick(self, stop: threading.Event) -> None:
        while not stop.wait(0.25):
            self._progress()

    def _count_planned(self, act: Action) -> None:
        with self.stats.lock:
            self.stats.files_total += 1
            self.stats.bytes_total += act.size

    def _guarded(self, fn: Callable[[Action], None], act: Action, ticket: int | None = None) -> None:
        if ticket is not None:  # dry run: this action's lines wait for their turn
            assert self._in_order is not None
            self._held.events = []
            try:
                self._guarded(fn, act)
            finally:
                held, self._held.events = self._held.events, None
                self._in_order.put(ticket, held)
            return
        if self.control.cancelled:
            return
        try:
            self.control.checkpoint()
            fn(act)
        except InterruptedError:
            pass
        except StateFull as exc:  # the run's own journal cannot record: stop it, never blame the object
            self._state_full = self._state_full or exc
            self.control.cancel()
        except Exception as exc:  # noqa: BLE001 - a failed object is reported, the run goes on
            self._fail(act.path, "delete" if act.kind == "delete" else "copy", exc, getattr(exc, "attempts", 1))
            with self.stats.lock:
                self.stats.in_flight.pop(act.path, None)
            self._object_event(act.path, "failed", 0, act.size)

    def _guarded_batch(self, acts: list[Action], tickets: list[int | None]) -> None:
        for act, ticket in zip(acts, tickets):
            self._guarded(self._do_copy, act, ticket)

    # --- deletions ------------------------------------------------------------------
    def _plan_first(self, actions, counts: Callable[[], tuple[int, int]]):
        """Spool the whole plan, then apply the -d guards; raises :class:`DeleteRefused` before any change."""
        from engine.transfer.spool import PlanSpool

        spool = PlanSpool(self.journal.path)
        way = _InTheWay() if self.dst.scheme == "file" else None
        try:
            planned = 0
            for act in spool.write(actions):
                if self.control.cancelled:
                    raise InterruptedError
                if act.kind == "copy":
                    self._count_planned(act)
                elif act.kind == "delete":
                    planned += 1
                if way is not None and act.kind in ("copy", "check", "delete"):
                    way.see(act.path, act.kind == "delete")
            src_count, dst_count = counts()
            self.summary.planned_delete = planned
            with self._lock:
                errors = self.summary.failed
            # After a listing error no deletion runs at all (see guards.deletions_blocked), so
            # the guards have nothing to refuse and no approval is asked for.
            reason = "" if errors else delete_guard(planned, src_count, dst_count, self.max_delete,
                                                    self.allow_empty_source)
        except BaseException:
            spool.close()
            raise
        self._in_the_way = way.found if way is not None and not errors else set()
        if reason and self.dry_run:
            # The dry run is the view the guard promises: it lists every deletion, and its summary says the
            # real run would be refused and how to allow it. Refusing it too hid the deletions until a
            # --max-delete was passed blind.
            self.summary.delete_refused = reason
            self.emit(Message(STEP, text=f"-d: a real run would refuse the deletions before anything was copied or "
                              f"deleted: {reason}; this dry run lists them", level="warning"))
        elif reason:
            spool.close()
            self.summary.delete_refused = reason
            self.emit(Message(STEP, text=f"-d refused: {reason}", level="error"))
            raise DeleteRefused(f"-d refused before anything was copied or deleted: {reason}")
        if planned and not errors and self.approve_delete is not None and not self.dry_run:
            detail = (f"{self.src_url} -> {self.dst_url}: delete {planned} destination object(s) the source "
                      f"lacks (source {src_count}, destination {dst_count} objects)")
            try:
                # raises to stop the run before any change; the approver sees every path it deletes
                self.approve_delete(planned, detail, lambda: (a.path for a in spool.read(("delete",))))
            except BaseException as exc:
                spool.close()
                self.summary.delete_refused = f"not approved: {exc}"
                raise
        with self.stats.lock:
            self.stats.listing_done = True
        return spool

    def _clear_the_way(self, spool) -> None:
        """Before any copy, the planned deletions a copy needs out of its way at a local destination
        (:class:`_InTheWay`); the rest still run last, after a clean run. These are safe to run
        first: the source lists a folder (or a file) under that very name, so no listing error can
        have hidden the object they delete."""
        for act in spool.read(kinds=("delete",)):
            if act.path in self._in_the_way:
                if self.control.cancelled:
                    raise InterruptedError
                self._guarded(self._do_delete, act)

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
            self.dst.delete(act.path, act.dst.version if self._conditional else None)  # only what planning saw

        self._with_retry(once, attempts)
        with self._lock:
            self.summary.deleted += 1
        self.emit(ItemDone(STEP, item=act.path, status="deleted", data={"size": act.size}))


