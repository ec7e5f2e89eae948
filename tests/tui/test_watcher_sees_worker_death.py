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


COPYING = """
import sys, time
from engine.events import Message, Progress, StepStarted
from engine.session import SessionStore
s = SessionStore.open(sys.argv[1])
ttl = float(sys.argv[2])
s.acquire_lease("holder-x", ttl)  # the worker drives: the app is a watcher's
run = s.begin_run("holder-x", ["transfer"], ttl, detached=True)
s.set_step("transfer", "running")
s.record(StepStarted("transfer", description="transfer"))
s.record(Message("transfer", text="[[transfer]] #1 src -> dst"))
extra = {"files_done": 3, "files_total": 30, "bytes_done": 3 << 16, "bytes_total": 30 << 16, "listing_done": True,
         "in_flight": 1, "copied": 3, "skipped": 0, "deleted": 0, "failed": 0, "verified": 3, "paused": False}
s.record(Progress("transfer", done=3 << 16, total=30 << 16, unit="B", rate=131072.0, eta_s=13.0, label="bytes",
                  extra=extra))
s.record(Progress("transfer", done=3, total=30, unit="files", label="files", extra=extra))
s.flush_events()
print("running", run, flush=True)
while True:
    s.run_heartbeat(run)
    s.heartbeat("holder-x")
    time.sleep(min(1.0, ttl / 4))
"""


@pytest.mark.parametrize("how", ["killed", "stopped"])
async def test_a_watchers_transfer_view_says_the_copy_stopped_not_copying(tmp_path: Path, how: str) -> None:
    """The step bar said ! (or ?), but the Transfer view a watcher looks at went on saying "Copying entry 1 of 1",
    "running…" and "rate 128.0 KiB/s · ETA 13s" after the worker was killed (review s8), or stopped."""
    from tests.tui.screen_checks import visible_lines

    profile = write_profile(tmp_path, files=1, bwlimit=None, ttl_s=30)
    name = f"view-{how}"
    shared_session(name)
    proc = subprocess.Popen([sys.executable, "-c", COPYING, name, "0.8"], cwd=REPO, env=env_for("alice"),
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().startswith("running")
        app = GpuMigrateApp(profile_path=profile, session_name=name, operator="bob", start_mode="transfer")
        async with app.run_test(size=(140, 45)) as pilot:
            await _until(pilot, lambda: any("ETA 13s" in line for line in visible_lines(app)), timeout=10)
            assert any("Copying entry 1 of 1" in line for line in visible_lines(app)) and app.role == "watching"
            if how == "killed":
                kill9(proc.pid)
                proc.wait(10)
            else:
                os.kill(proc.pid, signal.SIGSTOP)
            word = "died" if how == "killed" else "not responding"
            await _until(pilot, lambda: any(word in line for line in visible_lines(app)), timeout=8)
            await pilot.pause(0.3)
            text = "\n".join(visible_lines(app))
            assert "ETA 13s" not in text and "in flight 1" not in text and "throughput now —" in text, text
            if how == "killed":
                assert "Copying entry" not in text and "running…" not in text and "copying" not in text, text
                assert "interrupted" in text, text
            else:
                os.kill(proc.pid, signal.SIGCONT)
                await _until(pilot, lambda: not any(word in line for line in visible_lines(app)), timeout=8)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)
        kill9(proc.pid)
        proc.wait(10)


CHECKING = """
import sys, time
from engine.events import Progress, StepStarted
from engine.session import SessionStore
s = SessionStore.open(sys.argv[1])
s.acquire_lease("holder-x", 30)
run = s.begin_run("holder-x", ["verify"], 0.8, detached=True)
s.set_step("verify", "running")
s.record(StepStarted("verify", description="verify"))
s.record(Progress("verify", done=0, total=7, unit="checks", label="checks", extra={"check": "gpu_health"}))
s.flush_events()
print("running", run, flush=True)
while True:
    s.run_heartbeat(run)
    s.heartbeat("holder-x")
    time.sleep(0.2)
"""


async def test_a_watchers_verify_view_says_the_checks_stopped_when_the_worker_dies(tmp_path: Path) -> None:
    """The Verify view kept "Running the checks…" and its check "… running" after the worker was killed (and
    while it was stopped)."""
    from tests.tui.screen_checks import visible_lines

    profile = write_profile(tmp_path, files=1, bwlimit=None, ttl_s=30)
    shared_session("verify-killed")
    proc = subprocess.Popen([sys.executable, "-c", CHECKING, "verify-killed"], cwd=REPO, env=env_for("alice"),
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().startswith("running")
        app = GpuMigrateApp(profile_path=profile, session_name="verify-killed", operator="bob", start_mode="verify")
        async with app.run_test(size=(140, 45)) as pilot:
            await _until(pilot, lambda: any("… running" in line for line in visible_lines(app)), timeout=10)
            os.kill(proc.pid, signal.SIGSTOP)  # first stopped: the view says so, not "Running the checks…"
            await _until(pilot, lambda: any("Not responding: not responding since" in line
                                            for line in visible_lines(app)), timeout=8)
            os.kill(proc.pid, signal.SIGCONT)
            await _until(pilot, lambda: any("Running the checks" in line for line in visible_lines(app)), timeout=8)
            kill9(proc.pid)
            proc.wait(10)
            await _until(pilot, lambda: any("died" in line for line in visible_lines(app)), timeout=8)
            await pilot.pause(0.3)
            text = "\n".join(visible_lines(app))
            assert "Verification stopped: interrupted: its worker" in text and "… running" not in text, text
            assert "Running the checks" not in text, text
    finally:
        kill9(proc.pid)
        proc.wait(10)
