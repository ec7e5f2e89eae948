"""A `[verify] checks` list that leaves out checks: a PASS names what the profile did not run.

`checks = ["latency"]` on a target that must show 8 GPUs gave a bare "PASS" (CLI line, --json summary,
reports): read as "the GPUs were verified" although no GPU check ran. The verdict stays PASS (every check
the profile asked for passed) and says which ones ran and which the profile left out."""

from __future__ import annotations

from pathlib import Path

from engine.verify.outcome import VerifyReport
from engine.verify.report.markdown import render_markdown
from engine.verify.suite import run_verification
from tests.verify_support import PY, section


def test_a_pass_names_the_checks_the_profile_left_out(tmp_path: Path) -> None:
    cfg = section(checks=["latency"], p99_ms=10_000.0,
                  latency={"command": [PY, "-S", "-c", "pass"], "requests": 100, "warmup": 0})
    report = run_verification(cfg, base_dir=tmp_path, target_gpu_count=8)
    assert report.verdict == "PASS" and report.ok, report.summary()
    left = "gpu_health, topology, data_integrity, model_load, convergence, throughput"
    assert report.summary().startswith(f"PASS (only: latency; not run by the profile: {left}): 1 passed"), \
        report.summary()
    data = report.to_dict()
    assert data["only"] == ["latency"] and data["not_run_by_profile"][:2] == ["gpu_health", "topology"], data
    assert data["summary"] == report.summary()
    again = VerifyReport.from_dict(data)  # the sign-off reads it back from the session
    assert again.summary() == report.summary()
    assert f"not run by the profile: {left}" in render_markdown(report, None)


def test_no_qualifier_when_the_profile_runs_every_check() -> None:
    report = VerifyReport(mode="verify", results=[])
    assert report.summary().startswith("INCOMPLETE: 0 passed")
    assert "not_run_by_profile" in report.to_dict() and report.to_dict()["not_run_by_profile"] == []
