"""A --watch app changes nothing: every binding of every view, every button, every command, as a watcher.

A second process drives the session (holds the lease); an approval waits. The
watch-only app then presses everything it has. Afterwards the profile file is
byte-identical and the session's state (steps, runs, lease, approvals, ticks,
meta, and every event except this client's own attach/detach) is unchanged.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from textual.actions import SkipAction
from textual.screen import ModalScreen
from textual.widgets import Button

from engine.session import SessionStore
from tests.cutover_support import REPO, env_for, kill9, write_profile
from tui.app import SCREENS, GpuMigrateApp

pytestmark = pytest.mark.timeout(120)

HOLDER = """
import sys, time
from engine.session import SessionStore
from engine.cutover.pairing import Pairing
store = SessionStore.open(sys.argv[1])
p = Pairing(store, ttl_s=15, kind="tui")
assert p.try_drive()
print("driving", flush=True)
while True:
    p.tick()
    time.sleep(p.heartbeat_every_s)
"""

OWN_KINDS = {"client_attached", "client_detached"}


def _state(name: str, profile: Path) -> dict[str, Any]:
    with SessionStore.open(name, create=False) as store:
        lease = store.lease()
        return {
            "profile": profile.read_bytes(),
            "steps": store.steps(),
            "runs": store.runs(),
            "lease": (lease.holder, lease.operator) if lease else None,
            "approvals": store.approvals(),
            "ticks": store.ticks(),
            "control": store.control_requests(None),
            "meta": {k: store.get_meta(k) for k in ("profile_path", "profile_toml", "shared_account")},
            "events": [(e.seq, e.kind) for e in store.events_after(0) if e.kind not in OWN_KINDS],
        }


async def _settle(app: GpuMigrateApp, pilot: Any) -> None:
    await pilot.pause()
    while isinstance(app.screen, ModalScreen):
        app.pop_screen()
        await pilot.pause(0.02)


async def test_a_watch_only_app_changes_nothing_whatever_it_presses(tmp_path: Path) -> None:
    profile = write_profile(tmp_path, files=2, bwlimit=None)
    with SessionStore.open("walk") as store:
        store.set_meta("profile_path", str(profile))
        store.request_approval("transfer-delete", "delete 2 objects", ["a", "b"])
    driver = subprocess.Popen([sys.executable, "-c", HOLDER, "walk"], cwd=REPO, env=env_for(),
                              stdout=subprocess.PIPE, text=True)
    assert driver.stdout is not None and driver.stdout.readline().startswith("driving")
    try:
        before = _state("walk", profile)
        app = GpuMigrateApp(profile_path=profile, session_name="walk", watch=True, start_mode="runbook")
        pressed: list[str] = []
        async with app.run_test(size=(150, 45)) as pilot:
            await pilot.pause()
            assert app.role == "watching" and app.watch_only
            for mode in SCREENS:
                app.switch_mode(mode)
                await pilot.pause(0.1)
                screen = app.screen
                for _key, active in list(screen.active_bindings.items()):
                    action = active.binding.action
                    if action.startswith(("switch_mode", "quit")) or action in ("command_palette",):
                        continue
                    pressed.append(f"{mode}:{action}")
                    # straight to the handler, as a key press would, but past check_action: the methods
                    # behind the keys must refuse on their own
                    name, _, args = action.partition("(")
                    handler = getattr(active.node, f"action_{name}", None)
                    if handler is not None:
                        try:
                            result = handler(*eval(f"({args.rstrip(')')},)")) if args.rstrip(")") else handler()
                            if hasattr(result, "__await__"):
                                await result
                        except SkipAction:  # the handler declined (e.g. nothing selected): nothing changed
                            pass
                    await _settle(app, pilot)
                for button in list(screen.query(Button)):
                    pressed.append(f"{mode}:button#{button.id}")
                    screen.post_message(Button.Pressed(button))
                    await _settle(app, pilot)
                commands = list(app.get_system_commands(screen)) if mode == "runbook" else []  # app-wide: once
                for command in commands:
                    if command.title.startswith(("Go to", "Quit", "Keys", "Screenshot", "Theme", "Maximize")):
                        continue
                    pressed.append(f"{mode}:command {command.title}")
                    result = command.callback()
                    if hasattr(result, "__await__"):
                        await result
                    await _settle(app, pilot)
            await pilot.pause(0.3)
        after = _state("walk", profile)
    finally:
        kill9(driver.pid)
        driver.wait(10)
    assert len(pressed) > 30, pressed
    assert after == before, f"a watcher changed something; it pressed: {pressed}"
