"""`transfer --json` ends with one summary object that carries its own status, whatever the run did: the README
promises `"ok"`, `"exit_code"` and `"exit_meaning"`, and a script reads them to decide. They were there only on
the failure paths (a refused flag, an unreachable store): a run that copied, a copy with failed files, a dry run
and a --verify-only check ended with counts alone, so `summary["ok"]` raised KeyError in the caller's script."""

from __future__ import annotations

import json

from tests.transfer_support import write_local


def _summary(capsys, argv: list[str]) -> tuple[int, dict]:
    from tui.cli import main

    code = main(argv)
    last = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert last["event"] == "summary", last
    return code, last


def test_a_completed_copy_says_ok_and_its_exit_code(tmp_path, capsys):
    write_local(tmp_path / "src", {"a": b"1", "b": b"22"})
    code, last = _summary(capsys, ["transfer", "--json", str(tmp_path / "src"), str(tmp_path / "dst")])
    assert (code, last["ok"], last["exit_code"], last["copied"]) == (0, True, 0, 2), last
    assert last["exit_meaning"]


def test_a_copy_with_a_failed_file_says_not_ok_with_the_exit_code_it_ends_with(tmp_path, capsys):
    write_local(tmp_path / "src", {"a": b"1"})
    (tmp_path / "dst").mkdir()
    (tmp_path / "dst" / "a").mkdir()  # a folder where the file must go: the copy of a fails
    (tmp_path / "dst" / "a" / "keep").write_bytes(b"x")
    code, last = _summary(capsys, ["transfer", "--json", str(tmp_path / "src"), str(tmp_path / "dst")])
    assert code != 0 and (last["ok"], last["exit_code"]) == (False, code), last


def test_a_dry_run_and_a_verify_only_check_say_their_status(tmp_path, capsys):
    write_local(tmp_path / "src", {"a": b"1"})
    code, last = _summary(capsys, ["transfer", "--json", "-n", str(tmp_path / "src"), str(tmp_path / "dst")])
    assert (code, last["ok"], last["exit_code"], last["dry_run"]) == (0, True, 0, True), last
    code, last = _summary(capsys, ["transfer", "--json", "--verify-only", str(tmp_path / "src"), str(tmp_path / "dst")])
    assert code == 1 and (last["ok"], last["exit_code"]) == (False, 1), last  # dst has nothing: not matched
