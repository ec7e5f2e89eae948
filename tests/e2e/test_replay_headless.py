"""`gpumigrate replay` as a platform engineer runs it in a migration window: real processes, real signals.

Each test is a defect found by running it: a dry run in a session reported "the worker died" (exit 3), SIGTERM to a
terminal following a worker ended it without a word or a --json summary, `--steps ""` ran every step, and a state
folder that cannot be written gave a traceback (or "not shared with you" on a read-only mount).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.e2e.cli_support import gpumigrate
from tui.cli import main


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]  # raises on any broken line


def test_a_dry_run_in_a_session_reports_its_steps_and_exit_0() -> None:
    out = gpumigrate("replay", "profiles/demo.toml", "--session", "dry", "--dry-run", "--steps", "transfer,ops",
                     "--json")
    assert out.returncode == 0, out.stderr
    assert "died" not in out.stderr
    summary = _json_lines(out.stdout)[-1]
    assert summary["event"] == "summary" and summary["ok"] is True
    assert set(summary["steps"]) == {"transfer", "ops"}
    assert summary["steps"]["transfer"]["summary"].startswith("1 transfer(s): would copy")


def test_detach_with_json_says_so_in_json() -> None:
    out = gpumigrate("replay", "profiles/demo.toml", "--session", "detached", "--detach", "--steps", "ops", "--json",
                     "--dry-run")
    assert out.returncode == 0, out.stderr
    started = _json_lines(out.stdout)[-1]  # was a plain text line
    assert started["event"] == "started" and started["session"] == "detached" and started["steps"] == ["ops"]
    assert started["dry_run"] is True
    _end(started["worker_pid"])


def _end(worker: int) -> None:
    """End a session's worker the test started, so that the test leaves nothing behind."""
    try:
        os.kill(worker, signal.SIGKILL)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def test_steps_naming_no_step_is_refused_not_read_as_every_step(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(REPO / "profiles" / "demo.toml"), "--steps", "", "--dry-run"]) == 2
    out = capsys.readouterr()
    assert "names no step" in out.err and "▶" not in out.out


def test_a_state_folder_that_cannot_be_made_is_one_line_exit_4(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder\n")
    monkeypatch.setenv("GPUMIGRATE_STATE_DIR", str(blocker / "x"))
    assert main(["replay", str(REPO / "profiles" / "demo.toml"), "--steps", "ops"]) == 4  # was a NotADirectoryError traceback
    err = capsys.readouterr().err
    assert err.startswith("gpumigrate: cannot write gpumigrate's state at") and "GPUMIGRATE_STATE_DIR" in err


def test_sigterm_to_a_terminal_following_a_worker_detaches_and_ends_the_json() -> None:
    env = dict(os.environ, COLUMNS="120")
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "replay", "profiles/demo.toml", "--steps", "verify",
                             "--session", "term", "--json"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    lines = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if '"step_started"' in line:
                proc.send_signal(signal.SIGTERM)
                break
        rest, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    events = _json_lines("".join(lines) + rest)
    assert proc.returncode == 130, err
    summary = events[-1]
    assert summary["event"] == "summary" and summary["ok"] is False and summary["detached"] is True
    assert summary["exit_code"] == 130
    assert "goes on" in err and "Traceback" not in err
    os.kill(summary["worker_pid"], 0)  # it went on
    _end(summary["worker_pid"])


def test_a_replay_without_a_session_records_in_its_own_whatever_the_file_is_called(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The session a plain replay makes was replay-STEM-SECOND: two replays of one profile in the same second
    shared it (the second refused as busy, exit 4, or skipping what the first completed), and `my profile.toml`
    gave a session name the store refuses (exit 2)."""
    profile = tmp_path / "my profile+1.toml"
    profile.write_text((REPO / "profiles" / "demo.toml").read_text())
    assert main(["replay", str(profile), "--steps", "ops", "--json", "--dry-run"]) == 0
    summary = _json_lines(capsys.readouterr().out)[-1]
    assert summary["session"].startswith("replay-my-profile-1-") and summary["session"].endswith(f"-{os.getpid()}")


def test_a_replay_whose_output_is_closed_stops_as_interrupted_not_exit_0() -> None:
    """`replay --json | head -1`: the first write after the reader left raised BrokenPipeError out of the runner,
    the CLI mapped it to exit 0 ("every step passed") and the step stayed "running" in the session."""
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "replay", "profiles/demo.toml", "--steps", "inventory,ops",
                             "--session", "piped", "--foreground", "--json"], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    assert json.loads(proc.stdout.readline())["event"]
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 3, err
    assert "the output was closed" in err and "Traceback" not in err
    from engine.session import SessionStore

    with SessionStore.open("piped", create=False) as session:
        states = {name: record.state for name, record in session.steps().items()}
    assert "running" not in states.values(), states
    assert "interrupted" in states.values() or "ops" not in states, states  # stopped, never "all passed"


def test_a_replay_without_a_session_whose_output_is_closed_names_the_command_that_resumes() -> None:
    """Review s7: `replay P --json | head -1` without --session said "run the same command again to resume" and,
    two lines on, the command with its own session that resumes: the same command again makes a new session and
    redoes every completed step. Only the command that resumes is said."""
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "replay", "profiles/demo.toml", "--steps", "inventory,ops",
                             "--json"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    assert json.loads(proc.stdout.readline())["event"]
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 3, err
    assert "the output was closed" in err and "same command again" not in err, err
    assert "--session replay-demo-" in err and "resumes it" in err, err
