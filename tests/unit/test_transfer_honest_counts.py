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
    for i in range(5, 300, 60):  # lines the planner says itself (not copied), between the workers' lines
        os.symlink(tmp_path / "gone", src / f"f{i:04d}-link")
        names.append(f"f{i:04d}-link")
    lines = []
    s = run_transfer(TransferSpec(src=str(src), dst=str(dst), jobs=8, skip_broken_symlinks=True), dry_run=True,
                     emit=lambda e: lines.append(e.item) if isinstance(e, ItemDone) else None)
    assert s.copied == 300 and lines == sorted(names)


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


def test_after_a_resume_the_summary_says_what_this_run_sent(tmp_path):
    from tests.transfer_support import MIB, interrupt_after_a_part

    src, dst = tmp_path / "src", tmp_path / "dst"
    write_local(src, {"big.bin": os.urandom(12 * MIB)})
    journal = tmp_path / "journal.sqlite"
    spec = dict(src=str(src), dst=str(dst), part_threshold_mib=5, part_size_mib=1, jobs=2)
    first = interrupt_after_a_part(TransferSpec(**spec, bwlimit="8M"), journal, emit=lambda e: None)
    assert first.copied == 0
    s = run_transfer(TransferSpec(**spec), emit=lambda e: None, journal=journal)
    assert s.ok and s.copied == 1 and s.resumed_parts >= 1, s.failures
    assert s.bytes == 12 * MIB and s.bytes_resumed == s.resumed_parts * MIB
    assert s.bytes_sent == s.bytes - s.bytes_resumed
    event = s.to_event()
    assert (event["bytes_sent"], event["bytes_resumed"]) == (s.bytes_sent, s.bytes_resumed)
    assert (f"copied 1 (12.0 MiB: {s.bytes_sent / MIB:.1f} MiB sent by this run, {s.resumed_parts:.1f} MiB in "
            "parts an earlier run had sent)") in s.line()
    fresh = run_transfer(TransferSpec(src=str(src), dst=str(tmp_path / "dst2")), emit=lambda e: None, journal=False)
    assert fresh.bytes_resumed == 0 and "copied 1 (12.0 MiB), " in fresh.line()


def test_the_rate_counts_only_what_this_run_sends():
    """Resumed parts move the bar at once; counted as sent, a resume read as a burst of GB/s."""
    import time

    from engine.transfer.execute import _Stats

    stats = _Stats()
    stats.rate()
    stats.add_bytes(1 << 30, resumed=True)
    time.sleep(0.25)
    stats.add_bytes(1000)
    assert stats.bytes_done == (1 << 30) + 1000
    assert stats.rate() < 10_000


def test_verify_only_without_r_compares_the_top_level_a_copy_without_r_made_and_says_what_it_left(tmp_path, capsys):
    """`transfer src dst` copies the top level only; `--verify-only src dst` walked the whole tree and
    called every file of a sub-folder "missing" (exit 1)."""
    from tui.cli import main

    src, dst = tmp_path / "src", tmp_path / "dst"
    write_local(src, {"a": b"a", "sub/b": b"b"})
    assert main(["transfer", str(src), str(dst)]) == 0
    capsys.readouterr()
    assert main(["transfer", "--verify-only", str(src), str(dst)]) == 0
    out = capsys.readouterr().out
    assert ("verified 1, mismatched 0, missing 0, extra in destination 0; not compared (a copy leaves them): "
            "1 folder not copied") in out, out
    assert main(["transfer", "--verify-only", "-r", str(src), str(dst)]) == 1  # the whole tree: sub/b missing
    assert "missing:  sub/b" in capsys.readouterr().out


def test_a_file_replaced_by_a_link_under_no_follow_symlinks_says_the_next_run_skips_it(tmp_path):
    from engine.transfer.backends.local_walk import WalkRules

    src, dst = tmp_path / "src", tmp_path / "dst"
    write_local(src, {"model.bin": b"weights"})
    write_local(tmp_path / "elsewhere", {"model.bin": b"new weights"})

    class Relinking(LocalBackend):
        def list(self, *args, **kwargs):
            items = list(super().list(*args, **kwargs))
            os.unlink(src / "model.bin")
            os.symlink(tmp_path / "elsewhere", src / "model.bin")
            yield from items

    backend = Relinking(parse_url(str(src)))
    backend.rules = WalkRules(follow_symlinks=False)
    s = _run(backend, src, dst)
    assert s.ok and s.copied == 0
    assert [n.reason for n in s.not_copied] == [
        "changed: now a symlink (it was a file when listed; not copied; the next run skips it (--no-follow-symlinks))"]


def test_a_refused_minus_d_with_json_still_ends_with_the_summary_saying_why(tmp_path, capsys):
    """`transfer -d --json` refused by a guard ended its NDJSON with a progress event: a script reading
    the last line found no summary (the reason went to stderr only)."""
    import json

    from tui.cli import main

    write_local(tmp_path / "src", {"a": b"a"})
    write_local(tmp_path / "dst", {f"x{i}": b"x" for i in range(3)})
    assert main(["transfer", "-d", "--json", str(tmp_path / "src"), str(tmp_path / "dst")]) == 2
    out, err = capsys.readouterr()
    last = json.loads(out.splitlines()[-1])
    assert last["event"] == "summary" and last["copied"] == 0 and last["deleted"] == 0, last
    assert last["delete_refused"].startswith("3 deletions planned, more than the limit of 1"), last
    assert "-d refused" in err
    assert sorted(p.name for p in (tmp_path / "dst").iterdir()) == ["x0", "x1", "x2"]


def test_a_file_that_never_held_still_gets_a_next_step_that_can_work(tmp_path, capsys, monkeypatch):
    """"run the same command again (the 1 failed retried)" after `changed during copy`: a log written all the
    time fails the same way on every run; the next line says what does work (stop its writer, or -x it)."""
    from engine.transfer.backends.local import LocalBackend as Local
    from tui.cli import main

    write_local(tmp_path / "src", {"train.log": b"l" * 1000, "ok": b"o"})
    real = Local.read_range

    def appending(self, info, start, length):  # the writer appends while every copy reads
        data = real(self, info, start, length)
        if info.path == "train.log":
            with open(self.full(info.path), "ab") as f:
                f.write(b"more\n")
        return data

    monkeypatch.setattr(Local, "read_range", appending)
    assert main(["transfer", str(tmp_path / "src"), str(tmp_path / "dst")]) == 1
    out = capsys.readouterr().out
    assert "changed during copy (3 tries" in out
    assert out.splitlines()[-1] == (
        "next: 1 file changed during every copy: stop what writes it (or exclude it with -x), then run the same "
        "command again (copied objects are skipped, the 1 failed retried)"), out


def test_the_next_step_names_files_that_changed_during_every_copy_among_other_failures():
    from engine.transfer.summary import what_to_fix

    usual = "fix what each failed line names"
    assert what_to_fix(2, ["OSError: denied", "x"], usual) == usual
    assert what_to_fix(2, ["SourceChanged: changed during copy (3 tries…)", "OSError: denied"], usual) == (
        usual + " (1 file changed during every copy: stop what writes it, or exclude it with -x)")


def _last_json(out: str) -> dict:
    import json

    return json.loads(out.splitlines()[-1])


def test_a_json_transfer_whose_source_is_missing_ends_with_a_summary_naming_the_error(tmp_path, capsys):
    """`transfer --json` that could not start wrote no NDJSON at all (the reason only on stderr, exit 2)."""
    from tui.cli import main

    assert main(["transfer", "--json", str(tmp_path / "nowhere"), str(tmp_path / "dst")]) == 2
    out, err = capsys.readouterr()
    last = _last_json(out)
    assert last["event"] == "summary" and last["ok"] is False and last["started"] is False, last
    assert last["exit_code"] == 2 and last["exit_meaning"] == "bad input or usage", last
    assert "is not a directory" in last["error"] and "is not a directory" in err
    assert "copied" not in last  # no counts where none are known


def test_a_json_transfer_that_cannot_reach_s3_ends_with_a_summary_exit_4(tmp_path, capsys, monkeypatch):
    """Unreachable address: the run began (progress events), then ended with no summary, the reason on stderr."""
    from tests.stand_ins import free_port
    from tui.cli import main

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    assert main(["transfer", "--json", "s3://bucket/data", str(tmp_path / "dst")]) == 4
    out, err = capsys.readouterr()
    last = _last_json(out)
    assert last["event"] == "summary" and last["ok"] is False and last["exit_code"] == 4, last
    assert last["exit_meaning"].startswith("environment problem"), last
    assert "cannot reach S3" in last["error"] and "cannot reach S3" in err
    assert last["started"] is True and last["copied"] == 0 and last["failed"] == 0, last


def test_a_json_transfer_with_bad_flags_ends_with_a_summary_too(capsys):
    """The README: `transfer --json` ends with one summary object whatever happens, bad flags included. A flag
    argparse refuses (`-j 0`, an unknown option) printed usage on stderr and no JSON at all, exit 2 (review
    s8readme): a script reading the last line had nothing to parse."""
    import pytest

    from tui.cli import main

    for flags in (["-j", "0"], ["--bogus"], ["--part-size", "x"]):
        with pytest.raises(SystemExit) as stop:
            main(["transfer", "--json", *flags, "s3://b/p", "gs://b/p"])
        assert stop.value.code == 2
        out, err = capsys.readouterr()
        last = _last_json(out)
        assert last == {"event": "summary", "ok": False, "error": err.strip().splitlines()[-1].split("error: ", 1)[1],
                        "exit_code": 2, "exit_meaning": "bad input or usage", "started": False}, (flags, out, err)
    with pytest.raises(SystemExit):  # without --json: usage on stderr only, as before
        main(["transfer", "-j", "0", "s3://b/p", "gs://b/p"])
    assert capsys.readouterr().out == ""
