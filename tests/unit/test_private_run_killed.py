"""A private worker (a step started from the app without a session) killed mid-step is reported as
killed and interrupted (resumable, the step bar's !), never as a plain failure with a bare exit code."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from engine.errors import ExitCode
from engine.events import StepFinished
from tui.private_run import PrivateRun

pytestmark = pytest.mark.timeout(60)


def test_a_private_worker_killed_mid_step_is_interrupted_not_failed(tmp_path: Path) -> None:
    marks, script = tmp_path / "marks.txt", tmp_path / "slow.py"
    script.write_text("import os, sys, time\nopen(sys.argv[1], 'a').write(f'{os.getpid()}\\n')\ntime.sleep(60)\n")
    profile = tmp_path / "verify.toml"
    profile.write_text('schema_version = 1\nname = "killed"\n[source]\nprovider = "local"\n'
                       '[verify]\nchecks = ["model_load"]\n[verify.model_load]\n'
                       f'command = ["{{python}}", "{script}", "{marks}"]\nruns = 1\nwarmup = 0\nmax_s = 60.0\n')
    run = PrivateRun(profile, "verify", False, None)
    seen: list[object] = []
    out: dict[str, object] = {}
    thread = threading.Thread(target=lambda: out.update(summary=run.follow(seen.append, lambda: False)))
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not marks.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marks.exists(), "the check's command never started"
        assert run.proc is not None
        os.kill(run.proc.pid, signal.SIGKILL)
        thread.join(30)
    finally:
        if marks.exists():
            try:
                os.kill(int(marks.read_text().split()[0]), signal.SIGKILL)  # the orphaned check
            except ProcessLookupError:
                pass
    summary = out["summary"]
    assert summary.exit_code == ExitCode.INTERRUPTED  # type: ignore[attr-defined]
    result = summary.results["verify"]  # type: ignore[attr-defined]
    assert not result.ok and "SIGKILL" in result.summary and "resume" in result.summary
    (finished,) = [e for e in seen if isinstance(e, StepFinished)]
    assert not finished.ok and (finished.result or {}).get("interrupted") is True
