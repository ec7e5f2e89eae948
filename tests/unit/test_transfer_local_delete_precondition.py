"""-d at a local destination deletes only the file planning saw, as it does on S3 (If-Match) and GCS
(ifGenerationMatch): a file someone rewrote after the plan was made (and shown, and approved) is kept and
reported "changed since planning; not deleted"; before, it was deleted and counted."""

from __future__ import annotations

import os

from engine.transfer.api import TransferSpec, run_transfer
from tests.transfer_support import read_local, write_local


def test_a_destination_file_rewritten_after_planning_is_not_deleted(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    write_local(src, {"keep.txt": b"k"})
    write_local(dst, {"keep.txt": b"k", "old.log": b"the source no longer has it", "gone.log": b"delete me"})
    theirs = b"written by someone else after the plan was shown"

    def approve(count, detail, paths) -> None:  # the plan is made; someone writes into the destination now
        assert sorted(paths()) == ["gone.log", "old.log"]
        (dst / "old.log").write_bytes(theirs)

    s = run_transfer(TransferSpec(src=str(src), dst=str(dst), delete=True, max_delete=5), approve_delete=approve,
                     journal=tmp_path / "j.sqlite")
    assert not s.ok and s.deleted == 1 and s.failed == 1, s.line()
    assert "changed since planning; not deleted" in s.failures[0].error, s.failures
    assert read_local(dst) == {"keep.txt": b"k", "old.log": theirs}


def test_a_destination_file_unchanged_since_planning_is_deleted(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    write_local(src, {"keep.txt": b"k"})
    write_local(dst, {"keep.txt": b"k", "sub/old.log": b"x"})
    os.utime(dst / "sub" / "old.log", (1, 1))
    s = run_transfer(TransferSpec(src=str(src), dst=str(dst), delete=True, recursive=True, max_delete=5),
                     approve_delete=lambda *a: None, journal=tmp_path / "j.sqlite")
    assert s.ok and s.deleted == 1, s.line()
    assert read_local(dst) == {"keep.txt": b"k"} and not (dst / "sub").exists()


def test_hard_linked_destination_files_are_all_deleted_and_overwritten(tmp_path):
    """Deleting (or replacing) one of two hard links changes the other's ctime (its link count): that is this
    run's own doing, not someone else's write, and must not stop the other's deletion or copy."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    write_local(src, {"a.bin": b"new a", "b.bin": b"new b"})
    write_local(dst, {"a.bin": b"old", "x.log": b"extra"})
    os.link(dst / "a.bin", dst / "b.bin")
    os.link(dst / "x.log", dst / "y.log")
    s = run_transfer(TransferSpec(src=str(src), dst=str(dst), delete=True, max_delete=5, jobs=1),
                     approve_delete=lambda *a: None, journal=tmp_path / "j.sqlite")
    assert s.ok and s.copied == 2 and s.deleted == 2, s.line()
    assert read_local(dst) == {"a.bin": b"new a", "b.bin": b"new b"}
