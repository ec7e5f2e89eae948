"""How large the parts of a large object are: one per ``-j`` slot unless the user set a size, and
a re-run keeps the part size its journalled upload was started with."""

from __future__ import annotations

import sqlite3
import threading
import time
from types import SimpleNamespace

import pytest

from engine.transfer.api import TransferControl, TransferSpec, run_transfer
from engine.transfer.copying import effective_part_size
from tests.transfer_support import MIB, interrupt_after_a_part

S3_LIKE = SimpleNamespace(min_part_size=5 * MIB, max_parts=10_000)
LOCAL_LIKE = SimpleNamespace(min_part_size=1, max_parts=10**9)


@pytest.mark.parametrize(("size", "jobs", "want_mib"), [
    (200 * MIB, 8, 25),        # one part per slot: 8 parts, not 13 of 16 MiB
    (200 * MIB, 4, 50),
    (150 * MIB + 1, 8, 19),    # rounded up to whole MiB
    (200 * MIB, 32, 16),       # never below 16 MiB: more slots than that are left to other objects
    (8 << 30, 8, 64),          # never above 64 MiB: each part in flight is held in memory
])
def test_automatic_size_is_one_part_per_slot_within_bounds(size, jobs, want_mib):
    assert effective_part_size(None, 150, size, S3_LIKE, jobs) == want_mib * MIB


@pytest.mark.parametrize(("size", "others", "jobs", "want_mib"), [
    (200 * MIB, 200 * MIB, 8, 50),     # two 200 MiB objects share 8 slots: 4 parts each, not 8
    (200 * MIB, 600 * MIB, 8, 64),     # a long backlog: the 64 MiB ceiling
    (200 * MIB, 0, 8, 25),             # nothing else to send: one part per slot, as alone
    (200 * MIB, 10 * MIB, 8, 27),      # the others nearly sent: nearly as alone
    (200 * MIB, 10 << 30, 2, 64),      # -j 2, alone 100 MiB: the ceiling, not fewer parts than alone
    (48 * MIB, 1 << 30, 8, 24),        # never fewer than 2 parts beside others (were 3 of 16 MiB alone)
])
def test_beside_other_large_objects_an_object_takes_its_share_of_the_slots(size, others, jobs, want_mib):
    assert effective_part_size(None, 150, size, S3_LIKE, jobs, others) == want_mib * MIB


def test_the_backlog_counts_what_is_left_to_send_of_each_other_object():
    from engine.transfer.backlog import PartBacklog

    b = PartBacklog()
    b.add("a", 200 * MIB)
    b.add("b", 200 * MIB)
    assert b.others("a") == b.others("b") == 200 * MIB and b.others("c") == 400 * MIB
    b.sent("a", 50 * MIB)
    assert b.others("b") == 150 * MIB and b.total == 350 * MIB
    b.sent("a", 500 * MIB)  # a copy sent again from a changed source: never below nothing
    assert b.others("b") == 0
    b.add("b", 200 * MIB)  # planned, then started: counted once
    b.end("a")
    b.end("b")
    b.end("b")
    assert b.total == 0


def test_an_explicit_size_is_kept_and_the_stores_limits_still_apply():
    assert effective_part_size(16, 150, 200 * MIB, S3_LIKE, 2) == 16 * MIB
    assert effective_part_size(1, 150, 200 * MIB, S3_LIKE, 8) == 5 * MIB  # S3's minimum part
    assert effective_part_size(1, 150, 200 * MIB, LOCAL_LIKE, 8) == 1 * MIB
    # 1 TiB at the 64 MiB ceiling would be 16,384 parts: doubled to fit S3's 10,000
    assert effective_part_size(None, 150, 1 << 40, S3_LIKE, 8) == 128 * MIB


def test_a_part_is_never_larger_than_the_threshold():
    # an object at a 5 MiB threshold is split, as before: the threshold caps the automatic size
    assert effective_part_size(None, 5, 7 * MIB, LOCAL_LIKE, 2) == 5 * MIB
    assert effective_part_size(None, 20, 200 * MIB, S3_LIKE, 2) == 20 * MIB


def test_a_rerun_with_another_jobs_resumes_with_the_journalled_part_size(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    data = bytes(range(256)) * (40 * MIB // 256)
    (src / "big.bin").write_bytes(data)
    journal = tmp_path / "journal.sqlite"
    # at -j 4 the automatic size is 16 MiB (3 parts); at -j 2 it would be 20 MiB
    spec = dict(src=str(src), dst=str(dst), part_threshold_mib=32)
    first = interrupt_after_a_part(TransferSpec(**spec, jobs=4, bwlimit="16M"), journal, emit=lambda e: None)
    assert first.interrupted and first.copied == 0
    with sqlite3.connect(journal) as db:
        assert db.execute("SELECT part_size FROM uploads").fetchall() == [(16 * MIB,)]
    (src / "other.bin").write_bytes(b"o" * (40 * MIB))  # sized beside it now, big.bin keeps its parts
    second = run_transfer(TransferSpec(**spec, jobs=2), emit=lambda e: None, journal=journal)
    assert second.ok and second.copied == 2 and second.resumed_parts >= 1, second.failures
    assert (dst / "big.bin").read_bytes() == data and (dst / "other.bin").stat().st_size == 40 * MIB


def test_without_jobs_small_objects_get_workers_of_their_own_and_an_explicit_jobs_is_for_all():
    assert TransferSpec(src="a", dst="b").worker_counts() == (8, 32)
    assert TransferSpec(src="a", dst="b", jobs=8).worker_counts() == (8, 8)
    assert TransferSpec(src="a", dst="b", jobs=64).worker_counts() == (64, 64)


class _HeldLarge:
    """Wraps a local source as a network one whose objects over 256 KiB are held until every small
    object has been read: with the small objects queued behind them, only the timeout frees them."""

    scheme = "s3"

    def __init__(self, inner, small: int):
        self.inner, self.small_left = inner, small
        self.lock = threading.Lock()
        self.all_small_read = threading.Event()

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def read_range(self, info, start, length):
        if info.size > 256 * 1024:
            self.all_small_read.wait(10)
        data = self.inner.read_range(info, start, length)
        if info.size <= 256 * 1024:
            with self.lock:
                self.small_left -= 1
                if self.small_left == 0:
                    self.all_small_read.set()
        return data


def test_small_objects_are_not_left_waiting_behind_large_ones(tmp_path):
    from engine.transfer.backends.local import LocalBackend
    from engine.transfer.control import TransferControl
    from engine.transfer.execute import Transfer
    from engine.transfer.journal import Journal
    from engine.transfer.urls import parse_url

    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "b").mkdir(parents=True)
    for i in range(2):  # listed first: they take both workers of -j 2
        (src / f"a-large-{i}").write_bytes(bytes([i]) * (300 * 1024))
    for i in range(20):
        (src / "b" / f"{i:02d}").write_bytes(b"s" * 1000)
    source = _HeldLarge(LocalBackend(parse_url(str(src))), small=20)
    t0 = time.monotonic()
    s = Transfer(src=source, dst=LocalBackend(parse_url(str(dst))), src_url=str(src), dst_url=str(dst),
                 emit=lambda e: None, journal=Journal(None), control=TransferControl(), jobs=2, small_jobs=4).run()
    assert s.ok and s.copied == 22, s.failures
    assert source.all_small_read.is_set() and time.monotonic() - t0 < 8  # freed by the small copies, not the timeout
    assert sorted(p.name for p in (dst / "b").iterdir()) == [f"{i:02d}" for i in range(20)]


class _Recorded:
    """A local backend that records the part size of every upload begun; as a source, it holds
    every read until ``hold`` is set (no part is sent before every upload has begun), and lists
    its third object only once an upload has begun, or after 50 ms (a listing page that takes a
    round trip). The plan reads the listing one ahead: the second object is planned once the
    third is listed."""

    def __init__(self, inner):
        self.inner = inner
        self.part_sizes: dict[str, int] = {}
        self.hold = threading.Event()
        self.begun = threading.Event()

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def list(self, *args, **kwargs):
        for n, info in enumerate(self.inner.list(*args, **kwargs)):
            if n == 2:
                self.begun.wait(0.05)
            yield info

    def read_range(self, info, start, length):
        assert self.hold.wait(10)
        return self.inner.read_range(info, start, length)

    def begin_parts(self, path, src, part_size, *args, **kwargs):
        self.part_sizes[path] = part_size
        self.begun.set()
        return self.inner.begin_parts(path, src, part_size, *args, **kwargs)


def _two_large(tmp_path, names, jobs=3):
    from engine.transfer.backends.local import LocalBackend
    from engine.transfer.execute import Transfer
    from engine.transfer.journal import Journal
    from engine.transfer.urls import parse_url

    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir(parents=True)
    for i, name in enumerate(names):
        (src / name).write_bytes(bytes([i]) * (48 * MIB))
    (src / "z.txt").write_bytes(b"small")
    source = _Recorded(LocalBackend(parse_url(str(src))))
    target = _Recorded(LocalBackend(parse_url(str(dst))))
    source.begun = target.begun
    target.hold.set()

    def release() -> None:  # every upload begun: the parts may go
        deadline = time.monotonic() + 10
        while len(target.part_sizes) < len(names) and time.monotonic() < deadline:
            time.sleep(0.01)
        source.hold.set()

    threading.Thread(target=release, daemon=True).start()
    s = Transfer(src=source, dst=target, src_url=str(src), dst_url=str(dst), emit=lambda e: None,
                 journal=Journal(None), control=TransferControl(), jobs=jobs, part_threshold_mib=32).run()
    assert s.ok and s.copied == len(names) + 1 and s.verified == len(names) + 1, s.failures  # CRC32C compared
    return target.part_sizes


def test_two_large_objects_share_the_part_slots_and_one_alone_takes_them_all(tmp_path):
    # -j 3: alone, 48 MiB goes in 3 parts of 16 MiB; beside another 48 MiB still to send, in 2 of
    # 24 MiB (4 parts for 3 slots, not 6). The first is planned a listing page before the second,
    # and still sized beside it
    assert _two_large(tmp_path / "two", ["a.bin", "b.bin"]) == {"a.bin": 24 * MIB, "b.bin": 24 * MIB}
    assert _two_large(tmp_path / "one", ["a.bin"]) == {"a.bin": 16 * MIB}



def test_a_large_object_waits_for_a_stalled_listing_only_briefly(tmp_path):
    # a re-sync whose listing stalls (a slow page, a million up-to-date objects) right after a
    # large object: the copy starts within PLAN_WAIT_S, not when the listing gets on
    from engine.transfer.backends.local import LocalBackend
    from engine.transfer.execute import PLAN_WAIT_S, Transfer
    from engine.transfer.journal import Journal
    from engine.transfer.urls import parse_url

    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    (src / "a.bin").write_bytes(b"a" * (6 * MIB))
    for name in ("b.txt", "c.txt"):
        (src / name).write_bytes(b"small")
    stall = 0.6
    times: dict[str, float] = {}

    class Stalling(_Recorded):
        def list(self, *args, **kwargs):
            for n, info in enumerate(self.inner.list(*args, **kwargs)):
                if n == 2:  # the plan reads one ahead: "b.txt" waits for this one
                    time.sleep(stall)
                    times["listed"] = time.monotonic()
                yield info

    class Timed(_Recorded):
        def begin_parts(self, path, *args, **kwargs):
            times.setdefault("begun", time.monotonic())
            return super().begin_parts(path, *args, **kwargs)

    source, target = Stalling(LocalBackend(parse_url(str(src)))), Timed(LocalBackend(parse_url(str(dst))))
    source.hold.set()
    target.hold.set()
    t0 = time.monotonic()
    s = Transfer(src=source, dst=target, src_url=str(src), dst_url=str(dst), emit=lambda e: None,
                 journal=Journal(None), control=TransferControl(), jobs=3, part_threshold_mib=5).run()
    assert s.ok and s.copied == 3, s.failures
    assert target.part_sizes == {"a.bin": 5 * MIB}  # in parts: sized after the wait
    assert times["begun"] - t0 < PLAN_WAIT_S + stall / 2 < times["listed"] - t0
