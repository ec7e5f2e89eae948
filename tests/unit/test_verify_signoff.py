"""Sign-off lands in the session's audit log with who decided; a failing report cannot be approved."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import BadInputError
from engine.session import SessionStore
from engine.verify.checks.base import CheckResult
from engine.verify.signoff import sign_off, signoffs
from engine.verify.suite import VerifyReport


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
        with pytest.raises(BadInputError, match="cannot approve: latency"):
            sign_off(session, _report("fail"), "approved")
        sign_off(session, _report("error"), "rejected", note="rerun after the driver fix")
        assert [s["decision"] for s in signoffs(session)] == ["rejected"]


def test_step_dry_run_lists_the_checks(tmp_path: Path) -> None:
    from engine.profile import parse_profile
    from engine.runner import run_steps

    profile = parse_profile('[source]\nprovider = "local"\n[verify]\nchecks = ["latency", "gpu_health"]\n')
    events: list = []
    summary = run_steps(profile, ["verify"], emit=events.append, profile_path=tmp_path / "p.toml", dry_run=True)
    assert summary.ok and summary.results["verify"].data == {"checks": ["gpu_health", "latency"]}
    assert any("would verify without a baseline" in getattr(e, "text", "") for e in events)
