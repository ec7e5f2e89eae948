"""The words `session show`, `session list` and the export print are true: a cancelled run is not
"finished", an interrupted step did not "FAIL", and no event is printed as raw JSON."""

from __future__ import annotations

import argparse

import pytest

from engine.cutover.status import describe, export, summarize
from engine.events import StepFinished
from engine.session import SessionStore, StoredEvent
from tui.commands import session as cli


def _ended_run(store: SessionStore, exit_code: int, *, cancelled_by: str | None = None,
               step_state: str = "completed") -> int:
    run_id = store.begin_run("h", ["transfer"], ttl_s=60)
    store.set_step("transfer", "running")
    store.set_step("transfer", step_state)
    if cancelled_by:
        store._db.execute("UPDATE runs SET cancel_requested_by = ? WHERE id = ?", (cancelled_by, run_id))  # noqa: SLF001
    store.end_run(run_id, exit_code)
    return run_id


@pytest.mark.parametrize(("exit_code", "cancelled_by", "step_state", "word"), [
    (0, None, "completed", "finished"),
    (3, "alice", "interrupted", "cancelled by alice"),
    (3, None, "interrupted", "interrupted"),
    (1, None, "failed", "failed"),
    (4, None, "failed", "failed"),
    (0, None, "incomplete", "incomplete"),
    # what a replay really does: an expected check that did not run is INCOMPLETE and exits 1; nothing failed
    (1, None, "incomplete", "incomplete"),
])
def test_the_last_run_is_called_what_it_was(exit_code: int, cancelled_by: str | None, step_state: str,
                                             word: str, capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    with SessionStore.open("words") as store:
        _ended_run(store, exit_code, cancelled_by=cancelled_by, step_state=step_state)
        info = summarize(store, events=0)
        assert info["run"]["outcome"].startswith(word)
        md, _ = export(store, tmp_path)
    if word != "finished":  # nor in the JSON's lifecycle word: it ended, it did not finish
        assert "finished" not in info["run"]["outcome"] and info["run"]["state"] == "ended"
    else:
        assert info["run"]["state"] == "finished"
    assert cli.run(argparse.Namespace(session_command="show", name="words", json=False, events=0)) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if "last run" in ln)
    assert f"#1: {word}" in line
    if word != "finished":
        assert "finished" not in line
    assert cli.run(argparse.Namespace(session_command="list", json=False)) == 0
    assert word in capsys.readouterr().out
    assert f"| 1 | {word}" in md.read_text()


def test_an_interrupted_step_is_not_called_failed_and_an_incomplete_one_not_finished() -> None:
    def ev(ok: bool, result: dict) -> StoredEvent:
        payload = {"ok": ok, "summary": "s", "result": result}
        return StoredEvent(1, 0.0, "alice", "verify", "step_finished", payload)

    assert describe(ev(False, {"interrupted": True})).startswith("interrupted")
    assert describe(ev(False, {"report": {"verdict": "INCOMPLETE"}})).startswith("INCOMPLETE")
    assert describe(ev(False, {})).startswith("FAILED")
    assert describe(ev(True, {})).startswith("finished")


def test_sharing_and_every_other_event_kind_is_a_sentence_not_json() -> None:
    with SessionStore.open("sentences") as store:
        store.append("session", "session_shared", {"group": "ops"})
        store.append("session", "session_unshared", {})
        store.append("runbook", "cutover_signed_off", {"items": 3, "sts_jobs": []})
        store.append("profile", "profile_opened", {"path": "/p.toml"})
        store.append("session", "worker_failed", {"error": "boom", "pid": 7})
        store.append("session", "run_heartbeat_failed", {"run": 1, "error": "locked"})
        store.append("session", "something_new", {"a": 1})
        store.record(StepFinished("transfer", ok=True, summary="done"))
        texts = {e.kind: describe(e) for e in store.events_after(0)}
    uid = store.uid
    assert texts["session_shared"] == f"{store.operator} (uid {uid}) shared the session with group ops (`session share`)"
    assert texts["session_unshared"] == f"{store.operator} (uid {uid}) made the session private to its owner again (`session unshare`)"
    for kind, text in texts.items():
        assert "{" not in text and "_" not in text.split(" ")[0], (kind, text)
