"""What the app says when an edit is refused: the field, what is wrong and what is accepted, as the CLI says
it; never pydantic's own text ("Value error, ...", "[type=..., input_value=..., input_type=...]", a docs URL)."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import REPO
from tui.app import GpuMigrateApp
from tui.screens.cost import CostScreen
from tui.widgets.dialogs import ErrorDialog

PYDANTIC_WORDS = ("Value error", "type=", "input_value", "input_type", "errors.pydantic.dev", "validation error")


def _body(app: GpuMigrateApp) -> str:
    assert isinstance(app.screen, ErrorDialog), app.screen
    return str(app.screen.query_one("#body").render())


async def test_a_refused_change_names_the_field_and_what_is_wrong(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    shutil.copy(REPO / "profiles" / "demo.toml", path)
    app = GpuMigrateApp(profile_path=path, start_mode="cost")
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()

        def change(p):  # type: ignore[no-untyped-def]
            p.target.region = "europe-west4"  # the zone stays us-central1-a
            p.workload.precision = "fp64"
            p.source.pricing = "reserved-1y"  # without its hourly rate

        assert not app.apply_profile_change(change, "a bad edit")
        await pilot.pause()
        body = _body(app)
        assert not any(word in body for word in PYDANTIC_WORDS), body
        lines = body.splitlines()
        assert "target.zone: zone 'us-central1-a' is not in region 'europe-west4'" in lines, lines
        assert any(line.startswith("workload.precision: must be one of") and "'bf16'" in line and "'fp64'" in line
                   for line in lines), lines
        assert "source.pricing: pricing = 'reserved-1y' needs hourly_usd: the effective hourly rate you pay" in lines


async def test_the_cost_screen_says_what_a_refused_figure_must_be(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    shutil.copy(REPO / "profiles" / "demo.toml", path)
    app = GpuMigrateApp(profile_path=path, start_mode="cost")
    async with app.run_test(size=(160, 50)) as pilot:
        screen = app.screen
        assert isinstance(screen, CostScreen)
        runs = screen.query_one("#a-runs")
        runs.focus()
        runs.value = ""
        await pilot.press(*"0.0001")
        await pilot.pause()
        said = str(screen.query_one("#cost-error").render())
        assert not any(word in said for word in PYDANTIC_WORDS), said
        assert "workload.runs_per_month: must be 0 or at least 0.001 (got 0.0001)" in said, said


def test_a_refused_transfer_flag_is_said_without_pydantic_words(capsys) -> None:  # type: ignore[no-untyped-def]
    from tui.cli import main

    assert main(["transfer", "a", "b", "--exclude", "["]) == 2
    err = capsys.readouterr().err
    assert "--exclude: '[' is not a valid regular expression" in err and "Value error" not in err, err


async def test_the_profile_view_without_a_file_names_itself_not_an_internal_label() -> None:
    from textual.widgets import TextArea

    app = GpuMigrateApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await app.switch_mode("profile")
        await pilot.pause()
        app.screen.query_one("#profile-editor", TextArea).text = '[source]\nprovider = "aws"\nregion = 5\n'
        app.screen.save_from_editor()
        await pilot.pause()
        body = _body(app)
        assert body.startswith("the Profile view:3: source.region: must be a string"), body
        assert "<" not in body
