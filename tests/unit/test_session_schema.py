"""The session file's version and migrations, one writer per process, and who is recorded."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from pathlib import Path

import pytest

from engine.errors import EnvironmentProblem
from engine.events import ItemDone, Progress, StepFinished
from engine.session import SessionStore, session_path
from engine.session import schema

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "session_v0.sql"


def _legacy_file(name: str) -> Path:
    path = session_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    db.executescript(FIXTURE.read_text())
    db.close()
    return path


def test_a_file_written_by_the_previous_schema_is_migrated_and_keeps_its_history() -> None:
    path = _legacy_file("legacy")
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 0
    with SessionStore.open("legacy", create=False) as store:
        assert store.schema_version() == schema.VERSION
        assert store.step("transfer").state == "completed"  # type: ignore[union-attr]
        old = store.events_after(0)
        assert old[0].operator == "alice" and old[0].who is None  # nobody's uid was recorded back then
        (approval,) = store.approvals("pending")
        assert approval.requested_uid is None and approval.requested_by == "alice"
        assert store.ticks()["Freeze writes"].ticked_by == "alice"
        assert store.runs()[0].uid is None
        seq = store.append("session", "note", {"text": "after the migration"})
        assert store.events_after(seq - 1)[0].who["uid"] == os.getuid()  # type: ignore[index]
        # a request made before uids were recorded still needs a different name
        store.decide_approval(approval.id, approve=True)
    with SessionStore.open("legacy", create=False) as again:  # opening twice migrates once
        assert again.schema_version() == schema.VERSION


def test_a_file_from_a_newer_version_is_refused_not_guessed_at() -> None:
    SessionStore.open("future").close()
    db = sqlite3.connect(session_path("future"))
    db.execute(f"PRAGMA user_version = {schema.VERSION + 1}")
    db.close()
    with pytest.raises(EnvironmentProblem, match="newer gpumigrate"):
        SessionStore.open("future", create=False)


def test_two_threads_writing_one_store_all_succeed() -> None:
    errors: list[BaseException] = []
    with SessionStore.open("threads") as store:

        def writer(step: str) -> None:
            try:
                for i in range(150):
                    store.set_step(step, "running" if i % 2 == 0 else "completed")
                    store.append(step, "note", {"i": i})
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(f"s{n}",)) for n in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert len(store.events_after(0)) == 300
        assert {n: s.attempt for n, s in store.steps().items()} == {"s0": 75, "s1": 75}


def test_every_event_records_the_os_identity_of_its_writer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGNAME", "someoneelse")
    monkeypatch.setenv("USER", "someoneelse")
    monkeypatch.setenv("GPUMIGRATE_OPERATOR", "someoneelse")
    monkeypatch.setenv("SSH_CONNECTION", "10.1.2.3 50022 10.1.2.4 22")
    with SessionStore.open("who") as store:
        store.append("session", "note", {})
        ev = store.events_after(0)[-1]
    import pwd
    import socket

    login = pwd.getpwuid(os.getuid()).pw_name
    assert ev.operator == login  # the environment does not rename anyone
    assert ev.who == {"login": login, "uid": os.getuid(), "pid": os.getpid(), "host": socket.gethostname(),
                      "tty": ev.who["tty"], "ssh": "10.1.2.3:50022", "declared": None}  # type: ignore[index]


def test_per_object_events_are_counted_not_stored_one_by_one() -> None:
    with SessionStore.open("agg") as store:
        start = store.last_seq()
        for i in range(1000):
            store.record(ItemDone("transfer", item=f"f{i}", status="copied", data={"size": 100}))
            store.record(Progress("transfer", done=i, total=1000, unit="files", label="files", ts=1000.0 + i / 1000))
        store.record(ItemDone("transfer", item="bad", status="failed", detail="boom"))
        store.record(ItemDone("transfer", item="huge", status="copied", data={"size": 1 << 30}))
        store.record(StepFinished("transfer", ok=False, summary="1 failed"))
        rows = store.events_after(start)
    kinds = [e.kind for e in rows]
    assert kinds.count("item_done") == 2  # the failure and the large object
    assert 4 <= kinds.count("progress") <= 6  # one per 250 ms of 1 s, plus the last one
    progress = [e for e in rows if e.kind == "progress"]
    assert progress[-1].payload["done"] == 999  # the latest progress is never lost
    (counts,) = [e.payload["counts"] for e in rows if e.kind == "items_aggregated"]
    assert counts == {"copied": 1000}
    assert kinds[-1] == "step_finished"


def test_a_journal_from_before_versions_is_migrated_and_new_journals_are_private(tmp_path: Path) -> None:
    import stat

    from engine.transfer.journal import JOURNAL_VERSION, Journal

    old = tmp_path / "journals" / "old.sqlite"
    old.parent.mkdir()
    db = sqlite3.connect(old)  # the tables as every journal before versions had them
    db.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE uploads (path TEXT NOT NULL, fp TEXT NOT NULL, token TEXT NOT NULL, part_size INTEGER NOT NULL,
            started_at REAL NOT NULL, PRIMARY KEY (path, fp));
        CREATE TABLE parts (path TEXT NOT NULL, fp TEXT NOT NULL, n INTEGER NOT NULL, crc INTEGER NOT NULL,
            etag TEXT NOT NULL, PRIMARY KEY (path, fp, n));
        CREATE TABLE done (path TEXT PRIMARY KEY, fp TEXT NOT NULL, crc32c TEXT, finished_at REAL NOT NULL);
        CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, started_at REAL NOT NULL, finished_at REAL,
            state TEXT NOT NULL, summary TEXT);
        INSERT INTO done VALUES ('a/b.bin', 'fp1', 'AAAAAA==', 1.0);
        INSERT INTO parts VALUES ('big.bin', 'fp2', 1, 7, 'etag-1');
    """)
    db.close()
    journal = Journal(old)
    assert journal.done("a/b.bin") is not None and journal.parts("big.bin", "fp2") == {1: (7, "etag-1")}
    journal.close()
    assert sqlite3.connect(old).execute("PRAGMA user_version").fetchone()[0] == JOURNAL_VERSION
    fresh = tmp_path / "journals" / "new.sqlite"
    Journal(fresh).close()
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600


def test_a_journal_from_a_newer_version_is_refused_naming_the_file(tmp_path: Path) -> None:
    """The journal shares the session's upgrade (engine.sqlite_schema); braces in a path stay text."""
    from engine.transfer.journal import Journal

    path = tmp_path / "{odd}" / "j.sqlite"
    path.parent.mkdir()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 9")
    with pytest.raises(EnvironmentProblem, match=r"\{odd\}/j.sqlite was written by a newer gpumigrate "
                                                 r"\(journal schema 9, this one knows up to 1\)"):
        Journal(path)


def test_a_step_waiting_for_hours_adds_no_rows_while_its_progress_does_not_change() -> None:
    """A worker waiting for an approval (or paused) still ticks progress every 250 ms; rows that
    repeat the last one only grow the session (an 8-hour wait was ~230,000 identical rows)."""
    with SessionStore.open("waiting") as store:
        start = store.last_seq()
        extra = {"files_done": 0, "files_total": 40, "paused": False}
        for i in range(400):  # 100 s of identical ticks
            for label, unit in (("bytes", "B"), ("files", "files")):
                store.record(Progress("transfer", done=0, total=None, unit=unit, label=label,
                                      rate=0.0, ts=1000.0 + i * 0.25, extra=dict(extra)))
        store.record(Progress("transfer", done=5, total=None, unit="files", label="files",
                              ts=1101.0, extra={**extra, "files_done": 5}))
        store.record(StepFinished("transfer", ok=True, summary="done"))
        rows = [e for e in store.events_after(start) if e.kind == "progress"]
    assert len(rows) <= 4, [(e.payload["label"], e.payload["done"]) for e in rows]
    assert rows[-1].payload["done"] == 5  # a change is still recorded


def test_a_step_started_again_does_not_show_the_previous_attempts_outcome() -> None:
    """`session show` printed "running attempt 2  -d refused before anything was copied" while
    attempt 2 was waiting for an approval: the failed attempt's summary outlived it."""
    with SessionStore.open("again") as store:
        store.set_step("transfer", "running")
        store.set_step("transfer", "failed", result={"summary": "-d refused before anything was copied"})
        store.set_step("transfer", "running")
        assert store.step("transfer").result is None
        store.set_step("transfer", "interrupted")
        assert store.step("transfer").result is None


def test_planned_actions_are_listed_in_a_file_with_exact_counts_in_the_session(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A session kept only counts of a dry run's planned actions, so a front end following it had
    no rows to show: the first PLAN_LISTED go to a plan file, a throttled ``plan`` row counts all."""
    from engine.cutover.status import describe
    from engine.session import events

    monkeypatch.setattr(events, "PLAN_LISTED", 50)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY")
    with SessionStore.open("plan") as store:
        for run in range(2):  # a second dry run rewrites the list
            start = store.last_seq()
            for i in range(120):
                store.record(ItemDone("transfer", item=f"r{run}/f{i}", status="would_copy", detail="new",
                                      data={"size": 10}, ts=1000.0 + i / 100))
            store.record(ItemDone("transfer", item="wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY/x",
                                  status="would_delete", data={"size": 1 << 30}, ts=1002.0))
            store.record(StepFinished("transfer", ok=True, summary="dry run"))
            rows = store.events_after(start)
            kinds = [e.kind for e in rows]
            assert "item_done" not in kinds  # even a large planned object is a line of the file
            plans = [e.payload for e in rows if e.kind == "progress" and e.payload["label"] == "plan"]
            assert 2 <= len(plans) <= 6  # throttled like any progress; the last is never lost
            last = plans[-1]["extra"]
            assert (last["copy"], last["copy_bytes"], last["delete"], last["delete_bytes"]) == (120, 1200, 1, 1 << 30)
            assert last["listed"] == 50 and last["file"] == str(store.plan_file("transfer"))
            lines = [json.loads(x) for x in Path(last["file"]).read_text().splitlines()]
            assert [x["path"] for x in lines] == [f"r{run}/f{i}" for i in range(50)]
            (agg,) = [e.payload for e in rows if e.kind == "items_aggregated"]
            assert agg["counts"] == {"would_copy": 120, "would_delete": 1} and agg["planned_file"] == last["file"]
            (row,) = [e for e in rows if e.kind == "items_aggregated"]
            assert f"the first planned actions listed in {last['file']}" in describe(row)
        assert oct(Path(last["file"]).stat().st_mode & 0o777) == "0o600"


def test_a_dry_run_in_a_session_lists_each_planned_action_with_its_entry(tmp_path: Path) -> None:
    """A front end following a session gets the plan rows in batches, so it cannot tell entries apart
    by arrival (every planned action of two entries was shown as entry 2): each line names its entry."""
    from engine.profile import parse_profile
    from engine.runner import run_steps

    for name, count in (("a", 2), ("b", 3)):
        (tmp_path / name).mkdir()
        for i in range(count):
            (tmp_path / name / f"{name}{i}").write_bytes(b"x" * (i + 1))
    profile = parse_profile('[source]\nprovider = "local"\n[[transfer]]\nsrc = "a"\ndst = "oa"\n'
                            '[[transfer]]\nsrc = "b"\ndst = "ob"\n')
    seen: list[ItemDone] = []
    with SessionStore.open("entries") as store:
        def emit(event: object) -> None:
            store.record(event)  # type: ignore[arg-type]
            if isinstance(event, ItemDone):
                seen.append(event)
        run_steps(profile, ["transfer"], emit=emit, profile_path=tmp_path / "p.toml", dry_run=True)
        lines = [json.loads(x) for x in store.plan_file("transfer").read_text().splitlines()]
    assert sorted((x["entry"], x["path"]) for x in lines) == [(1, "a0"), (1, "a1"), (2, "b0"), (2, "b1"), (2, "b2")]
    assert {(e.item, e.data["entry"]) for e in seen} == {(x["path"], x["entry"]) for x in lines}  # --json too
