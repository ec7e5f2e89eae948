"""A run killed (kill -9) while only apps are attached: every attached app says so within seconds.

No terminal follows the run and nobody types a command: the apps alone must notice that its
process is gone (on this host that is known at once), show the step interrupted (never still
running) and no longer offer its request for approval.  The run is a real process holding the
session's run lease, the way a detached worker does, without the worker's start-up cost.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.session import SessionStore
from tests.cutover_support import REPO, env_for, kill9, shared_session, write_profile
from tui.app import GpuMigrateApp

pytestmark = pytest.mark.timeout(60)

RUN = """
import sys, time
from engine.session import SessionStore
s = SessionStore.open(sys.argv[1])
ttl = float(sys.argv[2]) if len(sys.argv) > 2 else 30.0
run = s.begin_run("holder-x", ["transfer"], ttl, detached=True)
s.set_step("transfer", "running")
s.append("transfer", "step_started", {"description": "transfer"})
s.request_approval("transfer-delete", "delete 1 object from gs://b", plan=["gs://b/old"])
print("running", run, flush=True)
while True:
    s.run_heartbeat(run)
    time.sleep(min(1.0, ttl / 4))
"""


async def _until(pilot, predicate, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.05)


async def test_an_attached_app_shows_a_killed_run_as_interrupted(tmp_path: Path) -> None:
    profile = write_profile(tmp_path, files=1, bwlimit=None, ttl_s=30)
    shared_session("killed")
    proc = subprocess.Popen([sys.executable, "-c", RUN, "killed"], cwd=REPO, env=env_for("alice"),
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().startswith("running")
        app = GpuMigrateApp(profile_path=profile, session_name="killed", operator="bob", start_mode="runbook")
        async with app.run_test(size=(140, 45)) as pilot:
            await _until(pilot, lambda: app.step_states().get("transfer") == "running", timeout=10)
            kill9(proc.pid)
            proc.wait(10)
            await _until(pilot, lambda: app.step_states().get("transfer") == "interrupted", timeout=5)
            await _until(pilot, lambda: any(e.kind == "run_died" for e in app.session_history.log), timeout=5)
        with SessionStore.open("killed", operator="carol") as carol:
            (request,) = carol.approvals()
            assert request.state == "withdrawn" and "died" in (request.reason or "")
    finally:
        kill9(proc.pid)
        proc.wait(10)


async def test_an_attached_app_shows_a_stopped_run_as_not_responding_not_running(tmp_path: Path) -> None:
    """kill -STOP: the process is there but sends no heartbeat. The app says so (? in the step bar, the
    event in its log), not ● running for ever; it goes back to running when the process is continued."""
    from tui.widgets.mode_bar import glyph

    profile = write_profile(tmp_path, files=1, bwlimit=None, ttl_s=30)
    shared_session("stopped")
    proc = subprocess.Popen([sys.executable, "-c", RUN, "stopped", "0.8"], cwd=REPO, env=env_for("alice"),
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().startswith("running")
        app = GpuMigrateApp(profile_path=profile, session_name="stopped", operator="bob", start_mode="runbook")
        async with app.run_test(size=(140, 45)) as pilot:
            await _until(pilot, lambda: app.step_states().get("transfer") == "running", timeout=10)
            os.kill(proc.pid, signal.SIGSTOP)
            await _until(pilot, lambda: app.step_states().get("transfer") == "not responding", timeout=5)
            assert glyph("not responding") == "?" and "transfer" not in app.running_steps()
            await _until(pilot, lambda: any(e.kind == "run_not_responding" for e in app.session_history.log),
                         timeout=5)
            os.kill(proc.pid, signal.SIGCONT)
            await _until(pilot, lambda: app.step_states().get("transfer") == "running", timeout=5)
    finally:
        os.kill(proc.pid, signal.SIGCONT)
        kill9(proc.pid)
        proc.wait(10)
