"""benchmarks/wan_timeline.py reads gpumigrate's --json feed: small files done while the large
objects copied, and the rates during and after."""

from __future__ import annotations

import json

from benchmarks.wan_timeline import timeline


def _line(status: str, size: int, ts: float) -> str:
    return json.dumps({"event": "item_done", "status": status, "data": {"size": size}, "ts": ts})


def test_small_files_are_split_at_the_last_large_objects_end():
    started = 1000.0
    out = "\n".join([
        "not json",
        _line("copied", 5_000, 1000.5),
        _line("copied", 5_000, 1001.5),
        _line("copied", 200 << 20, 1002.5),   # the last large object: 2.5 s in
        _line("failed", 5_000, 1002.0),       # only copies count
        _line("copied", 5_000, 1003.0),
        _line("copied", 5_000, 1003.5),
        json.dumps({"event": "summary", "copied": 5}),
    ])
    got = timeline(out, started)
    assert "small 2 of 4 done with the large (1/s)" in got  # 2 files between 0.5 s and 2.5 s
    assert "then 2/s" in got  # 2 more in the 1 s after
    assert got.endswith("large done at 2.50 s")


def test_nothing_to_say_without_both_kinds():
    assert timeline(_line("copied", 5_000, 1.0), 0.0) == ""
    assert timeline(_line("copied", 200 << 20, 1.0), 0.0) == ""
