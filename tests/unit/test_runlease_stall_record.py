"""A stall that a busy store could not record is recorded at the next beat (06d5ba0, review s8: it had no test).

The lease set its "stuck" flag before writing the stall; a write refused by a busy store ("database is locked")
was lost for good: the flag said it was written, so no later beat wrote it, and no reader ever showed the hung
run as not responding."""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

from engine.cutover.runlease import RunLease
from engine.session import SessionStore


class _BusyOnce:
    """The heartbeat thread's store, whose first stall write meets a busy database, as SQLite says it."""

    def __init__(self) -> None:
        self.written: list[tuple[Any, ...]] = []
        self.refused = 0

    def set_stalled(self, run_id: int, since: float | None, where: str = "") -> None:
        if not self.refused:
            self.refused += 1
            raise sqlite3.OperationalError("database is locked")
        self.written.append((run_id, since, where))


def test_a_stall_the_store_refused_is_written_at_the_next_beat() -> None:
    made: list[RunLease] = []
    hold = threading.Event()
    with SessionStore.open("stall-write") as session:
        def steps() -> None:  # the steps' thread: builds the lease, then hangs
            made.append(RunLease(session, ["transfer"], 30, threading.Event(), stall_s=0))
            hold.wait(30)

        thread = threading.Thread(target=steps, daemon=True)
        thread.start()
        try:
            while not made:
                threading.Event().wait(0.01)
            store = _BusyOnce()
            for _beat in range(3):
                try:
                    made[0]._watch_steps(store)  # noqa: SLF001 - one beat of the heartbeat thread
                except sqlite3.OperationalError:
                    pass
            assert store.refused == 1
            assert [w for w in store.written if w[1] is not None], store.written  # the stall, written late
        finally:
            hold.set()
            thread.join(5)
