"""The planned work waiting for a worker: lets planning run ahead of the copies, in bounded memory.

Without ``-d`` copying overlaps the listing.  If the planner waited for a free worker slot
before planning the next object, the listing would finish only as the copies did, and the run's
totals (files, bytes: what makes a progress bar determinate and an ETA possible) would be known
only at the very end.  So the planner puts every action here and goes on planning; workers are
fed from the front.  The first :data:`MEMORY_MAX` waiting actions stay in memory; past that
they are appended to a :class:`~engine.transfer.spool.PlanSpool` on disk and read back a page
at a time, so memory stays flat at any size (a 10-million-object run whose copies are slow
keeps at most ``MEMORY_MAX`` actions in memory plus one page).  Order is kept (first in, first
out), which keeps resumed runs predictable.
"""

from __future__ import annotations

import collections
from pathlib import Path

from engine.transfer.plan import Action
from engine.transfer.spool import PlanSpool

MEMORY_MAX = 8192
"""Waiting actions held in memory (a few MB) before the rest go to disk."""


class ReadAhead:
    """A first-in first-out queue of actions: in memory up to a bound, then spilled to disk."""

    def __init__(self, journal_path: Path | None, memory_max: int = MEMORY_MAX):
        self._mem: collections.deque[Action] = collections.deque()
        self._max = memory_max
        self._journal_path = journal_path
        self._spool: PlanSpool | None = None
        self._spilled = 0
        """Actions on disk not read back yet."""
        self._read_seq = 0
        self.spilled_total = 0

    def __len__(self) -> int:
        return len(self._mem) + self._spilled

    def __bool__(self) -> bool:
        return bool(self._mem) or self._spilled > 0

    def put(self, act: Action) -> None:
        if self._spilled == 0 and len(self._mem) < self._max:
            self._mem.append(act)
            return
        if self._spool is None:
            self._spool = PlanSpool(self._journal_path)
        self._spool.add(act)
        self._spilled += 1
        self.spilled_total += 1

    def peek(self) -> Action | None:
        if not self._mem and self._spilled:
            self._refill()
        return self._mem[0] if self._mem else None

    def pop(self) -> Action:
        if not self._mem:
            self._refill()
        return self._mem.popleft()

    def _refill(self) -> None:
        """Move the next page from disk into memory (everything in memory is older than it)."""
        assert self._spool is not None
        page = self._spool.page_after(self._read_seq)
        for seq, act in page:
            self._read_seq = seq
            self._mem.append(act)
        self._spilled -= len(page)

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()
            self._spool = None
