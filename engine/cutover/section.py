"""The ``[cutover]`` profile section: the runbook and what needs two people."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from engine.model_base import Section

ApprovalAction = Literal["transfer-delete", "cutover", "skip-failed-verify"]


class RunbookItem(Section):
    """One line of the cutover checklist."""

    title: str = Field(min_length=1, max_length=200)
    """What to do or check."""
    gate: bool = False
    """A go/no-go gate: the cutover stops here until someone ticks it."""
    rollback: str | None = Field(default=None, max_length=2000)
    """The command or action that undoes this item."""


class CutoverSection(Section):
    """How the cutover is run by the people doing it."""

    require_approval: list[ApprovalAction] = Field(
        default_factory=lambda: ["transfer-delete", "cutover", "skip-failed-verify"]
    )
    """Actions that wait for a second person (a different uid) to approve."""
    shared_account: bool = False
    """One OS account is shared by several people: each declares a name in GPUMIGRATE_OPERATOR, and
    an approval between two declared names on one uid is accepted and recorded as "same account,
    name declared" (which cannot prove two people were involved)."""
    lease_ttl_s: float = Field(default=15.0, ge=2, le=3600)
    """Seconds without a heartbeat after which the driver's lease expires."""
    runbook: list[RunbookItem] = Field(default_factory=list)
    """The cutover checklist, in order."""
