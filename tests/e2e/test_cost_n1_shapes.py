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


def _unset_count(tmp_path: Path, machine: str, gpu: str, region: str = "us-central1") -> Path:
    path = _write(tmp_path, machine, gpu, 1)
    text = path.read_text(encoding="utf-8").replace("gpu_count = 1\n", "")
    path.write_text(text.replace('region = "us-central1"', f'region = "{region}"'), encoding="utf-8")
    return path


def test_an_unset_count_that_the_n1_type_does_not_take_is_refused(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """n1-standard-96 takes only 8 V100; the create script attaches target.gpu_count (default 1) and verify expects
    it, so pricing 8 behind the user's back would price a machine the script does not create: the count is asked for."""
    path = _unset_count(tmp_path, "n1-standard-96", "V100")
    for command in ("validate", "cost"):
        assert main([command, str(path)]) == 2, command
        err = capsys.readouterr().err
        assert f"{path}:6: target.gpu_count: not set, so 1 (the default" in err, err
        assert "n1-standard-96 takes only 8 V100" in err and "set target.gpu_count = 8" in err, err
        assert "Traceback" not in err


def test_an_unset_count_is_priced_as_the_default_with_a_note_naming_the_other_counts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """n1-standard-32 + T4 takes 1, 2 or 4: unset means the default 1 (what the create script attaches), said aloud;
    it used to be the old one-shape row's 4 x T4 without a word."""
    path = _unset_count(tmp_path, "n1-standard-32", "T4")
    assert main(["validate", str(path)]) == 0
    err = capsys.readouterr().err
    assert f"{path}: note: target.gpu_count is not set: priced as 1 x T4" in err, err
    assert "n1-standard-32 also takes 2 or 4 x T4" in err, err
    assert main(["cost", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    target = report["options"][1]
    assert target["gpu_count"] == 1 and target["hourly_usd"] == pytest.approx(1.519992 + 0.35)
    assert any("target.gpu_count is not set" in n for n in report["notes"]), report["notes"]


def test_the_zone_exception_with_a_region_only_names_the_zones_left_or_refuses(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """4 x P100 on more than 64 vCPUs is not offered in us-east1-c, europe-west1-b or europe-west1-d (Google's
    exception): us-east1 keeps us-east1-b (a note names both), europe-west1 has no zone left (an error)."""
    path = _write(tmp_path, "n1-standard-96", "P100", 4)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('region = "us-central1"', 'region = "us-east1"'), encoding="utf-8")
    assert main(["validate", str(path)]) == 0
    err = capsys.readouterr().err
    assert "target.region: 4 x P100 on n1-standard-96 is not offered in us-east1-c" in err, err
    assert "zones of us-east1 that take it: us-east1-b" in err, err
    assert main(["cost", str(path), "--json"]) == 0
    notes = json.loads(capsys.readouterr().out)["notes"]
    assert any("not offered in us-east1-c" in n for n in notes), notes
    path.write_text(text.replace('region = "us-central1"', 'region = "europe-west1"'), encoding="utf-8")
    for command in ("validate", "cost"):
        assert main([command, str(path)]) == 2, command
        err = capsys.readouterr().err
        assert f"{path}:7: target.region: 4 x P100 on n1-standard-96 (96 vCPUs, 360 GB) is not offered in any zone " \
               "of europe-west1" in err, err
        assert "europe-west1-b, europe-west1-d" in err and "Traceback" not in err, err
