"""Pairing with real processes: one driver, two watchers, lease expiry, takeover, two-person approval."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cutover.pairing import Pairing
from engine.session import SessionStore
from tests.cutover_support import (
    HOLDER,
    REPO,
    alive,
    cli,
    env_for,
    kill9,
    shared_session,
    wait_for,
    worker_pid,
    write_profile,
)

pytestmark = pytest.mark.timeout(90)


REQUESTER = """
import sys
from engine.session import SessionStore
from engine.cutover.approvals import ApprovalDeclined, require
store = SessionStore.open(sys.argv[1])
try:
    a = require(store, sys.argv[2], sys.argv[3], timeout=60)
except ApprovalDeclined as exc:
    print("declined:", exc, flush=True)
    sys.exit(1)
print("approved by", a.decided_by, flush=True)
"""


def _python(code: str, *args: str, operator: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=REPO, env=env_for(operator),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)


def test_driver_and_two_watchers_see_the_same_events(tmp_path: Path) -> None:
    profile = write_profile(tmp_path, files=10, bwlimit="256K", shared_account=True)
    shared_session("pair")
    with SessionStore.open("pair") as store:
        store.append("session", "note", {"text": "before the run"})
    pid = worker_pid(cli("replay", str(profile), "--steps", "transfer", "--session", "pair", "--detach",
                         operator="alice", check=True).stdout)
    watchers = [subprocess.Popen([sys.executable, "-m", "tui.cli", "session", "tail", "pair", "--json", "--from", "0",
                                  "--progress", "--until-idle"], cwd=REPO, env=env_for(name),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for name in ("bob", "carol")]
    outputs = [w.communicate(timeout=60) for w in watchers]
    assert all(w.returncode == 0 for w in watchers), [o[1] for o in outputs]
    wait_for(lambda: not alive(pid), what="the worker to exit")
    with SessionStore.open("pair", create=False) as store:
        stored = [e.seq for e in store.events_after(0)]
        lease_events = [e for e in store.events_after(0) if e.kind == "lease_acquired"]
    seen = [[json.loads(line)["seq"] for line in out.splitlines()] for out, _err in outputs]
    # Both watchers saw every event the driver wrote, in order, up to the end of the run.
    finished_at = max(s for s in stored if s in seen[0])
    assert seen[0] == seen[1] == [s for s in stored if s <= finished_at]
    kinds = [json.loads(line)["kind"] for line in outputs[0][0].splitlines()]
    assert "step_finished" in kinds and "run_finished" in kinds and "progress" in kinds
    # The worker drove (nobody else did), as alice.
    assert lease_events and lease_events[0].operator == "alice"


def test_lease_expires_after_kill_9_and_a_watcher_takes_over() -> None:
    shared_session("lease")
    holder = _python(HOLDER, "lease", "1.5", operator="alice")
    assert holder.stdout is not None
    line = holder.stdout.readline()
    assert line.startswith("driving"), holder.stderr.read() if holder.stderr else line
    holder_id = line.split()[1]
    with SessionStore.open("lease", operator="bob") as store:
        watcher = Pairing(store, ttl_s=1.5, kind="tui")
        assert not watcher.try_drive(), "a live driver keeps the seat"
        assert watcher.tick() == ("watching", "alice")
        # while alive, the holder's heartbeat keeps the lease past its TTL
        import time

        time.sleep(2.0)
        assert not watcher.try_drive()
        kill9(holder.pid)
        holder.wait(10)
        wait_for(lambda: watcher.driver_operator() is None, timeout=10, what="the lease to expire")
        assert watcher.try_drive(), "an expired lease can be taken"
        assert watcher.tick() == ("driving", "bob")
        taken = [e for e in store.events_after(0) if e.kind == "lease_acquired"][-1]
        assert taken.operator == "bob" and taken.payload["previous"] == holder_id


def test_request_control_accept_and_decline_between_processes() -> None:
    shared_session("ctl")
    holder = _python(HOLDER, "ctl", "15", operator="alice")
    assert holder.stdout is not None and holder.stdout.readline().startswith("driving")
    try:
        with SessionStore.open("ctl", operator="bob") as store, \
                SessionStore.open("ctl", operator="alice") as alice_store:
            bob = Pairing(store, ttl_s=15, kind="tui")
            assert not bob.try_drive()
            first = store.request_control(bob.holder)
            with pytest.raises(Exception, match="only the driver"):  # a watcher cannot decide
                store.decide_control(first, True, bob.holder)
            lease = store.lease()
            assert lease is not None and lease.operator == "alice"
            alice_store.decide_control(first, False, lease.holder)  # as the driver (alice's seat)
            assert bob.tick() == ("watching", "alice")
            second = store.request_control(bob.holder)
            alice_store.decide_control(second, True, lease.holder)
            assert bob.tick() == ("driving", "bob")
            # the old holder's next heartbeat fails: it is a watcher now
            assert not alice_store.heartbeat(lease.holder)
            kinds = [(e.kind, e.operator) for e in store.events_after(0)]
        assert ("control_requested", "bob") in kinds
        assert ("control_declined", "alice") in kinds and ("control_accepted", "alice") in kinds
        assert ("lease_handed_over", "alice") in kinds
    finally:
        kill9(holder.pid)
        holder.wait(10)


def test_two_person_approval_refuses_the_same_login_and_records_both_names(tmp_path: Path) -> None:
    shared_session("two")
    asker = _python(REQUESTER, "two", "transfer-delete", "delete 3 objects from gs://b", operator="alice")
    with SessionStore.open("two", operator="carol") as store:
        pending = wait_for(lambda: store.approvals("pending"), what="the approval request")
    approval_id = str(pending[0].id)
    same = cli("session", "approve", "two", approval_id, operator="alice")
    assert same.returncode == 2 and "needs a second person" in same.stderr
    assert asker.poll() is None, "still waiting after the same login tried to approve"
    other = cli("session", "approve", "two", approval_id, operator="bob")
    assert other.returncode == 0, other.stderr
    out, err = asker.communicate(timeout=30)
    assert asker.returncode == 0, err
    assert "approved by bob" in out

    decliner = _python(REQUESTER, "two", "cutover", "final cutover", operator="alice")
    with SessionStore.open("two", operator="carol") as store:
        pending = wait_for(lambda: store.approvals("pending"), what="the second request")
    assert cli("session", "decline", "two", str(pending[0].id), operator="bob").returncode == 0
    out, _ = decliner.communicate(timeout=30)
    assert decliner.returncode == 1 and "declined" in out

    exported = cli("session", "export", "two", "--out", str(tmp_path), check=True)
    assert "two.md" in exported.stdout
    rows = [json.loads(line) for line in (tmp_path / "two.jsonl").read_text().splitlines()]
    asked = [r for r in rows if r["kind"] == "approval_requested"]
    approved = [r for r in rows if r["kind"] == "approval_approved"]
    assert asked[0]["operator"] == "alice" and approved[0]["operator"] == "bob"
    assert approved[0]["payload"]["requested_by"] == "alice"
    md = (tmp_path / "two.md").read_text()
    assert "| transfer-delete |" in md and "| declined | bob (uid " in md
    assert "| approved | bob (uid " in md and "| same account, name declared |" in md
    assert "cannot prove that two people were involved" in md


def test_transfer_with_deletions_waits_for_a_second_operator(tmp_path: Path) -> None:
    profile = write_profile(tmp_path, files=4, bwlimit=None, delete=True, require_approval=["transfer-delete"],
                            shared_account=True)
    shared_session("del")
    extra = tmp_path / "dst" / "stale.bin"
    extra.parent.mkdir(parents=True)
    extra.write_bytes(b"left over from an old copy")
    pid = worker_pid(cli("replay", str(profile), "--steps", "transfer", "--session", "del", "--detach",
                         operator="alice", check=True).stdout)
    with SessionStore.open("del", operator="carol") as store:
        pending = wait_for(lambda: store.approvals("pending"), timeout=30, what="the worker to ask")
    assert pending[0].action == "transfer-delete" and pending[0].requested_by == "alice"
    assert extra.exists() and not (tmp_path / "dst" / "part-0000.bin").exists(), "nothing done before approval"
    refused = cli("session", "approve", "del", str(pending[0].id), operator="alice")
    assert refused.returncode == 2 and "second person" in refused.stderr
    assert cli("session", "approve", "del", str(pending[0].id), operator="bob").returncode == 0
    wait_for(lambda: not alive(pid), timeout=60, what="the worker to finish")
    with SessionStore.open("del", create=False) as store:
        record = store.step("transfer")
        decided = [e for e in store.events_after(0) if e.kind == "approval_approved"]
    assert record is not None and record.state == "completed", record
    assert not extra.exists() and (tmp_path / "dst" / "part-0003.bin").exists()
    assert decided[0].operator == "bob" and decided[0].payload["requested_by"] == "alice"
