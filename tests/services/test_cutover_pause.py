"""Pausing a session's detached worker from another process: bytes stop, then go on, then finish."""

from __future__ import annotations

import time
from pathlib import Path

from engine.session import SessionStore
from tests.cutover_support import cli, same_tree, wait_for, worker_pid, write_profile


def _copied_bytes(name: str) -> int:
    """The worker's own progress figure, as every watcher sees it in the session."""
    with SessionStore.open(name, create=False) as store:
        done = [e.payload.get("done", 0) for e in store.events_after(0)
                if e.kind == "progress" and e.payload.get("label") == "bytes"]
    return int(done[-1]) if done else 0


def _settled(name: str, quiet_s: float = 1.5, timeout: float = 20) -> int:
    deadline = time.monotonic() + timeout
    last, since = _copied_bytes(name), time.monotonic()
    while time.monotonic() - since < quiet_s:
        assert time.monotonic() < deadline, "bytes never stopped moving after the pause"
        time.sleep(0.1)
        now = _copied_bytes(name)
        if now != last:
            last, since = now, time.monotonic()
    return last


def test_pause_and_continue_reach_a_detached_worker(tmp_path: Path) -> None:
    profile = write_profile(tmp_path, files=24, size=256 * 1024, bwlimit="1M")
    started = cli("replay", str(profile), "--session", "pausing", "--detach", operator="alice", check=True)
    pid = worker_pid(started.stdout)
    wait_for(lambda: _copied_bytes("pausing") > 0, what="the worker to start copying")
    assert "asked run" in cli("session", "pause", "pausing", operator="alice", check=True).stdout
    held = _settled("pausing")
    time.sleep(1.0)
    assert _copied_bytes("pausing") == held  # paused: nothing moves
    with SessionStore.open("pausing", create=False) as store:
        events = store.events_after(0)
    kinds = [e.kind for e in events]
    assert "pause_requested" in kinds and "run_paused" in kinds
    asked = next(e for e in events if e.kind == "pause_requested")
    paused = next(e for e in events if e.kind == "run_paused")
    assert asked.who["pid"] != pid and paused.who["pid"] == pid  # type: ignore[index]  # who asked, who did
    assert paused.payload["requested_by"] == asked.operator
    cli("session", "continue", "pausing", operator="alice", check=True)
    wait_for(lambda: _copied_bytes("pausing") > held, what="bytes to move again after continue")
    with SessionStore.open("pausing", create=False) as store:
        wait_for(lambda: store.step("transfer") and store.step("transfer").state == "completed",  # type: ignore[union-attr]
                 timeout=60, what="the transfer to finish")
    assert same_tree(tmp_path / "src", tmp_path / "dst")
    assert pid > 0
