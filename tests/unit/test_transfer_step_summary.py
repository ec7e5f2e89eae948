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
