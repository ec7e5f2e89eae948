"""Local -> local runs of the engine: semantics, guards, dry run, control and integrity."""

from __future__ import annotations

import os
import threading

import pytest

from engine.events import ItemDone, Progress
from engine.transfer.api import DeleteRefused, TransferControl, TransferSpec, plan_transfer, run_transfer, verify_trees
from tests.transfer_support import MIB, read_local, sample_tree, write_local


@pytest.fixture()
def trees(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    tree = sample_tree(big=7 * MIB)
    write_local(src, tree)
    return src, dst, tree


def spec(src, dst, **kw):
    kw.setdefault("part_threshold_mib", 5)
    kw.setdefault("part_size_mib", 1)
    return TransferSpec(src=str(src), dst=str(dst), **kw)


def test_copy_then_nothing_to_do_and_mtimes_preserved(trees):
    src, dst, tree = trees
    s = run_transfer(spec(src, dst))
    assert (s.copied, s.failed, s.verified) == (len(tree), 0, len(tree))
    assert read_local(dst) == tree
    for rel in tree:
        assert int(os.stat(src / rel).st_mtime) == int(os.stat(dst / rel).st_mtime)
    assert not [p for p in dst.rglob("*") if "gpumigrate-tmp" in p.name]
    again = run_transfer(spec(src, dst))
    assert (again.copied, again.skipped) == (0, len(tree))


def test_dry_run_reports_exactly_and_changes_nothing(trees):
    src, dst, tree = trees
    write_local(dst, {"stale.txt": b"old", "a.txt": b"hello\n"})
    os.utime(dst / "a.txt", (os.stat(src / "a.txt").st_mtime,) * 2)
    events = []
    s = run_transfer(spec(src, dst, delete=True, max_delete=5), emit=events.append, dry_run=True)
    would = sorted(e.item for e in events if isinstance(e, ItemDone) and e.status == "would_copy")
    assert would == sorted(set(tree) - {"a.txt"})
    assert [e.item for e in events if isinstance(e, ItemDone) and e.status == "would_delete"] == ["stale.txt"]
    assert (s.copied, s.deleted, s.skipped, s.bytes) == (len(tree) - 1, 1, 1, sum(len(v) for k, v in tree.items() if k != "a.txt"))
    assert read_local(dst) == {"stale.txt": b"old", "a.txt": b"hello\n"}
    plan = plan_transfer(spec(src, dst, delete=True))
    assert (plan.copy, plan.delete, plan.skip) == (len(tree) - 1, 1, 1)


def test_delete_guards(trees, tmp_path):
    src, dst, tree = trees
    run_transfer(spec(src, dst))
    write_local(dst, {f"extra/{i}": b"e" for i in range(3)})
    with pytest.raises(DeleteRefused, match="--max-delete 3"):  # 3 > default limit min(10% of 11, 1000) = 1
        run_transfer(spec(src, dst, delete=True))
    assert len(list((dst / "extra").iterdir())) == 3
    s = run_transfer(spec(src, dst, delete=True, max_delete=3))
    assert s.deleted == 3 and s.ok and not (dst / "extra").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DeleteRefused, match="--allow-empty-source"):
        run_transfer(spec(empty, dst, delete=True, max_delete=10**6))
    assert read_local(dst) == tree
    s = run_transfer(spec(empty, dst, delete=True, max_delete=10**6, allow_empty_source=True))
    assert s.deleted == len(tree) and read_local(dst) == {}


def test_exclusions(trees):
    src, dst, tree = trees
    write_local(dst, {"deep/keep.me": b"k"})
    s = run_transfer(spec(src, dst, exclude=[r"deep/", r".*\.txt$"], delete=True, max_delete=10))
    got = read_local(dst)
    assert "deep/keep.me" in got and not any(k.endswith(".txt") for k in got)
    assert s.excluded > 0


def test_non_recursive_copies_the_top_level_only(trees):
    src, dst, tree = trees
    summary = run_transfer(spec(src, dst, recursive=False))
    assert set(read_local(dst)) == {k for k in tree if "/" not in k}
    folders = sorted({k.split("/")[0] + "/" for k in tree if "/" in k})
    assert folders and sorted(n.path for n in summary.not_copied) == folders  # said, not silently dropped
    assert {n.reason for n in summary.not_copied} == {"folder not copied (without -r only the top level is copied)"}
    assert summary.failed == 0


def test_checksum_mode_and_verify_only_catch_a_file_altered_behind_our_back(trees, tmp_path):
    src, dst, tree = trees
    run_transfer(spec(src, dst))
    victim = dst / "sub" / "x"
    st = os.stat(victim)
    victim.write_bytes(b"Z" * st.st_size)  # same size, same mtime: size+mtime cannot see it
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert run_transfer(spec(src, dst)).copied == 0
    report = verify_trees(str(src), str(dst), tmp_path / "m.jsonl")
    assert report.mismatched == ["sub/x"] and not report.ok
    s = run_transfer(spec(src, dst, checksum=True))
    assert s.copied == 1 and read_local(dst) == tree
    report = verify_trees(str(src), str(dst), tmp_path / "m.jsonl")
    assert report.ok and report.matched == len(tree)
    import json

    lines = [json.loads(x) for x in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert len(lines) == len(tree)
    for row in lines:
        assert set(row) == {"path", "size", "crc32c", "md5", "sha256"}
        assert len(row["crc32c"]) == 8 and len(row["md5"]) == 32 and len(row["sha256"]) == 64


def test_pause_resume_cancel_and_progress_events(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    write_local(src, {f"f{i:03d}": os.urandom(64 * 1024) for i in range(60)})
    control = TransferControl()
    events: list = []
    seen = threading.Event()

    def emit(e):
        events.append(e)
        if isinstance(e, ItemDone) and e.status == "copied":
            seen.set()

    control.pause()
    t = threading.Thread(target=lambda: events.append(run_transfer(
        TransferSpec(src=str(src), dst=str(dst), jobs=2, bwlimit="512K"), emit=emit, control=control)))
    t.start()
    assert not seen.wait(0.8)  # paused: nothing finishes
    control.resume()
    assert seen.wait(10)
    control.cancel()
    t.join(20)
    summary = events[-1]
    assert summary.interrupted and 0 < summary.copied < 60
    # every object that was written is complete; nothing half-written is visible
    for p in dst.iterdir():
        assert (src / p.name).read_bytes() == p.read_bytes()
    progress = [e for e in events if isinstance(e, Progress) and e.label == "bytes"]
    assert progress and progress[-1].extra["final"]
    again = run_transfer(TransferSpec(src=str(src), dst=str(dst)))
    assert again.copied == 60 - summary.copied and len(list(dst.iterdir())) == 60


def test_overlapping_or_missing_source_is_bad_input(tmp_path):
    from engine.errors import BadInputError

    (tmp_path / "a").mkdir()
    with pytest.raises(BadInputError):
        run_transfer(TransferSpec(src=str(tmp_path / "a"), dst=str(tmp_path / "a" / "b")))
    with pytest.raises(BadInputError):
        run_transfer(TransferSpec(src=str(tmp_path / "nope"), dst=str(tmp_path / "b")))


def test_many_small_files_go_in_batches_and_one_failure_does_not_stop_its_batch(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    tree = {f"d{i // 100}/f{i:04d}": os.urandom(100 + i) for i in range(400)}
    write_local(src, tree)
    (dst / "d1" / "f0150").mkdir(parents=True)  # a directory where a file must go: that one fails
    (dst / "d1" / "f0150" / "keep").write_bytes(b"k")
    events: list = []
    summary = run_transfer(TransferSpec(src=str(src), dst=str(dst), jobs=4), emit=events.append)
    assert summary.failed == 1 and summary.copied == 399 and summary.verified == 399
    assert [f.path for f in summary.failures] == ["d1/f0150"]
    assert (dst / "d1" / "f0150" / "keep").read_bytes() == b"k"
    for rel, data in tree.items():
        if rel != "d1/f0150":
            assert (dst / rel).read_bytes() == data
    done = [e.item for e in events if isinstance(e, ItemDone) and e.status == "copied"]
    assert sorted(done) == sorted(set(tree) - {"d1/f0150"})


def test_failures_kept_are_bounded_and_the_cli_says_how_many_it_left_out(tmp_path, monkeypatch, capsys):
    """Every failure was kept in memory (the JSON lists only the first REPORT_MAX): a destination that refuses all of
    ten million objects grew the process by gigabytes. The count stays exact; the CLI says how many it did not print."""
    import engine.transfer.summary as summary_mod
    from tui.cli import main

    monkeypatch.setattr(summary_mod, "REPORT_MAX", 5)
    src, dst = tmp_path / "src", tmp_path / "dst"
    write_local(src, {f"f{i:02d}": b"x" for i in range(12)})
    for i in range(12):  # a directory where each file must go: every copy fails
        (dst / f"f{i:02d}" / "keep").mkdir(parents=True)
    summary = run_transfer(TransferSpec(src=str(src), dst=str(dst), jobs=2))
    assert summary.failed == 12 and len(summary.failures) == 5
    assert len(summary.to_event()["failures"]) == 5 and summary.to_event()["failures_listed"] == 5
    assert main(["transfer", "-r", str(src), str(dst)]) == 1
    out = capsys.readouterr().out
    assert out.count("  failed: ") == 5 and "7 more failures not listed (12 in all" in " ".join(out.split())
    big = summary_mod.TransferSummary(copied=10_000_000, skipped=2_500, dry_run=True)
    assert big.line().startswith("would copy 10,000,000 (0 B), would delete 0, skipped 2,500,")  # counts at scale


def test_a_verify_only_run_cut_short_leaves_no_manifest_that_looks_complete(tmp_path):
    """Review session 6: the manifest was written under its final name as objects were compared; a run stopped
    half-way left a file the data-integrity check read as complete (its absent half as 'missing' objects)."""
    from engine.transfer.verify import verify_trees

    for side in ("src", "dst"):
        for i in range(6):
            (tmp_path / side).mkdir(exist_ok=True)
            (tmp_path / side / f"f{i}.bin").write_bytes(b"x" * (i + 1))
    manifest = tmp_path / "m.jsonl"
    manifest.write_text('{"old": "run"}\n')
    seen = []

    def stop_after_two(event):
        if getattr(event, "status", None) == "verified":
            seen.append(event)
            if len(seen) == 2:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        verify_trees(str(tmp_path / "src"), str(tmp_path / "dst"), manifest, emit=stop_after_two, jobs=1)
    assert not manifest.exists()  # neither the half-written one nor the stale one from before
    assert (tmp_path / "m.jsonl.partial").exists()
    from engine.verify.checks.data_integrity import ManifestError, read_manifest

    with pytest.raises(ManifestError, match=r"m.jsonl.partial is there: the `transfer --verify-only` run writing it "
                                            r"did not finish"):
        read_manifest(manifest)
    report = verify_trees(str(tmp_path / "src"), str(tmp_path / "dst"), manifest)
    assert report.ok and len(manifest.read_text().splitlines()) == 6
