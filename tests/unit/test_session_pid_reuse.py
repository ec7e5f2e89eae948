"""A lease remembers its holder's process start time: a pid reused by another process on this host
does not keep a dead holder's seat until the TTL."""

from __future__ import annotations

import subprocess
import sys

import pytest

from engine.session import SessionStore
from engine.session import runs


def test_a_holder_whose_pid_now_has_another_start_time_is_dead(monkeypatch: pytest.MonkeyPatch) -> None:
    with SessionStore.open("reuse") as a, SessionStore.open("reuse") as b:
        assert a.acquire_lease("A", ttl_s=3600)
        lease = a.lease()
        assert lease is not None and lease.proc_start == runs.process_start(lease.pid)
        assert lease.live() and not b.acquire_lease("B", ttl_s=3600)
        # the same pid, started at another time: another process now has the holder's pid
        real = runs.process_start
        assert b.acquire_lease("B", ttl_s=3600) is False
        monkeypatch.setattr(runs, "process_start", lambda pid: "another-boot:12345")
        assert a.lease().process_alive() is False and not a.lease().live()  # type: ignore[union-attr]
        assert b.acquire_lease("B", ttl_s=3600)  # at once, not at the lease's expiry an hour from now
        monkeypatch.setattr(runs, "process_start", real)
        assert b.lease().holder == "B"  # type: ignore[union-attr]


def test_a_lease_without_a_start_time_falls_back_to_the_pid() -> None:
    with SessionStore.open("old-lease") as s:
        assert s.acquire_lease("A", ttl_s=3600)
        s._db.execute("UPDATE lease SET proc_start = NULL")  # noqa: SLF001 - a row written before start times
        assert s.lease().live()  # type: ignore[union-attr]


def test_a_real_process_is_told_from_a_recorded_start_time_that_is_not_its_own() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        start = runs.process_start(proc.pid)
        assert start is not None and ":" in start  # boot id and clock ticks since boot
        assert runs.same_process(proc.pid, start) is True
        boot, ticks = start.rsplit(":", 1)
        assert runs.same_process(proc.pid, f"{boot}:{int(ticks) + 1}") is False
        assert runs.same_process(proc.pid, f"not-this-boot:{ticks}") is False
        assert runs.same_process(proc.pid, ticks) is True  # written by a version that kept ticks only
    finally:
        proc.kill()
        proc.wait()
    assert runs.same_process(proc.pid, start) is False  # gone
