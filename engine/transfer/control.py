"""Pause, resume and cancel a running transfer from another thread (a screen, a worker)."""

from __future__ import annotations

import threading


class TransferControl:
    """Thread-safe handle on a running transfer.

    ``pause()`` stops new objects and parts from starting and holds in-flight streams at
    their next chunk; ``resume()`` lets them go on; ``cancel()`` stops everything at the
    next chunk boundary (finished parts stay in the journal, so a re-run resumes).
    """

    def __init__(self, cancel: threading.Event | None = None):
        self._running = threading.Event()
        self._running.set()
        self.cancel_event = cancel or threading.Event()
        self._lock = threading.Lock()
        self._listeners: list = []

    # --- commands ------------------------------------------------------------
    def pause(self) -> None:
        self._running.clear()
        self._notify("paused")

    def resume(self) -> None:
        self._running.set()
        self._notify("resumed")

    def cancel(self) -> None:
        self.cancel_event.set()
        self._running.set()  # wake paused workers so they can stop
        self._notify("cancelled")

    # --- state ----------------------------------------------------------------
    @property
    def paused(self) -> bool:
        return not self._running.is_set() and not self.cancel_event.is_set()

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def checkpoint(self) -> None:
        """Called by workers between chunks: blocks while paused, raises when cancelled."""
        while not self._running.wait(0.2):
            if self.cancel_event.is_set():
                break
        if self.cancel_event.is_set():
            raise InterruptedError("transfer cancelled")

    def on_change(self, fn) -> None:
        """Register ``fn(state)`` called with "paused" / "resumed" / "cancelled"."""
        with self._lock:
            self._listeners.append(fn)

    def _notify(self, state: str) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for fn in listeners:
            fn(state)
