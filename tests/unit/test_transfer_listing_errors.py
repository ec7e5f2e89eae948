"""Issue 17, local side: a listing error is an error, symlinks by a stated rule, torn copies refused.

Each test is one of the defects the issue found (listing swallowed, -d deleting behind it,
a file rewritten mid-copy reported verified...), run through the real engine or CLI.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import threading
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from engine.events import ItemDone, Message, Progress
from engine.transfer.api import DeleteRefused, TransferSpec, plan_transfer, run_transfer
from engine.transfer.backends.local import LocalBackend
from engine.transfer.backends.local_walk import WalkRules
from engine.transfer.urls import parse_url
from tests.transfer_support import MIB, read_local, write_local

NOBODY = 65534


def spec(src, dst, **kw):
    kw.setdefault("part_threshold_mib", 5)
    kw.setdefault("part_size_mib", 1)
    return TransferSpec(src=str(src), dst=str(dst), **kw)


def cli(*args: str) -> tuple[int, str]:
    from tui.cli import main

    out = io.StringIO()
    with redirect_stdout(out):
        rc = main(["transfer", *args])
    return rc, out.getvalue()


def _as_nobody(fn) -> tuple[int, str]:
    """Run ``fn() -> (rc, text)`` in a forked child with root's privileges dropped (uid/gid 65534).

    A root process reads any folder, so the "unreadable folder" case needs a real non-root
    process.  The interpreter lives under /root (0700 here), so the child is forked from this
    already-started interpreter instead of exec'ing a new one as nobody; everything it imports
    is imported by a warm-up run before the fork."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 99
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            rc, text = fn()
            os.write(w, json.dumps({"rc": rc, "text": text}).encode())
            code = 0
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            os.write(w, json.dumps({"rc": -1, "text": f"{type(exc).__name__}: {exc}"}).encode())
        finally:
            os._exit(code)
    os.close(w)
    import select
    import signal
    import time

    chunks = []
    deadline = time.monotonic() + 120  # a child stuck on a lock inherited at fork must not hang the suite
    while True:
        ready, _, _ = select.select([r], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            os.kill(pid, signal.SIGKILL)
            break
        data = os.read(r, 65536)
        if not data:
            break
        chunks.append(data)
    os.close(r)
    os.waitpid(pid, 0)
    got = json.loads(b"".join(chunks) or b'{"rc": -2, "text": "no answer from the child"}')
    return got["rc"], got["text"]


@pytest.mark.skipif(not hasattr(os, "fork") or os.name != "posix", reason="needs fork and POSIX permissions")
def test_unreadable_folder_is_a_failure_and_d_deletes_nothing(monkeypatch):
    """The defect: a folder the process cannot read listed as empty, -d deleted its copies, exit 0."""
    if os.geteuid() != 0 and os.access("/", os.W_OK):
        pytest.skip("neither root (to drop to nobody) nor an ordinary user")
    base = Path(tempfile.mkdtemp(prefix="gpm-i17-"))
    try:
        src, dst, state = base / "src", base / "dst", base / "state"
        write_local(src, {"a.txt": b"a", "locked/ckpt-1.bin": b"1" * 100, "locked/ckpt-2.bin": b"2" * 100,
                          "secret.bin": b"s" * 10})
        run_transfer(spec(src, dst))  # dst now holds locked/*
        write_local(dst, {"stale.txt": b"s"})
        state.mkdir()
        # the same command once as root on a throwaway copy: the child imports nothing new
        warm = base / "warm"
        shutil.copytree(dst, warm)
        monkeypatch.setenv("GPUMIGRATE_STATE_DIR", str(state))
        assert cli(str(src), str(warm), "-r", "-d", "--max-delete", "10")[0] == 0
        for p in [base, *base.rglob("*")]:
            os.chown(p, NOBODY if os.geteuid() == 0 else -1, NOBODY if os.geteuid() == 0 else -1)
        base.chmod(0o755)
        (src / "locked").chmod(0o000)
        (src / "secret.bin").write_bytes(b"S" * 12)  # changed, and now unreadable: a read error
        (src / "secret.bin").chmod(0o000)
        if os.geteuid() == 0:
            rc, text = _as_nobody(lambda: cli(str(src), str(dst), "-r", "-d", "--max-delete", "10"))
        else:
            rc, text = cli(str(src), str(dst), "-r", "-d", "--max-delete", "10")
        assert rc == 1, text
        assert "failed 2" in text and "locked/" in text and "PermissionError" in text, text
        assert "failed: secret.bin: PermissionError" in text, text
        assert "deletions skipped: 2 errors" in text, text
        # nothing was deleted: neither the unreadable folder's copies nor the genuinely stale file
        assert sorted(read_local(dst)) == ["a.txt", "locked/ckpt-1.bin", "locked/ckpt-2.bin", "secret.bin",
                                           "stale.txt"]
    finally:
        if (base / "src" / "locked").exists():
            (base / "src" / "locked").chmod(0o755)
        shutil.rmtree(base, ignore_errors=True)


def test_broken_symlink_fails_and_blocks_deletions(tmp_path):
    """The defect: a file replaced by a dangling link (unmounted volume) skipped silently, -d deleted its copy."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    write_local(src, {"data.bin": b"d" * 10, "gone.txt": b"x"})
    run_transfer(spec(src, dst))
    (src / "data.bin").unlink()
    (src / "data.bin").symlink_to(tmp_path / "mnt-unmounted" / "data.bin")
    (src / "gone.txt").unlink()
    s = run_transfer(spec(src, dst, delete=True, max_delete=10))
    assert not s.ok and s.failed == 1 and s.deleted == 0
    assert s.failures[0].path == "data.bin" and "broken symlink" in s.failures[0].error
    assert s.deletions_skipped == "1 error"
    assert sorted(read_local(dst)) == ["data.bin", "gone.txt"]
    # --skip-broken-symlinks: a notice, the other deletion runs, the link's old copy is kept
    s = run_transfer(spec(src, dst, delete=True, max_delete=10, skip_broken_symlinks=True))
    assert s.ok and s.failed == 0 and s.deleted == 1
    assert s.not_copied_by_reason == {"broken symlink": 1}
    assert read_local(dst) == {"data.bin": b"d" * 10}


def test_entry_not_copied_keeps_what_its_copy_holds_below_it(tmp_path):
    """The defect: a link to a folder on an unmounted volume, run with -d --skip-broken-symlinks, printed
    "not copied: 1 broken symlink" (the help: "their destination objects are kept") and deleted every
    object the earlier run had copied below it. The same for a folder link under --no-follow-symlinks.
    An entry listed but not copied keeps its name and everything below it; other deletions still run."""
    src, dst, vol = tmp_path / "src", tmp_path / "dst", tmp_path / "vol"
    write_local(src, {"k": b"k", "stale": b"s"})
    write_local(vol, {"a": b"a", "sub/b": b"b"})
    (src / "vol").symlink_to(vol)
    (src / "vol2").symlink_to(vol)
    assert run_transfer(spec(src, dst)).copied == 6
    (src / "stale").unlink()
    vol.rename(tmp_path / "vol.unmounted")
    plan = plan_transfer(spec(src, dst, delete=True, max_delete=10, skip_broken_symlinks=True))
    assert [a.path for a in plan.actions if a.kind == "delete"] == ["stale"]
    # Storage Transfer Service knows no such rule: the list a second person approves for it says so
    sts = plan_transfer(spec(src, dst, delete=True, max_delete=10, skip_broken_symlinks=True), for_sts=True)
    assert [a.path for a in sts.actions if a.kind == "delete"] == ["stale", "vol/a", "vol/sub/b", "vol2/a",
                                                                    "vol2/sub/b"]
    s = run_transfer(spec(src, dst, delete=True, max_delete=10, skip_broken_symlinks=True))
    assert s.ok and s.deleted == 1 and s.not_copied_by_reason == {"broken symlink": 2}
    assert sorted(read_local(dst)) == ["k", "vol/a", "vol/sub/b", "vol2/a", "vol2/sub/b"]
    (tmp_path / "vol.unmounted").rename(vol)
    s = run_transfer(spec(src, dst, delete=True, max_delete=10, follow_symlinks=False))
    assert s.ok and s.deleted == 0 and s.not_copied_by_reason == {"symlink skipped": 2}
    assert sorted(read_local(dst)) == ["k", "vol/a", "vol/sub/b", "vol2/a", "vol2/sub/b"]


def test_symlinks_followed_loops_reported_and_no_follow_skips(tmp_path):
    """Folder and file links are followed (checkpoints -> /mnt/nvme/ckpt), a loop is reported once."""
    src, dst, nvme = tmp_path / "src", tmp_path / "dst", tmp_path / "nvme"
    write_local(src, {"train.py": b"print()\n"})
    write_local(nvme, {"ckpt/step-1.pt": b"w" * 300, "ckpt/inner/step-2.pt": b"v" * 30})
    (src / "checkpoints").symlink_to(nvme / "ckpt")
    (src / "latest.pt").symlink_to(nvme / "ckpt" / "step-1.pt")
    (nvme / "ckpt" / "inner" / "up").symlink_to(nvme / "ckpt")  # a loop inside the linked folder
    events = []
    s = run_transfer(spec(src, dst), emit=events.append)
    assert s.ok and s.copied == 4
    assert read_local(dst) == {"train.py": b"print()\n", "checkpoints/step-1.pt": b"w" * 300,
                               "checkpoints/inner/step-2.pt": b"v" * 30, "latest.pt": b"w" * 300}
    assert [(e.item, e.detail.split(" (")[0]) for e in events if isinstance(e, ItemDone)
            and e.status == "not_copied"] == [("checkpoints/inner/up/", "symlink loop")]
    # --no-follow-symlinks: each link skipped with its reason, the destination's copies kept
    rc, text = cli(str(src), str(tmp_path / "dst2"), "-r", "--no-follow-symlinks")
    assert rc == 0, text
    assert "not copied: 2 symlink skipped" in text
    assert "not copied: checkpoints: symlink skipped (--no-follow-symlinks) -> " in text
    assert read_local(tmp_path / "dst2") == {"train.py": b"print()\n"}


def test_a_link_into_the_destination_is_not_copied_into_itself(tmp_path):
    """The defect: src/out -> ../dst (or to a folder above dst) copied the destination into itself,
    one level deeper each run (dst/out/out/out/x after three runs), each run "failed 0", rc 0."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    write_local(src, {"x": b"x"})
    write_local(dst, {"x": b"x"})
    (src / "out").symlink_to(dst)
    (src / "up").symlink_to(tmp_path)  # above dst: its "src" is a loop, its "dst" the destination
    for _ in range(2):
        s = run_transfer(spec(src, dst, delete=True, max_delete=10))
        assert s.ok and s.copied == 0 and s.deleted == 0
        assert sorted((n.path, n.reason.split(" (")[0]) for n in s.not_copied) == [
            ("out/", "leads into the destination"), ("up/dst/", "leads into the destination"),
            ("up/src/", "symlink loop")]
        assert read_local(dst) == {"x": b"x"}
    rc, text = cli(str(src), str(dst), "-r")
    assert rc == 0 and "not copied: 2 leads into the destination, 1 symlink loop" in text, text


def test_special_files_and_unstatable_entries_are_reported(tmp_path):
    src = tmp_path / "src"
    write_local(src, {"a": b"a"})
    os.mkfifo(src / "pipe")
    listed = list(LocalBackend(parse_url(str(src))).list())
    assert [(o.path, o.problem, o.problem_is_error) for o in listed] == [
        ("a", "", False), ("pipe", "not a regular file (socket, FIFO or device)", False)]
    links = src / "l"
    links.symlink_to("l")  # a link to itself: stat fails with ELOOP
    backend = LocalBackend(parse_url(str(src)))
    backend.rules = WalkRules(skip_broken_symlinks=False)
    bad = [o for o in backend.list() if o.path == "l"][0]
    assert bad.problem_is_error and bad.problem.startswith("broken symlink -> l")


def test_file_rewritten_while_copied_is_never_verified_torn(tmp_path):
    """The defect: old bytes at one offset, new at another, reported "verified". Parts of 1 MiB:
    the rewrite lands after the first part is read; the copy starts again from the new state."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    old, new = b"o" * (6 * MIB), b"n" * (6 * MIB)
    write_local(src, {"model.bin": old})
    rewrites = [0]
    lock = threading.Lock()

    def emit(event):
        if isinstance(event, Progress) and event.label == "object" and event.extra.get("phase") == "progress":
            with lock:
                if rewrites[0] == 0:
                    rewrites[0] += 1
                    with open(src / "model.bin", "r+b") as f:  # same size, in place: only mtime/ctime tell
                        f.write(new)
                    os.utime(src / "model.bin", ns=(os.stat(src / "model.bin").st_mtime_ns + 10_000_000,) * 2)

    events = []
    s = run_transfer(spec(src, dst, jobs=2), emit=lambda e: (events.append(e), emit(e)))
    assert s.ok and s.verified == 1, s.failures
    assert read_local(dst) == {"model.bin": new}
    assert any(isinstance(e, Message) and "changed while it was copied" in e.text for e in events)


def _run_with_source(backend, src, dst, **kw):
    from engine.transfer.control import TransferControl
    from engine.transfer.execute import Transfer
    from engine.transfer.journal import Journal

    return Transfer(src=backend, dst=LocalBackend(parse_url(str(dst))), src_url=str(src), dst_url=str(dst),
                    emit=lambda e: None, journal=Journal(None), control=TransferControl(),
                    part_threshold_mib=5, part_size_mib=1, **kw).run()


class _Touching(LocalBackend):
    """A local source whose file ``victim`` gets a new mtime whenever a part of it has been read
    (an appending log, a checkpoint being rewritten) on the first ``times`` reads."""

    def __init__(self, loc, victim: str, times: int):
        super().__init__(loc)
        self.victim, self.left, self.reads = victim, times, 0

    def read_range(self, info, start, length):
        data = super().read_range(info, start, length)
        if info.path == self.victim:
            self.reads += 1
            if self.left > 0:
                self.left -= 1
                os.utime(self.full(info.path), ns=(1_000_000_000 * (self.reads + 10),) * 2)
        return data


def test_file_that_keeps_changing_fails_changed_during_copy(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    write_local(src, {"log.bin": b"0" * (6 * MIB), "ok.txt": b"fine"})
    s = _run_with_source(_Touching(parse_url(str(src)), "log.bin", 10**6), src, dst, jobs=1)
    assert not s.ok and s.failed == 1 and s.copied == 1 and s.verified == 1
    assert "changed during copy (3 tries" in s.failures[0].error
    assert read_local(dst) == {"ok.txt": b"fine"}
    assert not [p for p in dst.rglob("*") if "gpumigrate-tmp" in p.name]


def test_small_file_rewritten_between_read_and_publish_is_caught(tmp_path):
    """The single-request path: the state after the read is checked before the write."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    write_local(src, {"cfg.json": b"{}" * 200_000})
    backend = _Touching(parse_url(str(src)), "cfg.json", 1)
    s = _run_with_source(backend, src, dst)
    assert s.ok and s.verified == 1 and backend.reads == 2
    assert os.stat(dst / "cfg.json").st_mtime_ns == 11_000_000_000


@pytest.mark.parametrize("mtime_ns", [4_102_444_800_123_456_789, -86_400_500_000_000, 0])
def test_future_and_pre_epoch_mtimes_are_stable(tmp_path, mtime_ns):
    src, dst = tmp_path / "src", tmp_path / "dst"
    write_local(src, {"f": b"x"})
    os.utime(src / "f", ns=(mtime_ns, mtime_ns))
    assert run_transfer(spec(src, dst)).copied == 1
    assert os.stat(dst / "f").st_mtime_ns == mtime_ns
    again = run_transfer(spec(src, dst))
    assert (again.copied, again.skipped) == (0, 1)


def test_allow_empty_source_is_not_refused_again_by_the_default_limit(tmp_path):
    """The defect: the refusal named --allow-empty-source, and with it the 10% guard refused again."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    write_local(dst, {f"f{i}": b"x" for i in range(20)})
    with pytest.raises(DeleteRefused, match="--allow-empty-source"):
        run_transfer(spec(src, dst, delete=True))
    s = run_transfer(spec(src, dst, delete=True, allow_empty_source=True))
    assert s.ok and s.deleted == 20
    write_local(dst, {f"g{i}": b"x" for i in range(20)})
    with pytest.raises(DeleteRefused, match="--max-delete 20"):  # an explicit limit still holds
        run_transfer(spec(src, dst, delete=True, allow_empty_source=True, max_delete=5))


def test_dry_run_prints_whole_lines_from_many_workers(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    write_local(src, {f"dir{i % 7}/file-{i:04d}.bin": b"z" * (i % 50) for i in range(600)})
    import subprocess
    import sys

    from tests.conftest import REPO

    proc = subprocess.run([sys.executable, "-m", "tui.cli", "transfer", str(src), str(dst), "-r", "-n", "-j", "16"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("would copy dir")]
    assert len(lines) == 600
    assert all(ln.endswith(" bytes)") and ln.count("would copy") == 1 for ln in lines)


def test_plan_counts_problem_entries(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    write_local(src, {"a": b"a"})
    (src / "dangling").symlink_to(tmp_path / "nowhere")
    (src / "self").symlink_to(src)
    plan = plan_transfer(spec(src, dst))
    assert (plan.copy, plan.error, plan.notcopied) == (1, 1, 1)


@pytest.mark.parametrize("recursive", [True, False], ids=["-r", "top-level"])
def test_no_debris_after_a_killed_run_whose_source_then_vanished(tmp_path, recursive):
    """The defect: a hidden .gpumigrate-tmp file stayed for good (listing skips it, -d never removes it).
    Without -r (the CLI's default) too: the top level was listed whole, so its debris is judged."""
    from engine.transfer.journal import Journal

    src, dst = tmp_path / "src", tmp_path / "dst"
    write_local(src, {"keep.txt": b"k", "big.bin": b"b" * (6 * MIB)})
    journal = tmp_path / "j.sqlite"
    control_events = []
    from engine.transfer.control import TransferControl

    control = TransferControl()

    def emit(event):  # kill the run once the large file's first part is written
        control_events.append(event)
        if isinstance(event, Progress) and event.label == "object" and event.extra.get("phase") == "progress":
            control.cancel()

    s = run_transfer(spec(src, dst, jobs=1, recursive=recursive), emit=emit, control=control, journal=journal)
    assert s.interrupted
    temps = [p for p in dst.rglob("*") if "gpumigrate-tmp" in p.name]
    assert temps, "the interrupted large copy keeps its journalled temp file for the resume"
    # a single-request write killed half-way leaves a temp file no journal knows about
    (dst / ".0123456789ab.gpumigrate-tmp").write_bytes(b"half")
    (src / "big.bin").unlink()  # the source moved on
    s = run_transfer(spec(src, dst, recursive=recursive), journal=journal)
    assert s.ok and s.temps_removed == 2
    assert not [p for p in dst.rglob("*") if "gpumigrate-tmp" in p.name]
    assert Journal(journal).pending_uploads() == []


def test_cleanup_lists_first_then_removes_old_leftovers(tmp_path):
    dst = tmp_path / "dst"
    write_local(dst, {"a.txt": b"a", "d/.aaaaaaaaaaaa.gpumigrate-tmp": b"x" * 10, ".bbbbbbbbbbbb.gpumigrate-tmp": b"y"})
    os.utime(dst / "d/.aaaaaaaaaaaa.gpumigrate-tmp", (1, 1))  # old; the other one is recent
    rc, text = cli("--cleanup", str(dst))
    assert rc == 0 and "2 leftovers (11 bytes); dry run: nothing removed" in text, text
    assert len([p for p in dst.rglob("*") if "gpumigrate-tmp" in p.name]) == 2
    rc, text = cli("--cleanup", str(dst), "--remove")
    assert rc == 0 and "removed 1 of 2 leftovers" in text and "recent: may belong to a running transfer" in text
    assert [p.name for p in dst.rglob("*") if "gpumigrate-tmp" in p.name] == [".bbbbbbbbbbbb.gpumigrate-tmp"]
    assert (dst / "a.txt").read_bytes() == b"a"
    rc, text = cli("--cleanup", str(tmp_path / "no-such-dir"))  # a typo is not "0 leftovers"
    assert rc == 2 and "0 leftovers" not in text


def test_source_file_deleted_after_listing_is_vanished_not_a_failure(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    write_local(src, {"a": b"a", "tmp/run.log": b"log"})
    run_transfer(spec(src, dst))
    write_local(src, {"tmp/run.log": b"log, longer now"})
    write_local(dst, {"stale": b"s"})

    class Vanishing(LocalBackend):  # the log is rotated away between listing and copying
        def list(self, *args, **kwargs):
            items = list(super().list(*args, **kwargs))
            os.unlink(src / "tmp" / "run.log")
            yield from items

    s = _run_with_source(Vanishing(parse_url(str(src))), src, dst, delete=True, max_delete=5)
    assert s.ok and s.failed == 0 and s.deleted == 1 and s.copied == 0
    assert [(n.path, n.reason.split(":")[0]) for n in s.not_copied] == [("tmp/run.log", "vanished")]
    assert read_local(dst) == {"a": b"a", "tmp/run.log": b"log"}  # its earlier copy is kept


def test_streamed_copy_checks_the_source_at_end_of_stream(tmp_path):
    """The streamed path (over the single-request size, under the parts threshold): the check
    runs when the reader reaches EOF, before the temp file is renamed into place."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    write_local(src, {"medium.bin": b"m" * (9 * MIB)})
    touched = [0]

    class TouchOnRead(LocalBackend):
        def open_read(self, info):
            f = super().open_read(info)
            path = self.full(info.path)
            real_read = f.read

            def read(n=-1):
                data = real_read(n)
                if data and touched[0] < 1:
                    touched[0] += 1
                    os.utime(path, ns=(7_000_000_000, 7_000_000_000))
                return data

            f.read = read
            return f

    from engine.transfer.control import TransferControl
    from engine.transfer.execute import Transfer
    from engine.transfer.journal import Journal

    s = Transfer(src=TouchOnRead(parse_url(str(src))), dst=LocalBackend(parse_url(str(dst))), src_url=str(src),
                 dst_url=str(dst), emit=lambda e: None, journal=Journal(None), control=TransferControl()).run()
    assert s.ok and s.verified == 1 and touched[0] == 1
    assert os.stat(dst / "medium.bin").st_mtime_ns == 7_000_000_000  # the second, consistent copy


@pytest.mark.parametrize("becomes", ["folder", "file"])
def test_minus_d_replaces_a_file_by_a_folder_and_back_at_a_local_destination(tmp_path, becomes):
    """The defect: a source file that became a folder (checkpoint -> checkpoint/step-1) failed
    'FileExistsError' at a local destination; the deletion of the old file that would make room
    was planned, but deletions run only after a clean run: every run failed the same way, for
    ever. The reverse (a folder became a file) too. With -d what stands in the way goes first."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    first, then = {"ckpt": b"old file", "keep": b"k"}, {"ckpt/step-1": b"w1", "ckpt/step-2": b"w2", "keep": b"k"}
    if becomes == "file":
        first, then = then, first
    write_local(src, first)
    run_transfer(spec(src, dst))
    shutil.rmtree(src)
    write_local(src, then)
    s = run_transfer(spec(src, dst))  # without -d nothing is deleted: the failure says what would be
    assert s.failed == len(then) - 1 and all("not replaced (with -d " in f.error for f in s.failures), s.failures
    s = run_transfer(spec(src, dst, delete=True, max_delete=10))
    assert s.ok and s.failed == 0 and s.copied == len(then) - 1, s.failures
    assert s.deleted == len(first) - 1
    assert read_local(dst) == then


def test_minus_d_deletes_nothing_where_a_destination_folder_link_leads(tmp_path):
    """The defect: dst/ext -> ../outside (a link the destination machine has, to a shared folder or
    /mnt/nvme) and a source without ext: `-d` printed "deleted 1" and unlinked outside/precious, a
    file outside the destination tree. Now kept and said; the rest of -d runs."""
    src, dst, outside = tmp_path / "src", tmp_path / "dst", tmp_path / "outside"
    write_local(src, {"a": b"a"})
    write_local(dst, {"a": b"a", "stale": b"s"})
    write_local(outside, {"precious": b"p", "sub/deep": b"d"})
    (dst / "ext").symlink_to(outside)
    plan = plan_transfer(spec(src, dst, delete=True, max_delete=10))
    assert [a.path for a in plan.actions if a.kind == "delete"] == ["stale"] and plan.kept == 2
    s = run_transfer(spec(src, dst, delete=True, max_delete=10))
    assert s.ok and s.deleted == 1 and s.kept_below_links == 2
    assert read_local(outside) == {"precious": b"p", "sub/deep": b"d"} and not (dst / "stale").exists()
    rc, text = cli(str(src), str(dst), "-r", "-d", "-n")
    assert rc == 0 and "not deleted: 2 below folder links of the destination" in text, text
