"""The transfer step's one-line summary says what a dry run would do, not what it did."""

from __future__ import annotations

from pathlib import Path

from engine.profile import parse_profile
from engine.runner import run_steps


def test_dry_run_summary_says_would_delete(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text("new")
    (tmp_path / "dst").mkdir()
    for name in ("b", "c", "d", "e", "f", "g", "h", "i", "j", "k"):
        (tmp_path / "dst" / f"{name}.txt").write_text("old")
    profile = parse_profile('[source]\nprovider = "local"\n'
                            '[[transfer]]\nsrc = "src"\ndst = "dst"\ndelete = true\nmax_delete = 10\n')
    summary = run_steps(profile, ["transfer"], emit=lambda e: None, profile_path=tmp_path / "p.toml", dry_run=True)
    assert summary.results["transfer"].summary == (
        "1 transfer(s): would copy 1 objects (3 bytes), would delete 10, skipped 0, failed 0")
    assert sorted(p.name for p in (tmp_path / "dst").iterdir())[0] == "b.txt"  # nothing deleted


def test_a_step_with_failed_objects_says_what_to_run_next(tmp_path: Path) -> None:
    """A replay whose transfer had failed objects ends its step line with what to do next, as
    the bare CLI does: fix the named causes, run the transfer again (copied ones skipped); how is the front end's
    to say (replay names the command with its session: a replay without --session makes a new one each time)."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text("a")
    (tmp_path / "src" / "gone").symlink_to(tmp_path / "nowhere")
    profile = parse_profile('[source]\nprovider = "local"\n[[transfer]]\nsrc = "src"\ndst = "dst"\n')
    summary = run_steps(profile, ["transfer"], emit=lambda e: None, profile_path=tmp_path / "p.toml")
    result = summary.results["transfer"]
    assert not result.ok
    assert result.summary == ("1 transfer(s): copied 1 objects (1 bytes), deleted 0, skipped 0, failed 1; fix what "
                              "each failed object's line names, then run the transfer again (copied objects are "
                              "skipped, failed ones retried)"), result.summary
