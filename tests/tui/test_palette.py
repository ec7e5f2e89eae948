"""The command palette reaches every step and every key a screen offers, and nothing else of its own; a key
with nothing to act on is dimmed in the footer (and not offered), as the app does for Pause.

It offered each widget's hidden navigation keys as commands ("Cursor Up", "Scroll Left", "Page Right",
"Copy selected text": 15-20 per screen, before the screen's own), and "Run Runbook step", which runs
nothing (the runbook is not an engine step)."""

from __future__ import annotations

import shutil
from pathlib import Path

from engine.runner import STEP_MODULES
from tests.conftest import REPO
from tui.app import SCREENS, GpuMigrateApp

NOISE = {"Cursor Up", "Cursor up", "Scroll Left", "Page Right", "Copy selected text", "Focus Next", "Home"}


async def test_each_screens_palette_holds_its_footer_keys_and_the_steps(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    shutil.copy(REPO / "profiles" / "demo.toml", path)
    app = GpuMigrateApp(profile_path=path, start_mode="inventory")
    async with app.run_test(size=(120, 40)) as pilot:
        for mode in ("inventory", "runbook"):  # a tree's keys, a table's; (each first visit of a screen costs ~1 s)
            await app.switch_mode(mode)
            await pilot.pause()
            screen = app.screen
            titles = [c.title for c in app.get_system_commands(screen)]
            footer = {b.description for _k, (node, b, enabled, _t) in screen.active_bindings.items()
                      if b.show and enabled and node is not app}
            assert footer <= set(titles), (mode, footer - set(titles))
            assert not NOISE & set(titles), (mode, NOISE & set(titles))
            runs = {t.removeprefix("Run ").removesuffix(" step") for t in titles if t.endswith(" step")
                    and t.startswith("Run ")}
            steps = {title for name, (_m, _c, title, _k) in SCREENS.items() if name in STEP_MODULES}
            assert runs == steps, (mode, runs)
            assert {f"Go to {title}" for _m, _c, title, _k in SCREENS.values()} <= set(titles)
            dimmed = {b.description for _k, (node, b, enabled, _t) in screen.active_bindings.items()
                      if b.show and not enabled}
            # before a scan there is nothing to accept; without a session nothing to tick, decide or sign off
            # (they said so in a toast, after being offered as live keys)
            expected = {"inventory": {"Accept target"},
                        "runbook": {"Tick item", "Untick", "Approve", "Decline", "Sign off"}}[mode]
            assert expected <= dimmed, (mode, dimmed)
            assert not expected & set(titles)


async def test_next_and_save_are_dimmed_until_a_profile_is_open(tmp_path: Path) -> None:
    """On the welcome view, with no profile, ^n Next did nothing and ^s Save said there was nothing to save."""
    path = tmp_path / "p.toml"
    shutil.copy(REPO / "profiles" / "demo.toml", path)
    app = GpuMigrateApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()

        def live() -> dict[str, bool | None]:
            return {b.description: enabled for _k, (_n, b, enabled, _t) in app.screen.active_bindings.items()
                    if b.description in ("Next", "Save", "Open")}

        assert live() == {"Next": False, "Save": False, "Open": True}
        assert app.load_profile_from(path)
        await pilot.pause()
        assert live() == {"Next": True, "Save": True, "Open": True}
