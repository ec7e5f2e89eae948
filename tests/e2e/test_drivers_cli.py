"""`gpumigrate drivers ...` as a subprocess, and the drivers step through `replay`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import FIXTURES, REPO

PROFILE = """[source]
provider = "aws"

[target]
project = "my-proj-123"
zone = "us-central1-a"
machine_type = "n1-standard-8"
gpu_model = "V100"
pricing = "spot"
"""


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env=dict(os.environ))


def test_plan_and_write_all(tmp_path: Path) -> None:
    profile = tmp_path / "v100.toml"
    profile.write_text(PROFILE)
    done = cli("drivers", str(profile), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert "driver R580 (proprietary modules)" in done.stdout and "cu126" in done.stdout
    names = {p.name for p in (tmp_path / "out").iterdir()}
    assert names == {"startup-script.sh", "create-instance.sh", "main.tf", "Dockerfile", "k8s.md"}
    assert os.access(tmp_path / "out" / "startup-script.sh", os.X_OK)


def test_emit_one_to_stdout_and_json(tmp_path: Path) -> None:
    profile = tmp_path / "v100.toml"
    profile.write_text(PROFILE)
    done = cli("drivers", str(profile), "--emit", "terraform")
    assert done.returncode == 0 and 'resource "google_compute_instance"' in done.stdout
    assert 'on_host_maintenance         = "TERMINATE"' in done.stdout
    data = json.loads(cli("drivers", str(profile), "--json", "--emit", "gcloud").stdout)
    assert data["plan"]["wheel"] == "cu126" and data["artefacts"][0]["kind"] == "gcloud"
    assert "--provisioning-model=SPOT" in data["artefacts"][0]["text"]


def test_red_plan_exits_1(tmp_path: Path) -> None:
    profile = tmp_path / "bad.toml"
    profile.write_text(PROFILE + '\n[drivers]\ndriver_branch = "590"\n')
    done = cli("drivers", str(profile))
    assert done.returncode == 1 and "not supported after R580" in done.stdout


def test_injection_is_refused_with_exit_2(tmp_path: Path) -> None:
    profile = tmp_path / "evil.toml"
    profile.write_text('[source]\nprovider = "aws"\n[drivers]\ndriver_branch = "535; rm -rf /"\n')
    done = cli("drivers", str(profile), "--emit", "startup-script")
    assert done.returncode == 2 and done.stdout == ""
    assert f"{profile}:4: drivers.driver_branch:" in done.stderr and "Traceback" not in done.stderr


def test_doctor_on_a_recorded_machine() -> None:
    done = cli("drivers", "doctor", "--json", "--from", str(FIXTURES / "drivers" / "gce-t4-r525-wheel-too-new"),
               "--explain", "CUDA error: device-side assert triggered")
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    codes = {f["code"] for f in data["findings"]}
    assert {"wheel-newer-than-driver", "nvcc-smi-minor", "device-side-assert"} <= codes
    assert data["status"] == "red"


def test_doctor_here_never_fails_for_missing_tools(tmp_path: Path) -> None:
    done = cli("drivers", "doctor", "--record", str(tmp_path / "rec"))
    assert done.returncode in (0, 1), done.stderr
    assert done.stdout.strip().splitlines()[-1].startswith("doctor: ")
    again = cli("drivers", "doctor", "--from", str(tmp_path / "rec"))
    assert again.stdout.splitlines()[-1] == done.stdout.splitlines()[-1]


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert cli("drivers", "doctor", "--emit", "gcloud").returncode == 2
    assert cli("drivers", "doctor", "--from", str(tmp_path / "nope")).returncode == 2
    assert cli("drivers", str(tmp_path / "missing.toml")).returncode == 2
    assert cli("drivers", "x.toml", "--emit", "ansible").returncode == 2


def test_replay_drivers_step_writes_into_the_session() -> None:
    done = cli("replay", "profiles/demo.toml", "--steps", "drivers", "--json", "--session", "drv-e2e")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    finished = [e for e in lines if e.get("event") == "step_finished" and e["step"] == "drivers"]
    assert finished and finished[0]["ok"]
    result = finished[0]["result"]
    assert result["plan"]["driver_branch"] == 580
    assert {Path(p).name for p in result["written"]} >= {"startup-script.sh", "main.tf"}
    assert all(Path(p).exists() for p in result["written"])


def test_doctor_on_a_machine_without_a_gpu_says_not_checked_and_exits_1() -> None:
    """Review session 6: 'doctor: amber', exit 0, on a GPU-less host read as 'the drivers are fine' to a script."""
    done = cli("drivers", "doctor", "--from", str(FIXTURES / "drivers" / "debian12-no-gpu"))
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "doctor: amber; not checked: no NVIDIA GPU on this machine (exit 1)"
    healthy = cli("drivers", "doctor", "--json", "--from", str(FIXTURES / "drivers" / "gce-h100-r580-healthy"))
    assert healthy.returncode == 0 and json.loads(healthy.stdout)["checked"] is True
