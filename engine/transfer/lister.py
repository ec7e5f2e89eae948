"""Parallel listing of a big bucket by key ranges, merged back into one byte-ordered stream.

S3 and GCS return at most 1,000 keys per LIST call, one call after the other: a bucket of
ten million keys is ten thousand round trips in a row.  Here the key space is split into
ranges that are listed at the same time, and the ranges are read back **in range order**,
so the result is the same byte-ordered stream a plain listing gives (the streaming merge
diff in :mod:`engine.transfer.plan` keeps working) while memory stays bounded.

How it works (:func:`parallel_list`):

1. The first page is listed plainly.  A listing that fits in it ends there: small
   listings cost exactly what they cost before.
2. Split points are found after the last key of that page (:func:`split_points`):
   "directories" from delimiter listings (``/``), one or two levels deep, which real
   buckets nearly always have; where there are none (a flat namespace), by probing the
   key space with one-key listings one character at a time after the longest prefix all
   remaining keys share.  Split points are produced lazily, in order, so listing starts
   while they are still being found.
3. Consecutive split points ``s_i < s_i+1`` bound the range ``(s_i, s_i+1]`` (listed with
   ``start_after=s_i`` and ``end_before=s_i+1 + "\\0"``).  Together the ranges cover the key
   space exactly once whatever the split points are: a poor split costs speed, never a key.
4. :func:`ordered_ranges` lists up to ``window`` ranges at once on a thread pool, each into
   its own bounded queue of pages, and yields them in range order.  Memory is at most
   ``window * queue_pages`` pages, however many keys there are.

The backends expose the few calls this needs (:class:`RangeSource`); the splitting and the
merge are plain functions so they can be tested on an in-memory key set.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol, TypeVar

from engine.transfer.backends.base import ObjectInfo

T = TypeVar("T")

PAGE = 1000
"""Keys per LIST call (the most S3 and GCS return)."""
MAX_CHAR = "\U0010ffff"
"""Sorts after every character a real key uses (the last Unicode code point)."""
END = "\x00"
"""``s + END`` is the smallest string greater than ``s``: ``end_before = s + END`` means "up to s"."""
ENV_JOBS = "GPUMIGRATE_LIST_JOBS"
"""Environment override of the listing parallelism (1 = plain listing)."""


class RangeSource(Protocol):
    """What a backend offers the parallel lister (paths relative to the location)."""

    def list_range(self, start_after: str | None, end_before: str | None) -> Iterator[ObjectInfo]:
        """A plain recursive listing of ``(start_after, end_before)``, byte-ordered."""

    def list_head(self, n: int) -> tuple[list[ObjectInfo], bool]:
        """The first ``n`` objects (one call) and whether more follow."""

    def list_dirs(self, prefix: str, start_after: str | None = None) -> Iterator[tuple[list[tuple[str, bool]], bool]]:
        """Delimiter ("/") listing under ``prefix``, page by page: ([(name, is_dir)] in order, more pages)."""

    def first_key_after(self, after: str, prefix: str) -> str | None:
        """The first key greater than ``after`` among the keys starting with ``prefix`` (one call)."""


def list_jobs(jobs: int) -> int:
    """Listing threads for a transfer with ``jobs`` workers (``GPUMIGRATE_LIST_JOBS`` overrides)."""
    env = os.environ.get(ENV_JOBS, "").strip()
    if env.isdigit() and int(env) >= 1:
        return min(int(env), 64)
    return max(1, min(jobs, 32))


# --- splitting ---------------------------------------------------------------------------
def common_prefix(a: str, b: str) -> str:
    """The longest prefix ``a`` and ``b`` share (every key between them starts with it)."""
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return a[:i]


def _probe_children(src: RangeSource, bucket: str, after: str, limit: int) -> list[str]:
    """One character longer prefixes of ``bucket`` that have keys after ``after`` (leapfrog probes)."""
    out: list[str] = []
    cur = after
    while len(out) < limit:
        key = src.first_key_after(cur, bucket)
        if key is None or not key.startswith(bucket) or len(key) <= len(bucket):
            break
        child = key[: len(bucket) + 1]
        out.append(child)
        cur = child + MAX_CHAR
    return out


def _flat_points(src: RangeSource, prefix: str, after: str, want: int, max_probes: int) -> Iterator[str]:
    """Split points for keys under ``prefix`` that have no "/" below it: probe one character
    at a time after the longest prefix every remaining key shares (found by a few probes)."""
    start = max(after, prefix)
    first = src.first_key_after(start, prefix)
    if first is None:
        return
    probes = 1
    # the longest L = first[:n] (n >= len(prefix)) with no remaining key of `prefix` outside L
    lo, hi = len(prefix), len(first)
    while lo < hi and probes < max_probes:
        mid = (lo + hi + 1) // 2
        beyond = src.first_key_after(first[:mid] + MAX_CHAR, prefix)
        probes += 1
        if beyond is None:
            lo = mid
        else:
            hi = mid - 1
    buckets = [first[:lo]]
    while len(buckets) < want and probes < max_probes:
        finer: list[str] = []
        for i, b in enumerate(buckets):
            if probes >= max_probes:
                finer.extend(buckets[i:])
                break
            kids = _probe_children(src, b, max(start, b), max_probes - probes)
            probes += len(kids) + 1
            finer.extend(kids or [b])
        if len(finer) <= len(buckets):
            break
        buckets = finer
    yield from buckets


def split_points(src: RangeSource, after: str, *, want: int = 64, depth: int = 2,
                 max_probes: int = 128, enough: int | None = None) -> Iterator[tuple[str, bool]]:
    """Split points greater than ``after``, in increasing order, produced lazily, each with
    whether the range that ends at it must be listed (False: the delimiter listing showed
    it holds no key).

    Directories first: the delimiter listing of the location, and of each directory while a
    level has fewer than ``want`` of them (``depth`` levels; a level with a single directory
    does not count).  A directory ``d/`` gives the points ``d`` and ``d/`` + U+10FFFF, so its
    range is listed with the prefix ``d`` (one directory per LIST, as ``rclone lsf -R`` does)
    and the gap before it only when the level showed keys there.  Where a level's keys have no
    "/" (a flat namespace), character probes instead (at most ``max_probes`` one-key listings).

    ``enough`` (default ``want``): a level with at least this many directories is not looked
    into.  Looking inside costs one LIST per directory, in a row, before that directory's own
    listing starts: worth it only while the ranges found so far are too few to keep the
    listing threads busy (20 leaf directories of 1,000 keys at 8 jobs: looking inside made
    the listing 1.4-1.8x slower than a plain one against a constant-latency S3 stand-in)."""
    last = after
    enough = want if enough is None else enough

    def resume_at(prefix: str) -> str | None:
        """Where a delimiter listing of ``prefix`` starts so that the directory holding ``after``
        is still reported (stores differ on whether StartAfter inside a directory rolls it up)."""
        if not after.startswith(prefix):
            return None if after < prefix else after
        rest = after[len(prefix):]
        return prefix + rest.split("/", 1)[0] if "/" in rest else after

    def walk(prefix: str, level: int, hops: int, pending: bool = False) -> Iterator[tuple[str, bool]]:
        """Points inside ``prefix``; ends with whether keys follow its last point.

        ``pending``: keys are already known between the previous point and ``prefix``'s first
        one (keys such as ``data.csv`` sort between ``data`` and ``data/``)."""
        if after > prefix and not after.startswith(prefix):
            return  # the whole directory sorts before `after`
        pages = src.list_dirs(prefix, resume_at(prefix))
        first = next(pages, None)
        if first is None:
            return
        entries, more = first
        if more and not any(is_dir for _, is_dir in entries):  # flat: probe instead
            for p in _flat_points(src, prefix, after, want, max_probes):
                yield p, True
            yield "", True
            return
        dirs = sum(1 for _, is_dir in entries if is_dir)
        single = dirs == 1 and not more
        descend = hops < 8 and not more and dirs < enough and (level + 1 < depth or single)
        keys_since = pending
        last_key: str | None = None
        for entries, _more in _chain([(entries, more)], pages):
            for name, is_dir in entries:
                if not is_dir:
                    keys_since = keys_since or name > after
                    if name > after:
                        last_key = name
                    continue
                if name <= after and not after.startswith(name):
                    continue
                # Keys after ``name[:-1]`` but before ``name`` ("data.csv" before "data/") fall in
                # the range after the gap point, which the directory's own walk must list.
                between = last_key is not None and last_key > name[:-1]
                yield name[:-1], keys_since  # the gap before the directory
                last_key = None
                if descend:
                    tail = True
                    for p, flag in walk(name, level if single else level + 1, hops + 1, between):
                        if p == "":
                            tail = flag
                        else:
                            yield p, flag
                    yield name + MAX_CHAR, tail
                else:
                    yield name + MAX_CHAR, True  # the directory: listed by its own prefix
                keys_since = False
        yield "", keys_since  # whether keys follow the last directory

    for p, flag in walk("", 0, 0):
        if p and p > last:
            last = p
            yield p, flag


def _chain(head, rest):
    yield from head
    yield from rest


# --- the ordered merge ---------------------------------------------------------------------
class _Stop(Exception):
    pass


_DONE = object()


def ordered_ranges(list_range: Callable[[str | None, str | None], Iterable[T]],
                   points: Iterable[str | tuple[str, bool]], *, start_after: str | None = None, window: int = 8,
                   queue_pages: int = 8, page: int = PAGE, adapt: bool = True) -> Iterator[T]:
    """List the ranges between consecutive ``points`` (after ``start_after``) with up to
    ``window`` ranges in flight, yielding their items in range order.

    Each range fills a queue of at most ``queue_pages`` pages of ``page`` items; a range
    ahead of the one being read waits when its queue is full, so memory stays bounded.
    Points that do not increase are skipped; a point given as ``(point, False)`` says the
    range ending at it holds no key (it is not listed).  With ``adapt``, ranges that turn out small
    (under half a page: a LIST call is paid for few keys) make later ranges span more
    points, and large ones (over ``queue_pages`` pages) fewer.  Closing the generator
    stops the workers."""
    stop = threading.Event()
    stride = [1]

    def bounds() -> Iterator[tuple[str | None, str | None]]:
        lo = start_after
        need = False
        merged = 0
        for point in points:
            p, flag = (point, True) if isinstance(point, str) else point
            if lo is not None and p <= lo:
                continue
            need = need or flag
            merged += 1
            if merged < stride[0]:
                continue
            merged = 0
            if need:
                yield lo, p + END
            lo, need = p, False
        yield lo, None

    def produce(lo: str | None, hi: str | None, q: queue.Queue) -> None:
        def put(item: object) -> None:
            while True:
                if stop.is_set():
                    raise _Stop
                try:
                    q.put(item, timeout=0.1)
                    return
                except queue.Full:
                    continue

        try:
            count = 0
            buf: list[T] = []
            for item in list_range(lo, hi):
                buf.append(item)
                if len(buf) >= page:
                    count += len(buf)
                    put(buf)
                    buf = []
            count += len(buf)
            if buf:
                put(buf)
            put((_DONE, count))
        except _Stop:
            return
        except BaseException as exc:  # noqa: BLE001 - handed to the reader, raised there
            try:
                put(exc)
            except _Stop:
                return

    ranges = bounds()
    pool = ThreadPoolExecutor(max(1, window), thread_name_prefix="transfer-list")
    active: list[queue.Queue] = []

    def fill() -> None:
        while len(active) < window and not stop.is_set():
            nxt = next(ranges, None)
            if nxt is None:
                return
            q: queue.Queue = queue.Queue(maxsize=max(1, queue_pages))
            pool.submit(produce, nxt[0], nxt[1], q)
            active.append(q)

    try:
        fill()
        while active:
            q = active[0]
            while True:
                got = q.get()
                if isinstance(got, tuple) and got and got[0] is _DONE:
                    if adapt:
                        if got[1] < page // 2:
                            stride[0] = min(stride[0] * 2, 1 << 16)
                        elif got[1] > page * queue_pages and stride[0] > 1:
                            stride[0] //= 2
                    break
                if isinstance(got, BaseException):
                    raise got
                yield from got  # type: ignore[misc]
            active.pop(0)
            fill()
    finally:
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)


def parallel_list(src: RangeSource, *, jobs: int = 8, page: int = PAGE, want: int | None = None,
                  queue_pages: int = 8) -> Iterator[ObjectInfo]:
    """Every object of ``src`` in byte order, listed in parallel ranges once the first page
    shows that more pages follow (see the module docstring)."""
    head, more = src.list_head(page)
    yield from head
    if not more or not head:
        return
    if jobs <= 1:
        yield from src.list_range(head[-1].path, None)
        return
    last = head[-1].path
    points = split_points(src, last, want=want or jobs * 8, enough=jobs * 2)
    yield from ordered_ranges(src.list_range, points, start_after=last, window=jobs,
                              queue_pages=queue_pages, page=page)


class ParallelListing:
    """Backend mixin: a full recursive listing goes through :func:`parallel_list`, anything else
    (a key range, a delimiter listing) through the backend's own ``_list_plain``."""

    list_jobs = 1
    """Ranges listed at once (1 = plain listing); set from the transfer's jobs by ``open_backend``."""

    def list(self, recursive: bool = True, start_after: str | None = None,
             end_before: str | None = None) -> Iterator[ObjectInfo]:
        if recursive and start_after is None and end_before is None and self.list_jobs > 1:
            yield from parallel_list(self, jobs=self.list_jobs)  # type: ignore[arg-type]
            return
        yield from self._list_plain(recursive, start_after, end_before)  # type: ignore[attr-defined]
