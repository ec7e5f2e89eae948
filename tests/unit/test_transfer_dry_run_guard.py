"""`transfer -n -d` over the -d guard's limit: the dry run is the view the guard promises, so it lists what
would be deleted and says the real run would be refused (and how to allow it); it was refused itself, so the
deletions could only be seen after passing --max-delete first."""

from __future__ import annotations

import json

import pytest

from engine.transfer.api import DeleteRefused, TransferSpec, run_transfer
from tests.transfer_support import write_local


@pytest.fixture
def over_limit(tmp_path):
    write_local(tmp_path / "src", {"f1": b"1", "f2": b"2"})
    write_local(tmp_path / "dst", {f"f{i}": bytes([48 + i]) for i in range(1, 7)})  # f3..f6 only here
    return tmp_path / "src", tmp_path / "dst"


def test_the_dry_run_lists_the_deletions_a_real_run_refuses(over_limit, capsys):
    from tui.cli import main

    src, dst = over_limit
    # exit 1, as a replay --dry-run whose step finds the same (a check that did not pass); the real run: 2
    assert main(["transfer", "-n", "-d", str(src), str(dst)]) == 1
    out, err = capsys.readouterr()
    assert [ln for ln in out.splitlines() if ln.startswith("would delete")] == [
        f"would delete f{i} (1 bytes)" for i in range(3, 7)]
    said = out + err
    assert "a real run would refuse the deletions" in said and "--max-delete 4" in said, said
    assert "would delete 4" in out  # the summary line counts them
    assert sorted(p.name for p in dst.iterdir()) == [f"f{i}" for i in range(1, 7)]  # nothing changed


def test_the_dry_runs_json_summary_says_the_guard_would_refuse(over_limit, capsys):
    from tui.cli import main

    src, dst = over_limit
    assert main(["transfer", "-n", "-d", "--json", str(src), str(dst)]) == 1
    lines = [json.loads(ln) for ln in capsys.readouterr().out.splitlines()]
    deletes = [e["item"] for e in lines if e.get("event") == "item_done" and e.get("status") == "would_delete"]
    assert deletes == ["f3", "f4", "f5", "f6"]
    last = lines[-1]
    assert last["event"] == "summary" and last["dry_run"] and last["deleted"] == 4, last
    assert last["delete_refused"].startswith("4 deletions planned, more than the limit of 1"), last


def test_engine_dry_run_returns_the_plan_and_the_real_run_still_refuses(over_limit):
    src, dst = over_limit
    spec = TransferSpec(src=str(src), dst=str(dst), delete=True)
    s = run_transfer(spec, dry_run=True)
    assert (s.deleted, s.planned_delete, s.dry_run, s.ok) == (4, 4, True, False)
    assert "--max-delete 4" in s.delete_refused and "a real run would refuse the deletions" in s.line()
    with pytest.raises(DeleteRefused, match="--max-delete 4"):
        run_transfer(spec)
    assert sorted(p.name for p in dst.iterdir()) == [f"f{i}" for i in range(1, 7)]
    assert run_transfer(spec.model_copy(update={"max_delete": 4}), dry_run=True).ok  # passed: a clean dry run
