"""A profile edited outside the app while it is open (vi, `gpumigrate init` again): the app notices, offers
to reload, and never writes over the outside change.  It saved its stale copy over it, silently."""

from __future__ import annotations

import shutil
from pathlib import Path


from tests.conftest import REPO
from tui.app import GpuMigrateApp
from tui.widgets.dialogs import ConfirmDialog


async def _wait(pilot, cond, what: str, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(timeout / 0.05)):
        if cond():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _asks_reload(app: GpuMigrateApp) -> bool:
    return isinstance(app.screen, ConfirmDialog) and "changed on disk" in app.screen.question


async def test_an_outside_edit_is_noticed_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    shutil.copy(REPO / "profiles" / "demo.toml", path)
    app = GpuMigrateApp(profile_path=path, start_mode="cost")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        outside = path.read_text(encoding="utf-8").replace('name = "Demo:', 'name = "Edited outside:')
        assert "Edited outside" in outside
        path.write_text(outside, encoding="utf-8")
        await _wait(pilot, lambda: _asks_reload(app), "the reload question")
        await pilot.press("n")  # keep the app's copy: saving is now refused, not silently over the change
        await pilot.pause()
        assert not app.apply_profile_change(lambda p: setattr(p, "description", "edited in the app"), "description")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert path.read_text(encoding="utf-8") == outside
        assert any("changed on disk" in m for m in app.messages())
        assert app.profile is not None and app.profile.name.startswith("Demo:")  # the stale copy, still shown

        again = outside + "\n# a second edit\n"
        path.write_text(again, encoding="utf-8")
        await _wait(pilot, lambda: _asks_reload(app), "the question about the second edit")
        await pilot.press("y")
        await _wait(pilot, lambda: app.profile is not None and app.profile.name.startswith("Edited outside"), "the reload")
        assert app.apply_profile_change(lambda p: setattr(p, "description", "edited in the app"), "description")
        text = path.read_text(encoding="utf-8")
        assert "# a second edit" in text and "Edited outside" in text and "edited in the app" in text


async def test_the_profile_view_does_not_save_its_text_over_an_outside_edit(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    shutil.copy(REPO / "profiles" / "demo.toml", path)
    app = GpuMigrateApp(profile_path=path, start_mode="profile")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        outside = path.read_text(encoding="utf-8") + "\n# written by gpumigrate init again\n"
        path.write_text(outside, encoding="utf-8")
        app.screen.save_from_editor()  # before the watcher has looked: the save itself compares
        await pilot.pause()
        assert path.read_text(encoding="utf-8") == outside
        assert any("changed on disk" in m for m in app.messages())


async def test_a_credential_typed_into_a_field_is_refused_and_the_file_kept(tmp_path: Path) -> None:
    """A form value holding an access key id was written into the profile (which then refused to load)."""
    path = tmp_path / "p.toml"
    shutil.copy(REPO / "profiles" / "demo.toml", path)
    before = path.read_text(encoding="utf-8")
    app = GpuMigrateApp(profile_path=path, start_mode="cost")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert not app.apply_profile_change(
            lambda p: setattr(p, "description", "key AKIAIOSFODNN7EXAMPLE"), "description")
        await pilot.pause()
        assert path.read_text(encoding="utf-8") == before
        assert app.profile is not None and "AKIA" not in (app.profile.description or "")
