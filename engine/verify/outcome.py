"""A verification's outcome: every check's result, the verdict (PASS, FAIL, INCOMPLETE) and its counts.

Shared by the run loop (:mod:`engine.verify.suite`), the baselines (:mod:`engine.verify.baseline`),
the reports and the sign-off; it holds no running and no files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from engine.verify.checks.base import CheckResult


@dataclass
class VerifyReport:
    """Every check's result, and what they were compared with."""

    mode: str
    """"verify" (target against baseline) or "capture" (a baseline on the source)."""
    results: list[CheckResult]
    profile_name: str | None = None
    host: str = ""
    started_at: float = 0.0
    finished_at: float = 0.0
    baseline_file: str | None = None
    baseline_captured_at: str | None = None
    baseline_host: str | None = None
    signoffs: list[dict[str, Any]] = field(default_factory=list)
    only: list[str] = field(default_factory=list)
    """The checks ``[verify] checks`` names, when it leaves some out (empty: the profile runs every check)."""
    not_run_by_profile: list[str] = field(default_factory=list)
    """The checks ``[verify] checks`` leaves out: never run, so never in ``results``. Named beside the verdict: a
    bare PASS with the GPU checks left out was read as "the GPUs were verified"."""

    def counts(self) -> dict[str, int]:
        out = {"pass": 0, "fail": 0, "error": 0, "not-run": 0}
        for r in self.results:
            out[r.status] += 1
        return out

    @property
    def not_captured(self) -> list[CheckResult]:
        """In a capture: the checks that errored on the source (the baseline has no figures for them), and those
        whose figures the target will not compare with (one run, too few requests, NVLink hidden by MIG)."""
        return [r for r in self.results if r.status == "error" or r.uncomparable] if self.mode == "capture" else []

    @property
    def gaps(self) -> list[CheckResult]:
        """Expected checks that did not run (each with its reason in ``summary``)."""
        return [r for r in self.results if r.gap]

    @property
    def verdict(self) -> str:
        """FAIL (a check failed or errored), INCOMPLETE (an expected check did not run), or PASS.

        A capture is BASELINE CAPTURED (nothing is judged on the source), or BASELINE INCOMPLETE when a check
        errored there, or one the profile expects did not run (no driver answered on the source: no GPU
        reading, no topology): the file is written without that check's figures, so the target cannot be
        compared with the source on it (it was "captured", exit 0, before).
        """
        if self.mode == "capture":
            return "BASELINE INCOMPLETE" if self.not_captured or self.gaps else "BASELINE CAPTURED"
        if any(r.status in ("fail", "error") for r in self.results):
            return "FAIL"
        if self.gaps or not any(r.status == "pass" for r in self.results):
            # every check optional and not run, or with nothing to measure: "PASS: 0 passed, 7 not run" verified
            # nothing, yet one person could approve it and the cutover recorded it as verified
            return "INCOMPLETE"
        return "PASS"

    @property
    def ok(self) -> bool:
        """PASS (or a finished capture): every expected check ran and none failed."""
        return self.verdict in ("PASS", "BASELINE CAPTURED")

    def verdict_line(self) -> str:
        """The verdict with what the profile left out: "PASS (only: latency; not run by the profile: gpu_health, ...)"."""
        if not self.not_run_by_profile:
            return self.verdict
        return (f"{self.verdict} (only: {', '.join(self.only)}; "
                f"not run by the profile: {', '.join(self.not_run_by_profile)})")

    def summary(self) -> str:
        c = self.counts()
        return (f"{self.verdict_line()}: {c['pass']} passed, {c['fail']} failed, {c['error']} error(s), "
                f"{c['not-run']} not run")

    def incomplete_line(self) -> str:
        """The line every report carries when expected checks did not run ("" when none)."""
        if self.mode == "capture":
            errored = [f"{r.name}: {r.summary}" for r in self.not_captured if r.status == "error"]
            unusable = [f"{r.name}: {r.uncomparable}" for r in self.not_captured if r.status != "error"]
            missing = [f"{r.name} ({r.expected}): {r.summary}" for r in self.gaps]
            parts = ([f"not captured: {'; '.join(errored)}"] if errored else []) + (
                [f"expected but not captured: {'; '.join(missing)}"] if missing else []) + (
                [f"captured, but the target cannot compare with it: {'; '.join(unusable)}"] if unusable else [])
            return f"BASELINE INCOMPLETE: {' | '.join(parts)}" if parts else ""
        if not self.results:
            return "INCOMPLETE: no check ran"
        gaps = self.gaps
        if not gaps and not any(r.status == "pass" for r in self.results):
            optional = [r.name for r in self.results if r.optional and r.status == "not-run"]
            parts = ([f"{', '.join(optional)} {'is' if len(optional) == 1 else 'are'} optional and "
                      f"{'was' if len(optional) == 1 else 'were'} not run"] if optional else [])
            if len(optional) < len(self.results):
                parts.append(("the others are" if optional else "every check is") + " not expected by the profile "
                             "(nothing configured for them)")
            return f"INCOMPLETE: no check ran ({'; '.join(parts)})"
        if not gaps:
            return ""
        return "INCOMPLETE: expected but not run: " + "; ".join(
            f"{r.name} ({r.expected}): {r.summary}" for r in gaps)

    def result(self, name: str) -> CheckResult | None:
        return next((r for r in self.results if r.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return json_safe({
            "mode": self.mode, "ok": self.ok, "verdict": self.verdict, "summary": self.summary(),
            "incomplete": self.incomplete_line(), "counts": self.counts(),
            "profile_name": self.profile_name, "host": self.host,
            "started_at": self.started_at, "finished_at": self.finished_at,
            "baseline_file": self.baseline_file, "baseline_captured_at": self.baseline_captured_at,
            "baseline_host": self.baseline_host, "signoffs": self.signoffs,
            "only": self.only, "not_run_by_profile": self.not_run_by_profile,
            "checks": [r.to_dict() for r in self.results],
        })

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "VerifyReport":
        return cls(mode=data["mode"], results=[CheckResult.from_dict(c) for c in data["checks"]],
                   profile_name=data.get("profile_name"), host=data.get("host", ""),
                   started_at=data.get("started_at", 0.0), finished_at=data.get("finished_at", 0.0),
                   baseline_file=data.get("baseline_file"), baseline_captured_at=data.get("baseline_captured_at"),
                   baseline_host=data.get("baseline_host"), signoffs=list(data.get("signoffs", [])),
                   only=list(data.get("only", [])), not_run_by_profile=list(data.get("not_run_by_profile", [])))



def json_safe(value: Any) -> Any:
    """NaN and infinity become None (JSON has neither); tuples become lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value

