"""The CLI as a subprocess: NDJSON output, dry run, exit codes, and resume after kill -9."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.transfer_support import MIB, gcs_client, read_gcs, read_local, s3_client, write_local, write_s3

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tui.cli", "transfer", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout, env=dict(os.environ))


def test_json_output_ends_with_the_summary_line_and_dry_run_changes_nothing(tmp_path):
    write_local(tmp_path / "src", {"a.txt": b"a", "b/c.txt": b"cc", "skip.log": b"x"})
    dry = cli(str(tmp_path / "src"), str(tmp_path / "dst"), "-r", "-n", "-x", r".*\.log$", "--json")
    assert dry.returncode == 0, dry.stderr
    lines = [json.loads(line) for line in dry.stdout.splitlines()]
    assert sorted(e["item"] for e in lines if e.get("status") == "would_copy") == ["a.txt", "b/c.txt"]
    assert lines[-1]["event"] == "summary" and lines[-1]["copied"] == 2 and lines[-1]["bytes"] == 3
    counts = [e for e in lines if "copied" in (e.get("extra") or {})]  # progress events carry the counts
    assert counts and all(e["extra"]["dry_run"] is True for e in counts)  # "copied" there means would copy
    assert not (tmp_path / "dst").exists()
    real = cli(str(tmp_path / "src"), str(tmp_path / "dst"), "-r", "-x", r".*\.log$", "--json")
    progress = [e for e in map(json.loads, real.stdout.splitlines()) if "copied" in (e.get("extra") or {})]
    assert progress and all(e["extra"]["dry_run"] is False for e in progress)
    summary = json.loads(real.stdout.splitlines()[-1])
    assert {k: summary[k] for k in ("copied", "deleted", "skipped", "failed", "bytes", "verified")} == \
        {"copied": 2, "deleted": 0, "skipped": 0, "failed": 0, "bytes": 3, "verified": 2}
    assert read_local(tmp_path / "dst") == {"a.txt": b"a", "b/c.txt": b"cc"}
    human = cli(str(tmp_path / "src"), str(tmp_path / "dst"), "-r", "-d")
    assert human.returncode == 0 and "skipped 2" in human.stdout
    bad = cli(str(tmp_path / "src"), "ftp://x/y")
    assert bad.returncode == 2 and "unsupported address" in bad.stderr and "Traceback" not in bad.stderr


def test_verify_only_writes_the_manifest_and_fails_on_a_difference(tmp_path):
    write_local(tmp_path / "src", {"a": b"1", "b": b"22"})
    write_local(tmp_path / "dst", {"a": b"1", "b": b"33"})
    out = cli(str(tmp_path / "src"), str(tmp_path / "dst"), "--verify-only", "--manifest", str(tmp_path / "m.jsonl"),
              "--json")
    assert out.returncode == 1
    summary = json.loads(out.stdout.splitlines()[-1])
    assert summary["mismatched"] == 1 and summary["matched"] == 1
    row = json.loads((tmp_path / "m.jsonl").read_text().splitlines()[0])
    assert row["path"] == "a" and row["size"] == 1 and row["crc32c"] == "90f599e3" or len(row["crc32c"]) == 8


def _kill_rounds(args: list[str], rounds: int, seed: int, check_partial=None) -> list[str]:
    rng = random.Random(seed)
    outputs = []
    for _ in range(rounds):
        proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "transfer", *args, "--json"], cwd=REPO,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
        seen = []
        assert proc.stdout is not None
        for line in proc.stdout:  # wait until a part of the big file has gone, then kill at a random point
            seen.append(line)
            if '"phase": "progress"' in line and "big.bin" in line:
                break
        time.sleep(rng.uniform(0.0, 0.7))
        os.kill(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
        out = "".join(seen) + out
        outputs.append(out)
        if proc.returncode != -signal.SIGKILL:  # it finished first: later rounds have nothing to kill
            break
        if check_partial is not None:
            check_partial()
    assert len(outputs) >= 2 and "summary" not in outputs[0], "the transfer finished before it could be killed"
    return outputs


@pytest.mark.slow
def test_kill_9_at_random_points_then_resume_local_to_gcs(tmp_path, gcs, unique_bucket):
    gcs_client().create_bucket(unique_bucket)
    tree = {"big.bin": os.urandom(32 * MIB), **{f"small/{i:02d}": os.urandom(2000 + i) for i in range(30)}}
    write_local(tmp_path / "src", tree)
    args = [str(tmp_path / "src"), f"gs://{unique_bucket}/x", "-r", "--part-threshold", "5", "--part-size", "1",
            "-j", "2", "--bwlimit", "4M"]

    def no_partial_objects():
        for key, data in read_gcs(unique_bucket, "x/").items():
            assert tree[key] == data  # GCS objects appear only complete

    outputs = _kill_rounds(args, rounds=3, seed=42, check_partial=no_partial_objects)
    final = cli(*args)
    assert final.returncode == 0, final.stderr + final.stdout
    summary = json.loads(final.stdout.splitlines()[-1]) if final.stdout.startswith("{") else None
    everything = "\n".join(outputs) + final.stdout
    assert "resuming" in everything  # finished parts of the half-copied file were not sent again
    assert read_gcs(unique_bucket, "x/") == tree
    assert not [b.name for b in gcs_client().list_blobs(unique_bucket) if "gpumigrate-tmp" in b.name]
    del summary


@pytest.mark.slow
def test_kill_9_at_random_points_then_resume_s3_to_local(tmp_path, aws):
    s3_client().create_bucket(Bucket="kill-bucket")
    tree = {"big.bin": os.urandom(32 * MIB), **{f"d/{i:02d}.txt": os.urandom(500 + i) for i in range(30)}}
    write_s3("kill-bucket", "p/", tree)
    dst = tmp_path / "dst"
    args = ["s3://kill-bucket/p", str(dst), "-r", "--part-threshold", "5", "--part-size", "1", "-j", "2",
            "--bwlimit", "4M"]

    def no_partial_files():
        for key, data in read_local(dst).items() if dst.exists() else []:
            if "gpumigrate-tmp" not in key:
                assert tree[key] == data  # a reader never sees a partial file

    outputs = _kill_rounds(args, rounds=3, seed=7, check_partial=no_partial_files)
    final = cli(*args, "--json")
    assert final.returncode == 0, final.stderr
    summary = json.loads(final.stdout.splitlines()[-1])
    assert summary["failed"] == 0
    assert "resuming" in "\n".join(outputs) + final.stdout
    assert read_local(dst) == tree  # byte for byte, and no temp files left


def test_a_run_with_failures_says_what_to_run_next(tmp_path, capsys):
    """A failed object is named with its cause, and the run ends by saying what to do next: fix
    the cause, run the same command again (copied objects are skipped, failed ones retried)."""
    from tui.cli import main

    write_local(tmp_path / "src", {"a.txt": b"a"})
    (tmp_path / "src" / "gone").symlink_to(tmp_path / "nowhere")
    assert main(["transfer", str(tmp_path / "src"), str(tmp_path / "dst")]) == 1
    out = capsys.readouterr().out.splitlines()
    assert any(line.startswith("  failed: gone: ") and "broken symlink" in line for line in out), out
    assert out[-1] == ("next: fix what each failed line names, then run the same command again "
                       "(copied objects are skipped, the 1 failed retried)"), out
    assert main(["transfer", str(tmp_path / "src"), str(tmp_path / "dst")]) == 1
    assert "skipped 1" in capsys.readouterr().out


def _sigterm_mid_copy(command: list[str]) -> tuple[subprocess.Popen, str, str]:
    """Run ``command`` (its --json output), SIGTERM it once big.bin's bytes are moving; (process, out, err)."""
    proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ))
    assert proc.stdout is not None
    for line in proc.stdout:
        if '"phase": "progress"' in line and "big.bin" in line:
            break
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    return proc, out, err


def test_sigterm_stops_cleanly_and_the_same_command_resumes(tmp_path):
    """The defect: SIGTERM (systemctl stop, docker stop) killed the CLI mid-copy without a word, exit
    143, its journal still saying "running". Now it stops as the first Ctrl-C does: the summary says
    interrupted, exit 3, and the same command resumes."""
    data = os.urandom(12 * MIB)
    write_local(tmp_path / "src", {"big.bin": data})
    args = [str(tmp_path / "src"), str(tmp_path / "dst"), "--part-threshold", "5", "--part-size", "1", "-j", "1",
            "--bwlimit", "2M"]
    proc, out, err = _sigterm_mid_copy([sys.executable, "-m", "tui.cli", "transfer", *args, "--json"])
    assert proc.returncode == 3, (proc.returncode, err)
    summary = json.loads(out.splitlines()[-1])
    assert summary["event"] == "summary" and summary["interrupted"] is True and summary["copied"] == 0
    again = cli(*args[:2], "--part-threshold", "5", "--part-size", "1")
    assert again.returncode == 0 and "resuming" in again.stdout, again.stdout + again.stderr
    assert (tmp_path / "dst" / "big.bin").read_bytes() == data


def test_sigterm_stops_a_foreground_replay_as_interrupted_and_the_next_replay_resumes(tmp_path):
    """`gpumigrate replay PROFILE` in the foreground (a CI job, a supervisor) stopped by SIGTERM mid-copy:
    exit 3 and "interrupted" (not PASS, no traceback), the journal kept; the same command, in a new
    session of its own, resumes the large object from its parts and says what it sent itself."""
    data = os.urandom(12 * MIB)
    write_local(tmp_path / "src", {"big.bin": data})
    profile = tmp_path / "p.toml"
    entry = ('name = "cut"\n[source]\nprovider = "local"\n[[transfer]]\nsrc = "src"\ndst = "dst"\n'
             'part_threshold_mib = 5\npart_size_mib = 1\njobs = 1\n')
    profile.write_text(entry + 'bwlimit = "2M"\n')
    replay = [sys.executable, "-m", "tui.cli", "replay", str(profile), "--steps", "transfer", "--json"]
    proc, out, err = _sigterm_mid_copy(replay)
    assert proc.returncode == 3 and "Traceback" not in err, (proc.returncode, err)
    summary = json.loads(out.splitlines()[-1])
    text = summary["steps"]["transfer"]["summary"]
    assert summary["exit_code"] == 3 and not summary["ok"], summary
    assert text.startswith("[[transfer]] #1 src -> dst: interrupted (copied 0 (0 B)") and \
        text.count("what it copied is kept, and it goes on from there when resumed") == 1 and \
        "same command again" not in text, text  # how to resume: replay's own line, with the session
    assert not (tmp_path / "dst" / "big.bin").exists()
    profile.write_text(entry)
    again = subprocess.run(replay, cwd=REPO, capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "resuming" in again.stdout and "took over the unfinished uploads" in again.stdout
    final = json.loads(again.stdout.splitlines()[-1])["steps"]["transfer"]["summary"]
    assert "of them sent by an earlier run (resumed parts)" in final, final
    assert (tmp_path / "dst" / "big.bin").read_bytes() == data


@pytest.mark.parametrize("mode", [["--json"], ["-v"], ["--json", "--verify-only"]])
def test_a_transfer_whose_output_is_closed_stops_as_interrupted_not_exit_0(tmp_path, mode):
    """`gpumigrate transfer --json SRC DST | head -1` exited 0 with 9 of 300 files copied: the reader's
    going away raised BrokenPipeError out of the run and the CLI mapped it to 0. (Text mode exited 1.)
    Now the run stops as Ctrl-C stops it: exit 3, nothing half-written, and the same command finishes.
    --verify-only exited 0 whatever it found: it now compares to the end and says the result on stderr."""
    write_local(tmp_path / "src", {f"f{i:03}.bin": os.urandom(2000) for i in range(300)})
    args = [str(tmp_path / "src"), str(tmp_path / "dst"), "-j", "2"]
    if "--verify-only" in mode:
        assert cli(*args).returncode == 0
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "transfer", *args, *mode], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read()
    rc = proc.wait(timeout=60)
    assert "Traceback" not in err, err
    assert "the output was closed" in err, err
    if "--verify-only" in mode:  # nothing to resume: it compares to the end and says what it found
        assert rc == 0 and "ran to its end: verified 300, mismatched 0, missing 0" in err, (rc, err)
        return
    assert rc == 3, (rc, err)
    assert not [p for p in (tmp_path / "dst").rglob("*") if "gpumigrate-tmp" in p.name]
    again = cli(*args)
    assert again.returncode == 0, again.stdout + again.stderr
    assert sorted(p.name for p in (tmp_path / "dst").iterdir()) == sorted(p.name for p in (tmp_path / "src").iterdir())
