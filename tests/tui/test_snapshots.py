"""Every screen at 80x24 (the default of many SSH clients) and 200x50, on the reference profile.

What these pin down: the step bar fits with every step and its state, the headline cost figures are
whole at 80 columns (secondary columns dropped), long tables scroll instead of pushing the footer
off, the welcome view and the forms look like the other screens.
"""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import FIXTURES, REPO
from tests.tui.screen_checks import footer_misses, settled
from tui.app import GpuMigrateApp

REFERENCE = REPO / "profiles" / "aws-p3-to-gcp-a100.toml"
MODES = ("welcome", "new", "inventory", "cost", "transfer", "drivers", "verify", "profile", "runbook", "form", "diff",
         "entries", "entry")
SIZES = {"80x24": (80, 24), "200x50": (200, 50)}


def _cut_lines(screen) -> list[str]:  # type: ignore[no-untyped-def]
    """Every one-row text on the screen (a "what is left" line, an empty state, a heading) that is wider than
    its row: the picture would show it cut, and the user would lose its end."""
    from rich.cells import cell_len
    from rich.text import Text
    from textual.widgets import Static

    cuts = []
    for widget in screen.query(Static):
        region = widget.content_region
        if not widget.display or region.height != 1 or region.width == 0:
            continue
        shown = widget.render()
        text = shown.plain if isinstance(shown, Text) else str(shown)
        if "\n" not in text and cell_len(text) > region.width:
            cuts.append(f"#{widget.id} ({region.width} cells): {text}")
    return cuts


def _hidden_buttons(screen, scrolled_ok: bool = True) -> list[str]:  # type: ignore[no-untyped-def]
    """Every displayed button that is not wholly on the screen, or whose label is wider than the button: the
    user cannot see (or click) it. At 80x24 a row of buttons in a narrow column ran past the right edge.
    A button below the fold of a container that scrolls vertically is reachable: only its columns count."""
    from rich.cells import cell_len
    from textual.errors import NoWidget
    from textual.widgets import Button

    hidden = []
    for button in screen.query(Button):
        if not button.display:
            continue
        try:
            shown = screen.find_widget(button)  # where the compositor put it, and what its containers let show
        except NoWidget:  # inside a container that is not displayed
            continue
        visible = shown.clip.intersection(screen.region)
        region = shown.region
        if scrolled_ok and any(getattr(a, "allow_vertical_scroll", False) for a in button.ancestors):
            region = region._replace(y=visible.y, height=min(region.height, visible.height))
        if visible.intersection(region) != region:
            hidden.append(f"#{button.id} at {tuple(shown.region)}, visible {tuple(visible)}")
        elif cell_len(button.label.plain) > button.content_region.width:
            hidden.append(f"#{button.id} ({button.content_region.width} cells): {button.label.plain}")
    return hidden


async def _until(pilot, cond, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(timeout / 0.05)):
        if cond():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out on {pilot.app.screen!r}")


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("mode", MODES)
def test_screen(mode: str, size: str, snap_compare, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
                tmp_path) -> None:
    # The drivers screen prints this path as given: relative to the repo, so the picture does not
    # depend on where the checkout lives (it did: the snapshots held one helper's worktree path).
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("GPUMIGRATE_DRIVERS_FROM", str((FIXTURES / "drivers" / "gce-v100-cu130-wheel").relative_to(REPO)))
    if mode in ("welcome", "new"):
        app = GpuMigrateApp()
    elif mode in ("form", "diff"):
        profile = tmp_path / REFERENCE.name  # a save must never be one key away from the repo's file
        shutil.copy(REFERENCE, profile)
        app = GpuMigrateApp(profile_path=profile, start_mode="cost")
    elif mode in ("entries", "entry"):  # the demo has two [[cost.options]]; the cost form opened over the
        profile = tmp_path / "demo.toml"  # Profile view, whose picture does not depend on timing (the charts' does)
        shutil.copy(REPO / "profiles" / "demo.toml", profile)
        monkeypatch.chdir(tmp_path)  # the view shows the file's path relative to here: "demo.toml"
        app = GpuMigrateApp(profile_path=profile, start_mode="profile")
    else:
        app = GpuMigrateApp(profile_path=REFERENCE, start_mode=mode)

    cuts: list[str] = []

    async def settle(pilot) -> None:  # type: ignore[no-untyped-def]
        if mode == "drivers":
            for _ in range(200):
                if "checking" not in str(app.screen.query_one("#drivers-summary").render()):
                    break
                await pilot.pause(0.05)
        if mode in ("form", "diff"):
            app.screen.set_focus(None)
            await pilot.press("e")
            await _until(pilot, lambda: bool(app.screen.query("#f-target-pricing")))
        if mode in ("entries", "entry"):
            from tui.screens.edit import edit_step

            edit_step(app, "cost")
            await _until(pilot, lambda: bool(app.screen.query("#f-cost-options-edit")))
            app.screen.query_one("#f-cost-options-edit").focus()
            # the form below scrolls to the focused field before the list opens over it: rows of the form show
            # beside the dialog, and a scroll still under way made the picture differ from run to run
            await settled(pilot)
            await pilot.press("enter")
            await _until(pilot, lambda: bool(app.screen.query("#entries")) and app.screen.query_one("#entries").option_count == 2)
        if mode == "entry":
            await pilot.press("down", "e")
            await _until(pilot, lambda: bool(app.screen.query("#f-cost-options-1-name")))
        if mode == "diff":
            app.screen.query_one("#f-target-pricing").value = "spot"
            await pilot.press("ctrl+s")
            await _until(pilot, lambda: bool(app.screen.query("#diff-text")))
        if mode == "new":
            await pilot.press("n")
            await _until(pilot, lambda: bool(app.screen.query("#new-file")))
        await app.workers.wait_for_complete()  # what the screen computes in the background is drawn
        await settled(pilot)
        app.screen.set_focus(None)  # no cursor: the same picture every time
        await settled(pilot)  # the footer recomposes for the new bindings before the checks read it
        cuts.extend(_cut_lines(app.screen))
        cuts.extend(_hidden_buttons(app.screen))
        if app.screen.query("Footer"):  # every screen and dialog: its keys whole in its footer
            cuts.extend(footer_misses(app.screen))

    assert snap_compare(app, terminal_size=SIZES[size], run_before=settle)
    assert cuts == []


async def test_dialogs_fit_80x24() -> None:
    """The dialogs no snapshot opens, at 80x24 with their longest contents: every button on the screen without
    scrolling. A profile with 40 problems pushed the error dialog's Close (and the problems past the 12th) off
    the bottom, with no way to scroll to them."""
    from tui.pairing import ControlRequestDialog, OfferDialog
    from tui.widgets.dialogs import ConfirmDialog, ErrorDialog, PromptDialog

    problems = "\n".join(f"bad.toml:{n}: transfer[{n}].dst: a long explanation of what is wrong with this field"
                         for n in range(1, 41))
    app = GpuMigrateApp()
    async with app.run_test(size=SIZES["80x24"]) as pilot:
        for dialog in (ErrorDialog("40 problems in bad.toml", problems), PromptDialog("Open profile:", "x" * 100),
                       ConfirmDialog("Approve? " + "word " * 60), ControlRequestDialog("alice@" + "h" * 40, 12),
                       OfferDialog("bob", 3)):
            await app.push_screen(dialog)
            await pilot.pause()
            assert _hidden_buttons(app.screen, scrolled_ok=False) == [], type(dialog).__name__
            if isinstance(dialog, ErrorDialog):  # the last problem scrolls into view above Close
                dialog.query_one("VerticalScroll").scroll_end(animate=False)
                await pilot.pause()
                body, close = dialog.query_one("#body"), dialog.query_one("#close-row")
                assert body.region.bottom <= close.region.y and body.region.bottom > 0
            app.pop_screen()
            await pilot.pause()
