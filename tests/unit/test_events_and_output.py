"""Events round-trip through JSON; the NDJSON sink throttles progress but never drops the end."""

from __future__ import annotations

import io
import json

from engine.events import ItemDone, Message, Progress, StepFinished, StepStarted, from_dict
from tui.output import JsonSink, RichSink


def test_events_round_trip_through_dicts() -> None:
    for event in (StepStarted("transfer", description="copy"), Progress("transfer", done=5, total=10, unit="B"),
                  ItemDone("transfer", item="a/b.bin", status="copied", data={"bytes": 3}),
                  Message("cost", text="price is 90 days old", level="warning"),
                  StepFinished("verify", ok=False, summary="1 check failed", result={"failed": 1})):
        data = json.loads(json.dumps(event.to_dict()))
        assert from_dict(data) == event
        assert data["event"] == event.kind


def test_json_sink_throttles_progress_but_keeps_completion_and_items() -> None:
    out = io.StringIO()
    sink = JsonSink(out, progress_every_s=10)
    for i in range(100):
        sink(Progress("transfer", done=i, total=100, unit="B", ts=1000.0 + i * 0.01))
    sink(Progress("transfer", done=100, total=100, unit="B", ts=1001.5))
    sink(ItemDone("transfer", item="x", status="failed", detail="503", ts=1001.6))
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["event"] for line in lines] == ["progress", "progress", "item_done"]
    assert lines[1]["done"] == 100 and lines[2]["detail"] == "503"


def test_rich_sink_prints_failures_and_step_results(capsys) -> None:
    sink = RichSink()
    sink(StepStarted("transfer", description="transfer"))
    sink(ItemDone("transfer", item="bad key", status="failed", detail="checksum mismatch"))
    sink(ItemDone("transfer", item="fine", status="copied"))
    sink(StepFinished("transfer", ok=False, summary="1 failed"))
    sink.close()
    text = capsys.readouterr().out
    assert "bad key failed checksum mismatch" in text and "fine" not in text
    assert "✗ transfer: 1 failed" in text


def test_rich_sink_keeps_brackets_in_summaries(capsys) -> None:
    sink = RichSink()
    sink(StepFinished("ops", ok=False, summary="set [ops].apply = true to create them"))
    assert "[ops].apply" in capsys.readouterr().out


class _CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


def test_json_sink_batches_item_flushes_but_flushes_everything_else_and_on_close() -> None:
    out = _CountingStream()
    sink = JsonSink(out, flush_every_s=3600)
    sink(StepStarted("transfer", description="copy"))
    assert out.flushes == 1
    for i in range(500):
        sink(ItemDone("transfer", item=f"f{i}", status="copied"))
    assert out.flushes == 1  # 500 lines, no flush each
    sink(Message("transfer", text="a warning", level="warning"))
    assert out.flushes == 2
    sink(ItemDone("transfer", item="last", status="copied"))
    sink.close()
    assert out.flushes == 3
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == 503 and lines[-1]["item"] == "last"


def test_to_dict_matches_dataclasses_asdict_for_nested_values() -> None:
    from collections import namedtuple
    from dataclasses import asdict, dataclass

    @dataclass
    class Row:
        name: str
        sizes: list

    Pair = namedtuple("Pair", "a b")
    for event in (ItemDone("t", item="x", data={"a": [1, (2, 3)], "row": Row("r", [1, Row("s", [])])}),
                  Progress("t", done=1, total=2, extra={"pair": Pair(1, {"z": Row("q", [])})}),
                  StepFinished("v", ok=True, result={"rows": [Row("a", [1.5])]})):
        want = asdict(event)
        want["event"] = event.kind
        got = event.to_dict()
        assert got == want
        assert got["step"] == event.step and got is not event.to_dict()


def test_rich_bars_turn_determinate_with_an_eta_when_the_totals_event_comes(monkeypatch) -> None:
    """The CLI's bars: indeterminate while listing, a total and a time remaining from the first
    event that carries the totals (the engine sends it when planning ends, mid-copy)."""
    import time

    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # a terminal, as `gpumigrate transfer` has
    sink = RichSink()
    assert sink.console.is_terminal
    listing = {"listing_done": False}
    sink(Progress("transfer", done=10, total=None, unit="files", label="files", extra=listing))
    bars, task_id = sink._tasks[("transfer", "files")]  # noqa: SLF001 - the bar the sink drew
    task = next(t for t in bars.tasks if t.id == task_id)
    assert task.total is None and task.time_remaining is None
    for done in (20, 30, 40):
        time.sleep(0.05)
        sink(Progress("transfer", done=done, total=200, unit="files", label="files", extra={"listing_done": True}))
    task = next(t for t in bars.tasks if t.id == task_id)
    assert task.total == 200 and task.completed == 40 and not task.finished
    assert task.time_remaining is not None and task.time_remaining > 0
    sink.close()
