"""`dcgmi diag` results, parsed from the table it prints.

dcgmi prints one row per test: ``| Memory Bandwidth | Fail - GPU: 0 |``;
section separators (``+-----  Stress  ---+``) and metadata rows (DCGM
version, driver) are not tests.  A test passes, fails, is skipped or warns.
"""

from __future__ import annotations

import re
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

from engine.verify.commands import run_command

_ROW = re.compile(r"^\|\s*(?P<test>[^|]+?)\s*\|\s*(?P<result>Pass|Fail|Skip|Warn)(?P<rest>[^|]*)\|?\s*$", re.I)


@dataclass
class DiagResult:
    level: int
    tests: list[tuple[str, str, str]]
    """(test name, result: pass/fail/skip/warn, detail)."""
    transcript: str

    @property
    def failed(self) -> list[tuple[str, str, str]]:
        return [t for t in self.tests if t[1] == "fail"]


def parse_diag(text: str) -> list[tuple[str, str, str]]:
    tests = []
    for line in text.splitlines():
        match = _ROW.match(line.strip())
        if match:
            detail = match.group("rest").strip(" -")
            tests.append((match.group("test"), match.group("result").lower(), detail))
    return tests


def available() -> bool:
    return shutil.which("dcgmi") is not None


def run_diag(level: int, timeout_s: float, cwd: Path, cancel: threading.Event | None = None) -> DiagResult:
    """Run ``dcgmi diag -r LEVEL``; a run that fails or prints no test rows raises ValueError."""
    run = run_command(["dcgmi", "diag", "-r", str(level)], cwd=cwd, timeout_s=timeout_s, cancel=cancel)
    tests = parse_diag(run.stdout)
    if run.timed_out or run.cancelled or not tests:
        raise ValueError(f"dcgmi diag -r {level}: {run.failure() or 'no test results in its output'}\n"
                         + run.transcript())
    return DiagResult(level, tests, run.transcript())
