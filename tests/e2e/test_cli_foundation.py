"""The CLI as a user runs it: validate, usage errors, exit codes, no tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from tests.e2e.cli_support import gpumigrate

BAD = sorted((FIXTURES / "profiles" / "bad").glob("*.toml"))


def test_validate_accepts_the_shipped_profiles() -> None:
    for name in ("profiles/demo.toml", "profiles/aws-p3-to-gcp-a100.toml"):
        out = gpumigrate("validate", name)
        assert out.returncode == 0, out.stderr
        assert f"{name}: ok" in out.stdout


def test_validate_names_what_is_left_to_decide(tmp_path: Path) -> None:
    """'ok' is about the file; the choices a replay still needs are listed (exit 0), none on the demo."""
    bare = tmp_path / "bare.toml"
    bare.write_text('[source]\nprovider = "other"\n')
    proc = gpumigrate("validate", str(bare))
    assert proc.returncode == 0, proc.stderr
    assert "left to decide for cost: source.hourly_usd" in proc.stdout
    assert "left to decide" not in gpumigrate("validate", "profiles/demo.toml").stdout


@pytest.mark.parametrize("path", BAD[:6] + BAD[-3:], ids=lambda p: p.stem)
def test_validate_rejects_malformed_profiles_with_exit_2_and_no_traceback(path: Path) -> None:
    out = gpumigrate("validate", str(path))
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert out.stderr.startswith(f"gpumigrate: {path}:")


def test_usage_errors_exit_2() -> None:
    assert gpumigrate("replay").returncode == 2
    assert gpumigrate("no-such-command").returncode == 2
    out = gpumigrate("replay", "profiles/demo.toml", "--steps", "inventory,teleport")
    assert out.returncode == 2 and "unknown step" in out.stderr


def test_validate_fields_lists_documented_fields() -> None:
    out = gpumigrate("validate", "--fields")
    assert out.returncode == 0
    lines = out.stdout.splitlines()
    assert any(line.startswith("target.gpu_count") and "GPUs per instance" in line for line in lines)
    assert any(line.startswith("transfer[].dst") for line in lines)


def test_replay_of_a_bad_profile_is_exit_2() -> None:
    out = gpumigrate("replay", str(BAD[3]), "--json")
    assert out.returncode == 2 and "Traceback" not in out.stderr


def test_replay_json_ends_with_a_summary_line(tmp_path: Path) -> None:
    out = gpumigrate("replay", "profiles/aws-p3-to-gcp-a100.toml", "--steps", "cost", "--json",
                     "--session", "e2e-cost")
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    assert lines, out.stderr
    summary = lines[-1]
    assert summary["event"] == "summary" and set(summary) >= {"steps", "ok"}
    assert summary["steps"]["cost"]["ok"] is True, out.stderr
    assert out.returncode == 0
    again = gpumigrate("replay", "profiles/aws-p3-to-gcp-a100.toml", "--steps", "cost", "--json",
                       "--session", "e2e-cost")
    last = json.loads(again.stdout.splitlines()[-1])
    assert last["steps"]["cost"].get("skipped") is True  # a re-run skips completed steps
