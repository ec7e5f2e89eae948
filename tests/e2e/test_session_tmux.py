"""The real terminal app under tmux: start a transfer, lose the terminal, attach again.

tmux runs the app in a pseudo-terminal exactly as an SSH login would; we type
with ``send-keys`` and read the screen with ``capture-pane``.  Each test uses
its own tmux server socket and kills only that server.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from engine.session import SessionStore
from tests.cutover_support import REPO, alive, cli, same_tree, shared_session, show, wait_for, worker_pid, write_profile

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(shutil.which("tmux") is None,
                       reason="tmux is not installed (apt-get install -y tmux); it drives the real terminal app"),
]


class Tmux:
    def __init__(self, socket: str) -> None:
        self.socket = socket

    def run(self, *args: str, check: bool = True) -> str:
        proc = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=20)
        if check and proc.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args)}: {proc.stderr}")
        return proc.stdout

    def start(self, name: str, argv: list[str], operator: str) -> int:
        env = {"GPUMIGRATE_STATE_DIR": os.environ["GPUMIGRATE_STATE_DIR"], "GPUMIGRATE_OPERATOR": operator,
               "PYTHONPATH": str(REPO), "TERM": "xterm-256color", "COLUMNS": "150", "LINES": "45"}
        command = "exec env " + " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()) + " " + \
                  " ".join(shlex.quote(a) for a in argv)
        self.run("new-session", "-d", "-s", name, "-x", "150", "-y", "45", "-c", str(REPO), command)
        return int(self.run("display-message", "-p", "-t", name, "#{pane_pid}").strip())

    def screen(self, name: str) -> str:
        return self.run("capture-pane", "-p", "-t", name, check=False)

    def wait_text(self, name: str, text: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while True:
            shown = self.screen(name)
            if text in shown:
                return shown
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never appeared; the screen was:\n{shown}")
            time.sleep(0.1)

    def keys(self, name: str, *keys: str) -> None:
        self.run("send-keys", "-t", name, *keys)


@pytest.fixture()
def tmux() -> Iterator[Tmux]:
    server = Tmux(f"gm-test-{os.getpid()}-{time.monotonic_ns()}")
    yield server
    server.run("kill-server", check=False)


APP = [sys.executable, "-m", "tui.cli"]


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGKILL], ids=["sighup", "kill-9"])
def test_tui_dies_during_a_transfer_and_the_worker_finishes(tmux: Tmux, tmp_path: Path, sig: int) -> None:
    profile = write_profile(tmp_path, files=24, bwlimit="512K", ttl_s=2, shared_account=True)
    shared_session("lost")
    pid = tmux.start("drive", [*APP, "--profile", str(profile), "--session", "lost"], operator="alice")
    tmux.wait_text("drive", "session lost · driving")
    # start the transfer from the app, through the command palette
    tmux.keys("drive", "C-p")
    tmux.wait_text("drive", "🔎")
    tmux.keys("drive", "Run Transfer step")
    tmux.wait_text("drive", "Run the transfer step")
    for _ in range(50):  # Enter picks the highlighted hit once the palette's search has settled
        time.sleep(0.3)
        if "🔎" not in tmux.screen("drive"):
            break
        tmux.keys("drive", "Enter")
    with SessionStore.open("lost", create=False) as store:
        run = wait_for(lambda: store.active_run() or (store.runs() or [None])[-1], timeout=45,
                       what=f"the app to start a worker; the screen:\n{tmux.screen('drive')}")
        wait_for(lambda: any(e.kind == "progress" and e.payload.get("label") == "files" and e.payload.get("done")
                             for e in store.events_after(0)), what="copying to start")
    assert run.detached and run.operator == "alice" and run.pid != pid
    os.kill(pid, sig)  # the terminal goes away (hang-up) or the app is killed outright
    wait_for(lambda: not alive(pid), timeout=10, what="the app to die")
    # Looked at in this process, not through `session show` (a CLI start-up of a second or more on a
    # loaded machine, in which this ~3 s transfer could end): the worker lives on, its step running.
    with SessionStore.open("lost", create=False) as store:
        record = store.step("transfer")
        assert alive(run.pid) and record is not None and record.state == "running", \
            "the transfer goes on without the app"
    wait_for(lambda: show("lost")["steps"]["transfer"]["state"] == "completed", timeout=60,
             what="the worker to finish the transfer")
    assert same_tree(tmp_path / "src", tmp_path / "dst")
    assert show("lost")["run"]["exit_code"] == 0


def test_real_terminal_app_attaches_to_a_running_session(tmux: Tmux, tmp_path: Path) -> None:
    profile = write_profile(tmp_path, files=16, bwlimit="256K", shared_account=True)
    shared_session("run1")
    worker = worker_pid(cli("replay", str(profile), "--steps", "transfer", "--session", "run1", "--detach",
                            operator="alice", check=True).stdout)
    # Held until the app is up: on a loaded machine the 4 s copy could end before the app drew its first frame.
    wait_for(lambda: "asked run" in cli("session", "pause", "run1", operator="alice").stdout, timeout=20,
             every=0.2, what="the worker's run to take a pause request")
    tmux.start("watch", [*APP, "attach", "run1"], operator="bob")
    shown = tmux.wait_text("watch", "watching — alice is driving")
    assert "session run1 · watching alice" in shown
    cli("session", "continue", "run1", operator="alice", check=True)
    tmux.keys("watch", "7")  # the Runbook view with the live audit log
    tmux.wait_text("watch", "Cutover checklist")
    tmux.wait_text("watch", "started: transfer")
    tmux.wait_text("watch", "finished: 1 transfer(s): copied 16 objects", timeout=60)
    wait_for(lambda: not alive(worker), timeout=20, what="the worker to exit")
    # the worker left the seat when it finished: the attached app notices and may take over
    tmux.keys("watch", "C-t")
    tmux.wait_text("watch", "session run1 · driving", timeout=20)
