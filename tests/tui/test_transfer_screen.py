"""The Transfer screen with Pilot: real local -> local transfers run from the screen.

Every test drives the real engine (``transfer`` step) on trees generated under tmp_path:
bars reach 100 %, the summary matches what the engine copied, the dry-run table lists the
planned actions, failures are listed, pause really stops the bytes, cancel stops the run,
and a watcher cannot touch the controls.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any, AsyncIterator, Callable

import pytest
from textual.widgets import Button, DataTable, ProgressBar, Static

from engine.events import StepFinished
from tui.app import GpuMigrateApp
from tui.messages import EngineEvent, RoleChanged
from tui.screens.transfer import TransferScreen
from tui.widgets.dialogs import ConfirmDialog
from tui.widgets.in_flight import InFlightTable
from tui.widgets.throughput import Throughput

SIZE = (140, 45)
SMALL_TREE = {
    "a.txt": 1000,
    "b/c.bin": 5000,
    "b/d/deep/e.dat": 70_000,
    "empty.txt": 0,
    "spaces in name.txt": 1234,
    "ünïcødé/ñ.txt": 321,
    "models/weights.bin": 300 * 1024,  # above the engine's per-object feed threshold
}


def _write_tree(root: Path, files: dict[str, int], seed: int = 7) -> None:
    for rel, size in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        block = bytes((seed + i * 31 + len(rel)) % 251 for i in range(min(size, 4096) or 1))
        data = (block * (size // len(block) + 1))[:size]
        path.write_bytes(data)


def _profile(folder: Path, entries: list[dict[str, object]]) -> Path:
    lines = ['[source]', 'provider = "local"', '']
    for entry in entries:
        lines.append("[[transfer]]")
        for key, value in entry.items():
            if isinstance(value, list):
                lines.append(f"{key} = {json.dumps(value)}")
            elif isinstance(value, bool):
                lines.append(f"{key} = {'true' if value else 'false'}")
            elif isinstance(value, int):
                lines.append(f"{key} = {value}")
            else:
                lines.append(f'{key} = "{value}"')
        lines.append("")
    path = folder / "transfer.toml"
    path.write_text("\n".join(lines))
    return path


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _finished(screen: TransferScreen) -> StepFinished:
    assert screen.finished is not None, "no StepFinished reached the screen"
    return screen.finished


def _column(table: DataTable, key: str) -> list[str]:
    return [str(table.get_cell(row, key)) for row in table.rows]


async def _wait(pilot, cond: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or cond}")
        await pilot.pause(0.05)


async def _screen(pilot, app: GpuMigrateApp) -> TransferScreen:  # type: ignore[no-untyped-def]
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, TransferScreen)
    app.set_focus(None)
    return screen


async def _run_to_end(pilot, app: GpuMigrateApp, key: str) -> None:  # type: ignore[no-untyped-def]
    await pilot.press(key)
    await app.workers.wait_for_complete()
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, TransferScreen)
    await _wait(pilot, lambda: not screen.running, what="the run to end")


@pytest.fixture()
def small(tmp_path: Path) -> tuple[Path, Path, Path]:
    src, dst = tmp_path / "data", tmp_path / "out"
    _write_tree(src, SMALL_TREE)
    return _profile(tmp_path, [{"src": "data", "dst": "out"}]), src, dst


async def test_entries_listed_with_options(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    path = _profile(tmp_path, [{"src": "data", "dst": "out", "delete": True, "checksum": True, "jobs": 4,
                                "bwlimit": "10M", "exclude": ["\\.tmp$"]},
                               {"src": "data", "dst": "gs://bucket/data", "engine": "sts"}])
    app = GpuMigrateApp(profile_path=path, start_mode="transfer")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _screen(pilot, app)
        table = screen.query_one("#transfer-entries", DataTable)
        assert table.row_count == 2
        assert _column(table, "src") == ["data", "data"]
        assert _column(table, "dst") == ["out", "gs://bucket/data"]
        opts = _column(table, "opts")[0]
        assert opts == "-r -d -c -x \\.tmp$ -j 4 --bwlimit 10M"
        assert _column(table, "engine") == ["local", "sts"]
        assert _column(table, "status") == ["not run", "not run"]


async def test_run_copies_the_tree_bars_reach_100_and_summary_matches(small: tuple[Path, Path, Path]) -> None:
    profile, src, dst = small
    app = GpuMigrateApp(profile_path=profile, start_mode="transfer")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _screen(pilot, app)
        await _run_to_end(pilot, app, "r")
        assert _files(dst) == _files(src)  # byte for byte
        finished = _finished(screen)
        assert finished.ok
        result = finished.result
        assert result["copied"] == len(SMALL_TREE)
        assert result["bytes"] == sum(SMALL_TREE.values())
        # bars at 100 %, with the engine's own totals
        bytes_bar = screen.query_one("#transfer-bytes-bar", ProgressBar)
        files_bar = screen.query_one("#transfer-files-bar", ProgressBar)
        assert bytes_bar.percentage == 1.0 and files_bar.percentage == 1.0
        assert bytes_bar.total == sum(SMALL_TREE.values()) and files_bar.total == len(SMALL_TREE)
        assert str(screen.query_one("#transfer-files-text", Static).render()) == \
            f"{len(SMALL_TREE)} / {len(SMALL_TREE)}"
        summary = str(screen.query_one("#transfer-summary", Static).render())
        assert summary.startswith(f"Done: copied {len(SMALL_TREE)} objects (")
        assert "failed 0" in summary and f"verified {result['verified']}" in summary
        assert screen.state == "finished"
        status = _column(screen.query_one("#transfer-entries", DataTable), "status")[0]
        assert status.startswith(f"copied {len(SMALL_TREE)} (")
        assert screen.query_one(InFlightTable).row_count == 0  # nothing left in flight
        assert screen.query_one(Throughput).samples  # sampled while it ran
        assert screen.failures == []
        # a second run copies nothing: everything is up to date
        await _run_to_end(pilot, app, "r")
        again = _finished(screen).result
        assert again["copied"] == 0 and again["skipped"] == len(SMALL_TREE)
        assert "copied 0 objects" in str(screen.query_one("#transfer-summary", Static).render())


async def test_two_entries_run_in_turn_with_a_status_each_and_totals(tmp_path: Path) -> None:
    _write_tree(tmp_path / "one", {"a.txt": 10, "b.txt": 20})
    _write_tree(tmp_path / "two", {"c/d.txt": 300})
    profile = _profile(tmp_path, [{"src": "one", "dst": "out1"}, {"src": "two", "dst": "out2"}])
    app = GpuMigrateApp(profile_path=profile, start_mode="transfer")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _screen(pilot, app)
        await _run_to_end(pilot, app, "r")
        assert _files(tmp_path / "out1") == _files(tmp_path / "one")
        assert _files(tmp_path / "out2") == _files(tmp_path / "two")
        result = _finished(screen).result
        assert (result["copied"], result["bytes"]) == (3, 330)
        status = _column(screen.query_one("#transfer-entries", DataTable), "status")
        assert status[0].startswith("copied 2 (30 B)") and status[1].startswith("copied 1 (300 B)")
        summary = str(screen.query_one("#transfer-summary", Static).render())
        assert summary.startswith("Done: copied 3 objects (330 B), deleted 0, skipped 0, failed 0")


async def test_a_step_that_stops_on_an_error_says_so(tmp_path: Path) -> None:
    """An STS entry with no [target] project: the step fails after the local entry ran."""
    _write_tree(tmp_path / "one", {"a.txt": 10})
    profile = _profile(tmp_path, [{"src": "one", "dst": "out1"},
                                  {"src": "one", "dst": "gs://elsewhere/one", "engine": "sts"}])
    app = GpuMigrateApp(profile_path=profile, start_mode="transfer")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _screen(pilot, app)
        await _run_to_end(pilot, app, "r")
        finished = _finished(screen)
        assert not finished.ok
        assert _files(tmp_path / "out1") == _files(tmp_path / "one")
        status = _column(screen.query_one("#transfer-entries", DataTable), "status")
        assert status[0].startswith("copied 1 (10 B)")
        assert status[1] == f"failed: {finished.summary}"
        summary = str(screen.query_one("#transfer-summary", Static).render())
        assert summary == f"Failed: {finished.summary}"
        assert screen.state == "finished with errors"
        assert screen.query_one("#transfer-run-button", Button).disabled is False


async def test_dry_run_lists_every_planned_action_and_changes_nothing(tmp_path: Path) -> None:
    src, dst = tmp_path / "data", tmp_path / "out"
    _write_tree(src, SMALL_TREE)
    _write_tree(dst, {"a.txt": 1000}, seed=7)  # same bytes; mtime differs -> copy again or skip
    os.utime(dst / "a.txt", (os.stat(src / "a.txt").st_atime, os.stat(src / "a.txt").st_mtime))
    _write_tree(dst, {"stale/old.bin": 4096, "stale/older.bin": 10})
    before = _files(dst)
    profile = _profile(tmp_path, [{"src": "data", "dst": "out", "delete": True, "max_delete": 10}])
    app = GpuMigrateApp(profile_path=profile, start_mode="transfer")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _screen(pilot, app)
        await _run_to_end(pilot, app, "n")
        assert _files(dst) == before  # a dry run changes nothing
        plan = screen.query_one("#transfer-plan", DataTable)
        rows = [tuple(str(c) for c in plan.get_row(key)) for key in plan.rows]
        copies = sorted(r[2] for r in rows if r[1] == "copy")
        deletes = sorted(r[2] for r in rows if r[1] == "delete")
        assert copies == sorted(set(SMALL_TREE) - {"a.txt"})
        assert deletes == ["stale/old.bin", "stale/older.bin"]
        sizes = {r[2]: r[3] for r in rows}
        assert sizes["models/weights.bin"] == "300.0 KiB" and sizes["stale/older.bin"] == "10 B"
        result = _finished(screen).result
        assert result["copied"] == len(copies) and result["deleted"] == 2 and result["skipped"] == 1
        want_bytes = sum(SMALL_TREE[p] for p in copies)
        assert result["bytes"] == want_bytes
        assert screen.plan_counts == {"copy": len(copies), "copy_bytes": want_bytes, "delete": 2,
                                      "delete_bytes": 4106}
        counts = str(screen.query_one("#transfer-plan-counts", Static).render())
        assert counts.startswith(f"would copy {len(copies)} objects (") and "would delete 2 objects (4.0 KiB)" in counts
        summary = str(screen.query_one("#transfer-summary", Static).render())
        assert summary.startswith("Dry run — nothing was changed: would copy 6 objects")
        assert screen.query_one("#transfer-tabs").active == "transfer-tab-plan"
        # a dry run has no bars: nothing was copied
        assert not screen.query_one("#transfer-rate").display


async def test_a_dry_run_over_the_delete_limit_lists_the_deletions_and_says_the_run_would_be_refused(
        tmp_path: Path) -> None:
    """The dry run is the view the -d guard promises: it was refused itself, so the plan showed nothing."""
    _write_tree(tmp_path / "data", {"a.txt": 10})
    _write_tree(tmp_path / "out", {f"stale/{i}.bin": 10 for i in range(3)})
    before = _files(tmp_path / "out")
    profile = _profile(tmp_path, [{"src": "data", "dst": "out", "delete": True}])  # default limit: 1
    app = GpuMigrateApp(profile_path=profile, start_mode="transfer")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _screen(pilot, app)
        await _run_to_end(pilot, app, "n")
        assert _files(tmp_path / "out") == before
        plan = screen.query_one("#transfer-plan", DataTable)
        rows = [tuple(str(c) for c in plan.get_row(key)) for key in plan.rows]
        assert sorted(r[2] for r in rows if r[1] == "delete") == [f"stale/{i}.bin" for i in range(3)]
        summary = str(screen.query_one("#transfer-summary", Static).render())
        assert summary.startswith("Dry run — nothing was changed: would copy 1 object"), summary
        assert "a real run would refuse the deletions for data -> out: 3 deletions planned" in summary, summary
        assert "max_delete = 3 in the profile entry" in summary, summary


async def test_a_destination_that_cannot_be_written_shows_in_the_failures_list(tmp_path: Path) -> None:
    src = tmp_path / "data"
    _write_tree(src, {"ok.txt": 100, "blocked/x.txt": 200, "blocked/y.txt": 300})
    out = tmp_path / "out"
    out.mkdir()
    (out / "blocked").write_text("a file where the engine needs a folder")
    profile = _profile(tmp_path, [{"src": "data", "dst": "out"}])
    app = GpuMigrateApp(profile_path=profile, start_mode="transfer")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _screen(pilot, app)
        await _run_to_end(pilot, app, "r")
        assert (out / "ok.txt").read_bytes() == (src / "ok.txt").read_bytes()
        result = _finished(screen).result
        assert result["failed"] == 2 and result["copied"] == 1
        failures = screen.query_one("#transfer-failures", DataTable)
        assert sorted(_column(failures, "path")) == ["blocked/x.txt", "blocked/y.txt"]
        errors = _column(failures, "error")
        assert all(e.strip() for e in errors)
        engine_errors = sorted((f["path"], f["error"]) for e in result["entries"] for f in e["failures"])
        assert sorted(screen.failures) == engine_errors  # the last error, as the engine reported it
        assert screen.query_one("#transfer-tabs").active == "transfer-tab-failures"
        summary = str(screen.query_one("#transfer-summary", Static).render())
        assert summary.startswith("Finished with problems: copied 1 object (") and "failed 2" in summary
        assert screen.state == "finished with errors"


BIG = 48 * 1024 * 1024


def _slow_tree(tmp_path: Path, bwlimit: str) -> tuple[Path, Path, Path]:
    src, dst = tmp_path / "data", tmp_path / "out"
    _write_tree(src, {"big/model.bin": BIG, **{f"small/{i:02d}.txt": 2048 for i in range(10)}})
    return _profile(tmp_path, [{"src": "data", "dst": "out", "bwlimit": bwlimit, "jobs": 2}]), src, dst


@pytest.fixture()
def slow(tmp_path: Path) -> tuple[Path, Path, Path]:
    """One large object streamed under a bandwidth limit, so it stays in flight for seconds (~6 s)."""
    return _slow_tree(tmp_path, "8M")


@pytest.fixture()
def slower(tmp_path: Path) -> tuple[Path, Path, Path]:
    """The same tree at half the rate (~12 s): for a test that must still find it running after
    several round trips through the UI on a loaded machine, and never waits for its end."""
    return _slow_tree(tmp_path, "4M")


@contextlib.asynccontextmanager
async def _transfer_app(profile: Path) -> AsyncIterator[tuple[GpuMigrateApp, Any, TransferScreen]]:
    """The app on the Transfer screen; a transfer still running when the test ends is cancelled
    (a failed assertion while paused must not leave the engine's threads waiting forever)."""
    app = GpuMigrateApp(profile_path=profile, start_mode="transfer")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _screen(pilot, app)
        try:
            yield app, pilot, screen
        finally:
            if screen.control is not None:
                screen.control.cancel()
            app.cancel_step("transfer")


def _bytes_done(screen: TransferScreen) -> int:
    ev = screen._latest.get("bytes")  # noqa: SLF001 - the latest engine figure the screen holds
    return int(ev.done) if ev is not None else 0


async def _settled(pilot, screen: TransferScreen, quiet_s: float, timeout: float) -> int:  # type: ignore[no-untyped-def]
    """Bytes done once they have not changed for ``quiet_s`` seconds."""
    deadline = time.monotonic() + timeout
    last, since = _bytes_done(screen), time.monotonic()
    while time.monotonic() - since < quiet_s:
        if time.monotonic() > deadline:
            raise AssertionError("bytes never stopped moving after pause")
        await pilot.pause(0.1)
        now = _bytes_done(screen)
        if now != last:
            last, since = now, time.monotonic()
    return last


async def test_pause_holds_the_engine_resume_continues_cancel_stops(slow: tuple[Path, Path, Path]) -> None:
    profile, src, dst = slow
    async with _transfer_app(profile) as (app, pilot, screen):
        await pilot.press("r")
        table = screen.query_one(InFlightTable)
        await _wait(pilot, lambda: "big/model.bin" in table.paths and _bytes_done(screen) > 0,
                    what="the large object in flight")
        pct = str(table.get_cell("big/model.bin", "pct"))
        assert pct.endswith("%") and str(table.get_cell("big/model.bin", "size")) == "48.0 MiB"
        assert screen.query_one("#transfer-pause-button", Button).disabled is False

        await pilot.press("p")
        assert screen.state == "paused"
        assert str(screen.query_one("#transfer-pause-button", Button).label) == "Resume (p)"
        await _wait(pilot, lambda: bool(screen._latest["bytes"].extra.get("paused")),  # noqa: SLF001
                    what="the engine to report paused")
        # Streams hold at their next chunk: a chunk already being read (a few MiB, throttled by
        # the bwlimit) still lands. Wait until nothing moved for a second: unpaused, 8 MiB/s
        # moves a chunk every ~0.5 s, so this times out if the pause did not hold.
        held = await _settled(pilot, screen, quiet_s=1.0, timeout=10.0)
        assert screen.running and held < BIG, "the transfer ran to the end: the pause did not hold"
        await asyncio.sleep(1.5)  # three chunks' worth at full speed, several progress ticks
        await pilot.pause()
        assert _bytes_done(screen) == held, "bytes kept moving while paused"
        assert "paused" in str(screen.query_one("#transfer-rate", Static).render())

        await pilot.press("p")
        assert screen.state == "copying"
        await _wait(pilot, lambda: _bytes_done(screen) > held, what="bytes to move again after resume")

        await pilot.press("c")
        await _wait(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="the confirm dialog")
        await pilot.press("y")
        await app.workers.wait_for_complete()
        await _wait(pilot, lambda: not screen.running, what="the run to stop")
        finished = _finished(screen)
        assert finished.ok is False and finished.result.get("interrupted")
        assert screen.state == "cancelled"
        summary = str(screen.query_one("#transfer-summary", Static).render())
        assert summary.startswith("Cancelled — entry 1: interrupted (copied ") and "Press r to resume" in summary
        assert not (dst / "big" / "model.bin").exists()  # a partial object never appears
        assert _bytes_done(screen) < BIG
        assert screen.query_one(InFlightTable).row_count == 0
        assert screen.query_one("#transfer-run-button", Button).disabled is False  # ready to resume


async def test_cancel_dialog_no_keeps_running(slower: tuple[Path, Path, Path]) -> None:
    profile, _src, _dst = slower
    async with _transfer_app(profile) as (app, pilot, screen):
        await pilot.press("r")
        await _wait(pilot, lambda: _bytes_done(screen) > 0, what="bytes to move")
        await pilot.press("c")
        await _wait(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="the confirm dialog")
        await pilot.press("escape")
        await _wait(pilot, lambda: not isinstance(app.screen, ConfirmDialog), what="the dialog to close")
        assert screen.running and screen.state != "cancelling"
        before = _bytes_done(screen)
        assert before < BIG, "the transfer ended before the test could see it go on"
        await _wait(pilot, lambda: _bytes_done(screen) > before, what="the transfer to go on")
        screen.cancel_now()
        await app.workers.wait_for_complete()
        await _wait(pilot, lambda: not screen.running, what="the run to stop")


async def test_watcher_cannot_use_the_controls(small: tuple[Path, Path, Path]) -> None:
    profile, _src, dst = small
    app = GpuMigrateApp(profile_path=profile, start_mode="transfer")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _screen(pilot, app)
        buttons = ["#transfer-run-button", "#transfer-dry-run-button", "#transfer-pause-button",
                   "#transfer-cancel-button"]
        assert screen.query_one("#transfer-run-button", Button).disabled is False
        app.role = "watching"
        screen.post_message(RoleChanged("watching"))
        await pilot.pause()
        for button_id in buttons:
            button = screen.query_one(button_id, Button)
            assert button.disabled and button.has_class("mutating")
        assert screen.check_action("run", ()) is None and screen.check_action("dry_run", ()) is None
        await pilot.press("r")
        await pilot.press("n")
        await pilot.pause()
        assert not screen.running and not dst.exists()
        assert screen.query_one("#role-banner").display
        app.role = "driving"
        screen.post_message(RoleChanged("driving"))
        await pilot.pause()
        assert screen.query_one("#transfer-run-button", Button).disabled is False
        assert screen.query_one("#transfer-pause-button", Button).disabled is True  # nothing to pause


async def test_a_watcher_in_a_session_sees_the_controls_disabled(small: tuple[Path, Path, Path]) -> None:
    profile, _src, _dst = small
    app = GpuMigrateApp(profile_path=profile, session_name="transfer-watch", watch=True, operator="bob",
                        start_mode="transfer")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _screen(pilot, app)
        assert app.role == "watching"
        for button in screen.query(".mutating").results(Button):
            assert button.disabled, button.id
        await pilot.press("r")
        await pilot.pause()
        assert not screen.running


async def test_in_a_session_the_run_goes_through_the_detached_worker(small: tuple[Path, Path, Path]) -> None:
    profile, src, dst = small
    app = GpuMigrateApp(profile_path=profile, session_name="transfer-drive", operator="alice", start_mode="transfer")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _screen(pilot, app)
        assert app.role == "driving"
        # The binding's action, called in the app's loop: nothing runs between it and the checks
        # below. (A key press returns only once the app is idle; on a loaded machine this small
        # transfer had run to its end by then and ``running`` was already False.)
        assert screen.check_action("run", ()) is True
        screen.action_run()
        assert screen.running and screen.control is None, (screen.state, screen.finished, screen._notes)  # no live control crosses into another process
        assert screen.check_action("pause", ()) is True and screen.check_action("cancel", ()) is True
        await _wait(pilot, lambda: screen.finished is not None and not screen.running, timeout=60,
                    what="the session's StepFinished")
        assert _files(dst) == _files(src)
        assert screen.finished is not None and screen.finished.result["copied"] == len(SMALL_TREE)
        assert screen.state == "finished"
        assert str(screen.query_one("#transfer-summary", Static).render()).startswith(
            f"Done: copied {len(SMALL_TREE)} objects")
        assert screen.query_one("#transfer-bytes-bar", ProgressBar).percentage == 1.0


async def test_a_flood_of_events_is_coalesced_and_drawn_at_the_latest(small: tuple[Path, Path, Path]) -> None:
    """Events posted much faster than the screen draws: only the latest per label (and per object) is drawn."""
    from engine.events import ItemDone, Progress, StepStarted

    profile, _src, _dst = small
    app = GpuMigrateApp(profile_path=profile, start_mode="transfer")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _screen(pilot, app)
        post = screen.post_message
        post(EngineEvent(StepStarted("transfer", description="transfer")))  # a run seen from outside
        n = 5000
        for i in range(1, n + 1):
            extra = {"listing_done": True, "in_flight": 2, "copied": i, "paused": False}
            post(EngineEvent(Progress("transfer", done=i * 1024, total=n * 1024, unit="B", label="bytes",
                                      rate=1024.0 * i, eta_s=1.0, extra=extra)))
            post(EngineEvent(Progress("transfer", done=i, total=n, unit="files", label="files", extra=extra)))
            post(EngineEvent(Progress("transfer", done=i, total=n, unit="B", label="object",
                                      extra={"path": f"obj/{i % 3}", "phase": "progress"})))
        post(EngineEvent(Progress("transfer", done=n, total=n, unit="B", label="object",
                                  extra={"path": "obj/0", "phase": "done"})))
        post(EngineEvent(ItemDone("transfer", item="bad/one", status="failed", detail="OSError: disk full",
                                  data={"action": "copy", "attempts": 3})))
        await pilot.pause(2 * 0.25 + 0.1)
        assert screen.running and screen.state == "copying"
        assert screen.query_one("#transfer-bytes-bar", ProgressBar).progress == n * 1024
        assert screen.query_one("#transfer-files-bar", ProgressBar).percentage == 1.0
        assert len(screen.query_one(Throughput).samples) < 50  # one per redraw, not one per event
        table = screen.query_one(InFlightTable)
        assert sorted(table.paths) == ["obj/1", "obj/2"]  # obj/0 finished
        assert str(table.get_cell("obj/1", "pct")) == "99%"  # its latest event: 4999 of 5000
        assert str(table.get_cell("obj/2", "pct")) == "100%"  # 5000 of 5000
        assert screen.failures == [("bad/one", "OSError: disk full")]
        assert _column(screen.query_one("#transfer-failures", DataTable), "attempts") == ["3"]


async def test_failures_kept_are_bounded_and_the_tab_counts_them_all(small: tuple[Path, Path, Path],
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The screen kept every failed object's path and error (the table shows the first MAX_FAILURE_ROWS): a run
    whose destination refuses ten million objects grew the app by gigabytes. It keeps what it shows; the tab counts all."""
    import tui.screens.transfer as transfer_screen
    from engine.events import ItemDone, StepStarted
    from textual.widgets import TabbedContent

    monkeypatch.setattr(transfer_screen, "MAX_FAILURE_ROWS", 3)
    profile, _src, _dst = small
    app = GpuMigrateApp(profile_path=profile, start_mode="transfer")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _screen(pilot, app)
        screen.post_message(EngineEvent(StepStarted("transfer", description="transfer")))
        for i in range(7):
            screen.post_message(EngineEvent(ItemDone("transfer", item=f"bad/{i}", status="failed", detail="denied",
                                                     data={"action": "copy", "attempts": 1})))
        await _wait(pilot, lambda: screen.failure_count == 7, timeout=10, what="seven failures drawn")
        assert len(screen.failures) == 3 and screen.query_one("#transfer-failures", DataTable).row_count == 3
        label = screen.query_one("#transfer-tabs", TabbedContent).get_tab("transfer-tab-failures").label
        assert "Failures (7)" in str(label)


async def test_while_listing_the_bars_say_what_is_planned_so_far(small: tuple[Path, Path, Path]) -> None:
    """The engine's total comes with the end of the listing; until then the text gives the lower bound."""
    from engine.events import Progress, StepStarted

    profile, _src, _dst = small
    app = GpuMigrateApp(profile_path=profile, start_mode="transfer")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _screen(pilot, app)
        extra = {"listing_done": False, "files_total": 1200, "bytes_total": 4 * 1024 * 1024, "copied": 40}
        screen.post_message(EngineEvent(StepStarted("transfer", description="transfer")))
        screen.post_message(EngineEvent(Progress("transfer", done=40 * 1024, total=None, unit="B", label="bytes",
                                                 extra=extra)))
        screen.post_message(EngineEvent(Progress("transfer", done=40, total=None, unit="files", label="files",
                                                 extra=extra)))
        await pilot.pause(2 * 0.25 + 0.1)
        assert str(screen.query_one("#transfer-files-text", Static).render()) == "40 / ≥1,200 so far"
        assert "/ ≥4.0 MiB so far" in str(screen.query_one("#transfer-bytes-text", Static).render())
        assert "ETA listing…" in str(screen.query_one("#transfer-rate", Static).render())
        from textual.widgets._progress_bar import Bar

        # the pulse of a bar without a total moves with the screen's redraws, not 15 frames a second
        assert [b.auto_refresh for b in screen.query(Bar)] == [None, None]


async def test_the_bars_turn_determinate_with_an_eta_while_copies_still_run(tmp_path: Path) -> None:
    """200 small files through a 1 MB/s limit (about 1.6 s of copying): the engine plans ahead
    of the copies, so the files bar knows its total, and the rate line an ETA, mid-run."""
    import re

    src, dst = tmp_path / "data", tmp_path / "out"
    _write_tree(src, {f"d{i // 50}/{i:03d}.bin": 8192 for i in range(200)})
    profile = _profile(tmp_path, [{"src": "data", "dst": "out", "bwlimit": "1M", "jobs": 1}])
    async with _transfer_app(profile) as (app, pilot, screen):
        # the action behind r (Pilot's press waits for the screen's queue to drain, which here
        # can take the whole run; the polling below is what shows the screen kept drawing)
        screen.action_run()
        files_bar = screen.query_one("#transfer-files-bar", ProgressBar)
        rate = screen.query_one("#transfer-rate", Static)
        await _wait(pilot, lambda: files_bar.total is not None and re.search(r"ETA \d", str(rate.render())) is not None
                    or not screen.running, what="a total and an ETA")
        assert screen.running, "the bars stayed indeterminate until the run ended"
        assert files_bar.total == 200 and files_bar.progress < 200
        text = str(screen.query_one("#transfer-files-text", Static).render())
        assert "so far" not in text and text.endswith(" / 200"), text
        await app.workers.wait_for_complete()
        await _wait(pilot, lambda: not screen.running, what="the run to end")
        assert _finished(screen).ok and len(_files(dst)) == 200


def test_transfer_screen_after_dry_run_snapshot(tmp_path: Path, snap_compare) -> None:  # type: ignore[no-untyped-def]
    src, dst = tmp_path / "data", tmp_path / "out"
    _write_tree(src, SMALL_TREE)
    _write_tree(dst, {"stale/old.bin": 4096})
    profile = _profile(tmp_path, [{"src": "data", "dst": "out", "delete": True, "max_delete": 5}])

    async def dry_run(pilot) -> None:  # type: ignore[no-untyped-def]
        app = pilot.app
        app.set_focus(None)
        await pilot.press("n")
        await app.workers.wait_for_complete()
        screen = app.screen
        await _wait(pilot, lambda: not screen.running, what="the dry run to end")
        # let the status column's width update and the 4/s redraw timer settle before the picture
        await pilot.pause(0.6)
        screen.refresh_view()
        await pilot.pause()

    app = GpuMigrateApp(profile_path=profile, start_mode="transfer")
    assert snap_compare(app, terminal_size=SIZE, run_before=dry_run)


async def test_throughput_keeps_the_last_window_of_samples() -> None:
    from textual.app import App, ComposeResult
    from textual.widgets import Sparkline

    class Host(App[None]):
        def compose(self) -> ComposeResult:
            yield Throughput(window=60)

    app = Host()
    async with app.run_test() as pilot:
        widget = app.query_one(Throughput)
        assert widget.figures() == "throughput —" and widget.current is None
        widget.add_sample(None)  # nothing measured yet: drawn as 0, left out of the figures
        assert widget.current is None and widget.peak is None
        for i in range(1, 71):
            widget.add_sample(float(i * 1024))
        await pilot.pause()
        assert len(widget.samples) == 60 and widget.samples[0] == 11 * 1024  # the oldest fell out
        assert widget.current == 70 * 1024 and widget.peak == 70 * 1024
        assert widget.average == sum(range(11, 71)) * 1024 / 60
        assert list(app.query_one(Sparkline).data or []) == list(widget.samples)
        assert widget.figures() == "throughput now 70.0 KiB/s · avg 40.5 KiB/s · peak 70.0 KiB/s"
        widget.reset()
        assert not widget.samples and widget.figures() == "throughput —"


async def test_without_a_session_the_copy_runs_in_a_private_worker_that_stops_with_the_app(
        slow: tuple[Path, Path, Path]) -> None:
    """The copy is another process (the UI's drawing never holds its interpreter); it has no session
    to be followed through, so closing the app stops it, resumable, rather than leaving it unseen."""
    profile, _src, dst = slow
    app = GpuMigrateApp(profile_path=profile, start_mode="transfer")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _screen(pilot, app)
        await pilot.press("r")
        await _wait(pilot, lambda: _bytes_done(screen) > 0, what="bytes to move")
        run = screen.private_run
        assert run is not None and screen.control is run and run.proc is not None
        assert run.proc.pid != os.getpid() and run.proc.poll() is None
        proc = run.proc
    assert proc.wait(timeout=30) == 3, "the worker went on after its app closed"
    assert not (dst / "big" / "model.bin").exists()  # interrupted: no partial object, resumable
    # The app opened again says so (it said "not run" / "No transfer run yet" over a half-done copy)
    again = GpuMigrateApp(profile_path=profile, start_mode="transfer")
    async with again.run_test(size=SIZE) as pilot:
        screen = await _screen(pilot, again)
        table = screen.query_one("#transfer-entries", DataTable)
        status = str(table.get_cell("0", "status"))
        assert status.startswith("last run interrupted") and "r resumes" in status, status
        assert "interrupted" in str(screen.query_one("#transfer-current", Static).render())
        assert again.step_states().get("transfer") == "interrupted"  # the step bar's ! (it showed ○)


async def test_in_a_session_the_dry_run_plan_lists_the_planned_actions(tmp_path: Path) -> None:
    """A session keeps only counts of routine rows: the plan table used to stay empty there. The
    recorder lists the planned actions in a file beside the session and sends the exact counts."""
    src, dst = tmp_path / "data", tmp_path / "out"
    _write_tree(src, SMALL_TREE)
    _write_tree(dst, {"stale/old.bin": 4096})
    before = _files(dst)
    profile = _profile(tmp_path, [{"src": "data", "dst": "out", "delete": True, "max_delete": 10}])
    app = GpuMigrateApp(profile_path=profile, session_name="transfer-plan", operator="alice",
                        start_mode="transfer")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _screen(pilot, app)
        await pilot.press("n")
        await _wait(pilot, lambda: screen.finished is not None and not screen.running, timeout=60,
                    what="the session's StepFinished")
        await _wait(pilot, lambda: screen.query_one("#transfer-plan", DataTable).row_count
                    == len(SMALL_TREE) + 1, timeout=5, what="the plan rows")
        assert _files(dst) == before
        plan = screen.query_one("#transfer-plan", DataTable)
        rows = [tuple(str(c) for c in plan.get_row(key)) for key in plan.rows]
        assert sorted(r[2] for r in rows if r[1] == "copy") == sorted(SMALL_TREE)
        assert [r[2] for r in rows if r[1] == "delete"] == ["stale/old.bin"]
        assert screen.plan_counts == {"copy": len(SMALL_TREE), "copy_bytes": sum(SMALL_TREE.values()),
                                      "delete": 1, "delete_bytes": 4096}
        counts = str(screen.query_one("#transfer-plan-counts", Static).render())
        assert counts.startswith(f"would copy {len(SMALL_TREE)} objects (") and "showing the first" not in counts


async def test_at_80x24_the_figures_and_the_plan_rows_are_on_screen(small: tuple[Path, Path, Path]) -> None:
    """At 80x24 the throughput chart took the bars' figures ("4.6 MiB / 4.6 MiB" cut, "100%" shown as
    "100") and the tables under the tabs had no row left; a dry run after a run kept the old run's bars."""
    profile, src, _dst = small
    app = GpuMigrateApp(profile_path=profile, start_mode="transfer")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _screen(pilot, app)
        await _run_to_end(pilot, app, "r")
        await pilot.pause(0.3)
        for wid, want in (("#transfer-bytes-text", " / "), ("#transfer-files-text", f"{len(SMALL_TREE)} / ")):
            text = screen.query_one(wid, Static)
            shown = str(text.render())
            assert want in shown, shown
            assert text.region.right <= 80 and text.content_region.width >= len(shown), (wid, shown, text.region)
        bar = screen.query_one("#transfer-bytes-bar", ProgressBar)
        pct = bar.query_one("#percentage")
        assert str(pct.render()) == "100%" and pct.region.width >= 4 and pct.region.right <= 80, pct.region
        (src / "new.bin").write_bytes(b"n" * 10)
        for i in range(10):
            (src / f"more{i}.txt").write_bytes(b"m" * i)
        await _run_to_end(pilot, app, "n")
        await pilot.pause(0.3)
        assert not screen.query_one("#transfer-bytes-bar", ProgressBar).parent.display  # no bars of the old run
        plan = screen.query_one("#transfer-plan", DataTable)
        assert plan.row_count == 11
        assert plan.region.height >= 5, plan.region  # header and at least four rows


async def test_in_a_session_each_planned_action_names_its_entry(tmp_path: Path) -> None:
    """The session follower coalesces progress rows, so the plan rows of entry 1 could arrive with
    entry 2's: every planned action said "2". Planned actions now carry their entry."""
    for name, count in (("a", 3), ("b", 4)):
        _write_tree(tmp_path / name, {f"{name}{i}.txt": i + 1 for i in range(count)})
    profile = _profile(tmp_path, [{"src": "a", "dst": "outa"}, {"src": "b", "dst": "outb"}])
    app = GpuMigrateApp(profile_path=profile, session_name="transfer-two", operator="alice",
                        start_mode="transfer")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _screen(pilot, app)
        await pilot.press("n")
        plan = screen.query_one("#transfer-plan", DataTable)
        await _wait(pilot, lambda: screen.finished is not None and not screen.running and plan.row_count == 7,
                    timeout=60, what="the plan of both entries")
        rows = {str(plan.get_cell(k, "path")): str(plan.get_cell(k, "entry")) for k in plan.rows}
        assert rows == {**{f"a{i}.txt": "1" for i in range(3)}, **{f"b{i}.txt": "2" for i in range(4)}}


async def test_quitting_during_a_private_copy_asks_first_and_no_is_the_default(slower: tuple[Path, Path, Path]) -> None:
    """ctrl+q mid-copy quit at once and stopped the copy with no word. Now it asks, Enter keeps the run,
    and y quits (the worker stops, resumable). The slower tree: under load the ~6 s one could end
    before the second question."""
    profile, _src, dst = slower
    app = GpuMigrateApp(profile_path=profile, start_mode="transfer")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _screen(pilot, app)
        await pilot.press("r")
        await _wait(pilot, lambda: _bytes_done(screen) > 0, what="bytes to move")
        proc = screen.private_run.proc  # type: ignore[union-attr]
        assert app.step_states().get("transfer") == "running"  # the bar's ● (it showed ○ during a private run)
        await pilot.press("ctrl+q")
        await _wait(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="the quit question")
        question = str(app.screen.query_one(Static).render())
        assert "A transfer is running; quitting stops it — it can be resumed with r" in question, question
        await pilot.press("ctrl+q")  # a second ctrl+q is not a Yes
        await pilot.press("enter")  # the focus starts on No
        await pilot.pause()
        assert app.screen is screen and not app._exit and screen.running  # noqa: SLF001
        await pilot.press("ctrl+q")
        await _wait(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="the quit question again")
        await pilot.press("y")
        await _wait(pilot, lambda: app._exit, what="the app to quit")  # noqa: SLF001
    assert proc.wait(timeout=30) == 3
    assert not (dst / "big" / "model.bin").exists()


async def test_quitting_in_a_session_says_the_run_goes_on_in_the_worker(small: tuple[Path, Path, Path]) -> None:
    profile, _src, _dst = small
    app = GpuMigrateApp(profile_path=profile, session_name="quit-ask", operator="alice", start_mode="transfer")
    async with app.run_test(size=(80, 24)) as pilot:
        await _screen(pilot, app)
        app.session.set_step("transfer", "running")
        await pilot.press("ctrl+q")
        await _wait(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="the quit question")
        question = str(app.screen.query_one(Static).render())
        assert "in session quit-ask's worker; it goes on after you quit" in question, question
        await pilot.press("n")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmDialog) and not app._exit  # noqa: SLF001
        app.session.set_step("transfer", "completed")
        await pilot.press("ctrl+q")  # nothing running: quits at once
        await _wait(pilot, lambda: app._exit, what="the app to quit")  # noqa: SLF001


async def test_the_quit_question_follows_the_run_ending_while_it_is_open(small: tuple[Path, Path, Path]) -> None:
    """The question said "A transfer is running" after the run had ended under it; it now says what is true."""
    profile, _src, _dst = small
    app = GpuMigrateApp(profile_path=profile, session_name="quit-stale", operator="alice", start_mode="transfer")
    async with app.run_test(size=(80, 24)) as pilot:
        await _screen(pilot, app)
        app.session.set_step("transfer", "running")
        await pilot.press("ctrl+q")
        await _wait(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="the quit question")
        dialog = app.screen
        assert "A transfer is running" in str(dialog.query_one(Static).render())
        app.session.set_step("transfer", "completed")
        await _wait(pilot, lambda: "Nothing is running" in str(dialog.query_one(Static).render()),
                    what="the question to notice the run ended")
        assert "A transfer is running" not in str(dialog.query_one(Static).render())
        assert app.screen is dialog  # still asking: the person answers, never a surprise exit
        await pilot.press("y")
        await _wait(pilot, lambda: app._exit, what="the app to quit")  # noqa: SLF001


async def test_at_80x24_every_action_has_a_button_and_a_footer_key(slow: tuple[Path, Path, Path]) -> None:
    """Below 32 rows the Run / Dry run / Pause / Cancel buttons were hidden and the footer was cut after
    "a Add ent": at 80x24 every action is now a visible button or a whole key in the footer, idle and mid-run."""
    from tests.tui.screen_checks import footer_misses
    from tests.tui.test_snapshots import _hidden_buttons

    profile, _src, _dst = slow
    app = GpuMigrateApp(profile_path=profile, start_mode="transfer")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _screen(pilot, app)
        await pilot.pause()
        buttons = ("#transfer-run-button", "#transfer-dry-run-button", "#transfer-pause-button",
                   "#transfer-cancel-button")
        assert all(screen.query_one(b).display for b in buttons)
        assert _hidden_buttons(screen, scrolled_ok=False) == []
        assert footer_misses(screen) == []
        await pilot.press("r")
        try:
            await _wait(pilot, lambda: _bytes_done(screen) > 0, what="bytes to move")
            await pilot.pause(0.3)
            assert _hidden_buttons(screen, scrolled_ok=False) == []
            assert footer_misses(screen) == []
            assert {"pause", "cancel"} <= {b.action for _k, (_n, b, on, _t) in screen.active_bindings.items() if on}
        finally:
            app.cancel_step("transfer")


async def test_after_a_resume_the_average_counts_only_what_this_run_sent(tmp_path: Path) -> None:
    """A run that resumes an interrupted upload: the summary says how much an earlier run had sent, and its
    "average" divides only what this run sent (counted whole, a resume read as a burst it never made)."""
    from engine.transfer.api import TransferSpec, journal_path_for
    from tests.transfer_support import MIB, interrupt_after_a_part, write_local
    from tui.widgets.format import human_rate

    src, dst = tmp_path / "data", tmp_path / "out"
    write_local(src, {"big.bin": os.urandom(12 * MIB)})
    entry = {"src": str(src), "dst": str(dst), "part_threshold_mib": 5, "part_size_mib": 1, "jobs": 2}
    profile = _profile(tmp_path, [entry])
    spec = TransferSpec(**entry)  # type: ignore[arg-type]
    interrupt_after_a_part(spec.model_copy(update={"bwlimit": "8M"}), journal_path_for(spec, tmp_path))
    app = GpuMigrateApp(profile_path=profile, start_mode="transfer")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _screen(pilot, app)
        await _run_to_end(pilot, app, "r")
        finished = _finished(screen)
        result = finished.result
        assert finished.ok and result["copied"] == 1 and result["bytes_resumed"] >= MIB, result
        sent = result["bytes"] - result["bytes_resumed"]
        summary = str(screen.query_one("#transfer-summary", Static).render())
        assert "of it sent by an earlier run" in summary, summary
        screen._started_at = time.monotonic() - 1000  # a known elapsed time: the average is then exact
        screen._show_summary(finished)
        summary = str(screen.query_one("#transfer-summary", Static).render())
        assert summary.endswith(f"at {human_rate(sent / 1000)} average"), summary
        assert human_rate(sent / 1000) != human_rate(result["bytes"] / 1000)
    assert _files(dst) == _files(src)
