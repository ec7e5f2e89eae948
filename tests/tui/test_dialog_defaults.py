"""Enter on a freshly opened yes/no dialog never does the dangerous thing.

Each dialog whose Yes deletes, overwrites (saves over the file), cancels a run, approves or hands the
driver's seat over opens with the focus on the safe answer, so an Enter typed a moment too late (the
key meant for the screen underneath) answers No.  The audit test fails when a new yes/no dialog
appears in tui/ without being checked here.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest
from textual.screen import ModalScreen
from textual.widgets import Button

import tui
from tui.app import GpuMigrateApp
from tui.pairing import ControlRequestDialog, OfferDialog
from tui.screens.edit import SaveDiffDialog
from tui.widgets.dialogs import ConfirmDialog

SAFE_FOCUS = {
    ConfirmDialog: (lambda: ConfirmDialog("Cancel the transfer? Objects already copied stay."), "no"),
    SaveDiffDialog: (lambda: SaveDiffDialog("transfer entry 1 removed", "-[[transfer]]\n-src = 'a'\n" * 30),
                     "diff-no"),
    ControlRequestDialog: (lambda: ControlRequestDialog("alice", 3), "decline"),
    OfferDialog: (lambda: OfferDialog("bob", 4), "decline"),
}


def _yes_no_dialogs() -> set[type]:
    """Every ModalScreen[bool] defined in tui/ (a yes/no question)."""
    found: set[type] = set()
    for info in pkgutil.walk_packages(tui.__path__, "tui."):
        try:
            module = importlib.import_module(info.name)
        except ImportError:
            continue
        for _name, cls in inspect.getmembers(module, inspect.isclass):
            if not issubclass(cls, ModalScreen) or cls.__module__ != module.__name__:
                continue
            args = [getattr(base, "__args__", ()) for base in getattr(cls, "__orig_bases__", ())]
            if any(bool in a or "bool" in a for a in args):
                found.add(cls)
    return found


def test_every_yes_no_dialog_is_checked() -> None:
    assert _yes_no_dialogs() == set(SAFE_FOCUS)


@pytest.mark.parametrize("cls", list(SAFE_FOCUS), ids=lambda c: c.__name__)
async def test_enter_on_open_answers_no(cls: type) -> None:
    make, safe_id = SAFE_FOCUS[cls]
    answers: list[object] = []
    app = GpuMigrateApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await app.push_screen(make(), answers.append)
        await pilot.pause()
        focused = app.focused
        assert isinstance(focused, Button) and focused.id == safe_id, focused
        await pilot.press("enter")
        await pilot.pause()
    assert answers == [False]


async def test_save_diff_scrolls_with_the_focus_on_dont_save() -> None:
    """The focus sits on Don't save, yet the arrows still read a long diff."""
    app = GpuMigrateApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await app.push_screen(SaveDiffDialog("many lines", "".join(f"+line {n}\n" for n in range(80))))
        await pilot.pause()
        await pilot.press("down", "down", "pagedown")
        await pilot.pause()
        assert app.screen.query_one("#diff-scroll").scroll_y > 2
        assert app.focused is not None and app.focused.id == "diff-no"


async def test_hand_over_needs_a_choice_before_enter() -> None:
    """Enter as the list appeared offered the seat to whoever was listed first; now a person is chosen first."""
    from tui.pairing import HandOverDialog

    answers: list[object] = []
    app = GpuMigrateApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await app.push_screen(HandOverDialog([("h1", "alice (tui)"), ("h2", "bob (tui)")]), answers.append)
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert answers == [] and isinstance(app.screen, HandOverDialog)
        await pilot.press("down", "down", "enter")
        await pilot.pause()
    assert answers == ["h2"]
