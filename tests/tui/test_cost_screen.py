"""The Cost screen with Pilot: assumptions recompute table and charts; choosing an option saves it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.profile import load_profile
from tests.conftest import REPO
from tui.app import GpuMigrateApp
from tui.screens.cost import CostScreen
from tui.widgets.cost_charts import CumulativeCostChart, MonthlyCostChart

EXTRA = """
[[cost.options]]
name = "A100 spot"
machine_type = "a2-highgpu-1g"
pricing = "spot"

[[cost.options]]
name = "L4 on-demand"
machine_type = "g2-standard-8"
speedup = 0.5
"""


@pytest.fixture()
def profile_path(tmp_path: Path) -> Path:
    path = tmp_path / "ref.toml"
    shutil.copy(REPO / "profiles" / "aws-p3-to-gcp-a100.toml", path)
    # These tests start from one run a month and raise it on the screen.
    path.write_text(path.read_text().replace("runs_per_month = 80", "runs_per_month = 1"))
    return path


def cell(screen: CostScreen, row: int, column: int) -> str:
    table = screen.query_one("#cost-table")
    return str(table.get_row_at(row)[column])


async def test_changing_an_assumption_updates_table_and_charts(profile_path: Path) -> None:
    app = GpuMigrateApp(profile_path=profile_path, start_mode="cost")
    async with app.run_test(size=(160, 50)) as pilot:
        screen = app.screen
        assert isinstance(screen, CostScreen)
        # one run a month: the commitment's month is paid for that one run; the list rate beside it
        assert cell(screen, 0, 5) == "$25.09" and cell(screen, 1, 5) == "$1,810.40"
        assert cell(screen, 0, 10) == "$25.09" and cell(screen, 1, 10) == "$17.61"
        assert cell(screen, 0, 6) == "$25.09"  # 1 run a month
        assert cell(screen, 1, 11) == "negotiated"
        bars = screen.query_one(MonthlyCostChart)
        assert bars.bars[0] == ("p3.2xlarge", pytest.approx(25.092))
        runs = screen.query_one("#a-runs")
        runs.focus()
        runs.value = ""
        await pilot.press(*"80")
        await pilot.pause()
        assert screen.draft.workload.runs_per_month == 80
        assert cell(screen, 0, 6) == "$2,007.36"  # 80 x $25.092
        assert bars.bars[0][1] == pytest.approx(80 * 3.06 * 8.2)
        lines = screen.query_one(CumulativeCostChart)
        assert lines.series[0][1][12] == pytest.approx(12 * 80 * 3.06 * 8.2)
        assert lines.break_even is not None  # 80 runs use the commitment enough to pay off
        notes = str(screen.query_one("#cost-notes").render())
        assert "source.hourly_usd" in notes
        # the day-two budget follows the target's monthly bill: $2.48 x 730 h committed + the $20 boot disk
        assert "Budget (day two): $1,830.40/month" in notes and "80% ($1,464.32)" in notes
        # the profile file is untouched until saved
        assert load_profile(profile_path).workload.runs_per_month == 1
        screen.query_one("#cost-table").focus()
        await pilot.press("s")
        await pilot.pause()
        assert load_profile(profile_path).workload.runs_per_month == 80


async def test_pricing_of_the_highlighted_option_recomputes(profile_path: Path) -> None:
    app = GpuMigrateApp(profile_path=profile_path, start_mode="cost")
    async with app.run_test(size=(160, 50)) as pilot:
        screen = app.screen
        table = screen.query_one("#cost-table")
        table.focus()
        table.move_cursor(row=1)
        from tests.tui.screen_checks import settled

        await settled(pilot)  # the highlight travels as a message: one pause is not enough on a loaded machine
        select = screen.query_one("#a-pricing")
        assert select.value == "cud-1y"
        select.value = "on-demand"
        for _ in range(100):  # the change travels as a message; a loaded machine needs more than one pause
            await pilot.pause(0.02)
            if cell(screen, 1, 2) == "on-demand":
                break
        assert cell(screen, 1, 2) == "on-demand"
        # negotiated $2.48/h still applies, now billed per use: 7.1 h a month
        # the month's bill: that one run plus the 200 GiB pd-balanced boot disk ($0.10/GiB-month)
        assert cell(screen, 1, 6) == "$37.61" and cell(screen, 1, 10) == "$17.61"
        assert screen.query_one(MonthlyCostChart).bars[1][1] == pytest.approx(2.48 * 7.1 + 20)
        assert "storage $20.00/month: 200 GiB pd-balanced boot disk" in str(screen.query_one("#cost-notes").render())


async def test_choosing_an_option_saves_it_as_the_target(profile_path: Path) -> None:
    profile_path.write_text(profile_path.read_text() + EXTRA)
    app = GpuMigrateApp(profile_path=profile_path, start_mode="cost")
    async with app.run_test(size=(160, 50)) as pilot:
        screen = app.screen
        assert [cell(screen, i, 1) for i in range(4)] == ["p3.2xlarge", "a2-highgpu-1g cud-1y", "A100 spot",
                                                          "L4 on-demand"]
        table = screen.query_one("#cost-table")
        table.focus()
        table.move_cursor(row=3)
        await pilot.press("c")
        await pilot.pause()
        saved = load_profile(profile_path)
        assert saved.target.machine_type == "g2-standard-8" and saved.target.pricing == "on-demand"
        assert saved.target.gpu_model == "L4" and saved.workload.speedup == 0.5
        assert saved.workload.target_hours_per_run is None
        old = saved.cost.options[1]
        assert (old.machine_type, old.pricing, old.hourly_usd, old.hours_per_run) == (
            "a2-highgpu-1g", "cud-1y", 2.48, 7.1)
        await pilot.pause()
        assert cell(screen, 1, 1).startswith("g2-standard-8")


async def test_a_missing_price_is_shown_not_crashed(profile_path: Path) -> None:
    app = GpuMigrateApp(profile_path=profile_path, start_mode="cost")
    async with app.run_test(size=(160, 50)) as pilot:
        screen = app.screen
        screen._edit(lambda d: (setattr(d.target, "machine_type", "a2-ultragpu-1g"),
                                setattr(d.target, "hourly_usd", None)))
        await pilot.pause()
        assert "no trusted on-demand price" in str(screen.query_one("#cost-error").render()) or \
            "a2-ultragpu-1g" in str(screen.query_one("#cost-error").render())
        assert cell(screen, 1, 5) == "$1,810.40" and cell(screen, 1, 10) == "$17.61"  # the last good figures stay


async def test_a_stale_spot_price_is_flagged(profile_path: Path) -> None:
    app = GpuMigrateApp(profile_path=profile_path, start_mode="cost")
    async with app.run_test(size=(160, 50)) as pilot:
        screen = app.screen
        screen._edit(lambda d: (setattr(d.target, "pricing", "spot"), setattr(d.target, "hourly_usd", None)))
        await pilot.pause()
        # the embedded spot price was read 2026-07-30: over 30 days old from 2026-08-30 on
        assert cell(screen, 1, 11).endswith("d STALE") and cell(screen, 0, 11) == "negotiated"
        assert "STALE: spot > 30 days" in str(screen.query_one("#cost-notes").render())


FALLBACK = """schema_version = 1
[source]
provider = "aws"
region = "us-east-1"
instance_type = "p4d.24xlarge"
[target]
region = "us-central1"
machine_type = "a3-megagpu-8g"
[workload]
source_hours_per_run = 10
target_hours_per_run = 8
runs_per_month = 20
[cost]
allow_price_fallback = true

[[cost.options]]
name = "A100 commitment"
machine_type = "a2-highgpu-8g"
pricing = "cud-1y"
"""


async def test_at_80x24_the_row_says_fallback_and_list_sits_beside_paid(tmp_path: Path) -> None:
    """On an 80x24 terminal the narrow table had no list rate per run (a commitment's $/run paid stood alone)
    and nothing in view said a price was another region's: the PRICE FALLBACK note was below the fold."""
    path = tmp_path / "fb.toml"
    path.write_text(FALLBACK)
    app = GpuMigrateApp(profile_path=path, start_mode="cost")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, CostScreen)
        table = screen.query_one("#cost-table")
        labels = [str(c.label) for c in table.columns.values()]
        assert labels == ["option", "paid/run", "list/run", "$/month", "saving/mo", "price age"]
        mega, commit = table.get_row_at(1), table.get_row_at(2)
        assert mega[5].endswith("FALLBACK")
        assert float(commit[1].strip("$").replace(",", "")) > float(commit[2].strip("$").replace(",", ""))
        notes = str(screen.query_one("#cost-notes").render()).splitlines()
        assert notes[0].startswith("note: PRICE FALLBACK: a3-megagpu-8g has no us-central1 price")



async def test_the_demo_fits_80_columns_with_the_list_rate_beside_the_paid_one() -> None:
    app = GpuMigrateApp(profile_path=REPO / "profiles" / "demo.toml", start_mode="cost")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        table = app.screen.query_one("#cost-table")
        assert table.virtual_size.width <= table.scrollable_content_region.width  # no sideways scroll
        commit = [str(c) for c in table.get_row_at(2)]
        assert commit[:3] == ["A100 1-year commitment", "$84.47", "$16.50"]


async def test_prices_refreshed_while_the_app_is_open_are_used_when_the_screen_comes_back(tmp_path: Path) -> None:
    """The screen read the catalog once: after `gpumigrate catalog refresh` in another terminal it went on showing
    the old prices (footer "AWS embedded") as current until the app restarted."""
    from engine.catalog.load import AWS_CACHE, cache_dir, write_cache

    path = tmp_path / "catalog.toml"
    path.write_text('[source]\nprovider = "aws"\nregion = "us-east-1"\ninstance_type = "p3.2xlarge"\n[target]\n'
                    'machine_type = "a2-highgpu-1g"\n[workload]\nsource_hours_per_run = 8\ntarget_hours_per_run = 8\n'
                    'runs_per_month = 10\n[cost]\ndata_gb = 0\n')
    app = GpuMigrateApp(profile_path=path, start_mode="cost")
    async with app.run_test(size=(160, 50)) as pilot:
        screen = app.screen
        assert isinstance(screen, CostScreen) and cell(screen, 0, 3) == "$3.06"
        write_cache(cache_dir() / AWS_CACHE, {
            "refreshed_at": "2026-11-29T10:00:00+00:00", "source": "AWS Price List API", "problems": [],
            "instances": [{"instance_type": "p3.2xlarge", "family": "p3", "gpu_model": "V100", "gpu_count": 1.0,
                           "gpu_memory_gb": 16.0, "vcpus": 8.0, "memory_gb": 61.0, "region": "us-east-1",
                           "ondemand_usd_per_hr": 2.0, "notes": ""}]})
        await app.switch_mode("inventory")
        await pilot.pause()
        await app.switch_mode("cost")
        await pilot.pause()
        assert cell(screen, 0, 3) == "$2.00"
        assert "AWS refreshed 2026-11-29" in str(screen.query_one("#cost-notes").render())


async def test_at_80x24_the_saving_share_break_even_and_stale_prices_are_in_view(tmp_path: Path) -> None:
    """At 80x24 the table keeps only its $ columns: the percentage (and of what), the break-even and the STALE
    warning were below the fold or not on the screen at all. Catalog prices from 2025 (on-demand past 180 days,
    so STALE from now on); the L4 option costs more a month than the source: its break-even is "never"."""
    from tests.tui.screen_checks import settled, visible_lines

    path = tmp_path / "stale.toml"
    path.write_text('[source]\nprovider = "aws"\nregion = "us-east-1"\ninstance_type = "p3.2xlarge"\n[target]\n'
                    'machine_type = "a2-highgpu-1g"\nregion = "us-central1"\n[workload]\nsource_hours_per_run = 8\n'
                    'target_hours_per_run = 4\nruns_per_month = 60\n[cost]\ndata_gb = 500\n'
                    '[[cost.options]]\nname = "L4 slow"\nmachine_type = "g2-standard-8"\nhours_per_run = 40\n')
    app = GpuMigrateApp(profile_path=path, start_mode="cost")
    async with app.run_test(size=(80, 24)) as pilot:
        await settled(pilot)
        report = app.screen.report
        seen = visible_lines(app)
        text = "\n".join(seen)
        primary = report.primary
        share = f"{primary.savings_monthly_fraction * 100:.1f}% less a month than p3.2xlarge"
        assert share in text and "monthly bill" in text, text
        assert f"break-even {primary.break_even_months:.1f} months" in text, text
        assert "STALE prices: p3.2xlarge, egress" in text, text
        assert all(len(line) <= 80 for line in seen)
        await pilot.press("down", "down")  # the L4 option: dearer a month, so never paid back
        await settled(pilot)
        text = "\n".join(visible_lines(app))
        assert "L4 slow:" in text and "more a month than p3.2xlarge" in text, text
        assert "break-even never: it is not cheaper a month" in text, text


async def test_the_pricing_box_following_the_highlight_never_reprices_an_option(profile_path: Path) -> None:
    """The pricing box follows the highlighted row: the screen set its value under a `_filling` flag, but the box's
    Changed message arrives later, once the flag is down, and was taken as the person's choice. On a loaded machine
    (reproduced with every message delayed 15 ms) the highlight's moves and these echoes chased each other: the
    target's pricing flipped between cud-1y and on-demand for as long as the screen was open, and a highlight moved
    on before the echo arrived gave the next row the previous row's pricing. Here in that order: row 1 (cud-1y),
    then at once row 2 (spot), as the moves reach the screen when its messages wait; then the box's start-up
    value arriving late (it had made the target on-demand as soon as the highlight reached it)."""
    from tests.tui.screen_checks import settled

    profile_path.write_text(profile_path.read_text() + EXTRA)
    app = GpuMigrateApp(profile_path=profile_path, start_mode="cost")
    async with app.run_test(size=(160, 50)) as pilot:
        screen = app.screen
        table = screen.query_one("#cost-table")
        await settled(pilot)
        before = screen.report
        table.move_cursor(row=1)
        screen._sync_pricing_select()
        table.move_cursor(row=2)
        screen._sync_pricing_select()
        await settled(pilot)
        assert [o.pricing for o in screen.draft.cost.options] == ["spot", "on-demand"]
        assert screen.draft.target.pricing == "cud-1y"
        assert screen.report is before, "nothing was edited: the figures were not computed again"
        select = screen.query_one("#a-pricing")
        assert select.value == "spot"
        # the box's start-up value ("on-demand") reaching the screen after the highlight's: stale, not a choice
        select.post_message(select.Changed(select, "on-demand"))
        await settled(pilot)
        assert screen.draft.cost.options[0].pricing == "spot" and screen.report is before
        # a person's choice still reprices the highlighted option
        select.value = "on-demand"
        for _ in range(100):
            await pilot.pause(0.02)
            if cell(screen, 2, 2) == "on-demand":
                break
        assert screen.draft.cost.options[0].pricing == "on-demand" and screen.draft.target.pricing == "cud-1y"


async def test_the_budget_line_is_in_the_budgets_currency(profile_path: Path) -> None:
    """A budget of 270,000 JPY (the amount the profile gives; the run-rate is in dollars) read "$270,000.00/month"."""
    profile_path.write_text(profile_path.read_text() + '\n[ops]\nbudget_currency = "JPY"\nbudget_monthly = 270000\n')
    app = GpuMigrateApp(profile_path=profile_path, start_mode="cost")
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        notes = str(app.screen.query_one("#cost-notes").render())
        assert "Budget (day two): 270,000.00 JPY/month from [ops].budget_monthly; alerts at 50% (135,000.00 JPY)" \
            in notes, notes


async def test_the_apps_inventory_sizes_the_s3_source(tmp_path: Path) -> None:
    """With cost.data_gb unset the screen said "NOT counting egress: data volume unknown" even after the Inventory
    screen had sized the bucket the profile moves: it now takes the volume from that scan, and says so."""
    from engine.inventory.scan import Inventory
    from tests.unit.test_cost_volume_from_inventory import INVENTORY, PROFILE

    path = tmp_path / "p.toml"
    path.write_text(PROFILE)
    app = GpuMigrateApp(profile_path=path, start_mode="cost")
    app.last_inventory = Inventory.model_validate(INVENTORY)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        report = app.screen.report
        assert report.data_gb == 700 and report.egress_not_included == "s3://other/x/ not sized"
        notes = str(app.screen.query_one("#cost-notes").render())
        assert "data 700.0 GB (this app's inventory scan: s3://train/data/ 3 objects, 600.00 GiB (listed)" in notes
        assert "not sized by this app's inventory scan: s3://other/x/" in notes


async def test_the_sessions_recorded_inventory_sizes_the_s3_source(tmp_path: Path) -> None:
    """In a session the screen sizes the sources from the inventory the session recorded (its date in the basis)."""
    from engine.session import SessionStore
    from tests.unit.test_cost_volume_from_inventory import INVENTORY, PROFILE

    path = tmp_path / "p.toml"
    path.write_text(PROFILE)
    with SessionStore.open("cost-inv") as store:
        store.set_step("inventory", "completed", result={"summary": "x", "data": INVENTORY})
    app = GpuMigrateApp(profile_path=path, session_name="cost-inv", operator="alice", start_mode="cost")
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        report = app.screen.report
        assert report.data_gb == 700 and report.data_basis.startswith("the inventory of session cost-inv (")
