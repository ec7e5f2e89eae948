"""The Verify screen with Pilot: the checklist fills live, details and plots per check, sign-off in the session."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Static
from textual_plotext import PlotextPlot

from engine.session import SessionStore
from engine.verify.signoff import signoffs
from tests.conftest import REPO
from tests.verify_support import loss_curve, second_person, write_csv
from tui.app import GpuMigrateApp
from tui.screens.verify import VerifyScreen


async def _run_checks(pilot, screen: VerifyScreen, limit_s: float = 60.0) -> None:
    await pilot.press("r")
    waited = 0.0
    while screen.report is None and waited < limit_s:
        await pilot.pause(0.25)
        waited += 0.25
    assert screen.report is not None, "the checks did not finish"
    await pilot.pause()


def _profile(tmp_path: Path, scale: float, gpu_optional: bool = True) -> Path:
    write_csv(tmp_path / "base.csv", loss_curve(1))
    write_csv(tmp_path / "target.csv", [(s, v * scale) for s, v in loss_curve(2)])
    path = tmp_path / "p.toml"
    path.write_text('name = "tui"\n[source]\nprovider = "local"\n[verify]\nchecks = ["convergence", "gpu_health"]\n'
                    '[verify.convergence]\nbaseline_file = "base.csv"\ntarget_file = "target.csv"\nsmoothing = 3\n'
                    f'[verify.gpu]\noptional = {"true" if gpu_optional else "false"}\n'
                    '[cutover]\nshared_account = true\n')  # the tests' people are names declared on one account
    return path


async def test_demo_checklist_fills_and_shows_details_and_plots() -> None:
    app = GpuMigrateApp(profile_path=REPO / "profiles" / "demo.toml", start_mode="verify")
    async with app.run_test(size=(150, 45)) as pilot:
        screen = app.screen
        assert isinstance(screen, VerifyScreen)
        table = screen.query_one("#verify-checks", DataTable)
        assert table.row_count == 7
        assert "pending" in str(table.get_cell("latency", "status"))
        await _run_checks(pilot, screen)
        assert screen.report.ok and "5 passed" in screen.report.summary()
        assert "optional" in str(table.get_cell("gpu_health", "status"))
        measured = str(table.get_cell("gpu_health", "summary"))
        assert measured.startswith("not available here: no NVIDIA driver") and measured.endswith("were not checked")
        # shown whole: the figure wraps onto as many lines as it needs instead of being cut to the column
        assert table.rows["gpu_health"].height * table.columns["summary"].width >= len(measured)
        assert table.rows["gpu_health"].height > 1
        assert "pass" in str(table.get_cell("convergence", "status"))
        table.move_cursor(row=list(table.rows).index("convergence"))
        await pilot.pause()
        detail = str(screen.query_one("#verify-detail", Static).render())
        assert "Training convergence" in detail and "compared_steps: 101" in detail
        plot = screen.query_one("#verify-plot", PlotextPlot)
        assert plot.has_class("shown") and plot.display
        table.move_cursor(row=list(table.rows).index("latency"))
        await pilot.pause()
        assert plot.has_class("shown") and "P99" in str(screen.query_one("#verify-detail", Static).render())
        table.move_cursor(row=list(table.rows).index("gpu_health"))
        await pilot.pause()
        assert not plot.has_class("shown")
        assert "not available here" in str(screen.query_one("#verify-detail", Static).render())


async def test_sign_off_is_recorded_with_the_operator(tmp_path: Path) -> None:
    from tests.cutover_support import shared_session

    shared_session("verify-tui")  # "alice" is a name declared on this shared OS account
    app = GpuMigrateApp(profile_path=_profile(tmp_path, 1.0), session_name="verify-tui", start_mode="verify",
                        operator="alice")
    async with app.run_test(size=(150, 45)) as pilot:
        screen = app.screen
        await _run_checks(pilot, screen)
        assert screen.report.ok
        await pilot.press("a")
        await pilot.pause()
        assert "approved by alice" in str(screen.query_one("#verify-status", Static).render())
        # review s7: the final pass (`replay --again transfer`) copies after this verification: its PASS is of an
        # earlier copy, and approving it again is refused with why; accepting it with gaps names the gap
        with SessionStore.open("verify-tui") as other:
            other.set_step("transfer", "running")
            other.set_step("transfer", "completed", result={"summary": "copied 3 (the final pass)"})
        await pilot.press("a")
        await pilot.pause()
        assert any("cannot approve: the verification (finished " in n.message and "predates the last transfer run"
                   in n.message for n in app._notifications), [n.message for n in app._notifications]
        await pilot.press("g")
        await pilot.pause()
        assert "PASS, but the verification (finished " in str(app.screen.query_one("Label").render())
        await pilot.press("escape")
    with SessionStore.open("verify-tui") as session:
        recorded = signoffs(session)
    assert [(s["decision"], s["operator"]) for s in recorded] == [("approved", "alice")]


async def test_a_failing_run_cannot_be_approved_but_can_be_rejected(tmp_path: Path) -> None:
    app = GpuMigrateApp(profile_path=_profile(tmp_path, 1.4), session_name="verify-tui-2", start_mode="verify",
                        operator="bob")
    async with app.run_test(size=(150, 45)) as pilot:
        screen = app.screen
        await _run_checks(pilot, screen)
        assert not screen.report.ok
        assert "FAIL" in str(screen.query_one("#verify-checks", DataTable).get_cell("convergence", "status"))
        await pilot.press("a")
        await pilot.pause()
        assert any("cannot approve" in n.message for n in app._notifications)
        await pilot.press("x")
        await pilot.pause()
    with SessionStore.open("verify-tui-2") as session:
        assert [s["decision"] for s in signoffs(session)] == ["rejected"]


async def test_incomplete_cannot_be_approved_and_gaps_need_a_reason_and_a_second_person(tmp_path: Path) -> None:
    from textual.widgets import Input

    from tests.cutover_support import shared_session

    shared_session("verify-tui-3")  # "carol" and "dave" are names declared on this shared OS account
    app = GpuMigrateApp(profile_path=_profile(tmp_path, 1.0, gpu_optional=False), session_name="verify-tui-3",
                        start_mode="verify", operator="carol")
    async with app.run_test(size=(150, 45)) as pilot:
        screen = app.screen
        await _run_checks(pilot, screen)
        assert screen.report.verdict == "INCOMPLETE"
        assert "NOT RUN" in str(screen.query_one("#verify-checks", DataTable).get_cell("gpu_health", "status"))
        status = str(screen.query_one("#verify-status", Static).render())
        assert "INCOMPLETE: expected but not run: gpu_health (the target must show 1 GPU(s))" in status
        await pilot.press("a")
        await pilot.pause()
        assert any("cannot approve: the verification is INCOMPLETE" in n.message for n in app._notifications)

        helper = second_person("verify-tui-3", "dave", True)
        await pilot.press("g")
        await pilot.pause()
        app.screen.query_one("#answer", Input).value = "GPU health runs on the real host at cutover"
        await pilot.press("enter")
        for _ in range(100):
            await pilot.pause(0.1)
            if "approved by dave" in str(screen.query_one("#verify-status", Static).render()):
                break
        helper.join(timeout=10)
        assert "accepted-with-gaps by carol, approved by dave" in str(screen.query_one("#verify-status", Static).render())
    with SessionStore.open("verify-tui-3") as session:
        recorded = signoffs(session)
    assert [(s["decision"], s["operator"], s["approved_by"]) for s in recorded] == [
        ("accepted-with-gaps", "carol", "dave")]


async def test_measured_wraps_inside_what_the_table_shows_at_80x24() -> None:
    """At 80x24 the Measured column was kept at 12 cells where the table showed 9: wrapped lines were cut
    at their ends, and "libnvidia-ml.so.1 is not installed" read "libnvidia .so.1 is installed"."""
    app = GpuMigrateApp(profile_path=REPO / "profiles" / "demo.toml", start_mode="verify")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, VerifyScreen)
        table = screen.query_one("#verify-checks", DataTable)
        title, state, _ = screen._rows["gpu_health"]
        screen._rows["gpu_health"] = (title, state, "not available here: no NVIDIA driver found (the NVML library "
                                      "libnvidia-ml.so.1 is not installed): the GPUs were not checked")
        screen._redraw_rows(table)
        screen._fit_measured()
        await pilot.pause()
        assert table.virtual_size.width <= table.scrollable_content_region.width, (
            table.virtual_size.width, table.scrollable_content_region.width,
            {k.value: c.get_render_width(table) for k, c in table.columns.items()})


async def test_without_a_session_the_status_does_not_claim_a_recorded_sign_off(tmp_path: Path) -> None:
    """No session: there is nowhere to record an approval, and the status line says so (it said "a approves,
    x rejects (recorded in the session)")."""
    app = GpuMigrateApp(profile_path=_profile(tmp_path, 1.0), start_mode="verify")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await _run_checks(pilot, screen)
        status = str(screen.query_one("#verify-status", Static).render())
        assert "session" in status and "recorded in the session" not in status, status
        assert "nothing is recorded" in status and "--session" in status, status
        await pilot.press("a")
        await pilot.pause()
        assert any("No session" in n.message for n in app._notifications)
