"""-d plans to the end first: a tripped guard refuses the whole run before anything changes."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from engine.errors import BadInputError, ExitCode
from engine.events import ItemDone, Progress
from engine.transfer.api import DeleteRefused, TransferControl, TransferSpec, journal_path_for, run_transfer
from engine.transfer.backends.base import ObjectInfo
from engine.transfer.plan import Action
from engine.transfer.spool import PlanSpool
from tests.transfer_support import read_local, write_local

REPO = Path(__file__).resolve().parents[2]


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file's bytes and mtime (ns): "unchanged" means byte-for-byte and untouched."""
    return {p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture()
def pair(tmp_path: Path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    # the destination holds 20 objects, 5 of which the source lacks; the source has 4 new files
    # and 2 changed ones: a run that copied before checking the guard would change the destination.
    common = {f"keep/{i:02d}.txt": f"same {i}\n".encode() for i in range(15)}
    write_local(dst, {**common, **{f"stale/{i}.bin": b"old" * 10 for i in range(5)}})
    write_local(src, {**common, **{f"new/{i}.bin": os.urandom(1000 + i) for i in range(4)}})
    for rel in common:  # same mtimes: those are skips
        st = os.stat(dst / rel)
        os.utime(src / rel, ns=(st.st_atime_ns, st.st_mtime_ns))
    (src / "keep/00.txt").write_bytes(b"changed content, longer\n")
    (src / "keep/01.txt").write_bytes(b"changed too\n")
    return src, dst


def test_too_many_deletions_refuses_before_any_copy(pair):
    src, dst = pair
    before = snapshot(dst)
    events: list = []
    with pytest.raises(DeleteRefused) as caught:  # 5 > default min(10% of 20, 1000) = 2
        run_transfer(TransferSpec(src=str(src), dst=str(dst), delete=True), emit=events.append)
    assert isinstance(caught.value, BadInputError)
    text = str(caught.value)
    assert "before anything was copied or deleted" in text and "--max-delete 5" in text and "limit of 2" in text
    assert snapshot(dst) == before
    assert not [e for e in events if isinstance(e, ItemDone)]
    assert not [p for p in dst.rglob("*") if "gpumigrate-tmp" in p.name]
    # the journal records a refused run and no finished object
    jpath = journal_path_for(TransferSpec(src=str(src), dst=str(dst)))
    with sqlite3.connect(jpath) as db:
        assert db.execute("SELECT COUNT(*) FROM done").fetchone()[0] == 0
        assert not db.execute("SELECT name FROM sqlite_master WHERE name = 'plan'").fetchall()  # not in the journal
        state, summary = db.execute("SELECT state, summary FROM runs").fetchone()
    assert state == "failed" and "deletions refused" in summary
    assert not list(jpath.parent.glob(f"{jpath.name}.plan-*"))  # the spool's own file is removed


def test_empty_source_refuses_and_names_the_flag(pair, tmp_path):
    _src, dst = pair
    empty = tmp_path / "empty"
    empty.mkdir()
    before = snapshot(dst)
    with pytest.raises(DeleteRefused, match="--allow-empty-source"):
        run_transfer(TransferSpec(src=str(empty), dst=str(dst), delete=True, max_delete=10**6))
    assert snapshot(dst) == before
    # a dry run is the view the guard promises: it lists what would be deleted and says the real run would be
    # refused, and why (it was refused itself, so the list needed the guard passed first)
    s = run_transfer(TransferSpec(src=str(empty), dst=str(dst), delete=True, max_delete=10**6), dry_run=True)
    assert not s.ok and "--allow-empty-source" in s.delete_refused and s.deleted == s.planned_delete > 0
    assert "a real run would refuse the deletions" in s.line()
    assert snapshot(dst) == before


def test_allowed_run_copies_then_deletes_with_totals_known_up_front(pair):
    src, dst = pair
    events: list = []
    s = run_transfer(TransferSpec(src=str(src), dst=str(dst), delete=True, max_delete=5), emit=events.append)
    assert s.ok and (s.copied, s.deleted, s.skipped, s.planned_delete) == (6, 5, 13, 5)
    assert read_local(dst) == read_local(src)
    copied_at = [i for i, e in enumerate(events) if isinstance(e, ItemDone) and e.status == "copied"]
    bars = [(i, e) for i, e in enumerate(events) if isinstance(e, Progress) and e.label == "files"]
    # with -d the whole plan is known before the first copy: every bar after it has the final total
    assert all(e.total == 6 for i, e in bars if i > copied_at[0])


def test_an_empty_destination_and_empty_source_is_nothing_to_do(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    s = run_transfer(TransferSpec(src=str(tmp_path / "a"), dst=str(tmp_path / "b"), delete=True))
    assert s.ok and (s.copied, s.deleted) == (0, 0)


def test_cancelled_delete_run_resumes_to_the_same_end(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    tree = {f"d{i // 50}/f{i:03d}.bin": os.urandom(2000) for i in range(300)}
    write_local(src, tree)
    write_local(dst, {f"zz-stale/{i}": b"s" for i in range(3)})
    control = TransferControl()
    copied = []

    def emit(event):
        if isinstance(event, ItemDone) and event.status == "copied":
            copied.append(event.item)
            if len(copied) == 20:
                control.pause()  # hold the workers, then cancel: a cancel mid-run, deterministically
                control.cancel()

    spec = TransferSpec(src=str(src), dst=str(dst), delete=True, max_delete=3, jobs=2)
    first = run_transfer(spec, emit=emit, control=control)
    assert first.interrupted and 20 <= first.copied < len(tree) and first.deleted == 0
    assert (dst / "zz-stale").is_dir()  # deletions come after the copies
    second = run_transfer(spec)
    assert second.ok and second.deleted == 3
    assert second.copied + second.skipped == len(tree) and second.copied <= len(tree) - 20
    assert read_local(dst) == tree


def test_the_plan_spool_keeps_memory_flat_and_order(tmp_path):
    n = 60_000

    def actions():
        for i in range(n):
            info = ObjectInfo(path=f"p/{i:08d}", size=i, mtime=1.5e9 + i, crc32c="0000abcd", version=str(i))
            yield Action("delete" if i % 7 == 0 else "copy", info.path, None if i % 7 == 0 else info,
                         info if i % 7 == 0 else None, "r")

    tracemalloc.start()
    spool = PlanSpool(tmp_path / "j.sqlite")
    seen = sum(1 for _ in spool.write(actions()))
    previous, read_back, in_order = "", 0, True
    for act in spool.read(exclude=("delete",)):
        in_order = in_order and act.path > previous
        previous, read_back = act.path, read_back + 1
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    deletes = list(spool.read(kinds=("delete",)))
    spool.close()
    assert seen == n and len(deletes) == -(-n // 7)
    assert in_order and read_back == n - len(deletes)
    assert deletes[1].dst is not None and deletes[1].dst.size == 7 and deletes[1].dst.version == "7"
    # 60k actions held in memory would take ~20 MB; the spool holds one batch at a time
    assert peak < 4 * 1024 * 1024


def test_cli_refusal_exits_2_with_one_line(pair):
    src, dst = pair
    before = snapshot(dst)
    proc = subprocess.run([sys.executable, "-m", "tui.cli", "transfer", str(src), str(dst), "-r", "-d"],
                          cwd=REPO, capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert proc.returncode == int(ExitCode.BAD_INPUT), proc.stderr
    assert "--max-delete 5" in proc.stderr + proc.stdout and "Traceback" not in proc.stderr
    assert snapshot(dst) == before


def test_a_delete_run_still_counts_skips_and_exclusions(tmp_path: Path) -> None:
    from engine.transfer.api import run_transfer
    from engine.transfer.spec import TransferSpec

    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    for i in range(6):
        (src / f"f{i}.txt").write_text(f"file {i}")
    (src / "scratch.tmp").write_text("not copied")
    spec = TransferSpec(src=str(src), dst=str(dst), exclude=[r".*\.tmp$"])  # anchored, as gsutil matches
    assert run_transfer(spec, emit=lambda e: None, journal=False).copied == 6
    (dst / "stale.txt").write_text("only at the destination")
    (src / "f0.txt").write_text("changed, and longer")
    again = run_transfer(spec.model_copy(update={"delete": True, "max_delete": 5}), emit=lambda e: None,
                         journal=False)
    assert (again.copied, again.deleted, again.skipped, again.excluded) == (1, 1, 5, 1)


def test_a_killed_runs_plan_file_is_removed_by_the_next_and_a_live_ones_is_kept(tmp_path: Path) -> None:
    """The -d plan is a file of its own beside the journal (SQLite never shrinks a file: a journal
    that held a 10M-object plan kept ~1.3 GB). A run killed before removing it leaves the file; the
    next spool there removes it once nobody holds its lock, at once (a re-run seconds after a
    kill -9 left it for a minute), and never touches a live run's."""
    journal = tmp_path / "j.sqlite"
    live = PlanSpool(journal)
    killed = tmp_path / "j.sqlite.plan-killed.plan"
    sqlite3.connect(killed).close()
    (tmp_path / "j.sqlite.plan-killed.plan-wal").write_bytes(b"")
    just_killed = tmp_path / "j.sqlite.plan-justkilled.plan"  # killed a second ago: as dead
    sqlite3.connect(just_killed).close()
    fresh = tmp_path / "j.sqlite.plan-justmade.plan-new"  # created an instant ago, its lock not taken yet
    fresh.write_bytes(b"")
    abandoned = tmp_path / "j.sqlite.plan-abandoned.plan-new"  # killed before it was locked
    abandoned.write_bytes(b"")
    old = time.time() - 3600
    for f in (killed, abandoned, Path(live._temp)):
        os.utime(f, (old, old))
    other = PlanSpool(journal)
    assert not killed.exists() and not (tmp_path / "j.sqlite.plan-killed.plan-wal").exists()
    assert not just_killed.exists() and not abandoned.exists()
    assert Path(live._temp).exists() and fresh.exists()
    assert list(live.write([])) == [] and list(live.read()) == []  # the live run's file still works
    live.close(), other.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["j.sqlite.plan-justmade.plan-new"]


def test_a_plan_beside_a_journal_in_the_state_dir_is_never_taken_for_a_journal():
    from engine.session import state_dir
    from engine.transfer.journal import journal_files

    journal = state_dir() / "journals" / "pair.sqlite"
    spool = PlanSpool(journal)
    try:
        assert Path(spool._temp).parent == journal.parent
        assert Path(spool._temp) not in journal_files()  # --cleanup and take-over read every journal
    finally:
        spool.close()
