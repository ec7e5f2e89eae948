"""`gpumigrate verify` as a user runs it: the demo profile, capture then compare, failures and exit codes."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.conftest import REPO
from tests.e2e.cli_support import gpumigrate
from tests.verify_support import loss_curve, write_csv


def test_demo_profile_verifies_on_a_gpu_less_machine(tmp_path: Path) -> None:
    report = tmp_path / "report.md"
    junit = tmp_path / "junit.xml"
    proc = gpumigrate("verify", "profiles/demo.toml", "--report", str(report), "--junit", str(junit))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    md = report.read_text()
    assert "**Result: PASS**" in md
    assert "| GPU health | ⏭ skipped | no GPU to check on this machine" in md
    for title in ("Data integrity", "Model load time", "Inference latency", "Training convergence",
                  "Training throughput"):
        assert f"| {title} | ✅ pass |" in md
    assert (tmp_path / "report.html").exists() and (tmp_path / "report-plots" / "convergence.png").exists()
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "7" and suite.get("skipped") == "2"


def _failing_profile(tmp_path: Path) -> Path:
    write_csv(tmp_path / "base.csv", loss_curve(1))
    write_csv(tmp_path / "target.csv", [(s, v * 1.5) for s, v in loss_curve(2)])
    (tmp_path / "p.toml").write_text(
        'name = "diverged"\n[source]\nprovider = "local"\n'
        '[verify]\nchecks = ["convergence", "model_load"]\n'
        '[verify.convergence]\nbaseline_file = "base.csv"\ntarget_file = "target.csv"\n'
        '[verify.model_load]\ncommand = ["{python}", "-c", "print(1)"]\nruns = 1\n')
    return tmp_path / "p.toml"


def test_a_failed_check_exits_1_and_json_carries_the_report(tmp_path: Path) -> None:
    proc = gpumigrate("verify", str(_failing_profile(tmp_path)), "--json")
    assert proc.returncode == 1, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    done = [e for e in lines if e.get("event") == "item_done"]
    assert [(e["item"], e["status"]) for e in done] == [("model_load", "skipped"), ("convergence", "fail")]
    summary = lines[-1]
    assert summary["event"] == "summary" and summary["exit_code"] == 1
    assert summary["report"]["counts"] == {"pass": 0, "fail": 1, "skipped": 1, "error": 0}


def test_capture_on_the_source_then_verify_the_target(tmp_path: Path) -> None:
    profile = _failing_profile(tmp_path)
    baseline = tmp_path / "baseline.json"
    proc = gpumigrate("verify", str(profile), "--capture-baseline", str(baseline), "--only", "model_load")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(baseline.read_text())
    assert data["format"] == "gpumigrate-verify-baseline" and data["checks"]["model_load"]["runs"] == 1
    proc = gpumigrate("verify", str(profile), "--baseline", str(baseline), "--only", "model_load", "--json")
    report = json.loads(proc.stdout.splitlines()[-1])["report"]
    check = report["checks"][0]
    assert check["name"] == "model_load" and check["status"] in ("pass", "fail")  # a real timing vs a real baseline
    assert check["baseline"]["median_s"] == data["checks"]["model_load"]["median_s"]
    assert proc.returncode == (0 if check["status"] == "pass" else 1)


def test_bad_baseline_and_bad_options_exit_2(tmp_path: Path) -> None:
    profile = _failing_profile(tmp_path)
    (tmp_path / "junk.json").write_text('{"hello": 1}')
    proc = gpumigrate("verify", str(profile), "--baseline", str(tmp_path / "junk.json"))
    assert proc.returncode == 2 and "not a gpumigrate baseline" in proc.stdout + proc.stderr
    proc = gpumigrate("verify", str(profile), "--only", "vibes")
    assert proc.returncode == 2 and "unknown check" in proc.stdout + proc.stderr


def test_replay_runs_the_verify_step_of_the_demo(tmp_path: Path) -> None:
    proc = gpumigrate("replay", "profiles/demo.toml", "--steps", "verify", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    finished = [json.loads(l) for l in proc.stdout.splitlines() if '"step_finished"' in l]
    assert finished and finished[-1]["ok"] and "5 passed" in finished[-1]["summary"]
