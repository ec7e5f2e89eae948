"""Liveness comes from a heartbeat that a stopped process cannot renew, judged on this host's own clock.

- A worker stopped with SIGSTOP (its process still there) is "not responding since HH:MM:SSZ", never
  "running", and not silently dead either: its step is not interrupted and a second run beside it is
  refused, with how to let it go on or end it.  When it is continued it responds again.
- A driver or run on another host is judged by how long this host has seen its heartbeat unchanged,
  never by comparing the two hosts' wall clocks: an hour of skew either way changes nothing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from engine.cutover.status import summarize
from engine.session import SessionBusy, SessionStore
from tui.cli import main

CHILD = """
import sys, threading, time
from engine.session import SessionStore
from engine.cutover.runlease import RunLease
store = SessionStore.open(sys.argv[1])
store.set_step("transfer", "running")
with RunLease(store, ["transfer"], 0.6, threading.Event(), detached=True):
    print("ready", flush=True)
    time.sleep(60)
"""


def _wait(check, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_stopped_worker_is_not_responding_not_running_and_not_dead(capsys: pytest.CaptureFixture[str]) -> None:
    child = subprocess.Popen([sys.executable, "-c", CHILD, "stopped"], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        with SessionStore.open("stopped", create=False) as store:
            assert store.active_run().live  # type: ignore[union-attr]
            os.kill(child.pid, signal.SIGSTOP)
            _wait(lambda: store.active_run().not_responding)  # type: ignore[union-attr]
            run = store.active_run()
            assert run is not None and not run.live and run.state == "running"
            assert run.pulse.process == "stopped"
            assert store.reconcile() == [] and store.reconcile() == []  # not declared dead...
            assert store.step("transfer").state == "running"  # type: ignore[union-attr]  # ...nor interrupted
            info = summarize(store)
            assert info["run"]["outcome"].startswith("not responding since ") and not info["run"]["live"]
            assert info["run"]["outcome"].endswith(f"(pid {child.pid} is stopped)")
            assert f"kill -CONT {child.pid}" in info["steps"]["transfer"]["not_responding"]
            with pytest.raises(SessionBusy, match="not responding since .* is stopped") as busy:
                store.begin_run("again", ["transfer"], ttl_s=5)
            assert busy.value.exit_code == 4
            assert main(["session", "show", "stopped"]) == 0
            out = capsys.readouterr().out
            assert "NOT RESPONDING" in out and "not responding since" in out and " running " not in out, out
            # its run lease ran out, yet a new run is refused: no "take the seat", no "driver nobody" (review s7)
            driving = next(line for line in out.splitlines() if line.startswith("  driving: "))
            assert "take the seat with" not in driving and "new runs are refused" in driving, driving
            assert f"`kill -CONT {child.pid}` lets it go on; `kill -9 {child.pid}` ends it" in driving, driving
            assert "`gpumigrate session resume stopped`" in driving, driving
            assert main(["session", "list"]) == 0
            listed = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("stopped "))
            assert "driver nobody" not in listed and f"pid {child.pid}, not responding" in listed, listed
            from types import SimpleNamespace

            from tui.app import GpuMigrateApp

            banner = GpuMigrateApp.role_banner(SimpleNamespace(watch_only=False, driver_name=None, session=store))
            assert "take the seat" not in banner and f"`kill -CONT {child.pid}`" in banner, banner
            refused: list[str] = []  # a driver-only key pressed by the watching person (review s7: "take the seat")
            assert not GpuMigrateApp.authorize(SimpleNamespace(role="watching", watch_only=False, driver_name=None,
                                                               session=store, notify=lambda t, **k: refused.append(t)),
                                               "start_step")
            assert refused and "ctrl+t" not in refused[0] and f"`kill -CONT {child.pid}`" in refused[0], refused
            from tui.pairing import request_control

            notes: list[str] = []
            request_control(SimpleNamespace(session=store, role="watching", authorize=lambda action: True,  # type: ignore[arg-type]
                                            notify=lambda text, **kw: notes.append(text)))
            assert notes and "take over with ctrl+t" not in notes[0] and "not responding" in notes[0], notes
            kinds = [e.kind for e in store.events_after(0)]
            assert kinds.count("run_not_responding") == 1 and "run_died" not in kinds

            os.kill(child.pid, signal.SIGCONT)
            _wait(lambda: store.active_run().live)  # type: ignore[union-attr]
            store.reconcile()
            assert [e.kind for e in store.events_after(0)].count("run_responding") == 1

            child.kill()  # gone, not silent: dead at once, its step interrupted (as before)
            child.wait()
            assert store.reconcile() == ["transfer"]
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGCONT)
            child.kill()
            child.wait()


def _beat_from_host_a(store: SessionStore, skew_s: float) -> None:
    """What a driver and its run on another host write when they beat: that host's clock, ``skew_s`` off ours."""
    with store._write() as db:  # noqa: SLF001
        db.execute("UPDATE lease SET host = 'host-a', heartbeat_at = ?", (time.time() + skew_s,))
        db.execute("UPDATE runs SET host = 'host-a', heartbeat_at = ? WHERE state = 'running'", (time.time() + skew_s,))


@pytest.mark.parametrize("skew_s", [-3600.0, 3600.0], ids=["reader-ahead", "reader-behind"])
def test_a_remote_driver_and_run_are_judged_by_this_hosts_watch_not_by_its_clock(skew_s: float) -> None:
    name = f"skew{int(skew_s)}"
    with SessionStore.open(name) as writer, SessionStore.open(name) as reader:
        assert writer.acquire_lease("A", ttl_s=0.5)
        writer.begin_run("A", ["transfer"], ttl_s=0.5, detached=True)
        writer.set_step("transfer", "running")
        started = time.monotonic()
        while time.monotonic() - started < 1.0:  # beating: alive throughout, twice its lease time
            _beat_from_host_a(writer, skew_s)
            lease = reader.lease()
            assert lease is not None and lease.live(), lease
            assert not reader.acquire_lease("B", ttl_s=0.5)
            assert reader.reconcile() == [] and reader.active_run().live  # type: ignore[union-attr]
            time.sleep(0.1)
    time.sleep(0.65)  # host A stops beating; a new handle (a later command on this host) continues the watch
    with SessionStore.open(name, create=False) as later:
        assert not later.lease().live()  # type: ignore[union-attr]
        assert later.reconcile() == ["transfer"]
        died = [e for e in later.events_after(0) if e.kind == "run_died"]
        assert len(died) == 1 and "by this host's clock" in died[0].payload["how"], died
        assert later.acquire_lease("B", ttl_s=5)


def test_a_remote_client_is_listed_by_this_hosts_watch_not_by_its_clock() -> None:
    """An app attached from a host whose clock runs an hour behind was never listed as attached (so its
    person's --watch choice was not seen by `session approve`); one an hour ahead stayed listed long gone."""
    with SessionStore.open("clients") as store:
        for holder, skew_s in (("behind", -3600.0), ("ahead", 3600.0)):
            store.attach_client(holder, "tui", watch_only=True)
            with store._write() as db:  # noqa: SLF001 - what that host's app writes: its own clock
                db.execute("UPDATE clients SET host = 'host-a', seen_at = ? WHERE holder = ?",
                           (time.time() + skew_s, holder))
        assert {c.holder for c in store.clients(fresh_within_s=0.3)} == {"behind", "ahead"}
        with store._write() as db:  # noqa: SLF001 - "behind" goes on beating; "ahead" has gone
            db.execute("UPDATE clients SET seen_at = seen_at + 0.5 WHERE holder = 'behind'")
        time.sleep(0.2)
        with store._write() as db:  # noqa: SLF001
            db.execute("UPDATE clients SET seen_at = seen_at + 0.5 WHERE holder = 'behind'")
        time.sleep(0.2)
        assert [c.holder for c in store.clients(fresh_within_s=0.3)] == ["behind"]


def test_a_first_look_at_a_remote_run_says_it_is_not_yet_confirmed() -> None:
    """A remote run that died long ago looks, at first, like one that beats: say so rather than 'running'."""
    with SessionStore.open("first") as store:
        store.acquire_lease("A", ttl_s=0.3)
        store.begin_run("A", ["transfer"], ttl_s=0.3, detached=True)
        _beat_from_host_a(store, -7200.0)  # its last heartbeat, whenever that was on host A's clock
    with SessionStore.open("first", create=False) as reader:
        info = summarize(reader, events=0)
        assert info["run"]["outcome"].startswith("running as far as this host can tell (on host-a: not yet "
                                                 "confirmed from this host"), info["run"]["outcome"]
        assert "not yet confirmed from this host" in info["driving"]
        _beat_from_host_a(reader, -7200.0)  # it beats: seen to change, so confirmed
        info = summarize(reader, events=0)
        assert info["run"]["outcome"] == "running" and "not yet confirmed" not in info["driving"]


HUNG = """
import sys, threading, time
from engine.session import SessionStore
from engine.cutover.runlease import RunLease
store = SessionStore.open(sys.argv[1])
store.set_step("transfer", "running")

def copy_part():
    sys.stdin.readline()  # a read that never answers (a deadlock looks the same): only the heartbeat thread runs

with RunLease(store, ["transfer"], 0.6, threading.Event(), detached=True, stall_s=1.0):
    print("ready", flush=True)
    copy_part()
    while True:  # the steps' loop again: it looks for a cancel several times a second
        time.sleep(0.1)
"""


def test_a_worker_whose_steps_hang_while_its_heartbeat_goes_on_is_not_responding(
        capsys: pytest.CaptureFixture[str]) -> None:
    """The heartbeat thread went on while the thread that runs the steps hung: "running" for ever (review s7)."""
    child = subprocess.Popen([sys.executable, "-c", HUNG, "hung"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        with SessionStore.open("hung", create=False) as store:
            beat = store.active_run().heartbeat_at  # type: ignore[union-attr]
            _wait(lambda: store.active_run().not_responding)  # type: ignore[union-attr]
            run = store.active_run()
            assert run is not None and run.heartbeat_at > beat and not run.live  # it beats, yet is not running
            assert "in copy_part" in run.pulse.stuck_in, run.pulse
            assert store.reconcile() == [] and store.step("transfer").state == "running"  # type: ignore[union-attr]
            with pytest.raises(SessionBusy, match="not responding since .*in copy_part"):
                store.begin_run("again", ["transfer"], ttl_s=5)
            assert main(["session", "show", "hung"]) == 0
            out = capsys.readouterr().out
            assert "NOT RESPONDING" in out and "still sends a heartbeat" in out and "in copy_part" in out, out
            assert f"kill -CONT" not in out and f"kill -9 {child.pid}" in out, out
            from tui.pairing import not_responding_words

            stuck = not_responding_words(store)
            assert stuck is not None and "in copy_part" in stuck and "kill -CONT" not in stuck, stuck
            time.sleep(0.5)
            store.reconcile()
            noted = [e for e in store.events_after(0) if e.kind == "run_not_responding"]
            assert len(noted) == 1 and "in copy_part" in noted[0].payload["stuck_in"]  # once, though it beats

            assert child.stdin is not None
            child.stdin.write("go on\n")
            child.stdin.flush()
            _wait(lambda: store.active_run().live)  # type: ignore[union-attr]
            store.reconcile()
            assert [e.kind for e in store.events_after(0)].count("run_responding") == 1
            time.sleep(1.5)  # past stall_s: a loop that sleeps and looks again is not stuck
            assert store.active_run().live  # type: ignore[union-attr]
    finally:
        child.kill()
        child.wait()


def test_sightings_go_with_what_they_watched() -> None:
    """A sighting row per run, seat holder and app that another host heard, per observing host: they were never
    deleted, so a long session's file kept one for every run and every app that ever was (review s7)."""
    def rows(store: SessionStore) -> set[tuple[str, str]]:
        return {(r["what"], r["key"]) for r in store._db.execute("SELECT what, key FROM sightings")}  # noqa: SLF001

    with SessionStore.open("sightings") as store:
        assert store.acquire_lease("A", ttl_s=30)
        run_id = store.begin_run("A", ["transfer"], ttl_s=30, detached=True)
        store.attach_client("app-b", "tui")
        _beat_from_host_a(store, 0.0)
        with store._write() as db:  # noqa: SLF001 - an app on host A
            db.execute("UPDATE clients SET host = 'host-a', seen_at = ? WHERE holder = 'app-b'", (time.time(),))
        with SessionStore.open("sightings", create=False) as reader:  # a command on this host looks at all three
            reader.lease(), reader.active_run(), reader.clients()
        assert rows(store) == {("lease", "A"), ("run", str(run_id)), ("client", "app-b")}
        store.end_run(run_id, 0)
        assert ("run", str(run_id)) not in rows(store)
        store.detach_client("app-b")
        assert ("client", "app-b") not in rows(store)
        store.release_lease("A")
        assert rows(store) == set()
        second = store.begin_run("A", ["verify"], ttl_s=0.3, detached=True)  # one whose host goes silent: dead
        _beat_from_host_a(store, 0.0)
        with SessionStore.open("sightings", create=False) as reader:
            reader.active_run()
            assert rows(store) == {("run", str(second))}
            time.sleep(0.4)
            reader.reconcile()
        assert store.run(second).state == "dead" and rows(store) == set()  # type: ignore[union-attr]


def test_a_replay_following_its_worker_says_when_it_stops_responding(capsys: pytest.CaptureFixture[str]) -> None:
    """`replay --session` follows its worker in the terminal; a stopped or hung worker left that terminal silent on
    its last line for ever, the driver's own view of a run that looked as if it went on (review s8)."""
    import argparse
    import threading

    from tui.commands.replay import _follow

    child = subprocess.Popen([sys.executable, "-c", CHILD, "followed"], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        args = argparse.Namespace(json=False, verbose=False, session="followed", profile="p.toml", steps=None,
                                  foreground=False, allow_price_fallback=False)
        codes: list[int] = []
        follower = threading.Thread(target=lambda: codes.append(_follow(args, child.pid, 0, ["transfer"])),
                                    daemon=True)
        follower.start()
        os.kill(child.pid, signal.SIGSTOP)
        _wait(lambda: "not responding" in capsys.readouterr().err or None, timeout=8)  # type: ignore[arg-type]
        os.kill(child.pid, signal.SIGCONT)
        _wait(lambda: "responds again" in capsys.readouterr().err or None, timeout=8)  # type: ignore[arg-type]
        child.kill()
        child.wait()
        follower.join(10)
        assert codes == [3]
        err = " ".join(capsys.readouterr().err.split())
        assert "died before it finished" in err
        # said of the step it cut (a transfer keeps a journal; verify, say, runs again from its start)
        assert "resumes it (the steps completed are skipped; transfer goes on from its journal" in err, err
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGCONT)
            child.kill()
            child.wait()
