"""Is the session's verification newer than its last transfer run?

A verification checks the copy that was at the destination when it ran.  After ``replay --again transfer``
(the final pass) the copy is a newer one, and a PASS from before it says nothing about it: a cutover
"approved by two people" on that PASS would be approved on a copy nobody checked.  ``session show`` says
so (``before_last_transfer``); the sign-offs (``verify --sign-off``, the app's Verify keys, the Runbook's
cutover sign-off, ``session approve`` of a cutover) refuse it, unless someone accepted exactly that gap
with a written reason and a second person's approval (a verify sign-off ``accepted-with-gaps`` that
names the transfer run it predates).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from engine.errors import BadInputError
from engine.session import SessionStore

VERIFY, TRANSFER = "verify", "transfer"


def _clock(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


@dataclass(frozen=True)
class Stale:
    """A verification that finished before the session's last transfer run ended (or began, when it still runs)."""

    verified_at: float
    transferred_at: float
    transfer_state: str

    def words(self) -> str:
        when = (f"running since {_clock(self.transferred_at)}" if self.transfer_state == "running"
                else f"{self.transfer_state} {_clock(self.transferred_at)}")
        return (f"the verification (finished {_clock(self.verified_at)}) predates the last transfer run "
                f"({when}): its result does not cover the copy now at the destination")


def stale_verification(store: SessionStore, verified_at: float | None = None) -> Stale | None:
    """The gap between a verification (``verified_at``; default the session's recorded one) and the last
    transfer run, or None when the verification is the newer (or either is missing)."""
    steps = store.steps()
    transfer = steps.get(TRANSFER)
    if not verified_at:
        verify = steps.get(VERIFY)
        verified_at = verify.finished_at if verify is not None and verify.state != "running" else None
    if not verified_at or transfer is None:
        return None
    if transfer.state == "running" and transfer.started_at and transfer.started_at > verified_at:
        return Stale(verified_at, transfer.started_at, "running")
    if transfer.state != "running" and transfer.finished_at and transfer.finished_at > verified_at:
        return Stale(verified_at, transfer.finished_at, transfer.state)
    return None


def accepted(store: SessionStore, stale: Stale) -> dict[str, Any] | None:
    """The verify sign-off that accepted this very gap (with gaps, a second person approving), if any."""
    from engine.verify.signoff import signoffs

    return next((s for s in reversed(signoffs(store)) if s.get("decision") == "accepted-with-gaps"
                 and s.get("before_last_transfer_at") == stale.transferred_at), None)


def last_transfer_mark(store: SessionStore) -> str:
    """What an approval about a verification or a cutover binds to: the last transfer run, as now recorded.
    A transfer run that ends (or begins) while the request waits voids the approval."""
    transfer = store.steps().get(TRANSFER)
    if transfer is None:
        return "no transfer run"
    return f"{transfer.state} {transfer.started_at} {transfer.finished_at}"


def check_cutover(store: SessionStore, refused: str = "cutover not signed off") -> None:
    """Refuse a cutover (its sign-off, or approving one) on a verification older than the last transfer run,
    unless that gap was accepted; BadInputError in plain words with what to do."""
    stale = stale_verification(store)
    if stale is None or accepted(store, stale) is not None:
        return
    raise BadInputError(
        f"{refused}: {stale.words()}. Verify the copy now there "
        f"(`gpumigrate replay PROFILE --session {store.name} --again verify`), or accept this gap with a written "
        f"reason and a second person's approval (`gpumigrate verify PROFILE --session {store.name} --sign-off "
        "accept-gaps --note TEXT`), then sign off the cutover again")


def check_approval(store: SessionStore, approval_id: int) -> None:
    """Before a second person approves a request: a cutover on a verification older than the last transfer
    run is refused (as its sign-off is), so nobody's approval is recorded for it."""
    request = store.approval(approval_id)
    if request is not None and request.action == "cutover" and request.state == "pending":
        check_cutover(store, f"cannot approve #{approval_id} (cutover)")


NOT_VERIFIED = "NOT VERIFIED"


class NotVerified(BadInputError):
    """A cutover sign-off in a session whose copy no verification covers, not acknowledged by the person signing."""


def check_verified(store: SessionStore, basis: str, acknowledged: bool) -> str:
    """Refuse a cutover no verification covers unless the person signing off acknowledges it; return the basis to
    record (with the acknowledgment and who gave it).

    It was recorded ``NOT VERIFIED`` and taken: one key on the Runbook and the cutover was signed off, the words
    only in the audit log.  Verification may have been done outside the session, so it is not forbidden: the
    person says so, and the record, the audit log and the request a second person approves carry it."""
    if not basis.startswith(NOT_VERIFIED):
        return basis
    if not acknowledged:
        raise NotVerified(
            f"cutover not signed off: {basis}. Verify the copy now at the destination (`gpumigrate replay PROFILE "
            f"--session {store.name} --steps verify`), or sign it off acknowledging that it is not verified (the "
            "app's Runbook asks after `s`; the acknowledgment is recorded with the sign-off)")
    return f"{basis}; signed off acknowledging it ({store.operator})"


def _accepted_gaps(store: SessionStore) -> dict[str, Any] | None:
    """The accepted-with-gaps sign-off of the session's last verification (that very report), if any."""
    from engine.verify.signoff import last_report, report_digest, signoffs

    try:
        digest = report_digest(last_report(store))
    except BadInputError:
        return None
    return next((s for s in reversed(signoffs(store)) if s.get("decision") == "accepted-with-gaps"
                 and s.get("report_digest") == digest), None)


def verification_basis(store: SessionStore) -> str:
    """What the session's verification says of the copy a cutover is signed off on, recorded with the sign-off.

    A session that copied and never verified signed off in the same words as a verified one; whoever reads
    the audit trail later must see which it was. (A stale verification is refused before this, unless its
    gap was accepted.)"""
    verify = store.steps().get(VERIFY)
    if verify is None:
        return f"{NOT_VERIFIED}: no verification ran in this session"
    if verify.state != "completed" or not verify.finished_at:
        gaps = _accepted_gaps(store) if verify.state in ("failed", "incomplete") else None
        if gaps is not None:  # two people accepted this very verification's gaps: not "not verified"
            summary = str((verify.result or {}).get("summary") or verify.state)
            how = f"; {gaps['approved_how']}" if gaps.get("approved_how") else ""  # one account's declared names
            return (f"verification {gaps.get('verdict')} accepted with known gaps (approved by "
                    f"{gaps.get('approved_by')}{how}): {summary}")
        return f"{NOT_VERIFIED}: the session's verification is {verify.state}"
    summary = str((verify.result or {}).get("summary") or "completed")
    stale = stale_verification(store)
    if stale is not None:
        return f"verified before the last transfer run, the gap accepted: {summary}"
    return f"verified after the last transfer run: {summary}"
