"""The session store in one process: steps, events, lease, approvals, permissions."""

from __future__ import annotations

import os
import stat
import time

import pytest

from engine.errors import BadInputError
from engine.events import Progress, StepFinished
from engine.session import SessionStore, list_sessions, session_path


def test_create_list_and_private_permissions() -> None:
    with SessionStore.open("cut-1") as s:
        assert s.get_meta("created_by") == s.operator
    assert list_sessions() == ["cut-1"]
    path = session_path("cut-1")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_bad_names_and_missing_sessions_are_clean_errors() -> None:
    with pytest.raises(BadInputError):
        SessionStore.open("../escape")
    with pytest.raises(BadInputError, match="no session"):
        SessionStore.open("absent", create=False)


def test_events_are_sequenced_and_followable() -> None:
    with SessionStore.open("ev") as s:
        first = s.record(Progress("transfer", done=1, total=10, unit="B"))
        second = s.record(StepFinished("transfer", ok=True, summary="done"))
        assert second == first + 1
        events = s.events_after(0)
        assert [e.kind for e in events] == ["progress", "step_finished"]
        assert events[0].payload["total"] == 10 and events[0].operator == s.operator
        assert s.events_after(first)[0].seq == second


def test_step_states_and_attempts() -> None:
    with SessionStore.open("st") as s:
        s.set_step("transfer", "running", profile_digest="abc")
        s.set_step("transfer", "interrupted")
        s.set_step("transfer", "running")
        s.set_step("transfer", "completed", result={"summary": "ok"})
        rec = s.step("transfer")
        assert rec and rec.state == "completed" and rec.attempt == 2 and rec.profile_digest == "abc"
        assert rec.result == {"summary": "ok"}
        with pytest.raises(ValueError):
            s.set_step("transfer", "bogus")


def test_lease_is_exclusive_until_it_expires() -> None:
    with SessionStore.open("lease") as a, SessionStore.open("lease") as b:
        assert a.acquire_lease("A", ttl_s=3)
        assert not b.acquire_lease("B", ttl_s=3)
        assert a.heartbeat("A")
        # A stops heartbeating; its last heartbeat is moved into the past instead of sleeping.
        a._db.execute("UPDATE lease SET heartbeat_at = heartbeat_at - 10")
        assert b.acquire_lease("B", ttl_s=3)  # A stopped heartbeating: expired
        assert not a.heartbeat("A")  # A learns it lost the lease
        assert a.lease().holder == "B"  # type: ignore[union-attr]


def test_approval_needs_a_second_declared_name_on_a_shared_account() -> None:
    with SessionStore.open("ap", operator="alice") as alice, SessionStore.open("ap", operator="bob") as bob:
        alice.set_shared_account(True)
        bob.set_shared_account(True)
        request = alice.request_approval("transfer-delete", "delete 12 objects in gs://b/")
        with pytest.raises(BadInputError, match="second person"):
            alice.decide_approval(request, approve=True)
        decided = bob.decide_approval(request, approve=True)
        assert (decided.state, decided.requested_by, decided.decided_by) == ("approved", "alice", "bob")
        assert decided.how_approved == "same account, name declared"
        with pytest.raises(BadInputError, match="already approved"):
            bob.decide_approval(request, approve=False)
        kinds = [e.kind for e in alice.events_after(0)]
        assert "approval_requested" in kinds and "approval_approved" in kinds


def test_declared_names_decide_nothing_without_shared_account() -> None:
    with SessionStore.open("ap2", operator="alice") as alice, SessionStore.open("ap2", operator="bob") as bob:
        assert alice.operator == bob.operator == alice.identity.login  # the OS's login, not the declared name
        request = alice.request_approval("transfer-delete", "delete 12 objects in gs://b/")
        with pytest.raises(BadInputError, match="same account"):
            bob.decide_approval(request, approve=True)
        assert bob.approval(request).state == "pending"  # type: ignore[union-attr]


def test_secrets_are_redacted_before_they_are_stored() -> None:
    with SessionStore.open("sec") as s:
        s.append("x", "note", {"text": "key AKIAIOSFODNN7EXAMPLE leaked"})
        s.set_meta("profile_toml", "name = 'AKIAIOSFODNN7EXAMPLE'")
        raw = session_path("sec").read_bytes() + b"".join(
            p.read_bytes() for p in session_path("sec").parent.glob("sec.sqlite*"))
        assert b"AKIAIOSFODNN7EXAMPLE" not in raw
        assert "[redacted: looks like an AWS access key id]" in s.events_after(0)[-1].payload["text"]


def test_a_payload_that_matches_a_secret_pattern_stays_valid_json() -> None:
    with SessionStore.open("json") as s:
        s.append("x", "note", {"cfg": {"type": "service_account", "n": 1}})
        s.set_step("x", "completed", result={"summary": '"type": "service_account"'})
        assert s.events_after(0)[-1].payload["cfg"]["n"] == 1
        assert s.step("x").result == {"summary": "[redacted: looks like a service-account key file]"}  # type: ignore[union-attr]


def test_credential_values_from_the_environment_are_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----"
    with SessionStore.open("envsec") as s:
        s.append("transfer", "item_done", {"detail": f"403 for key {secret}", "key": pem})
        payload = s.events_after(0)[-1].payload
    assert secret not in str(payload) and "MIIEowIBAAKCAQEA" not in str(payload)


def test_a_watch_only_handle_changes_nothing_but_its_own_attachment() -> None:
    """--watch is enforced in the store, below every front end: approve, tick, pause, cancel, the seat,
    edits and plain appends all raise; attaching, its heartbeat and detaching are recorded."""
    from engine.cutover.pairing import Pairing
    from engine.session import WatchOnly

    with SessionStore.open("observed") as owner:
        owner.set_shared_account(True)
    with SessionStore.open("observed", operator="alice") as alice:
        alice.begin_run("alice-run", ["transfer"], ttl_s=600)
        approval = alice.request_approval("transfer-delete", "delete 1 object", ["x"])
        watcher = SessionStore.open("observed", operator="bob")
        watch = Pairing(watcher, kind="tui", watch_only=True)
        before = (alice.approvals(), alice.ticks(), alice.lease(), alice.runs(), alice.control_requests(None))
        seq = alice.last_seq()
        attempts = {
            "approve": lambda: watcher.decide_approval(approval, True),
            "decline": lambda: watcher.decide_approval(approval, False),
            "tick": lambda: watcher.tick("1"),
            "untick": lambda: watcher.untick("1"),
            "pause": lambda: watcher.request_pause(True),
            "cancel": lambda: watcher.request_cancel(),
            "take the seat": lambda: watcher.acquire_lease(watch.holder, force=True),
            "ask for the seat": lambda: watcher.request_control(watch.holder),
            "append": lambda: watcher.append("session", "profile_edited", {"what": "x"}),
            "meta": lambda: watcher.set_meta("profile_path", "/elsewhere.toml"),
            "step": lambda: watcher.set_step("transfer", "completed"),
        }
        for what, attempt in attempts.items():
            with pytest.raises(BadInputError, match="watches session 'observed' only|attached with --watch"):
                attempt()  # WatchOnly, or the store's older refusal of a --watch client's seat request
        assert not watch.try_drive(force=True)
        with pytest.raises(WatchOnly):
            watcher.decide_approval(approval, True)
        watch.tick()  # its own heartbeat as an attached client
        watch.detach()
        watcher.close()
        after = (alice.approvals(), alice.ticks(), alice.lease(), alice.runs(), alice.control_requests(None))
        assert after == before
        assert [e.kind for e in alice.events_after(seq)] == ["client_detached"]


def test_a_declared_name_differing_only_in_case_is_the_same_person() -> None:
    """On a shared account, alice's request was approved by GPUMIGRATE_OPERATOR=Alice and recorded as two
    people. Declared names are an honour system, but one person's name in other capitals is not a second."""
    with SessionStore.open("apc", operator="alice") as alice, SessionStore.open("apc", operator="Alice") as again:
        alice.set_shared_account(True)
        again.set_shared_account(True)
        request = alice.request_approval("transfer-delete", "delete 12 objects in gs://b/")
        with pytest.raises(BadInputError, match="second person"):
            again.decide_approval(request, approve=True)
        assert again.approval(request).state == "pending"  # type: ignore[union-attr]


def test_a_client_whose_process_is_gone_on_this_host_is_not_listed_as_attached() -> None:
    """A `--watch` app killed (SIGTERM/SIGKILL) stayed in `session show --json` clients for 30 s after its
    process was gone; on the same host a gone pid is a gone client now, as for workers."""
    import subprocess
    import sys

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with SessionStore.open("cl") as store:
        store.attach_client("me", kind="tui", watch_only=True)
        store.attach_client("ghost", kind="tui", watch_only=True)
        store._db.execute("UPDATE clients SET pid = ? WHERE holder = 'ghost'", (gone.pid,))
        assert [c.holder for c in store.clients()] == ["me"]


def test_a_request_with_a_plan_is_never_visible_without_it() -> None:
    """A second operator polling for requests must never see one whose plan (the list of what it
    approves) is not attached yet: approving it would approve an unseen list. The plan is read while
    the request is being made; nothing may be pending until it is all written."""
    seen: list[object] = []
    with SessionStore.open("plan-race", operator="alice") as driver, \
            SessionStore.open("plan-race", operator="bob") as other:
        def plan():
            for i in range(3):
                seen.extend(other.approvals("pending"))
                yield f"stale/{i}"
        approval_id = driver.request_approval("transfer-delete", "delete 3 objects", plan=plan())
        assert seen == []
        request = other.approval(approval_id)
        assert request is not None and request.plan_count == 3
        assert request.plan_preview() == ["stale/0", "stale/1", "stale/2"]
