"""Ctrl-C says what it leaves, per command: "run the same command again to resume" only where that is true.

Every command printed "interrupted; run the same command again to resume", `verify` and `inventory` included, which
have nothing to resume; `verify` without --session also said "recorded as interrupted; a resume runs it again"
where nothing recorded it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from engine import runner
from engine.errors import ExitCode
from engine.profile import Profile, SourceSection
from tests.conftest import REPO
from tests.unit.test_runner import steps  # noqa: F401 - the fixture
from tui.cli import parse_args
from tui.interrupted import interrupted_words


@pytest.mark.parametrize("argv", [["validate", "p.toml"], ["inventory", "-p", "p.toml"], ["cost", "p.toml"],
                                  ["drivers", "p.toml"], ["catalog", "show"], ["session", "show", "s"],
                                  ["ops", "p.toml"], ["verify", "p.toml"]])
def test_a_command_with_nothing_to_resume_does_not_promise_a_resume(argv) -> None:
    said = interrupted_words(parse_args(argv))
    assert "resume" not in said, said
    assert ("no verdict" if argv[0] == "verify" else "nothing was changed or saved") in said, said


@pytest.mark.parametrize("argv,words", [
    (["transfer", "-r", "a", "b"], "run the same command again to resume"),
    (["ops", "p.toml", "--reverse-sync"], "run the same command again to resume"),
    (["drivers", "p.toml", "--out", "d"], "the files in d may be cut short, missing or from an earlier run"),
    (["init", "m.toml"], "m.toml is as it was (it is written whole or not at all)"),
    (["session", "tick", "s", "1"], "`gpumigrate session show s` says whether it was recorded"),
    (["verify", "p.toml", "--junit", "j.xml", "--session", "s"], "j.xml may be missing or from an earlier run"),
    ([], "the app stopped: a step it ran without a session stopped with it"),
])
def test_what_the_others_leave(argv, words) -> None:
    assert words in interrupted_words(parse_args(argv))


def test_a_step_interrupted_without_a_session_is_not_said_to_be_recorded(steps) -> None:  # noqa: F811
    steps(a="cancels_itself")
    seen = []
    summary = runner.run_steps(Profile(source=SourceSection(provider="aws")), emit=seen.append, session=None)
    assert summary.exit_code == ExitCode.INTERRUPTED
    said = summary.results["a"].summary
    assert "recorded" not in said and "resume" not in said and "cancelled before it finished" in said, said


def test_ctrl_c_in_a_report_says_nothing_was_changed(tmp_path) -> None:
    """A real SIGINT while `cost` waits for its profile (a FIFO nobody writes yet): the line the CLI prints."""
    fifo = tmp_path / "p.toml"
    os.mkfifo(fifo)
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "cost", str(fifo)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # until it blocks opening the FIFO
        try:
            if open(f"/proc/{proc.pid}/wchan").read() in ("wait_for_partner", "fifo_open"):
                break
        except OSError:
            pass
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == int(ExitCode.INTERRUPTED), err
    assert "gpumigrate: interrupted; it only reads, so nothing was changed or saved" in err, err
    assert "resume" not in err and "Traceback" not in err, err


def test_verify_interrupted_without_a_session_says_nothing_was_recorded(steps, tmp_path, capsys) -> None:  # noqa: F811
    from tui.cli import main

    steps(verify="cancels_itself")
    profile = tmp_path / "p.toml"
    profile.write_text('schema_version = 1\n[source]\nprovider = "aws"\n')
    assert main(["verify", str(profile)]) == int(ExitCode.INTERRUPTED)
    out = capsys.readouterr()
    said = " ".join((out.out + out.err).split())
    assert "gpumigrate: verify was interrupted: no verdict; nothing was recorded (no --session)" in said, said
    assert "recorded as interrupted" not in said and "resume" not in said, said


@pytest.mark.parametrize("argv,words", [
    (["transfer", "-r", "-n", "a", "b"], "a dry run: nothing was copied or deleted"),
    (["transfer", "-r", "--verify-only", "a", "b"], "--verify-only copies nothing"),
    (["transfer", "-r", "--verify-only", "--manifest", "m.jsonl", "a", "b"], "m.jsonl may be cut short"),
    (["transfer", "--cleanup", "s3://b/p", "--remove"], "some of the uploads it listed may be removed already"),
    (["transfer", "--cleanup", "s3://b/p"], "it only reads, so nothing was changed or saved"),
])
def test_a_transfer_that_copies_nothing_does_not_speak_of_what_was_copied(argv, words) -> None:
    """The transfer modes that copy nothing (-n, --verify-only, --cleanup) were told "what was copied is kept and
    skipped" on a second Ctrl-C."""
    said = interrupted_words(parse_args(argv))
    assert words in said and "what was copied" not in said, said
