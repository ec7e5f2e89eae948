"""N1 takes attached GPUs in flexible counts: `gpumigrate validate` / `cost` price n1-standard-4 + 1 T4 (the
g4dn.xlarge equivalent) as host + GPU in its region, and refuse, with file:line, a count Google does not
document for that N1 type (n1-standard-96 + 1 V100), naming the counts and limits that are valid."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tui.cli import main

PROFILE = """[source]
provider = "aws"
region = "us-east-1"
instance_type = "g4dn.xlarge"

[target]
region = "us-central1"
machine_type = "{machine}"
gpu_model = "{gpu}"
gpu_count = {count}

[workload]
source_hours_per_run = 10
runs_per_month = 30
"""


def _write(tmp_path: Path, machine: str, gpu: str, count: int) -> Path:
    path = tmp_path / "p.toml"
    path.write_text(PROFILE.format(machine=machine, gpu=gpu, count=count), encoding="utf-8")
    return path


def test_n1_standard_4_with_one_t4_is_priced_as_host_plus_gpu(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "n1-standard-4", "T4", 1)
    assert main(["validate", str(path)]) == 0
    capsys.readouterr()
    assert main(["cost", str(path), "--json"]) == 0
    target = json.loads(capsys.readouterr().out)["options"][1]
    # pricing.yml n1-standard-4 us-central1 $0.189999/h + SkyPilot's T4 us-central1 $0.35/h
    assert target["hourly_usd"] == pytest.approx(0.189999 + 0.35)
    assert target["gpu_count"] == 1 and target["machine"] == "n1-standard-4"


def test_n1_standard_8_with_four_t4_is_priced_per_gpu(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "n1-standard-8", "T4", 4)
    assert main(["cost", str(path), "--json"]) == 0
    target = json.loads(capsys.readouterr().out)["options"][1]
    assert target["hourly_usd"] == pytest.approx(0.379998 + 4 * 0.35) and target["gpu_count"] == 4


def test_a_gpu_count_n1_does_not_take_is_refused_with_the_valid_shapes(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "n1-standard-96", "V100", 1)
    for command in ("validate", "cost"):
        assert main([command, str(path)]) == 2, command
        err = capsys.readouterr().err
        assert f"{path}:10: target.gpu_count: 1 does not match n1-standard-96, which has 8 V100" in err, err
        assert "1 x V100: up to 12 vCPUs and 78 GB" in err and "cloud.google.com/compute/docs/gpus" in err
        assert "Traceback" not in err


def test_a_zone_where_the_documented_limit_is_smaller_refuses_the_larger_shape(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """4 x P100 takes up to 96 vCPUs, but at most 64 in us-east1-c (Google's exception): named, not priced."""
    path = _write(tmp_path, "n1-standard-96", "P100", 4)
    text = path.read_text(encoding="utf-8").replace('region = "us-central1"',
                                                    'region = "us-east1"\nzone = "us-east1-c"')
    path.write_text(text, encoding="utf-8")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:8: target.zone: 4 x P100 in us-east1-c takes at most 64 vCPUs and 208 GB" in err, err
    path.write_text(text.replace("n1-standard-96", "n1-standard-32"), encoding="utf-8")  # 32 vCPUs, 120 GB
    assert "4 x P100 in us-east1-c" not in (main(["validate", str(path)]), capsys.readouterr().err)[1]
