"""The runbook: the profile's cutover checklist, ticked by people, with time.

Items come from ``[cutover] runbook`` in the profile the session runs; ticks
live in the session (who, when, a note) and every tick is an audit event.  A
go/no-go gate blocks the items after it until someone ticks it.  The rollback
plan is the items' rollback commands, last item first.  Signing off the whole
checklist is the ``cutover`` action, which waits for a second operator when the
profile asks for it (see :mod:`engine.cutover.approvals`).
"""

from __future__ import annotations

import threading

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import BadInputError
from engine.profile import Profile, load_profile, parse_profile
from engine.session import SessionStore, Tick


@dataclass(frozen=True)
class Entry:
    """One checklist line as a person sees it."""

    number: int
    title: str
    gate: bool
    rollback: str | None
    tick: Tick | None
    blocked_by: int | None
    """The number of an unticked gate before this item, if any."""

    @property
    def done(self) -> bool:
        return self.tick is not None


def session_profile(session: SessionStore, fallback: Profile | None = None) -> Profile:
    """The profile a session runs: its file if it is still there and readable here, else the copy the
    session keeps (the second person of a shared session usually cannot read the driver's home)."""
    if fallback is not None:
        return fallback
    path = session.get_meta("profile_path")
    if path and readable(Path(path)):
        return load_profile(path)
    text = session.get_meta("profile_toml")
    if text:
        return parse_profile(text, f"session {session.name}")
    raise BadInputError(f"session {session.name!r} has no profile yet: open it with a profile first "
                        f"(gpumigrate --profile P --session {session.name})")


def readable(path: Path) -> bool:
    """A file this login may read (a path in another login's 0700 home raises on stat: not readable)."""
    import os

    try:
        return path.is_file() and os.access(path, os.R_OK)
    except OSError:
        return False


def entries(session: SessionStore, profile: Profile) -> list[Entry]:
    ticks = session.ticks()
    out: list[Entry] = []
    open_gate: int | None = None
    for number, item in enumerate(profile.cutover.runbook, start=1):
        tick = ticks.get(item.title)
        out.append(Entry(number, item.title, item.gate, item.rollback, tick, open_gate))
        if item.gate and tick is None and open_gate is None:
            open_gate = number
    return out


def find(profile: Profile, ref: str) -> tuple[int, str]:
    """An item by its number (1-based) or its exact title."""
    items = profile.cutover.runbook
    if not items:
        raise BadInputError("the profile has no runbook ([[cutover.runbook]] items)")
    if ref.isdigit():
        number = int(ref)
        if not 1 <= number <= len(items):
            raise BadInputError(f"runbook item {number} does not exist (1..{len(items)})")
        return number, items[number - 1].title
    for number, item in enumerate(items, start=1):
        if item.title == ref:
            return number, item.title
    raise BadInputError(f"no runbook item titled {ref!r}; use its number (1..{len(items)})")


def tick(session: SessionStore, profile: Profile, ref: str, note: str = "") -> Tick:
    """Tick an item; refused while an earlier go/no-go gate is open."""
    number, title = find(profile, ref)
    entry = entries(session, profile)[number - 1]
    if entry.blocked_by is not None:
        gate = profile.cutover.runbook[entry.blocked_by - 1].title
        raise BadInputError(f"item {number} comes after go/no-go gate {entry.blocked_by} ({gate!r}), "
                            "which nobody has ticked yet")
    return session.tick(title, note)


def untick(session: SessionStore, profile: Profile, ref: str) -> None:
    _number, title = find(profile, ref)
    session.untick(title)


def shown(session: SessionStore, profile: Profile) -> dict[str, str]:
    """What a second person sees of a sign-off besides its request (``session show``, the Runbook view):
    the runbook with its ticks, the profile the session runs, the last transfer run and what the session's
    verification says.  Its approval binds to these."""
    book = "\n".join(f"{e.number}. {e.title}: {e.tick.ticked_by if e.tick else '-'}" for e in entries(session, profile))
    path = session.get_meta("profile_path")
    text = session.get_meta("profile_toml") or ""
    if path and readable(Path(path)):
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError:
            pass
    from engine.cutover.freshness import last_transfer_mark, verification_basis

    # the verification's words too: a sign-off asked for NOT VERIFIED (acknowledged) and approved after a
    # verification ended (failed, or passed) would record what neither person saw
    return {"the runbook's ticks": book, "the profile": text, "the last transfer run": last_transfer_mark(session),
            "the session's verification": verification_basis(session)}


def rollback_plan(profile: Profile) -> list[tuple[int, str, str]]:
    """(item number, title, command) for every item with a rollback, last item first."""
    items = list(enumerate(profile.cutover.runbook, start=1))
    return [(n, item.title, item.rollback) for n, item in reversed(items) if item.rollback]


def sign_off(session: SessionStore, profile: Profile, timeout: float | None = None,
             cancel: "threading.Event | None" = None, acknowledge_unverified: bool = False) -> str:
    """The final cutover: every item ticked, then (when required) a second operator's approval.
    Returns what the session's verification says of the copy (also recorded with the sign-off).

    A session whose copy no verification covers is refused (:class:`engine.cutover.freshness.NotVerified`)
    unless ``acknowledge_unverified``: the person signing off says so, and the acknowledgment is in the
    request a second person approves, the record and the audit log.

    ``cancel`` (set when the app that asked closes) withdraws a request still waiting: an approval
    given later must not carry out a cutover for a process nobody watches any more."""
    from engine.cutover.approvals import needs_approval, require

    missing = [e.number for e in entries(session, profile) if not e.done]
    if missing:
        raise BadInputError(f"the runbook is not complete: item(s) {', '.join(map(str, missing))} not ticked")
    from engine.cutover.freshness import NOT_VERIFIED, check_cutover, check_verified, verification_basis

    check_cutover(session)  # a verification older than the last transfer run does not cover the copy cut over to
    basis = check_verified(session, verification_basis(session), acknowledge_unverified)
    approval = None
    if needs_approval(profile, "cutover"):
        unverified = f" ({basis})" if basis.startswith(NOT_VERIFIED) else ""
        approval = require(session, "cutover", f"final cutover of {profile.name or session.name}{unverified}",
                           timeout, cancel=cancel, subject=lambda: shown(session, profile))
        # a verification that ended while the request waited: what it says now is what is recorded
        basis = check_verified(session, verification_basis(session), acknowledge_unverified)
    # The migration's Storage Transfer Service jobs end with the cutover: a schedule left running
    # would keep copying (and, with delete-unique-in-sink, deleting) into the target.  A failure
    # here (no credentials, service down) stops the sign-off with the reason.
    from engine.transfer.sts_jobs import disable_profile_jobs

    disabled = [r.to_dict() for r in disable_profile_jobs(profile)]
    payload: dict[str, Any] = {"items": len(profile.cutover.runbook), "sts_jobs": disabled, "verification": basis}
    if basis.startswith(NOT_VERIFIED):
        payload["unverified_acknowledged_by"] = session.operator
    # Who else approved, and how: the record never lets one person's sign-off read as two people's.
    if approval is not None and approval.decided_by:
        payload.update(approved_by=approval.decided_by, approved_how=approval.how_approved)
    else:
        payload["second_person"] = "none: the profile's [cutover] require_approval leaves out cutover"
    session.append("runbook", "cutover_signed_off", payload)
    return basis
