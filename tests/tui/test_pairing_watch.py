"""Pilot tests of pairing in the app: the watcher banner, disabled controls, live events, seat changes.

The other side of the session is a real process (a driver holding the lease,
or a detached worker running a transfer), never a fake.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from textual.widgets import Button, RichLog, Static

from engine.events import Progress
from engine.session import SessionStore
from tests.cutover_support import (
    HOLDER,
    REPO,
    alive,
    cli,
    env_for,
    kill9,
    shared_session,
    wait_for,
    worker_pid,
    write_profile,
)
from tui.app import GpuMigrateApp

pytestmark = pytest.mark.timeout(90)


def _driver(name: str, ttl: float, operator: str = "alice") -> subprocess.Popen[str]:
    shared_session(name)
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, name, str(ttl)], cwd=REPO, env=env_for(operator),
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().startswith("driving")
    return proc


async def _until(pilot, predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.05)


async def test_watcher_sees_banner_and_disabled_controls_then_gets_control(tmp_path: Path) -> None:
    profile = write_profile(tmp_path, bwlimit=None)
    driver = _driver("watch", 15)
    try:
        app = GpuMigrateApp(profile_path=profile, session_name="watch", operator="bob", start_mode="runbook")
        async with app.run_test(size=(140, 45)) as pilot:
            await pilot.pause()
            assert app.role == "watching"
            assert "watching alice" in app.sub_title
            banner = app.screen.query_one("#role-banner", Static)
            assert banner.display
            assert "watching — alice is driving" in str(banner.render())
            assert app.screen.query_one("#sign-off", Button).disabled
            # approvals stay open to watchers: the second person is usually one
            assert not app.screen.query_one("#approve", Button).disabled
            await pilot.press("ctrl+s")  # nothing to save for a watcher: no crash, no edit
            # ask the driver for control; the driver (another process's seat) accepts
            await pilot.press("ctrl+l")
            with SessionStore.open("watch", operator="alice") as alice:
                request = wait_for(lambda: alice.control_requests("pending"), what="the request")[0]
                assert request.operator == "bob"
                lease = alice.lease()
                assert lease is not None
                alice.decide_control(request.id, True, lease.holder)
            await _until(pilot, lambda: app.role == "driving")
            await pilot.pause(0.1)
            assert not banner.display
            assert not app.screen.query_one("#sign-off", Button).disabled
            assert app.sub_title.endswith("driving")
    finally:
        kill9(driver.pid)
        driver.wait(10)


async def test_watcher_takes_over_after_the_driver_is_killed(tmp_path: Path) -> None:
    # Long leases: a loaded machine must not let the live driver's lease lapse before the kill (a
    # 1.5 s lease did), and the takeover below does not wait for expiry either: on this host the
    # holder's process is checked, so the seat frees the moment the driver dies.
    profile = write_profile(tmp_path, bwlimit=None, ttl_s=30)
    driver = _driver("takeover", 30)
    app = GpuMigrateApp(profile_path=profile, session_name="takeover", operator="bob", start_mode="runbook")
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.pause()
        assert app.role == "watching"
        await pilot.press("ctrl+t")  # refused: the driver is alive
        await pilot.pause(0.1)
        assert app.role == "watching"
        kill9(driver.pid)
        driver.wait(10)
        with SessionStore.open("takeover") as store:
            lease = store.lease()
            assert lease is not None and not lease.expired()  # its heartbeat is recent...
            assert not lease.live()  # ...yet nobody drives: the holder's process is gone
        await pilot.press("ctrl+t")
        await _until(pilot, lambda: app.role == "driving")
        assert not app.screen.query_one("#role-banner", Static).display


async def test_watcher_follows_a_detached_transfer_live(tmp_path: Path) -> None:
    # The worker must still run, holding the seat, when the app attaches. It used to race a 2.5 s
    # copy against both start-ups (the CLI's, the app's): on a loaded machine the copy had ended and
    # the worker had given the seat back before the app looked, and the app showed, truly, that
    # nobody drove (or took the free seat). The worker is now held at a point of its own: the
    # transfer-delete approval, asked after planning and before anything is copied. A long lease:
    # expiry is not what this test is about, and a 2 s one can lapse under load.
    profile = write_profile(tmp_path, files=10, bwlimit="256K", shared_account=True, ttl_s=30, delete=True,
                            require_approval=["transfer-delete"])
    stale = tmp_path / "dst" / "stale.bin"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"left over from an old copy")
    shared_session("live")
    pid = worker_pid(cli("replay", str(profile), "--steps", "transfer", "--session", "live", "--detach",
                         operator="alice", check=True).stdout)
    with SessionStore.open("live", operator="carol") as carol:
        request = wait_for(lambda: carol.approvals("pending"), timeout=30, what="the worker to ask")[0]
        lease = carol.lease()
        assert lease is not None and lease.pid == pid and lease.live()  # the worker took the free seat
    assert not (tmp_path / "dst" / "part-0000.bin").exists()  # nothing copied yet: all of it comes live
    app = GpuMigrateApp(profile_path=profile, session_name="live", operator="bob", start_mode="runbook")
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        assert app.role == "watching" and app.driver_name == "alice"  # the worker holds the seat
        # an event written by another process shows in the audit log well within a second
        with SessionStore.open("live", operator="carol") as carol:
            carol.append("runbook", "note", {"text": "hello from carol"})
        log = app.screen.query_one("#runbook-log", RichLog)
        await _until(pilot, lambda: any("hello from carol" in line.text for line in log.lines), timeout=2)
        with SessionStore.open("live", operator="carol") as carol:
            carol.decide_approval(request.id, True)  # the copy starts now, with the watcher attached
        # progress arrives while the transfer runs, and the step's history is there for its screen
        await _until(pilot, lambda: any(isinstance(e, Progress) and e.label == "bytes" and e.done > 0
                                        for e in app.session_history.replay("transfer")), timeout=20)
        await _until(pilot, lambda: any(getattr(e, "kind", "") == "step_finished"
                                        for e in app.session_history.replay("transfer")), timeout=40)
        # the worker gives the seat back as it ends, and the watcher says that nobody drives now
        await _until(pilot, lambda: app.driver_name is None, timeout=20)
        assert app.role == "watching"
    wait_for(lambda: not alive(pid), timeout=20, what="the worker to exit")
    assert not stale.exists() and (tmp_path / "dst" / "part-0009.bin").exists()


async def test_runbook_ticks_gate_and_rollback_plan(tmp_path: Path) -> None:
    profile = write_profile(tmp_path, bwlimit=None, shared_account=True)
    shared_session("book")
    app = GpuMigrateApp(profile_path=profile, session_name="book", operator="bob", start_mode="runbook")
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.pause()
        assert app.role == "driving"
        rollback = str(app.screen.query_one("#runbook-rollback", Static).render())
        assert rollback.index("echo switch back") < rollback.index("echo unfreeze")  # last step first
        assert "Migration rollback plan" in rollback  # the generated per-step plan (engine.ops.rollback)
        table = app.screen.query_one("#runbook-items")
        table.move_cursor(row=2)
        await pilot.press("t")  # item 3 comes after the open gate 2: refused
        await pilot.pause(0.1)
        table.move_cursor(row=0)
        await pilot.press("t")
        await pilot.pause(0.1)
        with SessionStore.open("book") as store:
            ticks = store.ticks()
        assert list(ticks) == ["Freeze writes"] and ticks["Freeze writes"].ticked_by == "bob"


async def test_approving_in_the_app_shows_the_plan_and_asks_first(tmp_path: Path) -> None:
    from textual.widgets import DataTable

    from tui.widgets.dialogs import ConfirmDialog

    profile = write_profile(tmp_path, bwlimit=None, shared_account=True)
    shared_session("plan")
    with SessionStore.open("plan", operator="alice") as alice:
        request = alice.request_approval("transfer-delete", "delete 60 objects from dst",
                                         [f"old/{i:03d}.bin" for i in range(60)])
    app = GpuMigrateApp(profile_path=profile, session_name="plan", operator="bob", start_mode="runbook")
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.pause()
        screen = app.screen
        await _until(pilot, lambda: screen.query_one("#runbook-approvals", DataTable).row_count == 1)
        await pilot.press("a")
        await _until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        shown = str(app.screen.query_one(Static).render())
        assert "It covers 60 path(s); the first 50:" in shown and "old/049.bin" in shown
        assert "old/050.bin" not in shown and "… and 10 more" in shown and ".approvals/" in shown
        await pilot.press("escape")  # not yet: nothing is decided
        await pilot.pause()
        with SessionStore.open("plan") as store:
            assert store.approval(request).state == "pending"  # type: ignore[union-attr]
        await pilot.press("a")
        await _until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await pilot.pause()
    with SessionStore.open("plan") as store:
        decided = store.approval(request)
    assert decided is not None and (decided.state, decided.decided_by) == ("approved", "bob")


async def test_an_offered_seat_moves_only_when_the_person_accepts(tmp_path: Path) -> None:
    from tui.pairing import OfferDialog

    profile = write_profile(tmp_path, bwlimit=None, shared_account=True)
    driver = _driver("offer", 15)
    try:
        app = GpuMigrateApp(profile_path=profile, session_name="offer", operator="bob", start_mode="runbook")
        async with app.run_test(size=(140, 45)) as pilot:
            await pilot.pause()
            assert app.role == "watching"
            with SessionStore.open("offer", operator="alice") as alice:
                lease = alice.lease()
                assert lease is not None
                first = alice.offer_control(lease.holder, app.pairing.holder)
                await _until(pilot, lambda: isinstance(app.screen, OfferDialog))
                await pilot.press("n")
                await pilot.pause()
                assert alice.lease().holder == lease.holder and app.role == "watching"  # type: ignore[union-attr]
                assert alice.control_request(first).state == "declined"  # type: ignore[union-attr]
                alice.offer_control(lease.holder, app.pairing.holder)
                await _until(pilot, lambda: isinstance(app.screen, OfferDialog))
                await pilot.press("y")
                await _until(pilot, lambda: app.role == "driving")
                assert alice.lease().holder == app.pairing.holder  # type: ignore[union-attr]
    finally:
        kill9(driver.pid)
        driver.wait(10)


async def test_without_a_session_the_runbook_shows_the_profiles_checklist_read_only(tmp_path: Path) -> None:
    profile = write_profile(tmp_path, files=1, bwlimit=None)
    app = GpuMigrateApp(profile_path=profile, start_mode="runbook")
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.pause()
        table = app.screen.query_one("#runbook-items")
        assert [str(table.get_row_at(i)[2]) for i in range(table.row_count)] == [
            "Freeze writes", "Go / no-go", "Switch traffic"]
        assert str(table.get_row_at(1)[1]) == "GATE"
        status = str(app.screen.query_one("#runbook-status", Static).render())
        assert status.startswith("3 items, read-only: no session.")
        assert "gpumigrate --session NAME --profile cutover.toml" in status
        await pilot.press("t")  # nothing to tick without a session: the key is dimmed, and nothing is recorded
        await pilot.pause()
        assert [str(table.get_row_at(i)[3]) for i in range(table.row_count)] == ["", "", ""]
