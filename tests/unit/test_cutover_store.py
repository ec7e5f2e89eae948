"""The cutover parts of the session store in one process: runs, reconcile, runbook, operator, coalescing."""

from __future__ import annotations

import os
import time

import pytest

from engine.cutover import runbook
from engine.errors import BadInputError, GpumigrateError
from engine.profile import parse_profile
from engine.session import SessionStore, operator_name

PROFILE = parse_profile("""
[source]
provider = "local"
[cutover]
lease_ttl_s = 2
[[cutover.runbook]]
title = "a"
rollback = "undo a"
[[cutover.runbook]]
title = "gate"
gate = true
[[cutover.runbook]]
title = "b"
rollback = "undo b"
""")


def _dead_run(store: SessionStore, host: str, pid: int, age_s: float) -> int:
    run_id = store.begin_run("h", ["transfer"], ttl_s=1.0, detached=True)
    store._db.execute("UPDATE runs SET host = ?, pid = ?, heartbeat_at = ? WHERE id = ?",  # noqa: SLF001
                      (host, pid, time.time() - age_s, run_id))
    store.set_step("transfer", "running")
    return run_id


def test_a_run_elsewhere_is_dead_only_after_its_lease_expires() -> None:
    """Its heartbeat's time is the other host's clock: an hour old here says nothing. Dead is this host
    seeing no change for the lease time (engine.session.liveness)."""
    with SessionStore.open("r") as store:
        run_id = _dead_run(store, "other-host", 1, age_s=3600.0)
        store._db.execute("UPDATE runs SET ttl_s = 0.3 WHERE id = ?", (run_id,))  # noqa: SLF001
        assert store.reconcile() == [] and store.active_run() is not None
        time.sleep(0.4)
        assert store.reconcile() == ["transfer"]
        assert store.step("transfer").state == "interrupted"  # type: ignore[union-attr]
        assert store.run(run_id).state == "dead"  # type: ignore[union-attr]
        assert store.reconcile() == []  # noticed once
        kinds = [e.kind for e in store.events_after(0)]
        assert kinds.count("run_died") == 1 and "step_interrupted" in kinds


def test_a_live_run_refuses_a_second_runner() -> None:
    with SessionStore.open("busy") as store:
        store.begin_run("h1", ["transfer"], ttl_s=30)
        with pytest.raises(GpumigrateError, match="is busy") as busy:
            store.begin_run("h2", ["verify"], ttl_s=30)
        assert busy.value.exit_code == 4 and f"pid {os.getpid()}" in str(busy.value)


def test_runbook_gate_order_and_rollback_plan() -> None:
    with SessionStore.open("book", operator="bob") as store:
        with pytest.raises(BadInputError, match="gate 2"):
            runbook.tick(store, PROFILE, "3")
        runbook.tick(store, PROFILE, "a")
        runbook.tick(store, PROFILE, "2")
        runbook.tick(store, PROFILE, "b")
        assert [e.tick.ticked_by for e in runbook.entries(store, PROFILE)] == [store.operator] * 3  # type: ignore[union-attr]
        assert runbook.rollback_plan(PROFILE) == [(3, "b", "undo b"), (1, "a", "undo a")]
        with pytest.raises(BadInputError, match="already ticked"):
            runbook.tick(store, PROFILE, "1")


def test_sign_off_needs_every_item_and_a_second_person() -> None:
    with SessionStore.open("go", operator="alice") as store:
        with pytest.raises(BadInputError, match="not complete"):
            runbook.sign_off(store, PROFILE, timeout=0.1)
        for ref in ("1", "2", "3"):
            runbook.tick(store, PROFILE, ref)
        from engine.cutover.approvals import ApprovalTimedOut

        with pytest.raises(ApprovalTimedOut):
            runbook.sign_off(store, PROFILE, timeout=0.3, acknowledge_unverified=True)
        assert store.approvals()[-1].state == "withdrawn"


def test_a_declared_name_is_recorded_only_on_a_shared_account(monkeypatch: pytest.MonkeyPatch) -> None:
    import pwd

    login = pwd.getpwuid(os.getuid()).pw_name
    monkeypatch.setenv("GPUMIGRATE_OPERATOR", "dana")
    assert operator_name() == login
    with SessionStore.open("decl") as store:
        assert store.operator == login
        store.set_shared_account(True)
        assert store.operator == "dana"
        store.append("session", "note", {})
        assert store.events_after(0)[-1].who["declared"] == "dana"  # type: ignore[index]
    monkeypatch.setenv("GPUMIGRATE_OPERATOR", "no spaces please")
    with pytest.raises(BadInputError):
        operator_name()


def test_a_dead_process_on_this_host_is_a_dead_run_at_once() -> None:
    import subprocess
    import sys

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with SessionStore.open("dead-now") as store:
        run_id = store.begin_run("h", ["transfer"], ttl_s=3600, detached=True)
        store._db.execute("UPDATE runs SET pid = ? WHERE id = ?", (gone.pid, run_id))  # noqa: SLF001
        store.set_step("transfer", "running")
        request = store.request_approval("transfer-delete", "delete 1 object")
        store._db.execute("UPDATE approvals SET run_id = ? WHERE id = ?", (run_id, request))  # noqa: SLF001
        assert store.active_run() is None  # the lease has an hour left; the process is gone
        assert store.step("transfer").state == "interrupted"  # type: ignore[union-attr]
        assert store.approval(request).state == "withdrawn"  # type: ignore[union-attr]
        with pytest.raises(BadInputError, match="withdrawn"):
            store.decide_approval(request, approve=False)


def test_coalesce_keeps_the_last_progress_per_label() -> None:
    pytest.importorskip("textual")
    from engine.session import StoredEvent
    from tui.pairing import coalesce

    rows = [StoredEvent(i, 0.0, "a", "transfer", kind, payload) for i, (kind, payload) in enumerate([
        ("progress", {"label": "bytes", "done": 1}), ("progress", {"label": "files", "done": 1}),
        ("item_done", {"item": "x"}), ("progress", {"label": "bytes", "done": 2})], start=1)]
    assert [e.seq for e in coalesce(rows)] == [2, 3, 4]


def test_hand_over_needs_the_recipients_consent_and_skips_watch_clients() -> None:
    with SessionStore.open("seat") as store:
        assert store.acquire_lease("driver", ttl_s=30)
        store.attach_client("driver", "tui")
        store.attach_client("watch-tab", "tui", watch_only=True)
        store.attach_client("person", "tui")
        with pytest.raises(BadInputError, match="--watch"):
            store.offer_control("driver", "watch-tab")
        with pytest.raises(BadInputError, match="--watch"):
            store.request_control("watch-tab")
        assert not store.acquire_lease("watch-tab", ttl_s=30, force=True)  # not even forced
        offer = store.offer_control("driver", "person")
        assert store.lease().holder == "driver"  # type: ignore[union-attr]  # nothing moves on an offer alone
        with pytest.raises(BadInputError, match="no offer"):
            store.answer_offer(offer, True, "watch-tab")  # only the recipient answers
        store.answer_offer(offer, False, "person")
        assert store.lease().holder == "driver"  # type: ignore[union-attr]
        second = store.offer_control("driver", "person")
        store.answer_offer(second, True, "person")
        lease = store.lease()
        assert lease is not None and lease.holder == "person" and lease.pid == os.getpid()
        handed = [e for e in store.events_after(0) if e.kind == "lease_handed_over"][-1]
        assert handed.payload["from_operator"] == handed.payload["to_operator"] == store.operator
        kinds = [e.kind for e in store.events_after(0)]
        assert kinds.count("client_attached") == 3 and "offer_declined" in kinds and "offer_accepted" in kinds
        store.detach_client("person")
        assert [e.kind for e in store.events_after(0)][-1] == "client_detached"
