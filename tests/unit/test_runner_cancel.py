"""Every real step, cancelled midway, is recorded interrupted and resumes on the next replay.

The cancel is set from inside the step (on its first event after it started), the
way the app's Cancel button, Ctrl-C in a worker or ``gpumigrate session cancel``
reaches it: through the shared ``cancel`` event while the step is running.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from engine.errors import ExitCode
from engine.events import Event, StepStarted
from engine.profile import load_profile
from engine.runner import STEP_ORDER, run_steps
from engine.session import SessionStore
from tests.conftest import REPO


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("demo-cancel")
    shutil.copytree(REPO / "profiles" / "demo", work / "demo", ignore=shutil.ignore_patterns("target-bucket"))
    shutil.copy(REPO / "profiles" / "demo.toml", work / "demo.toml")
    return work / "demo.toml"


@pytest.mark.parametrize("step", STEP_ORDER)
def test_a_step_cancelled_midway_is_interrupted_and_resumes(step: str, demo: Path) -> None:
    profile = load_profile(demo)
    cancel = threading.Event()
    started = {"yes": False}

    def cancel_midway(event: Event) -> None:
        if event.step != step:
            return
        if isinstance(event, StepStarted):
            started["yes"] = True
        elif started["yes"]:
            cancel.set()  # the first thing the step itself reports: it is under way

    with SessionStore.open(f"cancel-{step}") as session:
        first = run_steps(profile, [step], emit=cancel_midway, profile_path=demo, session=session, cancel=cancel)
        assert cancel.is_set(), f"{step} reported nothing to cancel on"
        assert first.exit_code == ExitCode.INTERRUPTED, first.results[step].summary
        assert session.step(step).state == "interrupted"  # type: ignore[union-attr]
        again = run_steps(profile, [step], emit=lambda e: None, profile_path=demo, session=session)
        assert again.skipped == [], f"{step} was skipped as if it had completed"
        assert session.step(step).state == "completed", again.results[step].summary  # type: ignore[union-attr]
        assert again.exit_code == ExitCode.OK
