"""Sign-off: who approved (or rejected) a verification, recorded in the session's audit log.

Only a PASS is approved by one person.  A FAIL or an INCOMPLETE verification
(an expected check did not run) is either rejected, or *accepted with known
gaps*: that needs a written reason and a second person's approval through the
session's two-person mechanism (:func:`engine.cutover.approvals.require`, the
``skip-failed-verify`` action), and both names land in the audit log.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from typing import TYPE_CHECKING, Any, Literal

from engine.errors import BadInputError
from engine.events import Emit
from engine.session import SessionStore
from engine.verify.suite import VerifyReport

if TYPE_CHECKING:
    from engine.cutover.freshness import Stale

STEP = "verify"
KIND = "signoff"
GAPS_ACTION = "skip-failed-verify"
"""The two-person action (see engine.cutover.section) a second operator approves for accepted-with-gaps."""

Decision = Literal["approved", "rejected", "accepted-with-gaps"]
DECISIONS: tuple[str, ...] = ("approved", "rejected", "accepted-with-gaps")


def report_digest(report: VerifyReport) -> str:
    """A digest of what was signed: the results, not the sign-offs themselves."""
    data = report.to_dict()
    data.pop("signoffs", None)
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _what_is_wrong(report: VerifyReport, stale: str | None = None) -> str:
    bad = [f"{r.name} ({r.status})" for r in report.results if r.status in ("fail", "error")]
    gaps = [f"{r.name} (not run: {r.summary})" for r in report.gaps]
    if stale:
        gaps.append(stale)
    return "; ".join(bad + gaps) or "no check ran"


def staleness(session: SessionStore | None, report: VerifyReport) -> "Stale | None":
    """The gap between this verification and the session's last transfer run (None: none, or no session)."""
    from engine.cutover.freshness import stale_verification

    return None if session is None else stale_verification(session, report.finished_at or None)


def check_decision(report: VerifyReport, decision: str, note: str = "", stale: str | None = None,
                   session_name: str = "NAME") -> None:
    """Refuse what may not be signed; BadInputError with what to do instead.

    ``stale``: why the verification no longer covers the destination (it predates the last transfer run, see
    :mod:`engine.cutover.freshness`): a PASS then is not approved, only rejected or accepted with that gap."""
    if decision not in DECISIONS:
        raise BadInputError(f"unknown sign-off decision {decision!r} (one of {', '.join(DECISIONS)})")
    if report.mode != "verify":
        raise BadInputError("a baseline capture is not signed off; verify the target against it first")
    if decision == "approved" and stale:
        raise BadInputError(
            f"cannot approve: {stale}. Verify again (`gpumigrate replay PROFILE --session {session_name} --again "
            "verify`), reject it, or accept it with this gap (a written reason and a second person's approval)")
    if decision == "approved" and not report.ok:
        raise BadInputError(
            f"cannot approve: the verification is {report.verdict}: {_what_is_wrong(report)}. Fix and verify "
            "again, reject it, or accept it with known gaps (a written reason and a second person's approval)")
    if decision == "accepted-with-gaps":
        if report.ok and not stale:
            raise BadInputError("nothing to accept with gaps: the verification passed; approve it")
        if not note.strip():
            raise BadInputError("accepting with known gaps needs a written reason (what is missing, and why "
                                "the cutover may go on without it)")


def sign_off(session: SessionStore, report: VerifyReport, decision: Decision, note: str = "", *,
             timeout: float | None = None, cancel: threading.Event | None = None,
             emit: Emit | None = None) -> dict[str, Any]:
    """Record a decision.

    ``accepted-with-gaps`` blocks until a second operator approves (or declines:
    ApprovalDeclined; or ``timeout`` passes: ApprovalTimedOut; or ``cancel`` is
    set: Interrupted); nothing is recorded as accepted without them.
    """
    gap = staleness(session, report)
    stale = gap.words() if gap is not None else None
    check_decision(report, decision, note, stale, session.name)
    payload: dict[str, Any] = {
        "decision": decision, "note": note[:2000], "verdict": report.verdict, "summary": report.summary(),
        "counts": report.counts(), "report_digest": report_digest(report), "profile_name": report.profile_name,
    }
    if gap is not None:  # named in the record: what was signed is older than the copy now there
        payload.update(before_last_transfer=stale, before_last_transfer_at=gap.transferred_at)
    if decision == "accepted-with-gaps":
        from engine.cutover.approvals import require
        from engine.cutover.freshness import last_transfer_mark

        detail = (f"accept {report.verdict} verification of {report.profile_name or session.name} with known "
                  f"gaps: {_what_is_wrong(report, stale)}. Reason: {note[:500]}")
        approval = require(session, GAPS_ACTION, detail, timeout, cancel=cancel, emit=emit, step=STEP,
                           subject=lambda: {"the session's last verification": _last_digest(session),
                                            "the last transfer run": last_transfer_mark(session)})
        payload.update(approval_id=approval.id, approved_by=approval.decided_by)
        if getattr(approval, "same_account", 0):  # two declared names on one OS account proves less: say so
            from engine.session.identity import SAME_ACCOUNT

            payload["approved_how"] = SAME_ACCOUNT
    seq = session.append(STEP, KIND, payload)
    entry = {**payload, "operator": session.operator, "ts": time.time(), "seq": seq}
    report.signoffs.append(entry)
    return entry


def _last_digest(session: SessionStore) -> str:
    """The digest of the verification ``session show`` and the app show now (what an approver looks at)."""
    try:
        return report_digest(last_report(session))
    except BadInputError as exc:
        return str(exc)


def signoffs(session: SessionStore) -> list[dict[str, Any]]:
    """Every recorded sign-off, oldest first, with who and when: the whole log (one read of ``events_after`` stops
    at 10,000 events, and a long transfer's session has more: a later sign-off was not seen)."""
    return [{**e.payload, "operator": e.operator, "ts": e.ts, "seq": e.seq} for e in session.events_of(KIND, step=STEP)]


def last_report(session: SessionStore) -> VerifyReport:
    """The verification the session ran last (what a sign-off from the command line signs)."""
    record = session.step(STEP)
    data = ((record.result or {}).get("data") or {}).get("report") if record else None
    if not data or record is None:
        raise BadInputError(f"session {session.name!r} has no verification to sign off: run "
                            f"`gpumigrate verify PROFILE --session {session.name}` first")
    if record.state in ("running", "interrupted"):
        raise BadInputError(f"the verification in session {session.name!r} is {record.state}: run it to its end "
                            "before signing it off")
    return VerifyReport.from_dict(data)
