"""A verification stopped part-way never reads PASS in the files it writes.

A cancel (the app's key, SIGTERM) between checks returned the checks run so far, and the reports the run was asked
for were written from them: "Result: PASS" in report.md and a green junit.xml for a run that checked one of two
things. A Ctrl-C inside a check wrote no report at all, so a PASS report of an earlier run stayed in place, beside
an exit 3."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from engine.errors import ExitCode
from engine.events import Progress
from engine.profile import load_profile
from engine.runner import run_steps
from tests.conftest import REPO

PROFILE = """schema_version = 1
[source]
provider = "local"
[verify]
checks = ["data_integrity", "convergence"]
[verify.gpu]
optional = true
[verify.convergence]
baseline_file = "demo/verify/loss_source.csv"
target_file = "demo/verify/loss_target.tfevents"
tolerance = 0.05
smoothing = 5
[[verify.data_integrity.manifests]]
source = "demo/verify/manifest_source.jsonl"
target = "demo/verify/manifest_target.jsonl"
"""


@pytest.fixture()
def profile(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "profiles" / "demo" / "verify", tmp_path / "demo" / "verify")
    path = tmp_path / "p.toml"
    path.write_text(PROFILE)
    return path


def _run(profile: Path, report: Path, stop=None, at: str = "convergence"):  # type: ignore[no-untyped-def]
    cancel = threading.Event()

    def emit(event):  # type: ignore[no-untyped-def]
        if stop and isinstance(event, Progress) and (event.extra or {}).get("check") == at:
            stop(cancel)

    return run_steps(load_profile(profile), ["verify"], emit=emit, profile_path=profile, cancel=cancel,
                     options={"markdown": str(report), "junit": str(report.with_suffix(".xml"))})


def test_the_whole_run_passes(profile: Path, tmp_path: Path) -> None:
    summary = _run(profile, tmp_path / "r.md")
    assert summary.exit_code == ExitCode.OK, summary.results["verify"].summary
    assert "**Result: PASS" in (tmp_path / "r.md").read_text()


def test_a_cancel_between_checks_writes_incomplete_not_pass(profile: Path, tmp_path: Path) -> None:
    summary = _run(profile, tmp_path / "r.md", stop=lambda cancel: cancel.set(), at="data_integrity")
    assert summary.exit_code == ExitCode.INTERRUPTED
    md = (tmp_path / "r.md").read_text()
    assert "**Result: PASS" not in md, md[:400]
    assert "INCOMPLETE" in md and "convergence" in md and "stopped" in md, md[:600]
    assert 'failures="0"' not in (tmp_path / "r.xml").read_text() or "skipped" in (tmp_path / "r.xml").read_text()


def test_a_ctrl_c_inside_a_check_replaces_an_earlier_pass(profile: Path, tmp_path: Path) -> None:
    _run(profile, tmp_path / "r.md")
    assert "**Result: PASS" in (tmp_path / "r.md").read_text()

    def ctrl_c(cancel):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    summary = _run(profile, tmp_path / "r.md", stop=ctrl_c)
    assert summary.exit_code == ExitCode.INTERRUPTED
    md = (tmp_path / "r.md").read_text()
    assert "**Result: PASS" not in md and "INCOMPLETE" in md, md[:400]
