"""Sign-off lands in the session's audit log with who decided; FAIL and INCOMPLETE are never approved by one person."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cutover.approvals import ApprovalDeclined
from engine.errors import BadInputError, ExitCode
from engine.session import SessionStore
from engine.verify.checks.base import CheckResult
from engine.verify.report import render_markdown
from engine.verify.signoff import GAPS_ACTION, last_report, sign_off, signoffs
from engine.verify.suite import VerifyReport
from tests.verify_support import loss_curve, second_person, write_csv


def _report(status: str) -> VerifyReport:
    return VerifyReport(mode="verify", results=[CheckResult("latency", "Inference latency", "p99", status, "P99 9 ms")],
                        started_at=1.0, finished_at=2.0)


def test_approval_is_recorded_with_the_operator(tmp_path: Path) -> None:
    with SessionStore.open("cutover-1") as session:
        entry = sign_off(session, _report("pass"), "approved", note="looks good")
        stored = signoffs(session)
    assert stored == [{**{k: v for k, v in entry.items() if k != "ts"}, "ts": stored[0]["ts"]}]
    assert stored[0]["operator"] == session.operator and stored[0]["decision"] == "approved"
    assert stored[0]["counts"]["pass"] == 1 and len(stored[0]["report_digest"]) == 16


def test_a_failing_report_can_be_rejected_but_not_approved(tmp_path: Path) -> None:
    with SessionStore.open("cutover-2") as session:
        with pytest.raises(BadInputError, match="cannot approve: the verification is FAIL: latency"):
            sign_off(session, _report("fail"), "approved")
        sign_off(session, _report("error"), "rejected", note="rerun after the driver fix")
        assert [s["decision"] for s in signoffs(session)] == ["rejected"]


def test_step_dry_run_lists_the_checks(tmp_path: Path) -> None:
    from engine.profile import parse_profile
    from engine.runner import run_steps

    profile = parse_profile('[source]\nprovider = "local"\n[verify]\nchecks = ["latency", "gpu_health"]\n')
    events: list = []
    summary = run_steps(profile, ["verify"], emit=events.append, profile_path=tmp_path / "p.toml", dry_run=True)
    assert summary.ok and summary.results["verify"].data == {"checks": ["gpu_health", "latency"],
                                                             "expected": ["gpu_health", "latency"]}
    assert any("would verify without a baseline" in getattr(e, "text", "") for e in events)


def test_step_dry_run_does_not_promise_checks_with_nothing_to_measure(tmp_path: Path) -> None:
    """A fresh `gpumigrate init` profile: only the GPU check is expected; the rest will say not run."""
    from engine.profile import parse_profile
    from engine.runner import run_steps

    profile = parse_profile('[source]\nprovider = "local"\n[target]\ngpu_count = 1\n')
    events: list = []
    summary = run_steps(profile, ["verify"], emit=events.append, profile_path=tmp_path / "p.toml", dry_run=True)
    assert summary.results["verify"].summary == "dry run: 1 of 7 check(s) expected to run"
    assert summary.results["verify"].data["expected"] == ["gpu_health"]
    texts = [getattr(e, "text", "") for e in events]
    assert any(t.startswith("nothing configured, so reported not run: data_integrity, model_load") for t in texts)


def _no_gpu_profile(tmp_path: Path, extra: str = "") -> Path:
    """A target that must show 8 x H100, verified where no NVIDIA driver is visible (this machine)."""
    write_csv(tmp_path / "base.csv", loss_curve(1))
    write_csv(tmp_path / "target.csv", loss_curve(2))
    path = tmp_path / "p.toml"
    path.write_text('name = "h100-target"\n[source]\nprovider = "local"\n'
                    '[target]\ngpu_model = "H100 80GB"\ngpu_count = 8\n'
                    '[verify]\nexpected_gpus = 8\nchecks = ["gpu_health", "topology", "convergence"]\n'
                    '[verify.convergence]\nbaseline_file = "base.csv"\ntarget_file = "target.csv"\nsmoothing = 3\n'
                    + extra)
    return path


def _incomplete_run(tmp_path: Path, session: SessionStore):
    from engine.profile import load_profile
    from engine.runner import run_steps

    # "alice" and "bob" in these tests are names declared on one OS account
    path = _no_gpu_profile(tmp_path, "[cutover]\nshared_account = true\n")
    return run_steps(load_profile(path), ["verify"], emit=lambda e: None, profile_path=path, session=session,
                     options={"nvml_api": None})


def test_expected_gpus_with_no_driver_is_incomplete_never_pass(tmp_path: Path) -> None:
    with SessionStore.open("no-gpu") as session:
        summary = _incomplete_run(tmp_path, session)
        assert summary.exit_code == ExitCode.FAILED
        assert session.step("verify").state == "incomplete"  # type: ignore[union-attr]
        report = last_report(session)
    assert report.verdict == "INCOMPLETE" and not report.ok
    assert summary.results["verify"].summary.startswith("INCOMPLETE (only: gpu_health, topology, convergence; not run "
                                                         "by the profile: data_integrity, model_load, latency, "
                                                         "throughput): ")
    gaps = {r.name: r.expected for r in report.gaps}
    assert gaps["gpu_health"] == "the target must show 8 GPU(s)" and "topology" in gaps
    assert report.incomplete_line().startswith("INCOMPLETE: expected but not run: gpu_health")


def test_optional_checks_are_shown_and_leave_the_verdict_alone(tmp_path: Path) -> None:
    from engine.profile import load_profile
    from engine.runner import run_steps

    path = _no_gpu_profile(tmp_path, "[verify.gpu]\noptional = true\n[verify.topology]\noptional = true\n")
    summary = run_steps(load_profile(path), ["verify"], emit=lambda e: None, profile_path=path)
    report = VerifyReport.from_dict(summary.results["verify"].data["report"])
    gpu = report.result("gpu_health")
    assert gpu is not None and gpu.status == "not-run" and gpu.optional and gpu.expected
    assert report.result("convergence").status == "pass"  # type: ignore[union-attr]
    assert report.verdict == "PASS" and report.gaps == []
    assert "not run (optional)" in render_markdown(report)


def test_incomplete_is_refused_then_accepted_with_gaps_by_a_second_person(tmp_path: Path) -> None:
    with SessionStore.open("gaps", operator="alice") as session:
        _incomplete_run(tmp_path, session)
        report = last_report(session)
        with pytest.raises(BadInputError, match="cannot approve: the verification is INCOMPLETE: gpu_health"):
            sign_off(session, report, "approved")
        with pytest.raises(BadInputError, match="needs a written reason"):
            sign_off(session, report, "accepted-with-gaps", note="  ")
        with pytest.raises(BadInputError, match="a second person"):
            session.request_approval(GAPS_ACTION, "probe")  # (withdrawn below) the requester cannot approve
            session.decide_approval(session.approvals("pending")[0].id, True)
        session.decide_approval(session.approvals("pending")[0].id, False)

        helper = second_person("gaps", "bob", True, action=GAPS_ACTION, tries=200)
        entry = sign_off(session, report, "accepted-with-gaps", timeout=10,
                         note="GPU checks run on the H100 host tomorrow; data checks passed here")
        helper.join()
        recorded = signoffs(session)
    assert entry["approved_by"] == "bob" and entry["operator"] == "alice" and entry["verdict"] == "INCOMPLETE"
    assert entry["approved_how"] == "same account, name declared"  # the profile's shared_account: said, not hidden
    report.signoffs = recorded
    assert "| bob (same account, name declared) |" in render_markdown(report)
    assert [(s["decision"], s["operator"], s["approved_by"]) for s in recorded] == [
        ("accepted-with-gaps", "alice", "bob")]


def test_a_declined_acceptance_records_nothing(tmp_path: Path) -> None:
    with SessionStore.open("gaps-no", operator="alice") as session:
        _incomplete_run(tmp_path, session)

        helper = second_person("gaps-no", "bob", False, tries=200)
        with pytest.raises(ApprovalDeclined):
            sign_off(session, last_report(session), "accepted-with-gaps", note="ship it", timeout=10)
        helper.join()
        assert signoffs(session) == []


def test_only_does_not_turn_a_partial_verification_into_a_pass(tmp_path: Path) -> None:
    """`--only convergence` on a target that must show 8 GPUs: the GPU checks are gaps, not absent."""
    from engine.profile import load_profile
    from engine.runner import run_steps

    path = _no_gpu_profile(tmp_path)
    summary = run_steps(load_profile(path), ["verify"], emit=lambda e: None, profile_path=path,
                        options={"only": ["convergence"]})
    report = VerifyReport.from_dict(summary.results["verify"].data["report"])
    assert report.result("convergence").status == "pass"  # type: ignore[union-attr]
    gpu = report.result("gpu_health")
    assert gpu is not None and gpu.gap and gpu.summary == "not selected (--only convergence)"
    assert report.verdict == "INCOMPLETE"
    with pytest.raises(BadInputError, match="cannot approve"):
        from engine.verify.signoff import check_decision

        check_decision(report, "approved")
