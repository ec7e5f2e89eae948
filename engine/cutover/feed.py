"""What a front end draws of a run: the events a screen needs, at the rate it draws them.

A transfer of 30,000 small files emits some 60,000 events (a copied row per object, a progress
tick per object batch).  The app's Transfer screen draws totals and progress about four times a
second and lists objects one by one only for failures (and, in a dry run, the first
:data:`PLAN_ROWS` planned actions).  :class:`FeedFilter` sits in the worker process between the
engine and the pipe to the app and forwards exactly that:

* ``Progress``: the latest per (step, label[, path]) at most every :data:`FEED_EVERY_S`
  (a flusher thread writes held-back ticks, so a quiet run still shows its last figures);
  anything else of the step first writes the step's held-back ticks, so order is kept.
* per-object ``Progress`` (label ``object``): only for objects still in flight when a tick is
  written; an object that starts and ends between two ticks is never sent (nothing would
  have drawn it), its end is sent when its start was.
* transfer ``ItemDone`` rows that are routine (copied, skipped, verified, deleted) are dropped:
  the progress counters and the step's result carry them.  Planned actions (dry run) are sent
  for the first :data:`PLAN_ROWS`, and a ``plan`` progress row carries the exact counts of all.
* everything else (step start/finish, messages, failures, other steps' items) goes at once.

The CLI's ``--json`` output and the session recorder do not go through here.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

from engine.events import Event, ItemDone, Progress

FEED_EVERY_S = 0.25
"""At most this often per progress key; the app draws about as often."""
PLAN_ROWS = 10_000
"""Planned actions sent one by one (the Transfer screen's plan table shows this many)."""
ROUTINE_TRANSFER_ITEMS = frozenset({"copied", "skipped", "verified", "deleted"})
PLAN_STATUSES = {"would_copy": "copy", "would_delete": "delete"}
ENDED_PHASES = frozenset({"done", "failed"})


class FeedFilter:
    """Thread-safe sink: ``filter(event)`` forwards what a screen draws to ``out``."""

    def __init__(self, out: Callable[[Event], None], every_s: float = FEED_EVERY_S,
                 plan_rows: int = PLAN_ROWS, flusher: bool = True) -> None:
        self._out = out
        self._every = every_s
        self._plan_rows = plan_rows
        self._lock = threading.RLock()
        self._held: dict[tuple[str, ...], Progress] = {}
        self._last: dict[tuple[str, ...], float] = {}
        self._sent_objects: set[tuple[str, str]] = set()
        self._plan: dict[str, dict[str, int]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if flusher:
            self._thread = threading.Thread(target=self._flush_loop, name="feed-flush", daemon=True)
            self._thread.start()

    # --- in ------------------------------------------------------------------

    def __call__(self, event: Event) -> None:
        with self._lock:
            if isinstance(event, Progress):
                self._progress(event)
                return
            if isinstance(event, ItemDone) and event.step == "transfer":
                if event.status in ROUTINE_TRANSFER_ITEMS:
                    return
                if event.status in PLAN_STATUSES:  # rows need no ordering against the ticks
                    if self._planned(event):
                        self._out(event)
                    return
            self._flush_step(event.step)
            self._out(event)

    def _progress(self, event: Progress) -> None:
        key: tuple[str, ...] = (event.step, event.label)
        if event.label == "object":
            path = str((event.extra or {}).get("path", ""))
            key = (event.step, "object", path)
            if str((event.extra or {}).get("phase", "")) in ENDED_PHASES:
                self._held.pop(key, None)
                if (event.step, path) in self._sent_objects:  # it is on screen: take it off now
                    self._sent_objects.discard((event.step, path))
                    self._out(event)
                return
        now = time.monotonic()
        last = self._last.get(key)
        if event.label != "object" and (last is None or now - last >= self._every):
            self._held.pop(key, None)
            self._last[key] = now
            self._out(event)
            return
        self._held[key] = event

    def _planned(self, event: ItemDone) -> bool:
        """Count a planned action; True while it is among the first PLAN_ROWS (sent as a row)."""
        counts = self._plan.setdefault(event.step, {"copy": 0, "copy_bytes": 0, "delete": 0, "delete_bytes": 0,
                                                   "rows": 0})
        action = PLAN_STATUSES[event.status]
        counts[action] += 1
        size = (event.data or {}).get("size")
        counts[f"{action}_bytes"] += int(size) if isinstance(size, (int, float)) else 0
        self._held[(event.step, "plan")] = self._plan_event(event.step)
        if counts["rows"] >= self._plan_rows:
            return False
        counts["rows"] += 1
        return True

    def _plan_event(self, step: str) -> Progress:
        c = self._plan[step]
        return Progress(step, done=c["copy"] + c["delete"], unit="objects", label="plan",
                        extra={k: v for k, v in c.items() if k != "rows"})

    # --- out -----------------------------------------------------------------

    def _flush_step(self, step: str | None) -> None:
        """Write held-back ticks (all steps' when ``step`` is None), oldest key first."""
        now = time.monotonic()
        for key in [k for k in self._held if step is None or k[0] == step]:
            event = self._held.pop(key)
            self._last[key] = now
            if len(key) == 3:  # an object still in flight: from now on it is on screen
                self._sent_objects.add((key[0], key[2]))
            self._out(event)

    def flush(self) -> None:
        """Write everything held back (the run's end does this)."""
        with self._lock:
            self._flush_step(None)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self.flush()

    def _flush_loop(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - a closed pipe: the run goes on without its viewer
                return
