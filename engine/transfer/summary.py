"""What a transfer did: counts, failures, and every source entry it did not copy with the reason.

The summary is the contract with the user: a run whose listing or reads failed is never
``ok``, and anything in the source that was not copied is in it (``not_copied``), by reason.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

INTERRUPTED_TAIL = "; interrupted (run the same command again to resume)"
"""How the one-line summary of an interrupted run ends."""
DRY_RUN_LEFT = "nothing was copied or deleted; run it again for the whole plan"
"""What a stopped dry run leaves (said by its summary, a Ctrl-C and a closed output alike): it copies nothing and
keeps no journal, so there is nothing to resume."""
DRY_INTERRUPTED_TAIL = f"; interrupted (a dry run: {DRY_RUN_LEFT})"
"""How the one-line summary of an interrupted dry run ends."""
REPORT_MAX = 1000
"""Entries of each list kept in the summary (counts are always complete)."""


@dataclass
class Failure:
    """One object that could not be copied or deleted, with the last error."""

    path: str
    action: str
    error: str
    attempts: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "action": self.action, "error": self.error, "attempts": self.attempts}


@dataclass
class NotCopied:
    """A source entry that was not copied and is not a failure: excluded, a symlink skipped, a loop..."""

    path: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "reason": self.reason}


def what_to_fix(failed: int, errors: Iterable[str], usual: str) -> str:
    """What to do before running again (``usual`` when nothing more precise is known). A file that
    changed during every copy (a log being written) fails the same way on every run: retrying
    alone is no way out, so the line says what is."""
    changing = sum(1 for e in errors if "changed during copy" in e)
    if not changing:
        return usual
    it = "it" if changing == 1 else "them"
    files = f"{changing} file{'' if changing == 1 else 's'} changed during every copy"
    if changing == failed:
        return f"{files}: stop what writes {it} (or exclude {it} with -x)"
    return f"{usual} ({files}: stop what writes {it}, or exclude {it} with -x)"


def reason_category(reason: str) -> str:
    """The short name a reason is counted under ("symlink skipped", "excluded"...)."""
    for key in ("changed: now a folder", "changed: now a symlink", "changed: now not a regular file", "excluded", "broken symlink", "symlink skipped", "symlink loop", "not a regular file",
                "vanished", "invalid name", "leads into the destination"):
        if key in reason:
            return key
    return reason.split(" (")[0]


@dataclass
class TransferSummary:
    """What a transfer did (or, in a dry run, would do)."""

    copied: int = 0
    deleted: int = 0
    skipped: int = 0
    failed: int = 0
    bytes: int = 0
    verified: int = 0
    excluded: int = 0
    refused: int = 0
    conflicts: int = 0
    resumed_parts: int = 0
    bytes_resumed: int = 0
    """Of ``bytes``: what earlier runs had sent of the objects this run completed (their resumed
    parts). ``bytes`` is the size of the objects copied; this run sent ``bytes_sent``."""
    kept_below_links: int = 0
    """-d, local destination: objects the source lacks that lie below a folder link of the
    destination (it may lead anywhere: /mnt/nvme, a shared folder), kept, never deleted."""
    temps_removed: int = 0
    """Temporary files or unfinished uploads of earlier runs removed (that no copy of this run continued)."""
    dry_run: bool = False
    interrupted: bool = False
    delete_refused: str = ""
    """Why the deletions were refused by a guard ("" when they ran or none were planned); in a dry run,
    why a real run would refuse them (the dry run still lists them: it is the view the guard promises)."""
    deletions_skipped: str = ""
    """Why planned deletions did not run although no guard refused them ("N errors")."""
    unguarded_writes: str = ""
    """Why writes and deletes at the destination ran without their preconditions (an endpoint
    that refuses conditional writes; "" when every one carried what planning saw)."""
    planned_delete: int = 0
    planned_objects: int = 0
    """Objects the plan found to copy (new or changed), whether or not they were copied."""
    planned_bytes: int = 0
    """Their bytes."""
    failures: list[Failure] = field(default_factory=list)
    """The first REPORT_MAX failures (``failed`` counts them all): keeping every one grew a run whose destination
    refused ten million objects by gigabytes, for a report that lists the first REPORT_MAX anyway."""
    not_copied: list[NotCopied] = field(default_factory=list)
    """Source entries not copied for a reason other than "up to date" (the first REPORT_MAX)."""
    not_copied_by_reason: Counter = field(default_factory=Counter)

    @property
    def bytes_sent(self) -> int:
        """Bytes of the objects copied that this run sent (a rate divides this, never ``bytes``)."""
        return self.bytes - self.bytes_resumed

    @property
    def ok(self) -> bool:
        return (self.failed == 0 and not self.interrupted and not self.delete_refused
                and not self.deletions_skipped)

    def note_failure(self, failure: Failure) -> None:
        self.failed += 1
        if len(self.failures) < REPORT_MAX:
            self.failures.append(failure)

    def note_not_copied(self, path: str, reason: str) -> None:
        self.not_copied_by_reason[reason_category(reason)] += 1
        if len(self.not_copied) < REPORT_MAX:
            self.not_copied.append(NotCopied(path, reason))

    def to_event(self) -> dict[str, Any]:
        """The final NDJSON line: ``{"event": "summary", "copied": n, ...}``."""
        return {"event": "summary", "copied": self.copied, "deleted": self.deleted, "skipped": self.skipped,
                "failed": self.failed, "bytes": self.bytes, "bytes_sent": self.bytes_sent,
                "bytes_resumed": self.bytes_resumed, "verified": self.verified,
                "excluded": self.excluded, "refused": self.refused, "conflicts": self.conflicts,
                "resumed_parts": self.resumed_parts, "temps_removed": self.temps_removed,
                "kept_below_links": self.kept_below_links, "dry_run": self.dry_run, "interrupted": self.interrupted,
                "delete_refused": self.delete_refused or None,
                "deletions_skipped": self.deletions_skipped or None, "unguarded_writes": self.unguarded_writes or None,
                "planned_objects": self.planned_objects,
                "planned_bytes": self.planned_bytes, "planned_delete": self.planned_delete,
                "failures": [f.to_dict() for f in self.failures[:REPORT_MAX]],
                "failures_listed": len(self.failures[:REPORT_MAX]),
                "not_copied": [n.to_dict() for n in self.not_copied[:REPORT_MAX]],
                "not_copied_by_reason": dict(sorted(self.not_copied_by_reason.items()))}

    def line(self) -> str:
        verb = "would copy" if self.dry_run else "copied"
        dverb = "would delete" if self.dry_run else "deleted"
        size = _human(self.bytes)
        if self.bytes_resumed:  # a resumed object: what this run sent, and what an earlier one had
            size += (f": {_human(self.bytes_sent)} sent by this run, {_human(self.bytes_resumed)} in parts "
                     "an earlier run had sent")
        text = (f"{verb} {self.copied:,} ({size}), {dverb} {self.deleted:,}, "
                f"skipped {self.skipped:,}, failed {self.failed:,}, verified {self.verified:,}")
        if self.not_copied_by_reason:
            text += "; not copied: " + ", ".join(f"{n:,} {why}" for why, n in sorted(self.not_copied_by_reason.items()))
        if self.kept_below_links:
            text += (f"; not deleted: {self.kept_below_links} below folder links of the destination "
                     "(-d deletes nothing a link leads to)")
        if self.delete_refused and self.dry_run:
            text += f"; a real run would refuse the deletions: {self.delete_refused}"
        elif self.delete_refused:
            text += f"; deletions refused: {self.delete_refused}"
        if self.deletions_skipped:
            text += f"; deletions skipped: {self.deletions_skipped}"
        if self.unguarded_writes:
            text += f"; OVERWRITES UNGUARDED ({self.unguarded_writes})"
        if self.interrupted:
            text += DRY_INTERRUPTED_TAIL if self.dry_run else INTERRUPTED_TAIL
        return text


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n}"
