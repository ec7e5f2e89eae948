"""Start-up work that waits (on the disk, on the network) run beside the work that computes.

Before its first request a transfer spends ~0.3 s of CPU importing and building its clients.
Opening the journal is the opposite: creating a new SQLite file is four syncs to the disk
(30-55 ms on the 2-core test VM, 0.3 s while its disk was busy) and ~2 ms of CPU. Run one after
the other, the wait adds to the time before the first byte; in a thread, it overlaps the CPU work.
"""

from __future__ import annotations

import threading
from typing import Callable, TypeVar

T = TypeVar("T")


def in_thread(fn: Callable[[], T], name: str) -> Callable[[], T]:
    """Start ``fn()`` in a daemon thread now; the returned function waits for it and returns its
    result, or raises its exception (each call the same)."""
    box: list[tuple[bool, object]] = []

    def run() -> None:
        try:
            box.append((True, fn()))
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
            box.append((False, exc))

    thread = threading.Thread(target=run, daemon=True, name=name)
    thread.start()

    def result() -> T:
        thread.join()
        ok, value = box[0]
        if not ok:
            raise value  # type: ignore[misc]
        return value  # type: ignore[return-value]

    return result
