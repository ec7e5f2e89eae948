"""`dcgmi diag -r N -j`: DCGM's diagnostic results as JSON, in both layouts DCGM has shipped.

The printed table changed between DCGM 3 and 4 and was never meant for
machines; ``-j`` prints JSON.  DCGM 3.x nests it under ``"DCGM GPU Diagnostic"``
(one ``results`` entry per ``gpu_id``); DCGM 4.x under ``"DCGM Diagnostic"``
(results per ``entity_group``/``entity_id``, with a ``test_summary`` per test;
see NVIDIA/DCGM ``testing/python3/dcgm_diag_schema.json``).  Either way each
test becomes ``(name, status, detail)`` with status pass/fail/skip/warn, the
detail naming the failing GPUs and DCGM's warning text.
"""

from __future__ import annotations

import json
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.verify.commands import run_command

_ROOTS = ("DCGM Diagnostic", "DCGM GPU Diagnostic")  # 4.x, 3.x


@dataclass
class DiagResult:
    level: int
    tests: list[tuple[str, str, str]]
    """(test name, result: pass/fail/skip/warn, detail)."""
    transcript: str
    version: str = ""

    @property
    def failed(self) -> list[tuple[str, str, str]]:
        return [t for t in self.tests if t[1] == "fail"]


def _status(text: Any) -> str:
    word = str(text or "").strip().lower()
    return {"passed": "pass", "failed": "fail", "skipped": "skip", "warning": "warn", "not run": "skip"}.get(
        word, word)


def _entity(result: dict[str, Any]) -> str:
    if "entity_id" in result:
        return f"{result.get('entity_group') or 'GPU'} {result['entity_id']}"
    return f"GPU {result.get('gpu_id', '?')}"


def _warnings(result: dict[str, Any]) -> list[str]:
    out = []
    for w in result.get("warnings") or []:
        text = w.get("warning") if isinstance(w, dict) else w
        if text:
            out.append(" ".join(str(text).split()))
    return out


def _test(test: dict[str, Any]) -> tuple[str, str, str]:
    results = [r for r in test.get("results") or [] if isinstance(r, dict)]
    statuses = [_status(r.get("status")) for r in results]
    summary = test.get("test_summary") or {}
    if summary.get("status"):
        status = _status(summary["status"])
    elif "fail" in statuses:
        status = "fail"
    elif "warn" in statuses:
        status = "warn"
    elif statuses and all(s == "skip" for s in statuses):
        status = "skip"
    else:
        status = "pass" if statuses else "skip"
    notes = []
    for r, s in zip(results, statuses):
        if s in ("fail", "warn"):
            notes.append(f"{_entity(r)}: " + ("; ".join(_warnings(r)) or s))
    return str(test.get("name", "?")), status, " | ".join(notes)


def parse_diag_json(text: str) -> tuple[list[tuple[str, str, str]], str]:
    """Tests and the DCGM version from ``dcgmi diag -j`` output; ValueError when it is not that."""
    start = text.find("{")
    if start < 0:
        raise ValueError("no JSON in the output")
    try:
        data = json.loads(text[start:text.rfind("}") + 1])
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg} at line {exc.lineno}") from None
    root_key = next((k for k in _ROOTS if isinstance(data.get(k), dict)), None)
    if root_key is None:
        raise ValueError(f"no {' or '.join(repr(k) for k in _ROOTS)} object")
    root = data[root_key]
    if root.get("runtime_error"):
        raise ValueError(f"dcgmi reported a runtime error: {root['runtime_error']}")
    tests = [_test(t) for cat in root.get("test_categories") or [] if isinstance(cat, dict)
             for t in cat.get("tests") or [] if isinstance(t, dict)]
    version = str((data.get("metadata") or {}).get("version") or root.get("version") or "")
    return tests, version


def available() -> bool:
    return shutil.which("dcgmi") is not None


def run_diag(level: int, timeout_s: float, cwd: Path, cancel: threading.Event | None = None) -> DiagResult:
    """Run ``dcgmi diag -r LEVEL -j``; a run that fails or gives no test results raises ValueError.

    dcgmi exits non-zero when a test fails; the JSON is still the answer then.
    """
    # The check commands' clean PATH may not hold the dcgmi that available() found: run that one.
    run = run_command([shutil.which("dcgmi") or "dcgmi", "diag", "-r", str(level), "-j"], cwd=cwd,
                      timeout_s=timeout_s, cancel=cancel)
    if run.timed_out or run.cancelled:
        raise ValueError(f"dcgmi diag -r {level} -j: {run.failure()}\n" + run.transcript())
    try:
        tests, version = parse_diag_json(run.stdout)
    except ValueError as exc:
        raise ValueError(f"dcgmi diag -r {level} -j: {exc}; {run.failure() or ''}\n" + run.transcript()) from None
    if not tests:
        raise ValueError(f"dcgmi diag -r {level} -j: no test results\n" + run.transcript())
    return DiagResult(level, tests, run.transcript(), version)
