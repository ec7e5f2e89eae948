"""The parallel lister: splitting the key space and merging ranges back in byte order."""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.transfer.backends.base import ObjectInfo
from engine.transfer.lister import END, list_jobs, ordered_ranges, parallel_list, split_points


class FakeSource:
    """An in-memory bucket with S3's listing semantics (pages mix keys and common prefixes)."""

    def __init__(self, keys, page: int = 1000):
        self.keys = sorted(set(keys))
        self.page = page
        self.calls = {"range": 0, "head": 0, "dirs": 0, "probe": 0}
        self.lock = threading.Lock()
        self.in_flight = self.max_in_flight = 0

    def _count(self, what: str) -> None:
        with self.lock:
            self.calls[what] += 1

    def _after(self, after: str | None) -> int:
        return 0 if after is None else bisect.bisect_right(self.keys, after)

    def list_range(self, start_after, end_before) -> Iterator[ObjectInfo]:
        self._count("range")
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            for k in self.keys[self._after(start_after):]:
                if end_before is not None and k >= end_before:
                    return
                yield ObjectInfo(path=k, size=len(k), mtime=0.0)
        finally:
            with self.lock:
                self.in_flight -= 1

    def list_head(self, n):
        self._count("head")
        return [ObjectInfo(path=k, size=len(k), mtime=0.0) for k in self.keys[:n]], len(self.keys) > n

    def list_dirs(self, prefix, start_after=None):
        entries: list[tuple[str, bool]] = []
        for k in self.keys[self._after(start_after):]:
            if not k.startswith(prefix):
                if k > prefix:
                    break
                continue
            rest = k[len(prefix):]
            entry = (prefix + rest.split("/")[0] + "/", True) if "/" in rest else (k, False)
            if not entries or entries[-1] != entry:
                entries.append(entry)
        for i in range(0, max(len(entries), 1), self.page):
            self._count("dirs")
            yield entries[i:i + self.page], i + self.page < len(entries)

    def first_key_after(self, after, prefix):
        self._count("probe")
        for k in self.keys[self._after(after):]:
            if k.startswith(prefix):
                return k
            if k > prefix:
                return None
        return None


KEY = st.text(alphabet="ab/c.-é\U0001f600", min_size=1, max_size=8)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(keys=st.sets(KEY, max_size=60), points=st.lists(st.text(alphabet="ab/c\x00é", max_size=6), max_size=12),
       window=st.integers(1, 5), page=st.integers(1, 7), start=st.one_of(st.none(), KEY))
def test_any_keys_any_split_points_give_every_key_once_in_order(keys, points, window, page, start):
    src = FakeSource(keys)
    got = [o.path for o in ordered_ranges(src.list_range, sorted(points), start_after=start, window=window,
                                          queue_pages=2, page=page)]
    assert got == [k for k in sorted(keys) if start is None or k > start]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(keys=st.sets(st.text(alphabet="ab/0.", min_size=1, max_size=10), max_size=300),
       page=st.integers(1, 9), jobs=st.integers(1, 6))
def test_parallel_list_equals_plain_listing_for_any_key_set(keys, page, jobs):
    src = FakeSource(keys, page=page)
    got = [o.path for o in parallel_list(src, jobs=jobs, page=page, want=5)]
    assert got == sorted(keys)


def test_split_points_follow_directories_and_increase():
    keys = [f"data/{d:03d}/obj-{i:04d}.bin" for d in range(40) for i in range(30)]
    src = FakeSource(keys, page=50)
    pts = list(split_points(src, keys[49], want=16))
    assert [p for p, _ in pts] == sorted({p for p, _ in pts}) and all(p > keys[49] for p, _ in pts)
    # "data/" has a single child: looked inside; each directory is a range of its own, gaps are empty
    assert pts[0] == ("data/001/\U0010ffff", True)
    assert pts[1:] == [x for d in range(2, 40) for x in ((f"data/{d:03d}/"[:-1], False), (f"data/{d:03d}/\U0010ffff", True))] + [
        ("data/\U0010ffff", False)]
    got = [o.path for o in ordered_ranges(src.list_range, pts, start_after=keys[49], adapt=False)]
    assert got == keys[50:]
    assert src.calls["range"] == 39 + 1  # one LIST per directory, none for the empty gaps, one for the tail


def test_flat_namespace_is_split_by_probes():
    keys = [f"img/{i:06d}.jpg" for i in range(0, 200_000, 37)]
    src = FakeSource(keys, page=100)
    pts = list(split_points(src, keys[99], want=8, max_probes=64))
    assert len(pts) >= 8 and pts == sorted(pts) and all(flag for _, flag in pts)
    assert src.calls["probe"] <= 64
    assert [o.path for o in parallel_list(src, jobs=4, page=100)] == keys


def test_small_listing_is_one_call_and_nothing_else():
    src = FakeSource([f"k{i}" for i in range(10)])
    assert [o.path for o in parallel_list(src, jobs=8)] == sorted(f"k{i}" for i in range(10))
    assert src.calls == {"range": 0, "head": 1, "dirs": 0, "probe": 0}


def test_ranges_are_listed_concurrently_and_memory_is_bounded():
    keys = [f"d{d:02d}/{i:05d}" for d in range(16) for i in range(400)]
    src = FakeSource(keys, page=50)
    seen_ahead = []

    def slow_range(a, b):
        for n, o in enumerate(src.list_range(a, b)):
            if n % 50 == 0:
                time.sleep(0.001)
            yield o

    gen = ordered_ranges(slow_range, [f"d{d:02d}/" for d in range(16)], window=4, queue_pages=2, page=50,
                         adapt=False)
    out = []
    for o in gen:
        out.append(o.path)
        if len(out) == 10:
            time.sleep(0.2)  # a slow consumer: ranges ahead fill their queues and must stop there
            seen_ahead.append(src.in_flight)
    assert out == keys
    assert src.max_in_flight >= 2
    assert seen_ahead and seen_ahead[0] <= 4


def test_closing_the_stream_stops_the_workers_and_errors_reach_the_reader():
    keys = [f"d{d}/{i:04d}" for d in range(8) for i in range(500)]
    src = FakeSource(keys)
    gen = ordered_ranges(src.list_range, [f"d{d}/" for d in range(8)], window=4, queue_pages=1, page=10)
    assert next(gen).path == keys[0]
    gen.close()
    time.sleep(0.3)
    assert src.in_flight == 0

    def broken(a, b):
        if a is not None and a >= "d3/":
            raise OSError("connection reset")
        yield from src.list_range(a, b)

    with pytest.raises(OSError, match="connection reset"):
        list(ordered_ranges(broken, [f"d{d}/" for d in range(8)], window=3))


def test_end_bound_is_inclusive_of_the_split_point():
    src = FakeSource(["a", "a/", "a/x", "b"])
    assert [o.path for o in ordered_ranges(src.list_range, ["a", "a/"], window=2)] == ["a", "a/", "a/x", "b"]
    assert "a/" + END > "a/" and "a/" + END < "a/x"


def test_list_jobs_env_override(monkeypatch):
    assert list_jobs(8) == 8
    monkeypatch.setenv("GPUMIGRATE_LIST_JOBS", "1")
    assert list_jobs(8) == 1


@pytest.mark.parametrize("page,jobs", [(3, 2), (10, 8), (1000, 8)])
def test_keys_between_a_name_and_its_directory_are_not_lost(page, jobs):
    """"data.csv", "data-v2" and "data 1" sort after "data" but before "data/" (regression)."""
    keys = [f"a/{i:04d}" for i in range(1000)] + ["d", "data 1", "data-v2", "data.csv", "data/train/1",
                                                    "data/val/1", "d/x", "dz"]
    src = FakeSource(keys, page=page)
    assert [o.path for o in parallel_list(src, jobs=jobs, page=page, want=5)] == sorted(keys)


NAME = st.sampled_from(["data", "d", "a", "ab"])
SUFFIX = st.sampled_from(["", ".csv", "-v2", " 1", "/x", "/y/z", "/y.csv", "/y/0", "!", "/"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(keys=st.sets(st.tuples(NAME, SUFFIX, st.integers(0, 30)).map(lambda t: f"{t[0]}{t[1]}{t[2]}"), max_size=200),
       filler=st.integers(0, 400), page=st.sampled_from([2, 5, 50]), jobs=st.integers(1, 6))
def test_files_beside_directories_of_the_same_name_list_exactly(keys, filler, page, jobs):
    keys = set(keys) | {f"a/{i:04d}" for i in range(filler)}
    src = FakeSource(keys, page=page)
    assert [o.path for o in parallel_list(src, jobs=jobs, page=page, want=4)] == sorted(keys)


def test_enough_directories_are_not_looked_into():
    keys = [f"data/{d:03d}/obj-{i:04d}.bin" for d in range(20) for i in range(30)]
    src = FakeSource(keys, page=50)
    assert [o.path for o in parallel_list(src, jobs=8, page=50)] == keys
    # "data/" (a single directory) is looked into; its 20 directories (>= 2 x 8 jobs) are not
    assert src.calls["dirs"] == 2 and src.calls["range"] == 20
    few = FakeSource(keys, page=50)
    assert [o.path for o in parallel_list(few, jobs=16, page=50)] == keys
    assert few.calls["dirs"] == 2 + 19  # 20 < 2 x 16: each directory after the first page is looked into
