"""From nothing to a saved, replayable profile through the screens (Pilot, 80x24, no TOML typed).

Welcome -> New profile (discovery with the NVML fake) -> each step's form -> the diff -> saved;
then ``gpumigrate replay --dry-run`` runs the file the app wrote.
"""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input, Select

from engine.guide import left_to_decide
from engine.profile import load_profile
from tests.nvml_fake import FakeNvml
from tui.app import GpuMigrateApp
from tui.cli import main
from tui.screens.edit import SaveDiffDialog, SectionFormDialog
from tui.screens.new_profile import NewProfileDialog


async def _until(pilot, cond, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(timeout / 0.05)):
        if cond():
            return
        await pilot.pause(0.05)
    screen = pilot.app.screen
    body = str(screen.query_one("#body").render()) if screen.query("#body") else ""
    raise AssertionError(f"timed out: mode {pilot.app.current_mode}, screen {screen!r} {body}")


async def _type(pilot, app: GpuMigrateApp, wid: str, text: str) -> None:  # type: ignore[no-untyped-def]
    """Fill a form field (the tmux test types key by key; here the value is set, to keep the suite quick)."""
    field = app.screen.query_one(f"#{wid}", Input)
    field.focus()
    field.value = text
    await pilot.pause()


def _choose(app: GpuMigrateApp, wid: str, value: str) -> None:
    app.screen.query_one(f"#{wid}", Select).value = value


async def _save_form(pilot, app: GpuMigrateApp) -> str:  # type: ignore[no-untyped-def]
    """ctrl+s on the form, then y on the diff; returns the diff dialog's text."""
    await pilot.press("ctrl+s")
    await _until(pilot, lambda: isinstance(app.screen, SaveDiffDialog))
    shown = app.screen.text
    await pilot.press("y")
    await _until(pilot, lambda: not isinstance(app.screen, SaveDiffDialog))
    return shown


async def _edit(pilot, app: GpuMigrateApp, key: str, mode: str) -> None:  # type: ignore[no-untyped-def]
    await pilot.press(key)
    await _until(pilot, lambda: app.current_mode == mode)
    app.screen.set_focus(None)
    await pilot.press("e")
    await _until(pilot, lambda: isinstance(app.screen, SectionFormDialog))


async def test_a_profile_built_through_the_screens_replays(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    for name, files in (("data", 3), ("more", 2)):
        (tmp_path / name).mkdir()
        for i in range(files):
            (tmp_path / name / f"f{i}.bin").write_bytes(bytes([i]) * (100 + i))
    app = GpuMigrateApp()
    app.nvml_api = FakeNvml.from_fixture("v100_host")
    path = tmp_path / "migration.toml"
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.current_mode == "welcome"
        await pilot.press("n")
        await _until(pilot, lambda: isinstance(app.screen, NewProfileDialog))
        await pilot.press("enter", *"data, more", "enter", *"out", "enter", "enter")  # file, dirs, dest, regions
        await _until(pilot, lambda: app.profile is not None and app.current_mode == "inventory")
        assert [t.src for t in load_profile(path).transfer] == ["data", "more"]

        # Inventory: the source found by NVML, a project typed in
        await pilot.press("escape")
        app.screen.set_focus(None)
        await pilot.press("e")
        await _until(pilot, lambda: isinstance(app.screen, SectionFormDialog))
        assert app.screen.query_one("#f-source-gpu_model", Input).value == "V100"
        await _type(pilot, app, "f-target-project", "my-project-1")
        diff = await _save_form(pilot, app)
        assert '+project = "my-project-1"' in diff
        assert load_profile(path).target.project == "my-project-1"

        # Cost: a bad number is refused inline with its field path, then the choices are made
        await _edit(pilot, app, "2", "cost")
        _choose(app, "f-target-pricing", "spot")
        await _type(pilot, app, "f-source-hourly_usd", "3.06")
        await _type(pilot, app, "f-workload-source_hours_per_run", "8.2")
        await _type(pilot, app, "f-workload-speedup", "ten")
        await pilot.press("ctrl+s")
        await pilot.pause()
        error = app.screen.query_one("#f-workload-speedup-error")
        assert "workload.speedup: must be a number" in str(error.render()) and error.display
        await _type(pilot, app, "f-workload-speedup", "0")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "workload.speedup: must be >" in str(app.screen.query_one("#f-workload-speedup-error").render())
        await _type(pilot, app, "f-workload-speedup", "1.4")
        await _save_form(pilot, app)
        saved = load_profile(path)
        assert (saved.target.pricing, saved.source.hourly_usd, saved.workload.speedup) == ("spot", 3.06, 1.4)
        assert left_to_decide(saved, "cost") == []

        # Transfer: add an entry (source picked from the discovered directories), see its plan, remove another
        await pilot.press("3")
        await _until(pilot, lambda: app.current_mode == "transfer")
        app.screen.set_focus(None)
        await pilot.press("a")
        await _until(pilot, lambda: isinstance(app.screen, SectionFormDialog))
        _choose(app, "f-transfer-2-src-pick", "more")
        await pilot.pause()
        assert app.screen.query_one("#f-transfer-2-src", Input).value == "more"
        await _type(pilot, app, "f-transfer-2-dst", "out/second")
        shown = await _save_form(pilot, app)
        assert "Dry run: would copy 2" in shown
        assert [(t.src, t.dst) for t in load_profile(path).transfer][-1] == ("more", "out/second")
        assert not (tmp_path / "out").exists()  # a plan, not a copy
        app.screen.query_one("#transfer-entries").move_cursor(row=1)
        await pilot.press("d")
        await _until(pilot, lambda: isinstance(app.screen, SaveDiffDialog))
        await pilot.press("y")
        await pilot.pause()
        assert [(t.src, t.dst) for t in load_profile(path).transfer] == [("data", "out/data"), ("more", "out/second")]

        # Drivers and Verify
        await _edit(pilot, app, "4", "drivers")
        _choose(app, "f-drivers-os_image", "ubuntu-2404")
        _choose(app, "f-drivers-framework", "pytorch")
        await _type(pilot, app, "f-drivers-framework_version", "2.4")
        await _save_form(pilot, app)
        await _edit(pilot, app, "5", "verify")
        await _type(pilot, app, "f-verify-p99_ms", "80")
        await _type(pilot, app, "f-verify-model_load-command", "{python} -c pass")
        await _save_form(pilot, app)

    final = load_profile(path)
    assert final.drivers.os_image == "ubuntu-2404" and final.drivers.framework_version == "2.4"
    assert final.verify.p99_ms == 80 and final.verify.model_load.command == ["{python}", "-c", "pass"]
    assert "runs" not in final.verify.model_load.model_fields_set  # untouched defaults stay unset
    assert main(["replay", str(path), "--dry-run"]) == 0


async def test_at_80x24_the_left_to_decide_line_is_not_cut(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('schema_version = 1\nname = "p"\n[source]\nprovider = "other"\n')
    app = GpuMigrateApp(profile_path=path, start_mode="cost")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        line = app.screen.query_one("#left-line")
        text = str(line.render())
        assert len(text) <= line.content_region.width, (text, line.content_region)
        assert text.startswith("Left to decide") and "source.hourly_usd" in text and "target.pricing" in text, text


async def test_a_data_directory_that_does_not_exist_is_said_after_new_profile(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The only word of a mistyped directory was the fourth line of a toast that showed three."""
    monkeypatch.chdir(tmp_path)
    app = GpuMigrateApp()
    app.nvml_api = FakeNvml.from_fixture("v100_host")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")
        await _until(pilot, lambda: isinstance(app.screen, NewProfileDialog))
        await pilot.press("enter", *"dtaa", "enter", "enter", "enter")
        await _until(pilot, lambda: app.profile is not None)
        await pilot.pause(0.2)
        warnings = [n.message for n in app._notifications if n.severity == "warning"]
        assert any(m.startswith(f"{tmp_path / 'dtaa'} does not exist") or m.startswith("dtaa does not exist")
                   for m in warnings), [n.message for n in app._notifications]
