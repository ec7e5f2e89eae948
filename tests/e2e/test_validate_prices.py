"""`gpumigrate validate` refuses what `gpumigrate cost` (and replay's cost step) would refuse, from the same pricing
functions, with file:line: field: why and exit 2; both cost paths name the line too.  Before, validate said "ok"
for an unknown target machine type without hourly_usd, or a source region with no price, and the cost step then
stopped naming the field but not where it is."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import ExitCode
from engine.profile import load_profile
from engine.runner import run_steps
from tests.cost_support import NO_REGION_PRICE
from tui.cli import main

UNKNOWN_MACHINE = """[source]
provider = "aws"
instance_type = "p3.2xlarge"

[target]
machine_type = "a2-highgpu-3g"
gpu_model = "A100 40GB"

[workload]
source_hours_per_run = 8
speedup = 2
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("text", "where"), [
    (UNKNOWN_MACHINE, ":6: target.machine_type: 'a2-highgpu-3g' is not in the Google Cloud catalog"),
    (NO_REGION_PRICE, ":3: source.region: the catalog has no af-south-1 price for p3.2xlarge (priced in "),
])
def test_validate_and_cost_refuse_the_same_price_with_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                   text: str, where: str) -> None:
    path = _write(tmp_path, text)
    for command in ("validate", "cost"):
        assert main([command, str(path)]) == 2, command
        err = capsys.readouterr().err
        assert f"{path}{where}" in err, (command, err)
        assert "Traceback" not in err
    assert "set an hourly_usd" in err or "--allow-price-fallback" in err  # the way on is still named


def test_the_replay_cost_step_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, UNKNOWN_MACHINE)
    result = run_steps(load_profile(path), ["cost"], emit=lambda e: None, profile_path=path)
    assert result.exit_code == ExitCode.BAD_INPUT
    assert f"{path}:6: target.machine_type: 'a2-highgpu-3g' is not in the Google Cloud catalog" \
        in result.results["cost"].summary


def test_a_fallback_the_profile_allows_is_a_loud_note_not_an_error(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, NO_REGION_PRICE + "\n[cost]\nallow_price_fallback = true\n")
    assert main(["validate", str(path)]) == 0
    captured = capsys.readouterr()
    assert ": ok (" in captured.out
    assert f"{path}: note: PRICE FALLBACK: p3.2xlarge has no af-south-1 price in the catalog" in captured.err


def test_an_open_choice_is_left_to_decide_not_a_price_error(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, '[source]\nprovider = "local"\n\n[target]\nregion = "europe-west4"\n')
    assert main(["validate", str(path)]) == 0
    assert "left to decide for inventory: " in capsys.readouterr().out


@pytest.mark.parametrize("name", ["aws-p3-to-gcp-a100.toml", "demo.toml"])
def test_the_shipped_profiles_still_validate(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", f"profiles/{name}"]) == 0, capsys.readouterr().err


def test_validate_takes_the_flag_replay_and_cost_take(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A profile run with `replay --allow-price-fallback` validates with the same flag (a loud note, exit 0)."""
    path = _write(tmp_path, NO_REGION_PRICE)
    assert main(["validate", str(path), "--allow-price-fallback"]) == 0
    assert "note: PRICE FALLBACK: p3.2xlarge has no af-south-1 price" in capsys.readouterr().err
