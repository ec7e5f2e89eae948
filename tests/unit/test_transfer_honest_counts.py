"""What a transfer prints must be what happened: a source file that became a folder mid-run, bytes
sent by this run against bytes an earlier run had sent, a dry run's lines in key order, and
``--verify-only`` walking the trees with the link rules a copy uses."""

from __future__ import annotations

import os
import shutil

import pytest

from engine.events import ItemDone
from engine.transfer.api import TransferSpec, run_transfer, verify_trees
from engine.transfer.backends.local import LocalBackend
from engine.transfer.urls import parse_url
from tests.transfer_support import read_local, write_local


def _run(backend, src, dst, emit=lambda e: None, **kw):
    from engine.transfer.control import TransferControl
    from engine.transfer.execute import Transfer
    from engine.transfer.journal import Journal

    return Transfer(src=backend, dst=LocalBackend(parse_url(str(dst))), src_url=str(src), dst_url=str(dst),
                    emit=emit, journal=Journal(None), control=TransferControl(),
                    part_threshold_mib=5, part_size_mib=1, **kw).run()


def test_a_file_replaced_by_a_folder_mid_run_is_reported_changed_not_vanished(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    write_local(src, {"a": b"a", "ckpt": b"old checkpoint"})

    class Replacing(LocalBackend):  # the trainer turns the checkpoint file into a folder of shards
        def list(self, *args, **kwargs):
            items = list(super().list(*args, **kwargs))
            os.unlink(src / "ckpt")
            write_local(src, {"ckpt/shard-0": b"0"})
            yield from items

    s = _run(Replacing(parse_url(str(src))), src, dst)
    assert s.ok and s.failed == 0 and s.copied == 1
    [entry] = s.not_copied
    assert entry.path == "ckpt" and "vanished" not in entry.reason and "deleted" not in entry.reason
    assert entry.reason.startswith("changed: now a folder") and "next run copies" in entry.reason, entry.reason
    assert dict(s.not_copied_by_reason) == {"changed: now a folder": 1}
    assert "not copied: 1 changed: now a folder" in s.line()
    again = run_transfer(TransferSpec(src=str(src), dst=str(dst)))  # and the next run does
    assert again.ok and read_local(dst) == {"a": b"a", "ckpt/shard-0": b"0"}


@pytest.mark.parametrize("window", [4096, 3])
def test_a_dry_run_lists_its_lines_in_key_order(tmp_path, monkeypatch, window):
    """Workers finish in any order; a dry run's lines come out sorted by key (users diff them),
    holding at most a window of lines (a tiny one here: it must not stall the run)."""
    monkeypatch.setattr("engine.transfer.in_order.WINDOW", window)
    src, dst = tmp_path / "src", tmp_path / "dst"
    names = []
    for i in range(300):  # small files go in batches to one worker, larger ones to the pool
        name = f"f{i:04d}"
        p = src / name
        p.parent.mkdir(parents=True, exist_ok=True)
        with open(p, "wb") as f:
            f.truncate(300_000 if i % 3 == 0 else 10)
        names.append(name)
    lines = []
    s = run_transfer(TransferSpec(src=str(src), dst=str(dst), jobs=8), dry_run=True,
                     emit=lambda e: lines.append(e.item) if isinstance(e, ItemDone) else None)
    assert s.copied == 300 and lines == names


def test_verify_only_applies_the_link_rules_of_the_copy(tmp_path):
    src, dst, outside = tmp_path / "src", tmp_path / "dst", tmp_path / "outside"
    write_local(src, {"a": b"a"})
    write_local(outside, {"big": b"not ours"})
    os.symlink(outside, src / "ext")
    os.symlink(tmp_path / "gone", src / "broken")
    s = run_transfer(TransferSpec(src=str(src), dst=str(dst), follow_symlinks=False))
    assert s.ok and read_local(dst) == {"a": b"a"}
    report = verify_trees(str(src), str(dst), follow_symlinks=False)
    assert report.ok and report.matched == 1 and not report.missing, report.line()
    # the default rules: the link is followed, its file is missing; the broken link is an error
    report = verify_trees(str(src), str(dst))
    assert not report.ok and report.missing == ["broken", "ext/big"]
    shutil.rmtree(dst)
    os.unlink(src / "broken")
    run_transfer(TransferSpec(src=str(src), dst=str(dst)))
    os.symlink(dst, src / "out")  # a link into the destination: a copy never enters it
    report = verify_trees(str(src), str(dst))
    assert report.ok and report.matched == 2 and not report.missing, report.line()
