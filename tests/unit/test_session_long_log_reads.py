"""One read of the session's log stops at 10,000 events (``events_after``); a long transfer writes more
(a progress row up to 4 times a second: ~42 minutes).  A reader that looks for the one event saying how a
step ended must read the whole log: the app's run of a step in the session's worker did not, and a long
transfer that completed was shown as "already done in this session" (skipped), one that failed as
interrupted (review s8)."""

from __future__ import annotations

import os
import time

from engine.errors import ExitCode
from engine.session import SessionStore
from tui.pairing import detached_outcome


def _many(session: SessionStore, step: str, count: int) -> None:
    with session._write() as db:  # noqa: SLF001 - 10,001 events at once (one append each would take seconds)
        db.executemany("INSERT INTO events(ts, operator, step, kind, payload) VALUES(?, 'x', ?, 'progress', '{}')",
                       [(time.time(), step)] * count)


def test_a_step_that_ended_after_10000_events_is_seen_as_it_ended() -> None:
    with SessionStore.open("long-log") as session:
        start = session.last_seq()
        run_id = session.begin_run("h", ["transfer"], ttl_s=3600)
        session.set_step("transfer", "running")
        _many(session, "transfer", 10_001)
        session.append("transfer", "step_finished", {"ok": False, "summary": "3 objects failed", "result": {}})
        session.set_step("transfer", "failed", result={"summary": "3 objects failed"})
        session.end_run(run_id, int(ExitCode.FAILED))
        summary = detached_outcome(session, start, "transfer", os.getpid())
        assert summary.exit_code == ExitCode.FAILED, summary  # was INTERRUPTED
        assert summary.results["transfer"].summary == "3 objects failed"

        start = session.last_seq()
        session.set_step("transfer", "running")
        _many(session, "transfer", 10_001)
        session.append("transfer", "step_finished", {"ok": True, "summary": "copied 9 objects", "result": {}})
        session.set_step("transfer", "completed", result={"summary": "copied 9 objects"})
        summary = detached_outcome(session, start, "transfer", -1)
        assert summary.ok and summary.results["transfer"].summary == "copied 9 objects"  # was "skipped"
        assert not summary.skipped
