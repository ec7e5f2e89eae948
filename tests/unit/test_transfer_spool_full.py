"""A -d run keeps its whole plan on disk (about 200 bytes per object to copy or delete) beside its journal; a disk
that fills while it is written ended the command with a Python traceback (`sqlite3.OperationalError: database or
disk is full`), exit 1, and no JSON summary. It is now an environment problem naming the folder and what to do
(exit 4). SQLite's own limit on the file's pages (``max_page_count``) gives the very error a full disk gives."""

from __future__ import annotations

import pytest

from engine.errors import EnvironmentProblem, ExitCode
from engine.transfer.backends.base import ObjectInfo
from engine.transfer.plan import Action
from engine.transfer.spool import PlanSpool


def test_a_plan_that_fills_its_disk_is_an_environment_problem_naming_the_folder(tmp_path) -> None:
    spool = PlanSpool(tmp_path / "journals" / "j.sqlite")
    try:
        spool._db.execute("PRAGMA max_page_count = 8")  # the file can grow no further: SQLITE_FULL
        acts = (Action("copy", f"d/{i:08d}", ObjectInfo(f"d/{i:08d}", i, 1.7e9, True, version="v" * 40), None, "new")
                for i in range(50_000))
        with pytest.raises(EnvironmentProblem) as err:
            for _ in spool.write(acts):
                pass
    finally:
        spool.close()
    assert err.value.exit_code == ExitCode.ENVIRONMENT
    text = str(err.value)
    assert str(tmp_path / "journals") in text and "GPUMIGRATE_STATE_DIR" in text, text
    assert not list((tmp_path / "journals").glob("*.plan*"))  # closed and removed


def test_a_journal_that_fills_its_disk_stops_the_run_and_blames_no_object(tmp_path) -> None:
    """Recording finished copies is the journal's job: on a full disk that was a traceback (exit 1), or, raised
    in a worker, a copied object reported "failed". The run now stops with the environment problem, the summary
    of what it did attached, no object counted failed, and the same run finishes once there is room."""
    from engine.transfer.backends.local import LocalBackend
    from engine.transfer.control import TransferControl
    from engine.transfer.execute import Transfer
    from engine.transfer.journal import Journal
    from engine.transfer.state_room import StateFull
    from engine.transfer.urls import parse_url
    from tests.transfer_support import read_local, write_local

    src, dst = tmp_path / "src", tmp_path / "dst"
    # the journal records finished copies 500 at a time, from the worker that finished the 500th: that fills it
    write_local(src, {f"d/f{i:05d}": b"x" for i in range(1000)})

    def run(journal: Journal):
        return Transfer(src=LocalBackend(parse_url(str(src))), dst=LocalBackend(parse_url(str(dst))),
                        src_url=str(src), dst_url=str(dst), emit=lambda e: None, journal=journal,
                        control=TransferControl(), recursive=True).run()

    journal = Journal(tmp_path / "journals" / "j.sqlite")
    pages = journal._db.execute("PRAGMA page_count").fetchone()[0]
    journal._db.execute(f"PRAGMA max_page_count = {pages + 1}")  # room for a hundred-odd records
    with pytest.raises(StateFull) as err:
        run(journal)
    journal.close()
    assert str(tmp_path / "journals") in str(err.value) and "GPUMIGRATE_STATE_DIR" in str(err.value)
    summary = err.value.summary  # type: ignore[attr-defined]
    assert summary.failed == 0 and summary.interrupted and 0 < summary.copied < 1000, summary.line()
    again = run(Journal(tmp_path / "journals" / "j.sqlite"))  # room again (a new connection has no page cap)
    assert again.ok and again.copied + summary.copied >= 1000, again.line()
    assert read_local(dst) == read_local(src)
