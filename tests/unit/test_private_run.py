"""The app's private runs: what the feed forwards, and the worker process behind it.

The feed (engine/cutover/feed.py) is what makes a run's cost to the app independent of the
number of objects: these tests pin that routine per-object rows never cross, ticks are
coalesced without losing the last one, a dry run's counts stay exact past the rows sent,
and an object only shows in flight when it was in flight at a tick.  The worker tests start
the real ``python -m engine.cutover.worker --private`` on a small local tree.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from engine.cutover.feed import FeedFilter
from engine.cutover.worker import start_private
from engine.events import Event, ItemDone, Progress, StepFinished, StepStarted


def _feed(**kw: object) -> tuple[FeedFilter, list[Event]]:
    out: list[Event] = []
    return FeedFilter(out.append, flusher=False, **kw), out  # type: ignore[arg-type]


def test_routine_rows_are_dropped_ticks_coalesced_and_the_last_tick_comes_before_the_end() -> None:
    feed, out = _feed(every_s=60.0)
    feed(StepStarted("transfer", description="transfer"))
    for i in range(1, 1001):
        feed(ItemDone("transfer", item=f"f{i}", status="copied", data={"size": 10}))
        feed(Progress("transfer", done=i * 10, total=10_000, label="bytes"))
    feed(ItemDone("transfer", item="bad", status="failed", detail="EACCES"))
    feed(StepFinished("transfer", ok=False, summary="1 failed"))
    kinds = [(type(e).__name__, getattr(e, "status", getattr(e, "label", ""))) for e in out]
    assert ("ItemDone", "copied") not in kinds
    ticks = [e for e in out if isinstance(e, Progress)]
    assert len(ticks) == 2, "one tick at once, the held-back latest before the next other event"
    assert ticks[-1].done == 10_000
    assert kinds[-2:] == [("ItemDone", "failed"), ("StepFinished", "")]
    assert out.index(ticks[-1]) < out.index(next(e for e in out if isinstance(e, ItemDone)))


def test_other_steps_keep_their_rows() -> None:
    feed, out = _feed()
    feed(ItemDone("verify", item="gpu_count", status="skipped"))
    assert [e.status for e in out if isinstance(e, ItemDone)] == ["skipped"]


def test_a_dry_run_sends_the_first_rows_and_exact_counts_of_all() -> None:
    feed, out = _feed(plan_rows=5)
    for i in range(12):
        feed(ItemDone("transfer", item=f"f{i}", status="would_copy", data={"size": 100}))
    feed(ItemDone("transfer", item="old", status="would_delete", data={"size": 7}))
    feed(StepFinished("transfer", ok=True))
    rows = [e for e in out if isinstance(e, ItemDone)]
    assert [r.item for r in rows] == ["f0", "f1", "f2", "f3", "f4"]
    plan = [e for e in out if isinstance(e, Progress) and e.label == "plan"]
    assert len(plan) == 1 and plan[0].extra == {"copy": 12, "copy_bytes": 1200, "delete": 1, "delete_bytes": 7}


def test_an_object_shows_in_flight_only_if_it_was_in_flight_at_a_tick() -> None:
    feed, out = _feed()

    def obj(path: str, phase: str) -> Progress:
        return Progress("transfer", done=1, total=2, label="object", extra={"path": path, "phase": phase})

    feed(obj("quick", "progress"))
    feed(obj("quick", "done"))  # started and ended between two ticks: never drawn, never sent
    feed(obj("slow", "progress"))
    feed.flush()  # a tick: "slow" is in flight, so it goes, and so will its end
    feed(obj("slow", "done"))
    assert [(e.extra["path"], e.extra["phase"]) for e in out if isinstance(e, Progress)] == [
        ("slow", "progress"), ("slow", "done")]


def _tree(tmp_path: Path, files: int, bwlimit: str = "") -> Path:
    src = tmp_path / "data"
    for i in range(files):
        (src / f"d{i % 3}").mkdir(parents=True, exist_ok=True)
        (src / f"d{i % 3}" / f"{i}.bin").write_bytes(bytes([i % 251]) * (64 * 1024))
    extra = f'bwlimit = "{bwlimit}"\njobs = 1\n' if bwlimit else ""
    profile = tmp_path / "p.toml"
    profile.write_text(f'[source]\nprovider = "local"\n\n[[transfer]]\nsrc = "data"\ndst = "out"\n{extra}')
    return profile


def _lines(proc) -> list[dict]:  # type: ignore[no-untyped-def]
    return [json.loads(line) for line in proc.stdout]


def test_the_private_worker_copies_and_sends_no_routine_rows(tmp_path: Path) -> None:
    proc = start_private(_tree(tmp_path, 30), ["transfer"])
    lines = _lines(proc)
    assert proc.wait(timeout=60) == 0
    kinds = [d["event"] for d in lines]
    assert kinds[0] == "step_started" and kinds[-2:] == ["step_finished", "summary"]
    assert not [d for d in lines if d["event"] == "item_done"], "30 copied rows crossed to the app"
    assert lines[-2]["result"]["copied"] == 30 and lines[-1]["exit_code"] == 0
    assert len(list((tmp_path / "out").rglob("*.bin"))) == 30


def test_closing_stdin_stops_the_run_resumably_and_pause_holds(tmp_path: Path) -> None:
    proc = start_private(_tree(tmp_path, 40, bwlimit="256K"), ["transfer"])
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(b"pause\n")
    proc.stdin.flush()
    deadline = time.monotonic() + 30
    paused = None
    while time.monotonic() < deadline:  # the engine reports the pause in its ticks
        data = json.loads(proc.stdout.readline())
        if data["event"] == "progress" and data["label"] == "bytes" and data["extra"].get("paused"):
            paused = data
            break
    assert paused is not None, "the worker never reported paused"
    proc.stdin.close()  # the app went away
    rest = _lines(proc)
    assert proc.wait(timeout=30) == 3, "closing the app's end stops the step as interrupted"
    assert rest[-2]["event"] == "step_finished" and rest[-2]["result"].get("interrupted")
    copied = len(list((tmp_path / "out").rglob("*.bin"))) if (tmp_path / "out").exists() else 0
    assert copied < 40
