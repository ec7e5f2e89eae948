"""The app shell with Pilot: modes, palette, profile view save, bad profiles in a dialog."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.profile import load_profile
from tests.conftest import FIXTURES, REPO
from tui.app import GpuMigrateApp
from tui.screens.profile import ProfileScreen
from tui.widgets.dialogs import ErrorDialog


@pytest.fixture()
def demo_copy(tmp_path: Path) -> Path:
    path = tmp_path / "demo.toml"
    shutil.copy(REPO / "profiles" / "demo.toml", path)
    return path


async def test_modes_switch_by_key_and_palette(demo_copy: Path) -> None:
    app = GpuMigrateApp(profile_path=demo_copy, start_mode="profile")
    async with app.run_test(size=(120, 40)) as pilot:
        assert isinstance(app.screen, ProfileScreen)
        assert "demo.toml" in app.sub_title
        app.set_focus(None)
        await pilot.press("2")
        await pilot.pause()
        assert app.current_mode == "cost"
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Go to Profile")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert app.current_mode == "profile"


async def test_profile_view_saves_valid_toml_and_refuses_invalid(demo_copy: Path) -> None:
    app = GpuMigrateApp(profile_path=demo_copy, start_mode="profile")
    async with app.run_test(size=(120, 40)) as pilot:
        editor = app.screen.query_one("#profile-editor")
        editor.load_text(editor.text.replace('pricing = "spot"', 'pricing = "on-demand"', 1))
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert load_profile(demo_copy).target.pricing == "on-demand"
        before = demo_copy.read_text()
        editor.load_text(editor.text.replace('gpu_count = 1', 'gpu_count = "one"', 1))
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, ErrorDialog)
        assert demo_copy.read_text() == before  # nothing lost, nothing half-written
        await pilot.press("escape")
        assert isinstance(app.screen, ProfileScreen)


async def test_a_bad_profile_shows_its_problems_in_a_dialog_instead_of_crashing() -> None:
    bad = FIXTURES / "profiles" / "bad" / "04_out_of_range.toml"
    app = GpuMigrateApp(profile_path=bad, start_mode="profile")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, ErrorDialog)
        body = str(app.screen.query_one("#body").render())
        assert "target.gpu_count: must be >= 1" in body
        await pilot.press("escape")
        assert app.profile is None


async def test_open_profile_dialog_loads_another_file(demo_copy: Path) -> None:
    app = GpuMigrateApp(start_mode="profile")
    async with app.run_test(size=(120, 40)) as pilot:
        assert "no profile" in app.sub_title
        await pilot.press("ctrl+o")
        await pilot.pause()
        field = app.screen.query_one("#answer")
        field.value = str(demo_copy)
        await pilot.press("enter")
        await app.workers.wait_for_complete()  # read in a thread (a hung mount must not freeze the app)
        await pilot.pause()
        assert app.profile is not None and app.profile_path == demo_copy.resolve()
        assert "demo.toml" in app.sub_title


def test_profile_view_snapshot(snap_compare) -> None:
    app = GpuMigrateApp(profile_path=REPO / "profiles" / "aws-p3-to-gcp-a100.toml", start_mode="profile")
    assert snap_compare(app, terminal_size=(100, 36))


async def test_digit_keys_on_the_profile_view_switch_screens_and_type_nothing(demo_copy: Path) -> None:
    app = GpuMigrateApp(profile_path=demo_copy, start_mode="profile")
    async with app.run_test(size=(80, 24)) as pilot:
        editor = app.screen.query_one("#profile-editor")
        before = editor.text
        await pilot.press("7")
        await pilot.pause()
        assert editor.text == before and app.current_mode == "runbook"



class _PipeWatch:
    """A named pipe that a writer feeds only if the app waited on it for 20 s (so a failing test ends, and says
    the app had frozen, instead of hanging the run)."""

    def __init__(self, fifo: Path, text: str) -> None:
        import os
        import threading

        self.fifo, self.text, self.waited = fifo, text, False
        os.mkfifo(fifo)
        self._released = threading.Event()
        threading.Thread(target=self._feed, daemon=True).start()

    def _feed(self) -> None:
        while not self._released.wait(20):  # every read left waiting is fed (the app read it twice)
            self.waited = True
            with open(self.fifo, "w") as fh:
                fh.write(self.text)

    def close(self) -> None:
        import os

        self._released.set()
        try:  # unblock a reader left waiting (the failing case), never block here
            os.close(os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass


async def test_opening_a_pipe_does_not_freeze_the_app(demo_copy: Path, tmp_path: Path) -> None:
    """Open... on a FIFO (a named pipe nobody writes) blocked the UI thread in open(), then the Profile view read
    the pipe again for its text: the app never answered a key again, ctrl+q included. A pipe is refused at once."""
    pipe = _PipeWatch(tmp_path / "p.toml", demo_copy.read_text())
    app = GpuMigrateApp(start_mode="profile")
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("ctrl+o")
            await pilot.pause()
            app.screen.query_one("#answer").value = str(pipe.fifo)
            await pilot.press("enter")
            for _ in range(40):  # read in a thread: its answer comes as a message
                if isinstance(app.screen, ErrorDialog):
                    break
                await pilot.pause(0.05)
            assert not pipe.waited, "the app waited on the pipe"
            assert isinstance(app.screen, ErrorDialog)
            body = str(app.screen.query_one("#body").render())
            assert "p.toml: cannot read: a named pipe" in body, body
            assert app.profile is None
    finally:
        pipe.close()


async def test_a_profile_replaced_by_a_pipe_or_a_folder_is_looked_at_not_read(demo_copy: Path) -> None:
    """The app looks at its profile file every second on the UI thread: a pipe put in its place froze it, a
    folder raised IsADirectoryError out of the timer."""
    app = GpuMigrateApp(profile_path=demo_copy, start_mode="profile")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        demo_copy.unlink()
        demo_copy.mkdir()
        app.check_profile_on_disk()
        await pilot.pause()
        demo_copy.rmdir()
        pipe = _PipeWatch(demo_copy, "")
        try:
            app._disk_seen = None  # look again at once
            app.check_profile_on_disk()
            assert not pipe.waited, "the app waited on the pipe"
        finally:
            pipe.close()
