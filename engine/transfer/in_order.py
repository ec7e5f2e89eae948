"""A dry run's per-object lines in key order, though its workers finish in any order.

The plan is byte-ordered (both listings are; :mod:`engine.transfer.lister` merges parallel
ranges back in order), but a dry run hands its copies and checks to a pool of workers, and
each printed its "would copy" line when it finished, while the planner printed its own lines
(not copied, a listing error) at once: the order moved from run to run at batch and worker
edges, so two dry runs could not be diffed. Here every per-object line gets a ticket in plan
order as the planner meets it (an action's as it is queued for a worker; the planner's own
at once); a worker hands in what it would emit under its action's ticket, and the lines go
out as soon as every earlier ticket is in. At most :data:`WINDOW` tickets are outstanding
(the planner hands every queued action to a worker, then waits for room), so memory stays
flat at ten million keys.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

WINDOW = 4096
"""Tickets handed out and not yet emitted: what a slow object can hold up behind it."""


class InOrder:
    """Ticketed events, emitted in ticket order."""

    def __init__(self, emit: Callable[[Any], None], window: int | None = None):
        self._emit = emit
        self._window = window or WINDOW
        self._cond = threading.Condition(threading.Lock())  # not the default RLock: a put per object
        self._issued = 0
        self._next = 0
        self._ready: dict[int, list[Any]] = {}
        self._waiting = False

    def ticket(self) -> int:
        """The next place in line. Tickets are taken by one thread only (the planner), so no
        lock: the others only read ``_issued``."""
        n = self._issued
        self._issued = n + 1
        return n

    def full(self) -> bool:
        with self._cond:
            return self._issued - self._next >= self._window

    def wait_room(self, cancelled: Callable[[], bool]) -> None:
        """Block while the window is full, until half of it is out (every outstanding ticket must
        already be with a worker, or this waits for ever); raises InterruptedError when cancelled.
        Waking at half, not at every line, keeps the planner from a wake-up per object."""
        with self._cond:
            if self._issued - self._next < self._window:
                return
            self._waiting = True
            try:
                while self._issued - self._next > self._window // 2:
                    if cancelled():
                        raise InterruptedError
                    self._cond.wait(0.2)
            finally:
                self._waiting = False

    def emit(self, event: Any) -> None:
        """An event that waits for no ticket (progress, messages, the planner's own lines)."""
        with self._cond:
            self._emit(event)

    def drain(self) -> None:
        """A run cut short: emit what is in, in order, skipping tickets that never ran."""
        with self._cond:
            for n in sorted(self._ready):
                for event in self._ready[n]:
                    self._emit(event)
            self._ready.clear()
            self._next = self._issued
            self._cond.notify_all()

    def put(self, n: int, events: list[Any]) -> None:
        """Ticket ``n`` is done, with these events (none: a skip, a cancelled action)."""
        with self._cond:
            self._ready[n] = events
            while self._next in self._ready:
                for event in self._ready.pop(self._next):
                    self._emit(event)  # under the lock: one writer, in order
                self._next += 1
            if self._waiting and self._issued - self._next <= self._window // 2:
                self._cond.notify_all()
