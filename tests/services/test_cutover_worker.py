"""The detached worker as a real process: own session, survives SIGHUP, dies, resumes, cancels."""

from __future__ import annotations

import os
import pwd
import signal
import stat
from pathlib import Path

import pytest

from engine.session import SessionStore, logs_dir, sessions_dir
from tests.cutover_support import alive, cli, kill9, same_tree, show, wait_for, worker_pid, write_profile

pytestmark = pytest.mark.timeout(90)


LOGIN = pwd.getpwuid(os.getuid()).pw_name


def _copied(name: str) -> int:
    """Files done so far, from the step's progress rows (the session counts objects, it does not list them)."""
    with SessionStore.open(name, create=False) as store:
        return max((int(e.payload.get("done", 0)) for e in store.events_after(0)
                    if e.kind == "progress" and e.payload.get("label") == "files"), default=0)


def _unthrottle(profile: Path) -> None:
    """Lift the profile's bandwidth limit (the kill tests throttle the first run so that the kill
    lands mid-transfer; the run after it need not crawl)."""
    text = profile.read_text()
    assert 'bwlimit = "128K"' in text
    profile.write_text(text.replace('bwlimit = "128K"', 'bwlimit = "64M"'))


def test_worker_runs_in_its_own_session_ignores_sighup_and_finishes(tmp_path: Path) -> None:
    profile = write_profile(tmp_path, files=12, bwlimit="256K")
    started = cli("replay", str(profile), "--steps", "transfer", "--session", "hup", "--detach",
                  operator="alice", check=True)
    pid = worker_pid(started.stdout)
    assert os.getsid(pid) == pid, "the worker leads its own session (a terminal hang-up does not reach it)"
    assert os.getpgid(pid) == pid
    wait_for(lambda: _copied("hup") >= 2, what="the transfer to start copying")
    os.kill(pid, signal.SIGHUP)  # what a dropped SSH connection would send
    wait_for(lambda: show("hup")["steps"].get("transfer", {}).get("state") == "completed", timeout=60,
             what="the transfer to finish after SIGHUP")
    assert same_tree(tmp_path / "src", tmp_path / "dst")
    info = show("hup")
    assert info["run"]["state"] == "finished" and info["run"]["exit_code"] == 0
    assert info["run"]["operator"] == LOGIN  # the OS's login: GPUMIGRATE_OPERATOR alone renames nobody
    with SessionStore.open("hup", create=False) as store:
        events = store.events_after(0)
    assert {e.operator for e in events} == {LOGIN}
    assert {e.who["uid"] for e in events} == {os.getuid()}  # type: ignore[index]
    assert pid in {e.who["pid"] for e in events}  # type: ignore[index]  # the worker's own rows say so
    # user-only files: the session folder, the session file, the log
    assert stat.S_IMODE(sessions_dir().stat().st_mode) == 0o700
    assert stat.S_IMODE((sessions_dir() / "hup.sqlite").stat().st_mode) == 0o600
    assert stat.S_IMODE((logs_dir() / "hup.log").stat().st_mode) == 0o600
    assert stat.S_IMODE(logs_dir().stat().st_mode) == 0o700
    log = (logs_dir() / "hup.log").read_text()
    assert "finished: 1 transfer(s)" in log and "worker done: exit 0" in log


def test_worker_killed_mid_transfer_shows_interrupted_then_resumes_from_the_journal(tmp_path: Path) -> None:
    # 24 x 64 KiB at 128 KiB/s: the first run needs ~12 s, far longer than the few seconds (even on
    # a loaded machine) between the first files landing and the kill, so the kill is mid-transfer.
    profile = write_profile(tmp_path, files=24, bwlimit="128K", ttl_s=30)  # a long lease: death is not expiry
    pid = worker_pid(cli("replay", str(profile), "--steps", "transfer", "--session", "crash", "--detach",
                         check=True).stdout)
    wait_for(lambda: _copied("crash") >= 2, what="a few files copied")
    assert show("crash")["driving"].startswith(f"{LOGIN} (pid {pid} on ")  # the worker holds the free seat
    kill9(pid)
    wait_for(lambda: not alive(pid), what="the worker to die")
    # At once (the lease has 30 s left), anyone who looks sees the step interrupted and nobody driving.
    info = show("crash")
    assert info["steps"]["transfer"]["state"] == "interrupted"
    assert info["run"]["state"] == "dead"
    assert info["driver"]["live"] is False and info["driver"]["expired"] is False
    driving = info["driving"]
    assert driving.startswith(f"nobody; worker pid {pid} on "), driving
    assert "died (its process is gone), noticed 20" in driving and "+00:00" in driving
    assert "resume transfer with `gpumigrate session resume crash`" in driving
    assert "take the seat with `gpumigrate session attach crash`" in driving
    text = cli("session", "show", "crash", check=True).stdout
    assert f"driving: nobody; worker pid {pid}" in text and f"driving: {LOGIN} (pid {pid}" not in text
    listed = cli("session", "list", check=True).stdout
    assert "driver nobody" in listed
    with SessionStore.open("crash", create=False) as store:
        kinds = [e.kind for e in store.events_after(0)]
    assert "run_died" in kinds and "step_interrupted" in kinds
    copied_before = _copied("crash")
    assert 2 <= copied_before < 24

    _unthrottle(profile)  # the resume reads the profile again; the journal, not the limit, makes it a resume
    resumed = cli("session", "resume", "crash", check=True)
    pid2 = worker_pid(resumed.stdout)
    wait_for(lambda: show("crash")["steps"]["transfer"]["state"] == "completed", timeout=60,
             what="the resumed transfer to finish")
    wait_for(lambda: not alive(pid2), what="the resumed worker to exit")
    assert same_tree(tmp_path / "src", tmp_path / "dst")
    with SessionStore.open("crash", create=False) as store:
        record = store.step("transfer")
        assert record is not None and record.attempt == 2
        data = record.result["data"]  # type: ignore[index]
    # the journal made it a resume: the second attempt did not copy everything again
    assert data["copied"] < 24
    assert data["copied"] + data["skipped"] == 24


def test_cancel_from_another_process_interrupts_and_second_runner_is_refused(tmp_path: Path) -> None:
    profile = write_profile(tmp_path, files=24, bwlimit="128K", ttl_s=2)
    pid = worker_pid(cli("replay", str(profile), "--steps", "transfer", "--session", "stop", "--detach",
                         check=True).stdout)
    wait_for(lambda: _copied("stop") >= 1, what="copying to start")
    busy = cli("replay", str(profile), "--steps", "transfer", "--session", "stop")
    assert busy.returncode == 4 and "is busy" in busy.stderr and f"pid {pid}" in busy.stderr
    cancelled = cli("session", "cancel", "stop", operator="bob")
    assert cancelled.returncode == 0, cancelled.stderr
    wait_for(lambda: not alive(pid), timeout=30, what="the worker to stop")
    info = show("stop")
    assert info["steps"]["transfer"]["state"] == "interrupted"
    assert info["run"]["exit_code"] == 3
    with SessionStore.open("stop", create=False) as store:
        cancel = [e for e in store.events_after(0) if e.kind == "cancel_requested"]
    assert cancel and cancel[0].operator == LOGIN and cancel[0].who["pid"] != pid  # type: ignore[index]


def test_a_following_terminal_exits_3_at_once_when_its_worker_is_killed_then_resume_completes(tmp_path: Path) -> None:
    import subprocess
    import sys
    import time

    from tests.cutover_support import REPO, env_for

    profile = write_profile(tmp_path, files=24, bwlimit="128K", ttl_s=30)  # ~12 s: killed well before the end
    follower = subprocess.Popen([sys.executable, "-m", "tui.cli", "replay", str(profile), "--steps", "transfer",
                                 "--session", "follow"], cwd=REPO, env=env_for(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        with SessionStore.open("follow") as store:
            run = wait_for(lambda: store.active_run(), what="the worker to register")
        wait_for(lambda: _copied("follow") >= 2, what="copying to start")
        kill9(run.pid)
        killed_at = time.monotonic()
        out, err = follower.communicate(timeout=30)
        noticed_s = time.monotonic() - killed_at
    finally:
        if follower.poll() is None:
            follower.kill()
    assert follower.returncode == 3, err
    assert noticed_s < 2.5, f"the follower took {noticed_s:.1f}s to notice"
    assert f"gpumigrate replay {profile} --session follow --steps transfer" in err and "Traceback" not in err
    assert show("follow")["steps"]["transfer"]["state"] == "interrupted"
    assert _copied("follow") < 24
    # at once, not at lease expiry: the same command resumes and finishes byte-identical
    _unthrottle(profile)
    again = cli("replay", str(profile), "--steps", "transfer", "--session", "follow", "--json", timeout=90)
    assert again.returncode == 0, again.stderr
    assert same_tree(tmp_path / "src", tmp_path / "dst")
    import json

    lines = [json.loads(line) for line in again.stdout.splitlines()]
    copied = {e["item"] for e in lines if e.get("event") == "item_done" and e.get("status") == "copied"}
    with SessionStore.open("follow", create=False) as store:
        data = store.step("transfer").result["data"]  # type: ignore[index, union-attr]
        stored = [e for e in store.events_after(0) if e.kind == "item_done"]
    assert len(copied) == data["copied"] > 0  # --json lists every object the resumed run copied...
    assert stored == []  # ...while the session only counted them


def test_ctrl_c_on_a_following_terminal_leaves_the_worker_running_and_does_not_exit_0(tmp_path: Path) -> None:
    """Exit 0 means 'all requested steps passed'; a follower that stops following has no such news."""
    import subprocess
    import sys

    from tests.cutover_support import REPO, env_for

    profile = write_profile(tmp_path, files=24, bwlimit="128K", ttl_s=30)  # ~12 s: still copying at the Ctrl-C
    follower = subprocess.Popen([sys.executable, "-m", "tui.cli", "replay", str(profile), "--steps", "transfer",
                                 "--session", "ctrlc"], cwd=REPO, env=env_for(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        with SessionStore.open("ctrlc") as store:
            run = wait_for(lambda: store.active_run(), what="the worker to register")
        wait_for(lambda: _copied("ctrlc") >= 1, what="copying to start")
        follower.send_signal(signal.SIGINT)
        out, err = follower.communicate(timeout=30)
        assert follower.returncode == 130, err
        assert f"the worker (pid {run.pid}) goes on" in err and "session show ctrlc" in err, err
        assert "Traceback" not in err
        assert alive(run.pid), "Ctrl-C on the follower must not stop the worker"
    finally:
        if follower.poll() is None:
            follower.kill()
        cli("session", "cancel", "ctrlc", timeout=30)
