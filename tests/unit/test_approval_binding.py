"""An approval binds to what was shown when it was asked for.  A cutover sign-off asked for with every
runbook item ticked, then an item unticked (or the profile changed) before the second person approves,
must not be carried out on the approval of something that no longer is: nothing is done, and the
session says why."""

from __future__ import annotations

import threading
import time
from typing import Callable

import pytest

from engine.cutover import runbook
from engine.cutover.approvals import ApprovalDeclined
from engine.profile import parse_profile
from engine.session import SessionStore

PROFILE = parse_profile("""
[source]
provider = "local"
[cutover]
require_approval = ["cutover"]
shared_account = true
[[cutover.runbook]]
title = "freeze writes"
[[cutover.runbook]]
title = "switch DNS"
""")


def _asked_in_a_thread(ask: Callable[[], object], approver: SessionStore
                       ) -> tuple[threading.Thread, list[BaseException]]:
    """Run ``ask`` (a sign-off that waits for a second person) in a thread; return once its request is pending."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            ask()
        except BaseException as exc:  # noqa: BLE001 - the test reads it
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 5
    while not approver.approvals("pending"):
        assert time.monotonic() < deadline and thread.is_alive(), errors
        time.sleep(0.02)
    return thread, errors


def _sign_off_while(name: str, change: Callable[[SessionStore], None]) -> tuple[list[BaseException], SessionStore]:
    alice = SessionStore.open(name, operator="alice")
    bob = SessionStore.open(name, operator="bob")
    for store in (alice, bob):
        store.set_shared_account(True)
    alice.set_meta("profile_toml", "[source]\nprovider = \"local\"\n")
    for ref in ("1", "2"):
        runbook.tick(alice, PROFILE, ref)
    thread, errors = _asked_in_a_thread(lambda: runbook.sign_off(alice, PROFILE, timeout=10, acknowledge_unverified=True), bob)
    request = bob.approvals("pending")[0]
    change(bob)
    bob.decide_approval(request.id, True)
    thread.join(10)
    assert not thread.is_alive()
    alice.close()
    return errors, bob


@pytest.mark.parametrize("change", [
    lambda s: runbook.untick(s, PROFILE, "2"),
    lambda s: s.set_meta("profile_toml", "[source]\nprovider = \"aws\"\n"),
    lambda s: s.set_step("verify", "failed", result={"summary": "FAIL: 0 passed, 1 failed"}),
], ids=["item-unticked", "profile-changed", "verification-ended"])
def test_a_sign_off_approved_after_what_it_showed_changed_does_nothing(change: Callable[[SessionStore], None]) -> None:
    errors, bob = _sign_off_while("bind", change)
    with bob:
        kinds = [e.kind for e in bob.events_after(0)]
        assert "cutover_signed_off" not in kinds, kinds
        assert len(errors) == 1 and isinstance(errors[0], ApprovalDeclined), errors
        assert "changed since it was asked for" in str(errors[0]) and "nothing was done" in str(errors[0])
        void = [e for e in bob.events_after(0) if e.kind == "approval_void"]
        assert len(void) == 1 and void[0].payload["id"] == bob.approvals()[-1].id


def test_a_sign_off_approved_as_shown_is_carried_out() -> None:
    errors, bob = _sign_off_while("bound", lambda s: None)
    with bob:
        assert errors == [] and "cutover_signed_off" in [e.kind for e in bob.events_after(0)]


def test_accepting_gaps_is_void_when_the_verification_was_run_again_meanwhile() -> None:
    """The approver looks at the session's last verification; a new run under the pending request is not
    what they accept."""
    from engine.verify.checks.base import CheckResult
    from engine.verify.signoff import sign_off, signoffs
    from engine.verify.suite import VerifyReport

    def report(summary: str) -> VerifyReport:
        return VerifyReport(mode="verify", started_at=1.0, finished_at=2.0,
                            results=[CheckResult("latency", "Inference latency", "p99", "fail", summary)])

    def record(store: SessionStore, rep: VerifyReport) -> None:
        store.set_step("verify", "failed", result={"summary": "FAIL", "data": {"report": rep.to_dict()}})

    with SessionStore.open("gaps-bind", operator="alice") as alice, \
            SessionStore.open("gaps-bind", operator="bob") as bob:
        for store in (alice, bob):
            store.set_shared_account(True)
        first = report("P99 12 ms")
        record(alice, first)
        thread, errors = _asked_in_a_thread(
            lambda: sign_off(alice, first, "accepted-with-gaps", note="latency tuned tomorrow", timeout=10), bob)
        record(bob, report("P99 400 ms"))  # verify ran again: far worse
        bob.decide_approval(bob.approvals("pending")[0].id, True)
        thread.join(10)
        assert len(errors) == 1 and isinstance(errors[0], ApprovalDeclined), errors
        assert "the session's last verification changed" in str(errors[0])
        assert signoffs(bob) == []


class _DecidedInTheWindow:
    """The requester's session, with the second person's decision landing between its last look at the
    request and its withdrawal of it (timeout or cancel): the race, made to happen every time."""

    def __init__(self, store: SessionStore, other: SessionStore) -> None:
        self._store, self._other = store, other

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    def withdraw_approval(self, approval_id: int, why: str) -> bool:
        self._other.decide_approval(approval_id, True)
        return self._store.withdraw_approval(approval_id, why)


def test_an_approval_racing_the_timeout_or_a_cancel_is_never_approved_and_ignored() -> None:
    from engine.cutover.approvals import require
    from engine.errors import Interrupted

    with SessionStore.open("race", operator="alice") as alice, SessionStore.open("race", operator="bob") as bob:
        for store in (alice, bob):
            store.set_shared_account(True)
        racing = _DecidedInTheWindow(alice, bob)
        approved = require(racing, "cutover", "final cutover", timeout=0.05, poll_s=0.01)  # type: ignore[arg-type]
        assert approved.state == "approved" and approved.decided_by == "bob"  # approved in time: it is carried out

        cancel = threading.Event()
        cancel.set()
        with pytest.raises(Interrupted):
            require(racing, "cutover", "final cutover", cancel=cancel, poll_s=0.01)  # type: ignore[arg-type]
        last = alice.approvals()[-1]
        void = [e for e in alice.events_after(0) if e.kind == "approval_void"]
        assert last.state == "approved" and [e.payload["id"] for e in void] == [last.id], void
        assert "nothing was done" in void[0].payload["why"]
