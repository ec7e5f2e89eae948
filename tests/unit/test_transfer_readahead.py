"""Planning runs ahead of the copies: the totals are known while copies still run, in flat memory."""

from __future__ import annotations

import threading

from engine.events import ItemDone, Progress
from engine.transfer.api import TransferSpec, run_transfer
from engine.transfer.backends.base import ObjectInfo
from engine.transfer.plan import Action
from engine.transfer.readahead import ReadAhead


class _CopiesHeldUntilTotals:
    """A local source whose reads wait until the totals event has been sent (at most 20 s): no copy can
    finish before planning has sent the totals, so a planner that waits for a free copy slot never sends
    them, and the reads are freed by the timeout instead."""

    def __init__(self, inner):
        self.inner = inner
        self.totals_sent = threading.Event()
        self.timed_out = False

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def _hold(self) -> None:
        if not self.totals_sent.wait(20):
            self.timed_out = True  # the test fails; the other reads need not wait as well
            self.totals_sent.set()

    def read_range(self, info, start, length):
        self._hold()
        return self.inner.read_range(info, start, length)

    def open_read(self, info):
        self._hold()
        return self.inner.open_read(info)


def test_totals_arrive_before_the_copies_end_when_copies_are_slow(tmp_path):
    """120 files of 4 KiB, one worker, four slots, every copy held until the totals are sent: the planner
    used to wait for a free slot before planning the next file, so the listing ended, and the totals
    came, only with the last copies.  (This test slowed the copies with a 1 MB/s limit and counted the
    copies done before the totals: on a loaded machine a planner thread without CPU for a quarter of a
    second failed it.  The hold makes the order the only thing that counts.)"""
    from engine.transfer.backends.local import LocalBackend
    from engine.transfer.control import TransferControl
    from engine.transfer.execute import Transfer
    from engine.transfer.journal import Journal
    from engine.transfer.urls import parse_url

    src, dst = tmp_path / "src", tmp_path / "dst"
    for i in range(120):
        d = src / f"d{i // 40}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{i:03d}.bin").write_bytes(bytes([i]) * 4096)
    source = _CopiesHeldUntilTotals(LocalBackend(parse_url(str(src))))
    events: list[object] = []

    def emit(ev) -> None:
        events.append(ev)
        if isinstance(ev, Progress) and ev.label == "files" and ev.total is not None:
            source.totals_sent.set()

    summary = Transfer(src=source, dst=LocalBackend(parse_url(str(dst))), src_url=str(src), dst_url=str(dst),
                       emit=emit, journal=Journal(None), control=TransferControl(), jobs=1).run()
    assert (summary.copied, summary.failed) == (120, 0)
    assert not source.timed_out, "the totals waited for copies to end (the reads were freed by the timeout)"
    totals = [i for i, ev in enumerate(events) if isinstance(ev, Progress) and ev.label == "files"
              and ev.total is not None]
    assert totals, "no progress event carried the files total"
    first = events[totals[0]]
    assert first.total == 120 and first.extra["listing_done"] is True
    assert first.extra["bytes_total"] == 120 * 4096
    assert first.done == 0  # sent while every copy was still to come
    bytes_total = next(ev for ev in events if isinstance(ev, Progress) and ev.label == "bytes"
                       and ev.total is not None)
    assert bytes_total.total == 120 * 4096
    copied = [i for i, ev in enumerate(events) if isinstance(ev, ItemDone) and ev.status == "copied"]
    assert len(copied) == 120 and min(copied) > totals[0]


def _act(i: int) -> Action:
    return Action("copy", f"f/{i:06d}", ObjectInfo(f"f/{i:06d}", i, 1.0, True, version=str(i)))


def test_read_ahead_keeps_order_and_spills_past_its_memory_bound(tmp_path, monkeypatch):
    monkeypatch.setenv("GPUMIGRATE_STATE_DIR", str(tmp_path / "state"))
    ahead = ReadAhead(None, memory_max=10)
    out = []
    for i in range(25):
        ahead.put(_act(i))
        if i % 4 == 0:
            out.append(ahead.pop().path)  # consumed while planning goes on
    assert len(ahead._mem) <= 10 and ahead.spilled_total > 0
    while ahead:
        out.append(ahead.pop().path)
    assert out == [f"f/{i:06d}" for i in range(25)]
    ahead.put(_act(99))  # after the disk drained, memory again
    got = ahead.pop()
    assert (got.path, got.src.size, got.src.version, got.src.mtime_preserved) == ("f/000099", 99, "99", True)
    ahead.close()
