"""`gpumigrate verify` as a user runs it: the demo profile, capture then compare, failures and exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
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
    assert "| GPU health | ⏭ not run (optional) | not available here: no NVIDIA driver found" in md
    for title in ("Data integrity", "Model load time", "Inference latency", "Training convergence",
                  "Training throughput"):
        assert f"| {title} | ✅ pass |" in md
    assert (tmp_path / "report.html").exists() and (tmp_path / "report-plots" / "convergence.svg").exists()
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "7" and suite.get("skipped") == "2"
    assert suite.get("errors") == "0"


def _failing_profile(tmp_path: Path) -> Path:
    write_csv(tmp_path / "base.csv", loss_curve(1))
    write_csv(tmp_path / "target.csv", [(s, v * 1.5) for s, v in loss_curve(2)])
    (tmp_path / "p.toml").write_text(
        'name = "diverged"\n[source]\nprovider = "local"\n'
        '[verify]\nchecks = ["convergence", "model_load"]\n[verify.gpu]\noptional = true\n'
        '[verify.convergence]\nbaseline_file = "base.csv"\ntarget_file = "target.csv"\n'
        '[verify.model_load]\ncommand = ["{python}", "-c", "print(1)"]\nruns = 3\n')
    return tmp_path / "p.toml"


def test_a_failed_check_exits_1_and_json_carries_the_report(tmp_path: Path) -> None:
    proc = gpumigrate("verify", str(_failing_profile(tmp_path)), "--json")
    assert proc.returncode == 1, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    done = [e for e in lines if e.get("event") == "item_done"]
    assert [(e["item"], e["status"]) for e in done] == [("model_load", "not-run"), ("convergence", "fail")]
    summary = lines[-1]
    assert summary["event"] == "summary" and summary["exit_code"] == 1
    assert summary["report"]["counts"] == {"pass": 0, "fail": 1, "not-run": 1, "error": 0}
    assert summary["report"]["verdict"] == "FAIL"


def test_capture_on_the_source_then_verify_the_target(tmp_path: Path) -> None:
    profile = _failing_profile(tmp_path)
    baseline = tmp_path / "baseline.json"
    proc = gpumigrate("verify", str(profile), "--capture-baseline", str(baseline), "--only", "model_load")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(baseline.read_text())
    assert data["format"] == "gpumigrate-verify-baseline" and data["checks"]["model_load"]["runs"] == 3
    proc = gpumigrate("verify", str(profile), "--baseline", str(baseline), "--only", "model_load", "--json")
    report = json.loads(proc.stdout.splitlines()[-1])["report"]
    check = report["checks"][0]
    assert check["name"] == "model_load" and check["status"] in ("pass", "fail")  # a real timing vs a real baseline
    assert check["baseline"]["median_s"] == data["checks"]["model_load"]["median_s"]
    # --only left convergence (named in [verify] checks) out: the verification is not complete, never PASS
    left_out = [c for c in report["checks"] if c["name"] == "convergence"]
    assert left_out and left_out[0]["status"] == "not-run" and left_out[0]["summary"] == "not selected (--only model_load)"
    assert report["verdict"] == ("INCOMPLETE" if check["status"] == "pass" else "FAIL") and proc.returncode == 1


def test_bad_baseline_and_bad_options_exit_2(tmp_path: Path) -> None:
    profile = _failing_profile(tmp_path)
    (tmp_path / "junk.json").write_text('{"hello": 1}')
    proc = gpumigrate("verify", str(profile), "--baseline", str(tmp_path / "junk.json"))
    assert proc.returncode == 2 and "not a gpumigrate baseline" in proc.stdout + proc.stderr
    proc = gpumigrate("verify", str(profile), "--only", "vibes")
    assert proc.returncode == 2 and "--only: unknown check(s): vibes (known: gpu_health" in proc.stderr, proc.stderr
    assert "unknown check" not in proc.stdout and "Traceback" not in proc.stderr  # not the step's failure line
    proc = gpumigrate("verify", str(profile), "--only", "gpu_health,topolgy")  # a typo: the option and its near match
    assert proc.returncode == 2 and "--only: unknown check(s): topolgy (topolgy: did you mean topology?)" in proc.stderr


def test_replay_runs_the_verify_step_of_the_demo(tmp_path: Path) -> None:
    proc = gpumigrate("replay", "profiles/demo.toml", "--steps", "verify", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    finished = [json.loads(l) for l in proc.stdout.splitlines() if '"step_finished"' in l]
    assert finished and finished[-1]["ok"] and "5 passed" in finished[-1]["summary"]


def test_expected_gpus_without_a_driver_is_incomplete_and_sign_off_needs_a_second_person(tmp_path: Path) -> None:
    profile = tmp_path / "h100.toml"
    profile.write_text('name = "h100"\n[source]\nprovider = "local"\n[target]\ngpu_model = "H100 80GB"\n'
                       'gpu_count = 8\n[verify]\nchecks = ["gpu_health", "topology"]\n'
                       '[cutover]\nshared_account = true\n')  # alice and bob: names declared on one account
    junit = tmp_path / "junit.xml"
    proc = gpumigrate("verify", str(profile), "--session", "h100-verify", "--report", str(tmp_path / "r.md"),
                      "--junit", str(junit))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    # the checks list leaves the others out: the verdict names them
    assert ("INCOMPLETE (only: gpu_health, topology; not run by the profile: data_integrity, model_load, latency, "
            "convergence, throughput): 0 passed, 0 failed, 0 error(s), 2 not run") in " ".join(proc.stdout.split())
    assert "INCOMPLETE: expected but not run: gpu_health (the target must show 8 GPU(s))" in proc.stdout
    md = (tmp_path / "r.md").read_text()
    assert "**Result: INCOMPLETE (only: gpu_health, topology; not run by the profile: data_integrity," in md and "| GPU health | ⛔ NOT RUN (expected) |" in md
    assert ET.parse(junit).getroot().find("testsuite").get("errors") == "2"
    alice, bob = {"GPUMIGRATE_OPERATOR": "alice"}, {"GPUMIGRATE_OPERATOR": "bob"}
    refused = gpumigrate("verify", str(profile), "--session", "h100-verify", "--sign-off", "approve", env=alice)
    assert refused.returncode == 2 and "cannot approve: the verification is INCOMPLETE" in refused.stderr
    no_reason = gpumigrate("verify", str(profile), "--session", "h100-verify", "--sign-off", "accept-gaps", env=alice)
    assert no_reason.returncode == 2 and "written reason" in no_reason.stderr
    waiting = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "verify", str(profile), "--session", "h100-verify", "--sign-off",
         "accept-gaps", "--note", "GPU burn-in runs on the host itself", "--approval-timeout", "60"],
        cwd=REPO, env={**os.environ, **alice}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(300):
            approve = gpumigrate("session", "approve", "h100-verify", "1", env=bob)
            if approve.returncode == 0:
                break
            time.sleep(0.1)
        out, err = waiting.communicate(timeout=60)
    finally:
        if waiting.poll() is None:
            waiting.kill()
    assert waiting.returncode == 0, out + err
    assert "accepted-with-gaps by alice, approved by bob (same account, name declared): INCOMPLETE" in out


def test_sigterm_stops_a_foreground_verify_as_interrupted_and_replay_resumes_it(tmp_path: Path) -> None:
    from engine.session import SessionStore

    profile = tmp_path / "slow.toml"
    profile.write_text('name = "slow"\n[source]\nprovider = "local"\n[verify]\nchecks = ["model_load"]\n'
                       '[verify.gpu]\noptional = true\n[verify.model_load]\ncommand = ["{python}", "-c", "import time; time.sleep(0.6)"]\n'
                       'runs = 3\nwarmup = 0\nmax_s = 60.0\n')  # 3 runs: fewer cannot pass
    args = [sys.executable, "-m", "tui.cli", "replay", str(profile), "--steps", "verify", "--session", "slow",
            "--foreground"]
    proc = subprocess.Popen(args, cwd=REPO, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        for _ in range(200):
            time.sleep(0.05)
            with SessionStore.open("slow") as session:
                step = session.step("verify")
            if step is not None and step.state == "running":
                break
        time.sleep(0.3)  # inside the check's command
        proc.send_signal(15)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 3, out + err
    with SessionStore.open("slow") as session:
        assert session.step("verify").state == "interrupted"  # type: ignore[union-attr]
    again = gpumigrate("replay", str(profile), "--steps", "verify", "--session", "slow", "--foreground")
    assert again.returncode == 0, again.stdout + again.stderr
    with SessionStore.open("slow") as session:
        assert session.step("verify").state == "completed"  # type: ignore[union-attr]
