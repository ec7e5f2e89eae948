"""The guided walk in a real terminal at 80x24 under tmux: welcome, New profile, a form, save, replay.

tmux gives the app a pseudo-terminal of exactly 80 columns and 24 rows, as a default SSH client
would; keys go in with ``send-keys`` and the screen comes back with ``capture-pane``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from engine.profile import load_profile
from tests.conftest import REPO

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(shutil.which("tmux") is None,
                       reason="tmux is not installed (make tmux); it drives the real terminal app"),
]


class Term:
    def __init__(self, socket: str) -> None:
        self.socket = socket

    def tmux(self, *args: str, check: bool = True) -> str:
        proc = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=20)
        if check and proc.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args)}: {proc.stderr}")
        return proc.stdout

    def start(self, cwd: Path, argv: list[str]) -> None:
        env = {"GPUMIGRATE_STATE_DIR": os.environ["GPUMIGRATE_STATE_DIR"], "PYTHONPATH": str(REPO),
               "TERM": "xterm-256color", "COLUMNS": "80", "LINES": "24"}
        command = "exec env " + " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()) + " " + shlex.join(argv)
        self.tmux("new-session", "-d", "-s", "walk", "-x", "80", "-y", "24", "-c", str(cwd), command)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "walk", check=False)

    def wait(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while True:
            shown = self.screen()
            if text in shown:
                return shown
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never appeared; the screen was:\n{shown}")
            time.sleep(0.1)

    def keys(self, *keys: str) -> None:
        """One send-keys per key or word, with a pause: a burst can arrive in one read."""
        for key in keys:
            self.tmux("send-keys", "-t", "walk", *(["-l", key] if len(key) > 1 and key[0].islower() else [key]))
            time.sleep(0.5 if key in ("Tab", "Enter", "Down") else 0.2)  # focus moves take a moment


@pytest.fixture()
def term() -> Iterator[Term]:
    t = Term(f"gm-walk-{os.getpid()}-{time.monotonic_ns()}")
    yield t
    t.tmux("kill-server", check=False)


def test_new_profile_a_form_and_a_replay_at_80x24(term: Term, tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    for i in range(3):
        (tmp_path / "data" / f"f{i}.bin").write_bytes(bytes([i]) * 64)
    term.start(tmp_path, [sys.executable, "-m", "tui.cli"])
    shown = term.wait("New profile")
    assert "Open…" in shown and "1 Inv" in shown and "7 Run" in shown  # the whole step bar fits
    term.keys("n")
    term.wait("Profile file to write")
    term.keys("Enter")  # migration.toml
    term.keys("data", "Enter", "out", "Enter", "Enter")
    shown = term.wait("Left to decide:", timeout=60)
    assert "1 Inventory" in shown
    profile_path = tmp_path / "migration.toml"
    assert [(t.src, t.dst) for t in load_profile(profile_path).transfer] == [("data", "out/data")]

    term.keys("2")
    term.wait("source.hourly_usd")  # the cost hint names what is missing
    term.keys("e")
    term.wait("Cost: choices")
    term.keys("Enter")  # open target.pricing
    term.keys("Down", "Down", "Enter")  # unset (default: on-demand) -> on-demand -> spot
    term.keys("Tab", "Tab", "3.06", "Tab", "8", "Tab", "Tab", "1.5")  # source $/h, hours, speed-up
    term.keys("C-s")
    term.wait("save these changes?")
    time.sleep(0.5)
    shown = term.screen()
    assert "+hourly_usd = 3.06" in shown and "Save (y)" in shown
    term.keys("y")
    term.wait("Saved migration.toml")
    saved = load_profile(profile_path)
    assert saved.source.hourly_usd == 3.06, profile_path.read_text()
    assert (saved.target.pricing, saved.source.hourly_usd, saved.workload.source_hours_per_run,
            saved.workload.speedup) == ("spot", 3.06, 8.0, 1.5)
    term.keys("C-q")

    replay = subprocess.run([sys.executable, "-m", "tui.cli", "replay", str(profile_path), "--dry-run"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert not (tmp_path / "out").exists()
