"""A sign-off on a verification older than the session's last transfer run is refused (review s7).

`replay --again transfer` (the final pass) copies after the verification; its PASS is of an earlier copy.
`session show` said so (fb49846), but `verify --sign-off approve`, the Runbook's cutover sign-off and
`session approve` of a cutover took it: a cutover "approved by two people" on a copy nobody checked.
Now they refuse it, unless the gap is accepted with a written reason and a second person (and named).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from engine.cutover import runbook
from engine.errors import BadInputError, ExitCode
from engine.profile import load_profile
from engine.runner import run_steps
from engine.session import SessionStore
from engine.verify.signoff import GAPS_ACTION, last_report, sign_off, signoffs
from tests.verify_support import cutover_profile, second_person
from tui.cli import main

STALE = "predates the last transfer run (completed "


def _verify_then_transfer(tmp_path: Path, name: str) -> Path:
    path = cutover_profile(tmp_path, "final-pass")
    with SessionStore.open(name, operator="alice") as session:
        summary = run_steps(load_profile(path), ["verify"], emit=lambda e: None, profile_path=path, session=session)
        assert summary.ok and last_report(session).verdict == "PASS"
        time.sleep(0.01)
        session.set_step("transfer", "running")
        session.set_step("transfer", "completed", result={"summary": "copied 3 objects (the final pass)"})
        runbook.tick(session, load_profile(path), "1")
    return path


def test_a_pass_older_than_the_last_transfer_is_not_approved_nor_cut_over(tmp_path: Path, capsys,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    path = _verify_then_transfer(tmp_path, "stale-pass")
    monkeypatch.setenv("GPUMIGRATE_OPERATOR", "alice")
    assert main(["verify", str(path), "--session", "stale-pass", "--sign-off", "approve"]) == int(ExitCode.BAD_INPUT)
    err = capsys.readouterr().err
    assert "cannot approve: the verification (finished " in err and STALE in err, err
    assert "does not cover the copy now at the destination" in err and "--again verify" in err, err

    with SessionStore.open("stale-pass", operator="alice") as session:
        with pytest.raises(BadInputError, match="cutover not signed off: the verification .* predates the last "
                                                "transfer run .*accept-gaps"):
            runbook.sign_off(session, load_profile(path), timeout=5)
        assert session.approvals() == []  # refused before anyone was asked
        # a second person asked to approve a cutover (a request made before the final pass) is refused too
        request = session.request_approval("cutover", "final cutover of final-pass")
    monkeypatch.setenv("GPUMIGRATE_OPERATOR", "bob")
    assert main(["session", "approve", "stale-pass", str(request)]) == int(ExitCode.BAD_INPUT)
    err = capsys.readouterr().err
    assert f"cannot approve #{request} (cutover): the verification" in err and STALE in err, err
    with SessionStore.open("stale-pass", operator="alice") as session:
        assert session.approval(request).state == "pending"  # type: ignore[union-attr]
        session.withdraw_approval(request, "test")
    assert main(["session", "show", "stale-pass"]) == 0
    assert "a cutover sign-off is refused until it is verified again" in capsys.readouterr().out


def test_the_gap_accepted_by_a_second_person_names_it_and_lets_the_cutover_go_on(tmp_path: Path, capsys) -> None:
    path = _verify_then_transfer(tmp_path, "stale-accepted")
    profile = load_profile(path)
    with SessionStore.open("stale-accepted", operator="alice") as session:
        report = last_report(session)
        helper = second_person("stale-accepted", "bob", True, action=GAPS_ACTION, tries=200)
        said: list[str] = []
        entry = sign_off(session, report, "accepted-with-gaps", timeout=10,
                         note="the final pass copied 3 small config files; checked by hand",
                         emit=lambda ev: said.append(getattr(ev, "text", "")))
        helper.join()
        # alice and bob are names declared on one OS account: never worded as if two people approved (review s8)
        assert any("approved by bob (same account, name declared" in line for line in said), said
        assert STALE in session.approvals()[-1].detail  # the second person was shown the gap
        assert entry["approved_by"] == "bob" and STALE in entry["before_last_transfer"]
        assert STALE in signoffs(session)[-1]["before_last_transfer"]  # in the audit log

        # a long transfer's session holds more than one read of the log (10,000 events): the acceptance is still seen
        with session._write() as db:  # noqa: SLF001 - 10,001 events at once (one append each would take seconds)
            db.executemany("INSERT INTO events(ts, operator, step, kind, payload) VALUES(?, 'x', 'transfer', "
                           "'message', '{}')", [(time.time(),)] * 10_001)
        session.append("verify", "signoff", {**signoffs(session)[-1]})  # recorded again, past the first 10,000
        assert len(signoffs(session)) == 2
        helper = second_person("stale-accepted", "bob", True, action="cutover", tries=200)
        runbook.sign_off(session, profile, timeout=10)
        helper.join()
        assert session.recent_events(1)[0].kind == "cutover_signed_off"
    assert main(["session", "show", "stale-accepted"]) == 0
    out = capsys.readouterr().out
    assert "accepted with this gap, approved by bob (same account, name declared)" in out, out


def test_a_verification_after_the_last_transfer_signs_off_as_before(tmp_path: Path) -> None:
    path = _verify_then_transfer(tmp_path, "fresh")
    with SessionStore.open("fresh", operator="alice") as session:
        with pytest.raises(BadInputError, match="cannot approve"):
            sign_off(session, last_report(session), "approved")
        run_steps(load_profile(path), ["verify"], emit=lambda e: None, profile_path=path, session=session,
                  options={"again": ["verify"]})
        assert sign_off(session, last_report(session), "approved")["decision"] == "approved"
        with pytest.raises(BadInputError, match="nothing to accept with gaps"):
            sign_off(session, last_report(session), "accepted-with-gaps", note="x")


def test_a_cutover_signed_off_without_any_verification_says_so(tmp_path: Path, capsys) -> None:
    """A session that copied and never verified signed off its cutover as "signed off the cutover (1 runbook
    item(s) ticked)", the same words as a verified one. The sign-off now records what the verification
    said of the copy (none here) and every reader of the session sees it; since s8target it is refused unless
    acknowledged (tests/unit/test_cutover_unverified.py), and the acknowledgment is in the words."""
    path = cutover_profile(tmp_path, "final-pass")
    path.write_text(path.read_text().replace('require_approval = ["cutover"]', 'require_approval = []'))
    profile = load_profile(path)
    with SessionStore.open("unverified", operator="alice") as session:
        session.set_step("transfer", "completed", result={"summary": "copied 3 objects"})
        runbook.tick(session, profile, "1")
        basis = runbook.sign_off(session, profile, timeout=5, acknowledge_unverified=True)
        who = session.operator
        assert basis == f"NOT VERIFIED: no verification ran in this session; signed off acknowledging it ({who})", basis
        assert session.recent_events(1)[0].payload["verification"] == basis
    assert main(["session", "show", "unverified", "--events", "5"]) == 0
    assert ("signed off the cutover (1 runbook item(s) ticked; NOT VERIFIED: no verification ran in this session; "
            f"signed off acknowledging it ({who}); no second person: the profile's [cutover] require_approval leaves "
            "out cutover)") in capsys.readouterr().out  # one person's sign-off never reads as two people's

    with SessionStore.open("verified", operator="alice") as session:
        session.set_step("transfer", "completed", result={"summary": "copied 3 objects"})
        time.sleep(0.01)
        assert run_steps(profile, ["verify"], emit=lambda e: None, profile_path=path, session=session).ok
        runbook.tick(session, profile, "1")
        basis = runbook.sign_off(session, profile, timeout=5)
        assert basis.startswith("verified after the last transfer run: PASS"), basis
