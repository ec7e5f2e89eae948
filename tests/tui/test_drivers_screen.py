"""The Drivers screen with Pilot: a recorded V100 machine beside the plan, previews, save."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, TabbedContent

from tests.conftest import FIXTURES
from tui.app import GpuMigrateApp
from tui.screens.drivers import OUT_FOLDER, DriversScreen

PROFILE = """[source]
provider = "aws"

[target]
project = "my-proj-123"
zone = "us-central1-a"
machine_type = "n1-standard-8"
gpu_model = "V100"
pricing = "spot"

[drivers]
framework_version = "2.12"
"""


@pytest.fixture()
def v100_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GPUMIGRATE_DRIVERS_FROM", str(FIXTURES / "drivers" / "gce-v100-cu130-wheel"))
    path = tmp_path / "v100.toml"
    path.write_text(PROFILE)
    return path


def _column(table: DataTable, index: int) -> list[str]:
    return [str(table.get_row_at(i)[index]) for i in range(table.row_count)]


async def _loaded(pilot, app: GpuMigrateApp) -> DriversScreen:  # type: ignore[no-untyped-def]
    await app.workers.wait_for_complete()
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, DriversScreen)
    return screen


async def test_detected_beside_plan_with_reasons(v100_profile: Path) -> None:
    app = GpuMigrateApp(profile_path=v100_profile, start_mode="drivers")
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await _loaded(pilot, app)
        detected = screen.query_one("#drivers-detected", DataTable)
        statuses = _column(detected, 1)
        reasons = " ".join(_column(detected, 2))
        assert "red" in statuses
        assert "leaves out V100" in reasons and "cannot build for V100" in reasons
        plan = screen.query_one("#drivers-plan", DataTable)
        plan_reasons = " ".join(_column(plan, 2))
        assert "cu126" in plan_reasons and "R580" in plan_reasons
        assert "amber" in _column(plan, 1) and "red" not in _column(plan, 1)
        tabs = screen.query_one("#drivers-artefacts", TabbedContent)
        assert tabs.tab_count >= 5 + 4  # drivers' five, then the day-two artefacts beside them
        assert tabs.get_pane("drivers-tab-ops-0") is not None
        assert "Recorded machine" in str(screen.query_one("#drivers-detected-title").render())


async def test_save_writes_the_artefacts(v100_profile: Path) -> None:
    app = GpuMigrateApp(profile_path=v100_profile, start_mode="drivers")
    async with app.run_test(size=(160, 50)) as pilot:
        await _loaded(pilot, app)
        app.set_focus(None)
        await pilot.press("s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        out = v100_profile.parent / OUT_FOLDER
        names = {p.name for p in out.iterdir()}
        assert {"startup-script.sh", "create-instance.sh", "main.tf", "Dockerfile", "k8s.md"} <= names
        assert "--accelerator=type=nvidia-tesla-v100,count=1" in (out / "create-instance.sh").read_text()
        ops = {p.name for p in (out / "ops").iterdir()}
        assert {"alert-policies.json", "gpumigrate-gpu-rules.yml", "grafana-gpu-dashboard.json"} <= ops
        assert any(name.endswith(".sh") for name in ops)  # the spot watcher: the target is spot


async def test_without_profile_shows_only_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPUMIGRATE_DRIVERS_FROM", str(FIXTURES / "drivers" / "gce-h100-r580-healthy"))
    app = GpuMigrateApp(start_mode="drivers")
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await _loaded(pilot, app)
        assert set(_column(screen.query_one("#drivers-detected", DataTable), 1)) == {"green"}
        assert screen.query_one("#drivers-plan", DataTable).row_count == 0
        assert screen.query_one("#drivers-artefacts", TabbedContent).tab_count == 0


def _screen_text(app: GpuMigrateApp) -> str:
    """What the terminal shows, line by line joined with spaces: a sentence wrapped onto lines reads whole."""
    import html
    import re

    svg = app.export_screenshot()
    lines: dict[int, list[tuple[float, str]]] = {}
    for m in re.finditer(r'<text class="[^"]*" x="([\d.]+)" y="[\d.]+" textLength="[\d.]+" '
                         r'clip-path="url\(#terminal-(?:\d+-)?line-(\d+)\)">([^<]*)</text>', svg):
        lines.setdefault(int(m.group(2)), []).append((float(m.group(1)), html.unescape(m.group(3))))
    text = " ".join("".join(t for _, t in sorted(parts)) for _, parts in sorted(lines.items()))
    return " ".join(text.replace("\xa0", " ").split())


async def test_every_reason_is_whole_on_screen_at_80x24(v100_profile: Path) -> None:
    """At 80x24 the two tables leave the reason column a dozen cells: "no NVIDIA GPU found" read
    "no NVIDIA GPU foun", and "torch 2.9.0+cu130 was built for ..." ended at "torch 2.9.0+"."""
    app = GpuMigrateApp(profile_path=v100_profile, start_mode="drivers")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _loaded(pilot, app)
        for table_id in ("#drivers-detected", "#drivers-plan"):
            table = screen.query_one(table_id, DataTable)
            table.focus()
            reasons = _column(table, 2)
            assert reasons
            for row, reason in enumerate(reasons):
                table.move_cursor(row=row)
                await pilot.pause()
                assert " ".join(reason.split()) in _screen_text(app), (table_id, row, reason)
