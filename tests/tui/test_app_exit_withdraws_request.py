"""Closing the app (ctrl+q, a closed terminal, a browser tab of `serve` closing) while its sign-off
waits for a second person withdraws the request: nobody can approve, hours later, a cutover that an
app already closed would then carry out with nobody watching; and the app's process exits (the
waiting thread no longer holds it)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from engine.session import SessionStore
from tests.cutover_support import write_profile
from tui.app import GpuMigrateApp
from tui.widgets.dialogs import ConfirmDialog

pytestmark = pytest.mark.timeout(60)


async def test_closing_the_app_withdraws_its_waiting_cutover_sign_off(tmp_path: Path) -> None:
    profile = write_profile(tmp_path, files=1, bwlimit=None, ttl_s=30, require_approval=["cutover"])
    with SessionStore.open("close-mid") as store:
        for title in ("Freeze writes", "Go / no-go", "Switch traffic"):
            store.tick(title)
    app = GpuMigrateApp(profile_path=profile, session_name="close-mid", start_mode="runbook")
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.pause()
        assert app.role == "driving"
        await pilot.press("s")  # no verification in this session: it asks first, and y acknowledges it
        deadline = time.monotonic() + 10
        while not isinstance(app.screen, ConfirmDialog) and time.monotonic() < deadline:
            await pilot.pause(0.05)
        await pilot.press("y")
        with SessionStore.open("close-mid") as store:
            while not store.approvals("pending") and time.monotonic() < deadline:
                await pilot.pause(0.05)
            assert store.approvals("pending"), "the sign-off never asked"
        app.exit()
    with SessionStore.open("close-mid") as store:
        deadline = time.monotonic() + 5  # the waiting thread looks at its event every 0.2 s
        while store.approvals("pending") and time.monotonic() < deadline:
            time.sleep(0.05)
        (request,) = store.approvals()
        assert request.action == "cutover" and request.state == "withdrawn", request
        assert "cancelled" in (request.reason or "")
        assert not any(e.kind == "cutover_signed_off" for e in store.events_after(0))
        assert "NOT VERIFIED: no verification ran in this session; signed off acknowledging it" in request.detail
