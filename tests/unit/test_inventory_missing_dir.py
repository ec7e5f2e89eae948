"""A local folder the profile names that is not there makes the inventory incomplete, never "0 local files" ✓."""

from __future__ import annotations

from pathlib import Path

from engine.errors import ExitCode
from engine.profile import load_profile
from engine.runner import run_steps
from engine.session import SessionStore


def test_a_missing_local_dir_is_incomplete_not_zero_files(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.bin").write_bytes(b"12345")
    path = tmp_path / "p.toml"
    path.write_text('schema_version = 1\n[source]\nprovider = "aws"\n[inventory]\nscan_gpus = false\n'
                    'local_dirs = ["data", "dtaa"]\nimages_dir = "imgs"\n')
    with SessionStore.open("typo") as session:
        summary = run_steps(load_profile(path), ["inventory"], emit=lambda e: None, profile_path=path,
                            session=session)
        state = session.step("inventory").state  # type: ignore[union-attr]
    result = summary.results["inventory"]
    assert summary.exit_code == ExitCode.FAILED and result.ok is False and state == "incomplete"
    assert "5 bytes" in result.summary and f"INCOMPLETE: not found: dtaa, {tmp_path / 'imgs'}" in result.summary
