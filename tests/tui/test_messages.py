"""Messages at 80 columns: a toast is read whole, or says where its whole text is (F2, Messages).

At 80x24 a toast was 39 cells wide; an error of a few hundred characters (a profile problem with its
path, a refused sign-off) grew taller than the screen and lost its first lines, and vanished after
5 s.  Markup also ate bracketed words ("list[str]" read "list")."""

from __future__ import annotations

from textual.widgets._toast import Toast, ToastRack

from tui.app import GpuMigrateApp
from tui.widgets.toast_text import toast_text

LONG = ("verify sign-off refused: the report is INCOMPLETE (checks the profile expects did not run: "
        "gpu_health, topology, nccl_allreduce); approving needs a PASS. Accept with known gaps (g) gives a "
        "written reason and a second operator approves it in session cutover-2026-11-29-prod-east; "
        "the report is in /var/lib/gpumigrate/sessions/cutover-2026-11-29-prod-east.sqlite.audit/verify.json "
        "and each check's figures are on the Verify screen; gpumigrate session show prints the same, "
        "and gpumigrate session approve NAME ID records the second person's word.")
HUGE = "\n".join(f"bad.toml:{n}: transfer[{n}].dst: list[str] expected, a long explanation of what is wrong"
                 for n in range(1, 41))


def _toasts(app: GpuMigrateApp) -> list[Toast]:
    return list(app.screen.query(Toast))


async def _settle(pilot, app: GpuMigrateApp) -> None:  # type: ignore[no-untyped-def]
    for _ in range(20):
        await pilot.pause(0.05)
        if _toasts(app):
            await pilot.pause(0.1)
            return


async def test_a_long_error_is_read_whole_at_80x24() -> None:
    app = GpuMigrateApp()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        app.notify(LONG, severity="error")
        await _settle(pilot, app)
        [toast] = _toasts(app)
        rack = app.screen.query_one(ToastRack)
        assert rack.max_scroll_y == 0 and app.screen.region.contains_region(toast.region), (toast.region, rack.region)
        shown = toast.render().plain
        assert " ".join(shown.split()) == " ".join(LONG.split())  # every word, nothing cut
        assert toast.region.height <= toast.content_region.height + 2
        note = app._notifications  # noqa: SLF001
        assert all(n.timeout >= 10 for n in note), [n.timeout for n in note]  # time to read it


async def test_a_message_too_long_for_a_toast_points_to_the_messages_view() -> None:
    app = GpuMigrateApp()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        app.notify(HUGE, severity="error")
        await _settle(pilot, app)
        [toast] = _toasts(app)
        rack = app.screen.query_one(ToastRack)
        assert rack.max_scroll_y == 0 and app.screen.region.contains_region(toast.region)
        shown = toast.render().plain
        assert shown.startswith("bad.toml:1: transfer[1].dst: list[str] expected") and "F2" in shown
        await pilot.press("f2")
        await pilot.pause()
        text = str(app.screen.query_one("#messages-text").render())
        assert " ".join(HUGE.split()) in " ".join(text.split())


def test_toast_text_keeps_short_messages_and_brackets() -> None:
    assert toast_text("no [[transfer]] entries: list[str]", width=56, max_lines=10) == \
        "no [[transfer]] entries: list[str]"
    cut = toast_text(HUGE, width=56, max_lines=6)
    assert len(cut.splitlines()) <= 6 and cut.rstrip().endswith("F2: Messages)")


async def test_stacked_toasts_never_push_each_other_off_the_screen() -> None:
    """Several errors at once stacked taller than the screen and the oldest lost their first lines; the
    oldest now go (they are in Messages, whole) so that every toast shown is whole."""
    app = GpuMigrateApp()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        for n in range(4):
            app.notify(f"error {n}: " + LONG[:300], severity="error")
        await _settle(pilot, app)
        await pilot.pause(0.2)
        rack = app.screen.query_one(ToastRack)
        toasts = _toasts(app)
        assert rack.max_scroll_y == 0 and all(app.screen.region.contains_region(t.region) for t in toasts)
        assert toasts and toasts[-1].render().plain.startswith("error 3:")
        assert [m.split(": ", 1)[1][:7] for m in app.messages()] == [f"error {n}" for n in range(4)]
