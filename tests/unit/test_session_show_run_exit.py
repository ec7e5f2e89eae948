"""`session show` says how the last run ended, not just that it "finished"."""

from __future__ import annotations

import pytest

from engine.session import SessionStore, new_holder_id
from tui.cli import main


def test_show_names_the_exit_of_a_run_that_did_not_succeed(capsys: pytest.CaptureFixture[str]) -> None:
    """A cancelled run (exit 3) showed as "last run #1: finished", the word of a successful one."""
    with SessionStore.open("ended") as store:
        run = store.begin_run(new_holder_id(), ["transfer"], ttl_s=30)
        store.end_run(run, 3)
    assert main(["session", "show", "ended"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "last run" in x)
    assert "last run #1: interrupted, transfer" in line and "finished" not in line
    with SessionStore.open("ok") as store:
        run = store.begin_run(new_holder_id(), ["transfer"], ttl_s=30)
        store.end_run(run, 0)
    assert main(["session", "show", "ok"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "last run" in x)
    assert "last run #1: finished, transfer" in line


def test_sharing_reads_as_words_in_the_audit_trail() -> None:
    """`session show` printed the raw event: 'session_shared {"group": "rvops"}'."""
    from engine.cutover.status import describe
    from engine.session import StoredEvent

    shared = StoredEvent(1, 0.0, "root", "session", "session_shared", {"group": "ops"})
    assert describe(shared) == "root shared the session with group ops (`session share`)"
    assert describe(StoredEvent(2, 0.0, "root", "session", "session_unshared", {})).startswith("root made the session")


def test_an_incomplete_capture_is_not_said_to_miss_expected_checks(tmp_path, capsys) -> None:
    """A capture whose check errored on the source is BASELINE INCOMPLETE; `session show` said 'checks the
    profile expects did not run' (review session 6)."""
    import sys

    profile = tmp_path / "cap.toml"
    profile.write_text('name = "cap"\n[source]\nprovider = "local"\n[verify]\nchecks = ["model_load"]\n'
                       f'[verify.model_load]\ncommand = ["{sys.executable}", "-c", "import sys; sys.exit(1)"]\nruns = 1\n')
    assert main(["verify", str(profile), "--capture-baseline", str(tmp_path / "b.json"), "--session", "cap1"]) == 1
    capsys.readouterr()
    assert main(["session", "show", "cap1"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "last run" in x)
    assert ("incomplete (verify: the baseline lacks a check (errored or not run), or holds figures the target "
            "cannot compare with)") in line


def test_an_incomplete_inventory_is_said_as_what_it_did_not_read_not_as_checks(capsys) -> None:
    """Review s7: inventory became INCOMPLETE for a local_dirs folder that is not there (or a region AWS refused);
    `session show` / `session list` said 'incomplete (inventory: checks the profile expects did not run)', the
    words of verify. They now quote what the step did not read."""
    with SessionStore.open("inv-inc") as store:
        run = store.begin_run(new_holder_id(), ["inventory", "verify"], ttl_s=30)
        store.set_step("inventory", "incomplete", result={
            "summary": "44 local files, 3,873,242 bytes; INCOMPLETE: not found: demo/not-mounted; recommended x"})
        store.set_step("verify", "incomplete", result={"summary": "INCOMPLETE: 1 passed, 1 not run"})
        store.end_run(run, 1)
    assert main(["session", "show", "inv-inc"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "last run" in x)
    assert ("incomplete (inventory: INCOMPLETE: not found: demo/not-mounted; verify: checks the profile expects "
            "did not run)") in line, line


def test_show_says_a_verification_older_than_the_last_transfer_does_not_cover_it(capsys) -> None:
    """Review s7: after `replay --again transfer` (the final pass) `session show` listed verify 'completed … PASS'
    with nothing to say it predates the copy now at the destination."""
    import time

    with SessionStore.open("verify-stale") as store:
        store.set_step("transfer", "completed", result={"summary": "copied 1"})
        store.set_step("verify", "completed", result={"summary": "PASS: 5 passed"})
    assert main(["session", "show", "verify-stale"]) == 0
    assert "before the last transfer" not in capsys.readouterr().out  # verified after the copy: nothing to say
    time.sleep(0.01)
    with SessionStore.open("verify-stale") as store:
        store.set_step("transfer", "completed", result={"summary": "copied 3"})
    assert main(["session", "show", "verify-stale"]) == 0
    out = capsys.readouterr().out
    assert "verify result is from before the last transfer" in out and "--again verify" in out, out
    assert main(["session", "show", "verify-stale", "--json"]) == 0
    import json

    assert json.loads(capsys.readouterr().out)["steps"]["verify"]["before_last_transfer"] is True
