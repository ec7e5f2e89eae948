"""`session show` says how the last run ended, not just that it "finished"."""

from __future__ import annotations

import pytest

from engine.session import SessionStore, new_holder_id
from tui.cli import main


def test_show_names_the_exit_of_a_run_that_did_not_succeed(capsys: pytest.CaptureFixture[str]) -> None:
    """A cancelled run (exit 3) showed as "last run #1: finished", the word of a successful one."""
    with SessionStore.open("ended") as store:
        run = store.begin_run(new_holder_id(), ["transfer"], ttl_s=30)
        store.end_run(run, 3)
    assert main(["session", "show", "ended"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "last run" in x)
    assert "last run #1: interrupted, transfer" in line and "finished" not in line
    with SessionStore.open("ok") as store:
        run = store.begin_run(new_holder_id(), ["transfer"], ttl_s=30)
        store.end_run(run, 0)
    assert main(["session", "show", "ok"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "last run" in x)
    assert "last run #1: finished, transfer" in line


def test_sharing_reads_as_words_in_the_audit_trail() -> None:
    """`session show` printed the raw event: 'session_shared {"group": "rvops"}'."""
    from engine.cutover.status import describe
    from engine.session import StoredEvent

    shared = StoredEvent(1, 0.0, "root", "session", "session_shared", {"group": "ops"})
    assert describe(shared) == "root shared the session with group ops (`session share`)"
    assert describe(StoredEvent(2, 0.0, "root", "session", "session_unshared", {})).startswith("root made the session")
