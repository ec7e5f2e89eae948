"""A link planted in the state folder right after gpumigrate's check (the check-then-open window):
nothing is written through it, and the user gets one line and exit 2, never an OSError traceback.
The check itself (``refuse_link``) says the same words; the open (``no_follow``) is what holds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.cutover import status
from engine.errors import ExitCode
from engine.session import SessionStore, logs_dir, private_file
from engine.session.paths import LinkRefused, no_follow
from tui.cli import main


def _victim(tmp_path: Path) -> Path:
    victim = tmp_path / "bashrc"
    victim.write_text("mine\n")
    return victim


def test_a_link_planted_after_the_check_is_refused_by_the_open(tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    log = private_file(logs_dir() / "s.log")  # the check passes: a plain file
    log.unlink()
    log.symlink_to(victim)  # ...and the link arrives before the open
    with pytest.raises(LinkRefused, match="is a symbolic link") as refused:
        open(log, "ab", opener=no_follow)
    assert refused.value.exit_code == ExitCode.BAD_INPUT and "\n" not in str(refused.value)
    assert victim.read_text() == "mine\n"


def test_a_folder_swapped_for_a_link_is_refused_too(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    folder = logs_dir()
    folder.mkdir(parents=True, exist_ok=True)
    folder.rmdir()
    folder.symlink_to(elsewhere)  # logs/ -> a folder of someone's choosing
    with pytest.raises(LinkRefused, match=f"{folder} is a symbolic link"):
        open(folder / "s.log", "ab", opener=no_follow)
    assert list(elsewhere.iterdir()) == []


def test_the_cli_says_one_line_and_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    victim = _victim(tmp_path)
    SessionStore.open("race").close()
    out = logs_dir().parent / "exports"
    real = status.private_file

    def check_then_plant(path: Path, make_dir: bool = True) -> Path:
        made = real(path, make_dir)  # gpumigrate's check passes here...
        os.unlink(made)
        os.symlink(victim, made)  # ...and another login plants the link in the window
        return made

    monkeypatch.setattr(status, "private_file", check_then_plant)
    code = main(["session", "export", "race", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "is a symbolic link" in err and "Traceback" not in err and err.count("\n") == 1, err
    assert victim.read_text() == "mine\n"


def test_a_session_file_that_is_no_database_is_one_line_not_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    """What SQLite opens when a link to another file was planted in the window after the check (or a
    file that is simply not a session): it refused to read it, with a traceback."""
    from engine.session import sessions_dir

    sessions_dir().mkdir(parents=True, exist_ok=True)
    junk = sessions_dir() / "junk.sqlite"
    junk.write_text("not a database at all\n")
    assert main(["session", "show", "junk"]) == 2
    err = capsys.readouterr().err
    assert "is not a gpumigrate session file" in err and "Traceback" not in err and err.count("\n") == 1, err
    assert junk.read_text() == "not a database at all\n"


def test_a_link_planted_between_the_check_and_sqlites_open_is_refused_before_any_write(tmp_path: Path) -> None:
    """SQLite follows a link to the main file: an empty file of the owner's became a session file."""
    from engine.session import sessions_dir

    victim = tmp_path / "empty-but-mine"
    victim.write_bytes(b"")
    sessions_dir().mkdir(parents=True, exist_ok=True)
    path = sessions_dir() / "planted.sqlite"
    path.symlink_to(victim)  # planted after SessionStore.open's check: the store is built on the path as is
    with pytest.raises(LinkRefused, match="was a symbolic link while gpumigrate opened it|is a symbolic link"):
        SessionStore(path)
    assert victim.read_bytes() == b""
