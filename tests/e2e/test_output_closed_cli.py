"""`gpumigrate COMMAND | head -1`: the exit status is what the command found, never the pipe's doing.

`verify PROFILE | head -1` exited 1 ("a check did not pass") with nothing on stderr although every check
passed; `cost` and `inventory` exited 1 the same way (Rich exits 1 on a broken pipe); a `drivers` plan
that is red exited 0 (the CLI mapped BrokenPipeError to 0). These commands only read and report: they
run to their end and, the output being gone, say their result on stderr with the true status."""

from __future__ import annotations

import pytest

from tests.e2e.cli_support import gpumigrate_output_closed

DEMO = "profiles/demo.toml"


@pytest.mark.parametrize("args", [["verify", DEMO], ["verify", DEMO, "--json"], ["cost", DEMO],
                                  ["inventory", "-p", DEMO], ["drivers", DEMO],
                                  ["catalog", "show"]])
def test_a_closed_output_leaves_the_exit_status_and_says_the_result_on_stderr(args):
    closed = gpumigrate_output_closed(*args)  # each of these exits 0 with its output read (the demo passes)
    assert "Traceback" not in closed.stderr, closed.stderr
    assert closed.returncode == 0, (closed.returncode, closed.stderr)
    assert "the output was closed; the command ran to its end: " in closed.stderr, closed.stderr
    assert "(exit 0)" in closed.stderr, closed.stderr
    if args[0] == "verify":
        assert "PASS" in closed.stderr, closed.stderr


def test_a_red_driver_plan_with_its_output_closed_still_exits_1(tmp_path):
    """The CLI mapped the broken pipe to exit 0: a red plan read as fine by `drivers P | head -1`."""
    profile = tmp_path / "red.toml"
    profile.write_text('[source]\nprovider = "aws"\n[target]\nmachine_type = "n1-standard-8"\ngpu_model = "V100"\n'
                       'gpu_count = 1\n[drivers]\ndriver_branch = "590"\n')  # R590 drops the V100
    closed = gpumigrate_output_closed("drivers", str(profile))
    assert closed.returncode == 1 and "plan red (exit 1)" in closed.stderr, (closed.returncode, closed.stderr)


@pytest.mark.parametrize("args", [["validate", DEMO], ["ops", DEMO, "--json"]])
def test_every_other_report_keeps_its_status_too(args):
    """They exited 0 with nothing said (PYTHONUNBUFFERED=1), or 120 with Python's "Exception ignored" (buffered)."""
    for buffered in ("1", ""):
        closed = gpumigrate_output_closed(*args, env={"PYTHONUNBUFFERED": buffered})
        assert closed.returncode == 0, (closed.returncode, closed.stderr)
        assert f"the output was closed; `gpumigrate {args[0]}` ran to its end (exit 0: ok)" in closed.stderr, \
            closed.stderr
        assert "Exception ignored" not in closed.stderr and "Traceback" not in closed.stderr


def test_a_copy_whose_output_was_closed_says_what_it_did(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "f").write_text("data\n")
    closed = gpumigrate_output_closed("transfer", "-r", str(tmp_path / "src"), str(tmp_path / "dst"))
    assert closed.returncode == 0, closed.stderr
    assert "the command ran to its end: copied 1 " in closed.stderr, closed.stderr
    assert (tmp_path / "dst" / "f").read_text() == "data\n"


def test_a_check_or_a_dry_run_with_its_output_closed_says_what_it_is(tmp_path):
    """`transfer --verify-only` (text) stopped "its result not known" (exit 3) though the comparison was over;
    a dry run stopped by a closed output said "run the same command again to resume" (it has nothing to resume)."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "f").write_text("data\n")
    assert gpumigrate_output_closed("transfer", "-r", str(tmp_path / "src"), str(tmp_path / "dst")).returncode == 0
    check = gpumigrate_output_closed("transfer", "--verify-only", "-r", str(tmp_path / "src"), str(tmp_path / "dst"))
    assert check.returncode == 0 and "ran to its end: verified 1, mismatched 0" in check.stderr, check.stderr
    dry = gpumigrate_output_closed("transfer", "-r", "--dry-run", str(tmp_path / "src"), str(tmp_path / "new"))
    assert dry.returncode == 3 and "stopping the dry run (nothing was copied" in dry.stderr, dry.stderr
    assert "resume" not in dry.stderr


def test_a_command_started_with_its_stdout_closed_says_so():
    """`gpumigrate cost P --json >&-`: a traceback (print_json wrote to None), exit 1."""
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    proc = subprocess.run([sys.executable, "-m", "tui.cli", "cost", DEMO, "--json"], cwd=REPO, stderr=subprocess.PIPE,
                          text=True, timeout=120, preexec_fn=lambda: os.close(1))
    assert proc.returncode == 4, proc.stderr
    assert "Traceback" not in proc.stderr and "the standard output is closed" in proc.stderr, proc.stderr
