"""The app keeps drawing and answering keys while its session store or its profile file is slow.

The heartbeat wrote SQLite on the UI thread with the store's 30 s busy timeout: a write lock held by
another process (a second engineer's CLI, the worker) froze the app for as long as it was held.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from engine.session import SessionStore
from tests.cutover_support import shared_session, write_profile
from tui.app import GpuMigrateApp

pytestmark = pytest.mark.timeout(60)

HOLD_S = 1.2


def _hold_write_lock(path: Path, seconds: float) -> threading.Event:
    """Another connection takes the store's write lock (as a CLI's long transaction does) for ``seconds``;
    the returned event is set once it is held."""
    held = threading.Event()

    def hold() -> None:
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("BEGIN IMMEDIATE")
        held.set()
        time.sleep(seconds)
        db.execute("COMMIT")
        db.close()

    threading.Thread(target=hold, daemon=True).start()
    assert held.wait(5)
    return held


async def test_a_held_session_lock_does_not_freeze_the_app(tmp_path: Path) -> None:
    profile = write_profile(tmp_path, ttl_s=2)  # a heartbeat every 0.67 s
    shared_session("hb")
    app = GpuMigrateApp(profile_path=profile, session_name="hb", operator="alice", start_mode="runbook")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.role == "driving" and app.pairing.heartbeat_every_s < HOLD_S
        ticks: list[float] = []
        app.set_interval(0.05, lambda: ticks.append(time.monotonic()))
        _hold_write_lock(app.session.path, HOLD_S)
        start = time.monotonic()
        while time.monotonic() - start < HOLD_S + 0.3:
            await pilot.pause(0.05)
        gaps = [b - a for a, b in zip(ticks, ticks[1:])]
        assert ticks and max(gaps) < 0.5, f"the UI thread stalled {max(gaps):.2f}s while the store was locked"
        released = time.time()
        with SessionStore.open("hb", create=False) as other:  # the beat waited, then was written: not lost
            deadline = time.monotonic() + 5
            while True:
                lease = other.lease()
                assert lease is not None and lease.holder == app.pairing.holder
                if lease.heartbeat_at > released:
                    break
                assert time.monotonic() < deadline, "no heartbeat written after the lock was released"
                await pilot.pause(0.1)
        assert app.role == "driving"
        assert app.heartbeat_failing is None


async def test_a_heartbeat_that_fails_is_said_and_then_its_recovery(tmp_path: Path) -> None:
    """A beat that cannot be written (a store locked past its busy timeout, a full disk) is a warning in the
    app, said once, not a crash out of a timer nor silence; the next beat written says so too."""
    from tui.pairing import PairingTicked

    profile = write_profile(tmp_path, ttl_s=30)
    shared_session("hbfail")
    app = GpuMigrateApp(profile_path=profile, session_name="hbfail", operator="alice", start_mode="runbook")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        for _ in range(2):
            app.post_message(PairingTicked(None, None, "OperationalError: database is locked", app.role_generation))
        await pilot.pause(0.1)
        said = [m for m in app.messages() if "heartbeat could not be written" in m]
        assert len(said) == 1, app.messages()
        assert "database is locked" in said[0] and "seat is lost if this lasts 30s" in said[0]
        assert app.role == "driving"
        app.post_message(PairingTicked("driving", "alice", None, app.role_generation))
        await pilot.pause(0.1)
        assert app.heartbeat_failing is None
        assert any("heartbeat is written again" in m for m in app.messages())


async def test_a_beat_read_before_a_role_change_here_is_not_applied_over_it(tmp_path: Path) -> None:
    from tui.pairing import PairingTicked

    profile = write_profile(tmp_path, ttl_s=30)
    shared_session("hbgen")
    app = GpuMigrateApp(profile_path=profile, session_name="hbgen", operator="alice", start_mode="runbook")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        stale = app.role_generation - 1
        app.post_message(PairingTicked("watching", "carol", None, stale))
        await pilot.pause(0.1)
        assert app.role == "driving"


async def test_a_profile_whose_read_hangs_does_not_freeze_the_app(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The once-a-second look at the profile file read it on the UI thread: a profile on a hung network mount
    froze the app at each look.  The read is made slow here (as a hung mount's is); the look's answer still
    comes, once the read returns: the outside edit is asked about."""
    import tui.app as app_module
    from tui.widgets.dialogs import ConfirmDialog

    real = app_module.file_digest

    def hung_mount_read(path: Path) -> str | None:
        time.sleep(HOLD_S)
        return real(path)

    profile = write_profile(tmp_path, ttl_s=30)
    app = GpuMigrateApp(profile_path=profile, start_mode="runbook")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        monkeypatch.setattr(app_module, "file_digest", hung_mount_read)
        profile.write_text(profile.read_text() + "\n# edited elsewhere\n")
        ticks: list[float] = [time.monotonic()]
        app.set_interval(0.05, lambda: ticks.append(time.monotonic()))
        app.check_profile_on_disk()  # as the once-a-second timer does
        ticks.append(time.monotonic())
        start = time.monotonic()
        while time.monotonic() - start < HOLD_S + 0.3:
            await pilot.pause(0.05)
        gaps = [b - a for a, b in zip(ticks, ticks[1:])]
        assert ticks and max(gaps) < 0.5, f"the UI thread stalled {max(gaps):.2f}s reading the profile"
        deadline = time.monotonic() + 5
        while not (isinstance(app.screen, ConfirmDialog) and getattr(app.screen, "asks_reload", False)):
            assert time.monotonic() < deadline, "the outside edit was never asked about"
            await pilot.pause(0.1)


async def test_opening_a_profile_whose_read_hangs_does_not_freeze_the_app(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Open... read the file on the UI thread: a profile on a hung mount froze the app until the read returned.
    Read in a thread, it is shown once read; an Open asked for later wins over one read later."""
    import tui.app as app_module

    real = app_module.load_profile_with_digest

    def hung_mount_read(path: Path, **kw):  # type: ignore[no-untyped-def]
        if path.name == "slow.toml":
            time.sleep(HOLD_S)
        return real(path, **kw)

    slow = write_profile(tmp_path / "a", ttl_s=30).rename(tmp_path / "a" / "slow.toml")
    quick = write_profile(tmp_path / "b", ttl_s=30)
    app = GpuMigrateApp(start_mode="profile")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        monkeypatch.setattr(app_module, "load_profile_with_digest", hung_mount_read)
        ticks: list[float] = [time.monotonic()]
        app.set_interval(0.05, lambda: ticks.append(time.monotonic()))
        await pilot.press("ctrl+o")
        await pilot.pause()
        app.screen.query_one("#answer").value = str(slow)
        await pilot.press("enter")
        ticks.append(time.monotonic())
        start = time.monotonic()
        while app.profile is None:
            assert time.monotonic() - start < 10, "the profile was never shown"
            await pilot.pause(0.05)
        gaps = [b - a for a, b in zip(ticks, ticks[1:])]
        assert max(gaps) < 0.5, f"the UI thread stalled {max(gaps):.2f}s reading the profile"
        assert app.profile_path == slow.resolve()
        assert any("Still reading" in m for m in app.messages())
        # a slow open, then a quick one: the quick one (asked for last) is what stays shown
        app.open_profile_file(slow)
        app.open_profile_file(quick)
        await app.workers.wait_for_complete()
        await pilot.pause(0.1)
        assert app.profile_path == quick.resolve()
