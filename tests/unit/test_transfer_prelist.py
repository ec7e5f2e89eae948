"""The source listing that starts before the destination's client is built (engine/transfer/prelist.py):
the same objects in the same order, listed ahead while nobody reads, errors raised where the
listing is read, and nothing but the first full listing answered from it."""

from __future__ import annotations

import threading

import pytest

from engine.transfer.backends.base import ObjectInfo
from engine.transfer.prelist import PrelistedSource


class _Listing:
    """A source whose listing can be held at one object, to see the thread run ahead of the reader."""

    scheme = "s3"

    def __init__(self, n: int, fail_at: int | None = None):
        self.n, self.fail_at = n, fail_at
        self.pulled: list[str] = []
        self.calls: list[tuple] = []
        self.closed = False
        self.gate = threading.Event()

    def list(self, recursive=True, start_after=None, end_before=None):
        self.calls.append((recursive, start_after, end_before))
        for i in range(self.n):
            if i == 3:
                self.gate.wait(5)
            if i == self.fail_at:
                raise OSError("listing broke")
            self.pulled.append(f"k{i:03d}")
            yield ObjectInfo(path=f"k{i:03d}", size=i, mtime=0.0)

    def close(self):
        self.closed = True


def _wait_for(cond) -> None:
    import time

    deadline = time.time() + 5
    while not cond() and time.time() < deadline:
        time.sleep(0.005)


def test_the_listing_runs_ahead_and_reads_back_whole_and_in_order() -> None:
    src = _Listing(50)
    pre = PrelistedSource(src, recursive=True)
    _wait_for(lambda: len(src.pulled) == 3)
    assert src.pulled == ["k000", "k001", "k002"]  # listed before anyone read
    src.gate.set()
    got = [info.path for info in pre.list(True)]
    assert got == [f"k{i:03d}" for i in range(50)]
    assert src.calls == [(True, None, None)]  # one listing, shared
    assert pre.scheme == "s3"  # everything else is the backend's
    list(pre.list(True))  # a second listing goes to the backend
    assert len(src.calls) == 2
    pre.close()
    assert src.closed


def test_a_listing_error_is_raised_where_it_is_read() -> None:
    src = _Listing(10, fail_at=5)
    src.gate.set()
    pre = PrelistedSource(src, recursive=True)
    seen = []
    with pytest.raises(OSError, match="listing broke"):
        for info in pre.list(True):
            seen.append(info.path)
    assert seen == ["k000", "k001", "k002", "k003", "k004"]


def test_a_reader_arriving_early_takes_over_the_same_listing() -> None:
    src = _Listing(8)
    pre = PrelistedSource(src, recursive=True)
    _wait_for(lambda: len(src.pulled) == 3)
    threading.Timer(0.05, src.gate.set).start()  # the thread is held inside the listing
    assert [info.path for info in pre.list(True)] == [f"k{i:03d}" for i in range(8)]
    assert src.calls == [(True, None, None)]
