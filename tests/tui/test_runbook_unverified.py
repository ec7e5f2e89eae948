"""The Runbook's cutover sign-off (`s`) in a session no verification covers asks first (s8target).

It signed off at once, recording `NOT VERIFIED` in the audit log only. Now the app asks; escape signs nothing
off, `y` signs off with the acknowledgment in the record's words and the audit log."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from engine.session import SessionStore
from tests.cutover_support import write_profile
from tui.app import GpuMigrateApp
from tui.widgets.dialogs import ConfirmDialog

pytestmark = pytest.mark.timeout(60)


async def _dialog(app, pilot) -> ConfirmDialog:
    await pilot.press("s")
    deadline = time.monotonic() + 10
    while not isinstance(app.screen, ConfirmDialog) and time.monotonic() < deadline:
        await pilot.pause(0.05)
    assert isinstance(app.screen, ConfirmDialog), "the sign-off did not ask"
    return app.screen


def _signed(name: str) -> list:
    with SessionStore.open(name) as store:
        return [e for e in store.events_after(0) if e.kind == "cutover_signed_off"]


async def test_an_unverified_cutover_is_signed_off_only_when_acknowledged(tmp_path: Path) -> None:
    profile = write_profile(tmp_path, files=1, bwlimit=None, ttl_s=30, require_approval=[])
    with SessionStore.open("ack") as store:
        for title in ("Freeze writes", "Go / no-go", "Switch traffic"):
            store.tick(title)
    app = GpuMigrateApp(profile_path=profile, session_name="ack", start_mode="runbook")
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.pause()
        dialog = await _dialog(app, pilot)
        assert "NOT VERIFIED: no verification ran in this session" in dialog.question
        assert "y signs off NOT VERIFIED" in dialog.question
        await pilot.press("escape")
        await pilot.pause(0.2)
        assert _signed("ack") == []
        await _dialog(app, pilot)
        await pilot.press("y")
        deadline = time.monotonic() + 10
        while not _signed("ack") and time.monotonic() < deadline:
            await pilot.pause(0.05)
    (event,) = _signed("ack")
    assert event.payload["verification"].startswith("NOT VERIFIED: no verification ran in this session; signed off "
                                                    "acknowledging it ("), event.payload
    assert event.payload["unverified_acknowledged_by"]
