"""Planning runs ahead of the copies: the totals are known while copies still run, in flat memory."""

from __future__ import annotations

import time

from engine.events import ItemDone, Progress
from engine.transfer.api import TransferSpec, run_transfer
from engine.transfer.backends.base import ObjectInfo
from engine.transfer.plan import Action
from engine.transfer.readahead import ReadAhead


def test_totals_arrive_before_the_copies_end_when_copies_are_slow(tmp_path):
    """120 files of 4 KiB through a 1 MB/s limit (about half a second of copying, one worker, four
    slots): the planner used to wait for a free slot before planning the next file, so the
    listing ended, and the totals came, only with the last copies."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    for i in range(120):
        d = src / f"d{i // 40}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{i:03d}.bin").write_bytes(bytes([i]) * 4096)
    events: list[tuple[float, object]] = []
    summary = run_transfer(TransferSpec(src=str(src), dst=str(dst), jobs=1, bwlimit="1M"),
                           emit=lambda ev: events.append((time.monotonic(), ev)))
    assert (summary.copied, summary.failed) == (120, 0)
    totals = [(t, ev) for t, ev in events if isinstance(ev, Progress) and ev.label == "files" and ev.total is not None]
    assert totals, "no progress event carried the files total"
    first_t, first = totals[0]
    assert first.total == 120 and first.extra["listing_done"] is True
    assert first.extra["bytes_total"] == 120 * 4096
    bytes_total = next(ev for _t, ev in events if isinstance(ev, Progress) and ev.label == "bytes"
                       and ev.total is not None)
    assert bytes_total.total == 120 * 4096
    copied = [t for t, ev in events if isinstance(ev, ItemDone) and ev.status == "copied"]
    assert len(copied) == 120
    # known while most copies are still to come (before: only after the last batch was handed out)
    done_before = sum(1 for t in copied if t < first_t)
    assert done_before < 60, f"totals came only after {done_before} of 120 copies"
    assert first.done < 60


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
