"""A `[verify] checks` list that leaves out checks: the verdict names what the profile did not run.

`checks = ["latency"]` on a target that must show 8 GPUs gave a bare "PASS" (CLI line, --json summary,
reports): read as "the GPUs were verified" although no GPU check ran. Session 7 named the left-out checks beside
the PASS; session 8 (s8target): the GPU checks of a target that must show GPUs are expected whatever the list
says, as they are under `--only`: leaving them out of the list is INCOMPLETE, and `optional = true` in their
sub-table is the one, shown, way to verify without them. Other checks left out of the list stay named only."""

from __future__ import annotations

from pathlib import Path

from engine.verify.outcome import VerifyReport
from engine.verify.report.markdown import render_markdown
from engine.verify.suite import run_verification
from tests.nvml_fake import FakeNvml, no_driver_data
from tests.verify_support import PY, section


def _latency_only(**cfg):
    return section(checks=["latency"], p99_ms=10_000.0,
                   latency={"command": [PY, "-S", "-c", "pass"], "requests": 100, "warmup": 0}, **cfg)


def test_gpu_checks_left_out_of_the_list_on_a_gpu_target_are_incomplete(tmp_path: Path) -> None:
    report = run_verification(_latency_only(), base_dir=tmp_path, target_gpu_count=8)
    assert report.verdict == "INCOMPLETE" and not report.ok, report.summary()
    left = "gpu_health, topology, data_integrity, model_load, convergence, throughput"
    assert report.summary().startswith(f"INCOMPLETE (only: latency; not run by the profile: {left}): 1 passed"), \
        report.summary()
    gaps = {r.name: (r.summary, r.expected) for r in report.gaps}
    assert set(gaps) == {"gpu_health", "topology"}, gaps
    assert gaps["gpu_health"] == ("left out by [verify] checks: the GPUs were not checked (add it to the list, or "
                                  "set [verify.gpu] optional = true to verify without it)",
                                  "the target must show 8 GPU(s)")
    assert report.incomplete_line().startswith("INCOMPLETE: expected but not run: gpu_health (the target must "
                                               "show 8 GPU(s)): left out by [verify] checks")
    data = report.to_dict()
    assert data["only"] == ["latency"] and data["not_run_by_profile"][:2] == ["gpu_health", "topology"], data
    assert data["summary"] == report.summary()
    again = VerifyReport.from_dict(data)  # the sign-off reads it back from the session
    assert again.summary() == report.summary() and again.verdict == "INCOMPLETE"
    assert f"not run by the profile: {left}" in render_markdown(report, None)


def test_optional_gpu_checks_left_out_of_the_list_give_a_pass_that_names_them(tmp_path: Path) -> None:
    def load_only(**cfg):  # 3 runs of an empty command judged against max_s: faster than 100 latency requests
        return section(checks=["model_load"], model_load={"command": [PY, "-S", "-c", "pass"], "runs": 3,
                                                          "warmup": 0, "max_s": 60.0}, **cfg)

    report = run_verification(load_only(gpu={"optional": True}, topology={"optional": True}), base_dir=tmp_path,
                              target_gpu_count=8)
    assert report.verdict == "PASS" and report.ok, report.summary()
    assert report.summary().startswith("PASS (only: model_load; not run by the profile: gpu_health, topology, "), \
        report.summary()
    none = run_verification(load_only(), base_dir=tmp_path, target_gpu_count=0)  # no GPU target: nothing owed
    assert none.verdict == "PASS", none.summary()


def test_the_dry_run_says_the_left_out_gpu_checks_make_it_incomplete(tmp_path: Path) -> None:
    from engine.profile import parse_profile
    from engine.runner import run_steps

    profile = parse_profile('name = "x"\n[source]\nprovider = "local"\n[target]\ngpu_model = "L4"\ngpu_count = 1\n'
                            '[verify]\nchecks = ["model_load"]\n[verify.model_load]\ncommand = ["true"]\n', "p.toml")
    events: list = []
    run_steps(profile, ["verify"], emit=events.append, profile_path=tmp_path / "p.toml", dry_run=True)
    texts = [getattr(e, "text", "") for e in events]
    assert any(t == "left out by [verify] checks, so the verdict will be INCOMPLETE: gpu_health (the target must "
               "show 1 GPU(s)); add it, or set optional = true in its sub-table" for t in texts), texts


def test_no_qualifier_when_the_profile_runs_every_check() -> None:
    report = VerifyReport(mode="verify", results=[])
    assert report.summary().startswith("INCOMPLETE: 0 passed")
    assert "not_run_by_profile" in report.to_dict() and report.to_dict()["not_run_by_profile"] == []


def test_a_verification_in_which_no_check_ran_is_not_a_pass(tmp_path: Path) -> None:
    """Every check optional or with nothing to measure, on a machine with no driver: "PASS: 0 passed, 0 failed,
    0 error(s), 7 not run", exit 0, approvable by one person and recorded at the cutover as verified."""
    cfg = section(gpu={"optional": True})
    report = run_verification(cfg, base_dir=tmp_path, target_gpu_count=1, nvml_api=FakeNvml(no_driver_data(12)))
    assert [r.status for r in report.results] == ["not-run"] * 7
    assert report.verdict == "INCOMPLETE" and not report.ok, report.summary()
    assert report.incomplete_line() == ("INCOMPLETE: no check ran (gpu_health is optional and was not run; the "
                                        "others are not expected by the profile (nothing configured for them))"), report.incomplete_line()
