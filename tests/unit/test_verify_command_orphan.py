"""A check's command does not outlive the process running the check (a worker killed with kill -9).

It runs in its own process group (a timeout kills all of it), which once let it run on after its
worker died: the session said "interrupted" while the check still loaded the model, and a resume
started a second one beside it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.session import pid_alive
from tests.cutover_support import REPO

pytestmark = [pytest.mark.timeout(30),
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")]

RUNNER = """
import sys
from pathlib import Path
from engine.verify.commands import run_command
run_command([sys.executable, "-c", "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); "
             "time.sleep(60)", sys.argv[1]], cwd=Path("."), timeout_s=60)
"""


def _outlives_a_killed_runner(runner_code: str, tmp_path: Path) -> bool:
    """Start ``runner_code`` (it runs a check command that writes a pid to argv[1]), kill -9 the runner, and say
    whether that pid is still alive 5 s later."""
    mark = tmp_path / "pid"
    runner = subprocess.Popen([sys.executable, "-c", runner_code, str(mark)], cwd=REPO,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
    pid = 0
    try:
        deadline = time.monotonic() + 20
        while not (mark.exists() and mark.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.05)
        pid = int(mark.read_text())
        assert pid_alive(pid)
        time.sleep(0.3)  # the group's watcher is up (it starts right after the command)
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait(10)
        deadline = time.monotonic() + 5
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        return pid_alive(pid)
    finally:
        runner.kill()
        runner.wait(10)
        if pid and pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_a_check_command_dies_with_the_process_that_ran_it(tmp_path: Path) -> None:
    assert not _outlives_a_killed_runner(RUNNER, tmp_path), "the check's command outlived the killed process that ran it"


GRANDCHILD_RUNNER = """
import sys
from pathlib import Path
from engine.verify.commands import run_command
# a wrapper that starts the real work in the background and waits for it: torchrun's workers, a shell script's
# jobs, a DataLoader's processes; PR_SET_PDEATHSIG ends only the wrapper (the direct child)
run_command(["/bin/sh", "-c", "sleep 60 & echo $! > " + sys.argv[1] + "; wait"], cwd=Path("."), timeout_s=60)
"""


def test_what_a_check_command_started_dies_with_the_process_that_ran_it(tmp_path: Path) -> None:
    assert not _outlives_a_killed_runner(GRANDCHILD_RUNNER, tmp_path), \
        "a process the check's command started outlived the killed worker"


def test_a_command_that_ends_leaves_no_guard_behind_and_its_output_whole(tmp_path: Path) -> None:
    from engine.verify.commands import run_command

    before = _children()
    run = run_command([sys.executable, "-c", "print('ok')"], cwd=tmp_path, timeout_s=30)
    assert (run.returncode, run.stdout.strip()) == (0, "ok"), run
    assert _children() <= before  # the guard was told the command ended, and waited for


def _children() -> set[int]:
    """This process's child processes (from /proc: other fixtures may have started some of their own)."""
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid():
            out.add(int(stat.parent.name))
    return out
