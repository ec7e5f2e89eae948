"""Two-person approval: destructive or irreversible actions wait for a second login.

Which actions need it is the profile's choice (``[cutover] require_approval``:
``transfer-delete``, ``cutover``, ``skip-failed-verify``).  The step that is
about to do one calls :func:`require_for` (or :func:`require` with a session
handle); it records the request in the session and blocks until an operator
with a *different* uid approves or declines it (see :mod:`engine.session.approvals`;
a shared account needs ``[cutover] shared_account``), from an attached TUI or with
``gpumigrate session approve NAME ID``.  Both identities land in the audit log, and
the request carries the plan it approves (the first paths, the count, a file with
all of them).
"""

from __future__ import annotations

import hashlib
import threading
import time
from typing import TYPE_CHECKING, Callable, Iterable

from engine.errors import BadInputError, GpumigrateError, Interrupted
from engine.events import Emit, Message
from engine.session import Approval, SessionStore

if TYPE_CHECKING:
    from engine.runner import StepContext


class ApprovalDeclined(GpumigrateError):
    """The second operator said no (exit 1): the action was not done."""


class ApprovalTimedOut(GpumigrateError):
    """Nobody decided within the timeout (exit 1): the action was not done."""


def needs_approval(profile: object, action: str) -> bool:
    """Does the profile ask for two people before ``action``?"""
    cutover = getattr(profile, "cutover", None)
    return cutover is not None and action in cutover.require_approval


Subject = Callable[[], dict[str, str]]
"""What an approval is about, read from the session as everyone sees it: {"what, in words": its text}."""


def _digests(subject: Subject | None) -> dict[str, str]:
    if subject is None:
        return {}
    return {what: hashlib.sha256(text.encode()).hexdigest()[:16] for what, text in subject().items()}


def require(session: SessionStore, action: str, detail: str, timeout: float | None = None, *,
            cancel: threading.Event | None = None, emit: Emit | None = None, step: str = "session",
            poll_s: float = 0.2, plan: Iterable[str] | None = None, subject: Subject | None = None) -> Approval:
    """Ask for a second operator's approval of ``action`` and wait for it.

    Returns the approved :class:`Approval`.  Raises :class:`ApprovalDeclined`
    when declined, :class:`ApprovalTimedOut` after ``timeout`` seconds (None
    waits as long as it takes), ``Interrupted`` when ``cancel`` is set.

    ``subject`` reads what the second person is shown besides the request (the runbook's ticks, the
    profile the session runs, the last verification): read once before asking and again once approved.
    An approval binds to what was shown: if any of it changed in between (an item unticked, the profile
    edited) the approval is void, recorded as such (``approval_void``), and nothing is done.
    """
    before = _digests(subject)
    approval_id = session.request_approval(action, detail, plan)
    if emit is not None:
        request = session.approval(approval_id)
        listed = f"; the full list ({request.plan_count}) is in {request.plan_path}" if request and request.plan_path else ""
        emit(Message(step, level="warning",
                     text=f"waiting for a second person to approve #{approval_id} ({action}: {detail}){listed}; "
                          f"they review it with `gpumigrate session show {session.name}` and approve with "
                          f"`gpumigrate session approve {session.name} {approval_id}` "
                          "or from an attached app (Runbook, key 7)"))
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        approval = _wait(session, approval_id, action, timeout, deadline, cancel, emit, step, poll_s)
    except KeyboardInterrupt:  # Ctrl-C on the waiting terminal: nobody waits for it any more
        _stop_waiting(session, approval_id, action, "the requester stopped waiting (Ctrl-C)")
        raise
    after = _digests(subject)
    changed = [what for what in before if after.get(what) != before[what]]
    if changed:
        why = f"{' and '.join(changed)} changed since it was asked for"
        session.append("session", "approval_void", {"id": approval_id, "action": action, "why": why,
                                                    "approved_by": approval.decided_by})
        raise ApprovalDeclined(f"approval #{approval_id} ({action}) by {approval.decided_by} is void: {why}, so it "
                               "approved something that no longer is; nothing was done. Ask again: the second "
                               "person then sees it as it is now")
    return approval


def _wait(session: SessionStore, approval_id: int, action: str, timeout: float | None, deadline: float | None,
          cancel: threading.Event | None, emit: Emit | None, step: str, poll_s: float) -> Approval:
    while True:
        approval = session.approval(approval_id)
        assert approval is not None
        if approval.state == "approved":
            if emit is not None:
                # how: "two accounts", or one account's two declared names (which proves no second person)
                emit(Message(step, text=f"#{approval_id} {action} approved by {approval.decided_by} "
                                        f"({approval.how_approved}; requested by {approval.requested_by})"))
            return approval
        if approval.state == "withdrawn":
            raise ApprovalDeclined(f"approval #{approval_id} ({action}) was withdrawn: {approval.reason}; "
                                   "nothing was done")
        if approval.state == "declined":
            raise ApprovalDeclined(f"{action} was declined by {approval.decided_by} (approval #{approval_id}); "
                                   "nothing was done")
        if cancel is not None and cancel.is_set():
            _stop_waiting(session, approval_id, action, "cancelled while waiting")
            raise Interrupted(f"stopped while waiting for approval #{approval_id} ({action})")
        if deadline is not None and time.monotonic() >= deadline:
            if not session.withdraw_approval(approval_id, "timed out"):
                continue  # decided in the same instant as the timeout: the decision stands, read it
            raise ApprovalTimedOut(f"nobody approved #{approval_id} ({action}) within {timeout:g}s; "
                                   "nothing was done")
        time.sleep(poll_s)


def _stop_waiting(session: SessionStore, approval_id: int, action: str, why: str) -> None:
    """Withdraw the request; one approved in the same instant is recorded void (the audit trail must not
    show an approval of an action that was not done without saying so)."""
    if session.withdraw_approval(approval_id, why):
        return
    approval = session.approval(approval_id)
    if approval is not None and approval.state == "approved":
        session.append("session", "approval_void", {
            "id": approval_id, "action": action, "approved_by": approval.decided_by,
            "why": f"approved as the requester stopped ({why}); nothing was done"})


def require_for(ctx: "StepContext", action: str, detail: str, timeout: float | None = None) -> Approval | None:
    """The call for steps: approval when the profile asks for it, else None at once.

    A dry run never waits (it changes nothing).  Without a session there is
    nobody to ask, so the action is refused with how to run it instead.
    """
    if ctx.dry_run or not needs_approval(ctx.profile, action):
        return None
    if ctx.session is None:
        raise BadInputError(
            f"{action} needs a second person's approval ([cutover] require_approval in the profile): run it "
            "in a session (`--session NAME`) so that another operator can approve it, or remove "
            f"{action!r} from require_approval"
        )
    return require(ctx.session, action, detail, timeout, cancel=ctx.cancel, emit=ctx.emit, step=ctx.step)

