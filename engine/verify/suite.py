"""Running the checks: capture a baseline on the source, or verify the target against it.

:func:`run_verification` runs the selected checks in order, reporting each
through events (``ItemDone`` per check with its status, ``Progress`` per
check and for the whole run) and returns a :class:`VerifyReport`.  A
baseline is a JSON file of each check's figures as measured on the source.
"""

from __future__ import annotations

import json
import math
import platform
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import BadInputError
from engine.events import Emit, ItemDone, Message, Progress, discard
from engine.verify import checks as check_modules
from engine.verify.checks.base import CheckContext, CheckResult, run_check
from engine.verify.expect import is_optional, why_expected
from engine.verify.section import CHECK_NAMES, VerifySection

BASELINE_FORMAT = "gpumigrate-verify-baseline"
BASELINE_VERSION = 1


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

    def counts(self) -> dict[str, int]:
        out = {"pass": 0, "fail": 0, "error": 0, "not-run": 0}
        for r in self.results:
            out[r.status] += 1
        return out

    @property
    def gaps(self) -> list[CheckResult]:
        """Expected checks that did not run (each with its reason in ``summary``)."""
        return [r for r in self.results if r.gap]

    @property
    def verdict(self) -> str:
        """FAIL (a check failed or errored), INCOMPLETE (an expected check did not run), or PASS.

        A capture is BASELINE CAPTURED: nothing is judged on the source.
        """
        if self.mode == "capture":
            return "BASELINE CAPTURED"
        if any(r.status in ("fail", "error") for r in self.results):
            return "FAIL"
        if self.gaps or not self.results:
            return "INCOMPLETE"
        return "PASS"

    @property
    def ok(self) -> bool:
        """PASS (or a finished capture): every expected check ran and none failed."""
        return self.verdict in ("PASS", "BASELINE CAPTURED")

    def summary(self) -> str:
        c = self.counts()
        return (f"{self.verdict}: {c['pass']} passed, {c['fail']} failed, {c['error']} error(s), "
                f"{c['not-run']} not run")

    def incomplete_line(self) -> str:
        """The line every report carries when expected checks did not run ("" when none)."""
        if self.mode == "capture":
            return ""
        if not self.results:
            return "INCOMPLETE: no check ran"
        gaps = self.gaps
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
            "checks": [r.to_dict() for r in self.results],
        })

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "VerifyReport":
        return cls(mode=data["mode"], results=[CheckResult.from_dict(c) for c in data["checks"]],
                   profile_name=data.get("profile_name"), host=data.get("host", ""),
                   started_at=data.get("started_at", 0.0), finished_at=data.get("finished_at", 0.0),
                   baseline_file=data.get("baseline_file"), baseline_captured_at=data.get("baseline_captured_at"),
                   baseline_host=data.get("baseline_host"), signoffs=list(data.get("signoffs", [])))


def json_safe(value: Any) -> Any:
    """NaN and infinity become None (JSON has neither); tuples become lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


# --- baselines ----------------------------------------------------------------------


def load_baseline(path: Path) -> dict[str, Any]:
    """Read a baseline file; BadInputError with the reason when it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BadInputError(f"baseline {path}: cannot read: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise BadInputError(f"baseline {path}:{exc.lineno}: not JSON ({exc.msg})") from None
    if not isinstance(data, dict) or data.get("format") != BASELINE_FORMAT:
        raise BadInputError(f"baseline {path}: not a gpumigrate baseline (capture one with "
                            "`gpumigrate verify PROFILE --capture-baseline FILE` on the source)")
    if data.get("version") != BASELINE_VERSION:
        raise BadInputError(f"baseline {path}: version {data.get('version')!r} is not supported "
                            f"(this gpumigrate reads version {BASELINE_VERSION})")
    if not isinstance(data.get("checks"), dict):
        raise BadInputError(f"baseline {path}: no checks")
    return data


def baseline_from_report(report: VerifyReport) -> dict[str, Any]:
    return json_safe({
        "format": BASELINE_FORMAT, "version": BASELINE_VERSION,
        "captured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(report.finished_at or time.time())),
        "host": report.host, "profile_name": report.profile_name,
        "checks": {r.name: r.figures for r in report.results if r.status == "pass"},
        "not_run": {r.name: r.summary for r in report.results if r.status == "not-run"},
    })


def save_baseline(report: VerifyReport, path: Path) -> None:
    data = baseline_from_report(report)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    tmp.replace(path)


# --- running ---------------------------------------------------------------------------


def selected_checks(section: VerifySection, only: list[str] | None = None) -> list[str]:
    names = list(section.checks) if section.checks else list(CHECK_NAMES)
    if only:
        unknown = [n for n in only if n not in CHECK_NAMES]
        if unknown:
            raise BadInputError(f"unknown check(s): {', '.join(unknown)} (known: {', '.join(CHECK_NAMES)})")
        names = [n for n in names if n in only]
    return [n for n in CHECK_NAMES if n in names]


def run_verification(
    section: VerifySection,
    *,
    base_dir: Path,
    step: str = "verify",
    emit: Emit = discard,
    baseline: dict[str, Any] | None = None,
    baseline_file: str | None = None,
    capture: bool = False,
    only: list[str] | None = None,
    target_gpu_count: int | None = None,
    target_gpu_model: str | None = None,
    nvml_api: Any = None,
    cancel: threading.Event | None = None,
    profile_name: str | None = None,
    transfers: list[Any] | None = None,
) -> VerifyReport:
    """Run the checks; never raises for a check's own outcome."""
    names = selected_checks(section, only)
    cancel = cancel or threading.Event()
    report = VerifyReport(mode="capture" if capture else "verify", results=[], profile_name=profile_name,
                          host=platform.node(), started_at=time.time(), baseline_file=baseline_file,
                          baseline_captured_at=(baseline or {}).get("captured_at"),
                          baseline_host=(baseline or {}).get("host"))
    base_checks = (baseline or {}).get("checks", {})
    shared_cache: dict[str, Any] = {}
    for index, name in enumerate(names):
        if cancel.is_set():
            break
        module = check_modules.load(name)
        emit(Progress(step, done=index, total=len(names), unit="checks", label="checks",
                      extra={"check": name, "title": module.TITLE}))

        def progress(done: float, total: float | None, _name: str = name) -> None:
            emit(Progress(step, done=done, total=total, label=_name))

        ctx = CheckContext(section=section, base_dir=base_dir, target_gpu_count=target_gpu_count,
                           target_gpu_model=target_gpu_model, nvml_api=nvml_api, cancel=cancel,
                           progress=progress, log=lambda text: emit(Message(step, text=text, level="debug")),
                           transfers=list(transfers or []), _cache=shared_cache)
        result = run_check(module, ctx, base_checks.get(name), capture=capture)
        result.expected = why_expected(section, name, target_gpu_count)
        result.optional = is_optional(section, name)
        report.results.append(result)
        emit(ItemDone(step, item=name, status=result.status, detail=result.summary,
                      data={"title": result.title, "threshold": result.threshold,
                            "duration_s": round(result.duration_s, 3), "result": json_safe(result.to_dict())}))
    emit(Progress(step, done=len(report.results), total=len(names), unit="checks", label="checks"))
    report.finished_at = time.time()
    return report
