"""A cutover with no verification of the copy is refused unless the person signing off acknowledges it (s8target).

Session 7 recorded such a sign-off as `NOT VERIFIED: no verification ran in this session` but took it: one key
on the Runbook and the cutover was "signed off", the words only in the audit log. Now the sign-off is refused
with what to do; acknowledging it (the app asks, `y`) is recorded in the sign-off's words, in the audit log and
in the request a second person approves. A verification accepted with known gaps by two people is not "NOT
VERIFIED": its record says what was accepted, and it needs no acknowledgment.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cutover import runbook
from engine.cutover.freshness import NotVerified
from engine.profile import load_profile
from engine.runner import run_steps
from engine.session import SessionStore
from engine.verify.signoff import GAPS_ACTION, last_report, sign_off
from tests.verify_support import cutover_profile, second_person
from tui.cli import main

ACK = "NOT VERIFIED: no verification ran in this session; signed off acknowledging it (alice)"


def test_a_cutover_no_verification_covers_is_refused_unless_acknowledged(tmp_path: Path, capsys) -> None:
    profile = load_profile(cutover_profile(tmp_path, "unverified"))
    with SessionStore.open("unverified", operator="alice") as session:
        session.set_shared_account(True)  # alice and bob: names declared on one OS account
        session.set_step("transfer", "completed", result={"summary": "copied 3 objects"})
        runbook.tick(session, profile, "1")
        with pytest.raises(NotVerified) as refused:
            runbook.sign_off(session, profile, timeout=5)
        words = str(refused.value)
        assert words.startswith("cutover not signed off: NOT VERIFIED: no verification ran in this session."), words
        assert "`gpumigrate replay PROFILE --session unverified --steps verify`" in words
        assert "acknowledging" in words
        assert session.approvals() == []  # nobody was asked to approve what is refused
        assert not any(e.kind == "cutover_signed_off" for e in session.events_after(0))

        helper = second_person("unverified", "bob", True, action="cutover")
        basis = runbook.sign_off(session, profile, timeout=10, acknowledge_unverified=True)
        helper.join()
        assert basis == ACK, basis
        (request,) = session.approvals()
        assert "NOT VERIFIED: no verification ran in this session; signed off acknowledging it (alice)" \
            in request.detail, request.detail  # the second person approves knowing it
        event = session.recent_events(1)[0]
        assert event.kind == "cutover_signed_off" and event.payload["verification"] == ACK
        assert event.payload["unverified_acknowledged_by"] == "alice"
    assert main(["session", "show", "unverified", "--events", "5"]) == 0
    assert (f"signed off the cutover (1 runbook item(s) ticked; {ACK}; approved by bob (same account, name declared))"
            in capsys.readouterr().out)  # who approved, and how: one account's two names prove no second person


def test_a_verification_accepted_with_gaps_is_said_as_such_not_refused(tmp_path: Path) -> None:
    path = cutover_profile(tmp_path, "unverified", approval="[]")
    (tmp_path / "target.csv").unlink()  # convergence cannot read its target curve: not a PASS
    profile = load_profile(path)
    with SessionStore.open("gaps", operator="alice") as session:
        session.set_step("transfer", "completed", result={"summary": "copied 3 objects"})
        run_steps(profile, ["verify"], emit=lambda e: None, profile_path=path, session=session)
        report = last_report(session)
        assert report.verdict != "PASS"
        runbook.tick(session, profile, "1")
        with pytest.raises(NotVerified):  # not accepted yet: the verification does not cover the copy
            runbook.sign_off(session, profile, timeout=5)
        helper = second_person("gaps", "bob", True, action=GAPS_ACTION)
        sign_off(session, report, "accepted-with-gaps", note="curves come tomorrow", timeout=10)
        helper.join()
        basis = runbook.sign_off(session, profile, timeout=5)
        assert basis.startswith(f"verification {report.verdict} accepted with known gaps (approved by bob; same account, name declared): "), basis
        assert "NOT VERIFIED" not in basis
