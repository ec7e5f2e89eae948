"""The Textual private names the tests and the app read, proved on the installed Textual.

``settled()`` (tests/tui/screen_checks.py) reads the fields Textual's update loop reads, since Textual has no
public "the screen is final" signal; the footer checks and tui/widgets/fit_footer.py need ``FooterKey``, which
lives in ``textual.widgets._footer``.  pyproject pins ``textual>=8,<9``; these tests say, on an upgrade,
which assumption broke, where a renamed field would otherwise read as "nothing pending" and let every screen
check run on a half-drawn screen."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from tests.tui.screen_checks import PUMP_FLAGS, _pending, settled


class _Ping(Message):
    """Nobody handles it: it only has to wait in a queue."""


class _Tiny(App[None]):
    BINDINGS = [("x", "bell", "Ring")]

    def compose(self) -> ComposeResult:
        yield Static("one", id="one")
        yield Footer()


async def test_settled_sees_each_kind_of_pending_work_and_waits_it_out() -> None:
    app = _Tiny()
    async with app.run_test(size=(40, 6)) as pilot:
        await settled(pilot)
        assert _pending(app) == []
        one = app.query_one("#one", Static)
        for flag in PUMP_FLAGS:
            assert getattr(one, flag) is False, flag  # a widget at rest: each flag exists and is clear

        one.refresh(layout=True)
        assert any("_layout_required" in p for p in _pending(app))
        one.refresh(recompose=True)
        assert any("_recompose_required" in p for p in _pending(app))
        one.refresh()
        assert any("_repaint_required" in p for p in _pending(app))
        one.update("two")
        ran: list[bool] = []
        assert isinstance(app.screen._callbacks, list)  # where a callback waits for the refresh, once queued
        app.screen.call_after_refresh(lambda: ran.append(True))
        assert any("after-refresh callback" in p or "message(s)" in p for p in _pending(app))
        one.post_message(_Ping())
        assert any("message(s)" in p for p in _pending(app))
        with app.batch_update():
            assert "a batch update" in _pending(app)
            one.refresh(layout=True)
        await settled(pilot)
        assert _pending(app) == [] and ran == [True]
        assert str(one.render()) == "two"


async def test_the_footer_is_made_of_footer_keys() -> None:
    """tui/widgets/fit_footer.py composes FooterKey widgets and footer_misses() reads them."""
    from textual.widgets._footer import FooterKey

    app = _Tiny()
    async with app.run_test(size=(40, 6)) as pilot:
        await settled(pilot)
        keys = list(app.query_one(Footer).query(FooterKey))
        assert [k.action for k in keys if k.action == "bell"] == ["bell"]
        assert all(hasattr(k, "key") and hasattr(k, "description") for k in keys)


def test_a_renamed_field_fails_loudly_not_as_nothing_pending() -> None:
    import pytest

    from tests.tui.screen_checks import _private

    with pytest.raises(AssertionError, match="has no object._layout_required"):
        _private(object(), "_layout_required")


class _Modes(App[None]):
    MODES = {"a": lambda: _Plain("a"), "b": lambda: _Plain("b")}  # type: ignore[dict-item]


class _Plain(Screen[None]):
    def __init__(self, name: str) -> None:
        super().__init__(name=name)


async def test_every_modes_screens_are_in_screen_stacks_and_a_progress_bar_has_a_bar() -> None:
    """tui/pairing.py sends session events to the screens of every mode (``App._screen_stacks``: the public
    ``screen_stack`` is the current mode's only); tui/screens/transfer.py calms the ``Bar`` inside a
    ProgressBar (``textual.widgets._progress_bar``)."""
    from textual.widgets import ProgressBar
    from textual.widgets._progress_bar import Bar

    app = _Modes()
    async with app.run_test(size=(40, 6)) as pilot:
        await app.switch_mode("a")
        await app.switch_mode("b")
        await pilot.pause()
        names = {s.name for stack in app._screen_stacks.values() for s in stack}
        assert {"a", "b"} <= names and isinstance(app._screen_stacks, dict)
        await app.screen.mount(ProgressBar(total=None))
        await pilot.pause()
        [bar] = app.screen.query(ProgressBar).results()
        inner = list(bar.query(Bar))
        assert len(inner) == 1 and hasattr(inner[0], "auto_refresh")
