"""`session resume` on a run whose steps all completed (same profile) says there is nothing to resume."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.profile import load_profile
from engine.runner import profile_digest
from engine.session import SessionStore, new_holder_id
from tui.cli import main


def _cost_completed(name: str, profile: Path, profile_digest_: str, data: dict | None = None) -> None:
    """Session NAME: one run of the cost step, completed with PROFILE as its profile."""
    with SessionStore.open(name) as store:
        store.set_meta("profile_path", str(profile))
        run = store.begin_run(new_holder_id(), ["cost"], ttl_s=30)
        store.set_step("cost", "running")
        store.set_step("cost", "completed", result={"summary": "ok", **({"data": data} if data else {})},
                       profile_digest=profile_digest_)
        store.end_run(run, 0)


def _profile(tmp_path: Path) -> Path:
    profile = tmp_path / "p.toml"
    profile.write_text('[source]\nprovider = "other"\nhourly_usd = 1.0\n')
    return profile


def test_resume_of_a_completed_run_starts_nothing_and_says_so(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """It printed "resumed transfer in worker pid N" and started a worker that skipped everything."""
    profile = _profile(tmp_path)
    _cost_completed("done", profile, profile_digest(load_profile(profile)))
    assert main(["session", "resume", "done"]) == 2  # nothing was resumed: exit 2, as for "never ran"
    out = capsys.readouterr()
    assert "nothing to resume" in out.err and "resumed" not in out.out + out.err
    assert "cost completed at 20" in out.err and "+00:00" in out.err
    with SessionStore.open("done") as store:
        assert len(store.runs()) == 1  # no worker was started


def test_resume_of_steps_completed_with_an_earlier_profile_still_resumes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A changed profile is a reason to run again (replay), not something left to resume."""
    _cost_completed("changed", _profile(tmp_path), "an older profile")
    assert main(["session", "resume", "changed"]) == 2
    err = capsys.readouterr().err
    assert "nothing to resume" in err and "the profile changed since" in err and "replay" in err
    with SessionStore.open("changed") as store:
        assert len(store.runs()) == 1


def test_resume_after_a_price_refresh_says_the_prices_changed(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Prices refreshed since cost completed: as for a changed profile, a reason to run again (replay), said."""
    profile = _profile(tmp_path)
    _cost_completed("moved", profile, profile_digest(load_profile(profile)), {"prices_digest": "before a refresh"})
    assert main(["session", "resume", "moved"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "nothing to resume" in err and "the prices changed since cost completed" in err and "replay" in err


def test_resume_when_the_profile_was_moved_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """It said "which this login cannot read" of a file that was moved away: a permissions hunt for nothing."""
    profile = _profile(tmp_path)
    _cost_completed("moved", profile, profile_digest(load_profile(profile)))
    profile.rename(tmp_path / "elsewhere.toml")
    assert main(["session", "resume", "moved"]) == 2
    err = capsys.readouterr().err
    assert "p.toml, which is not there any more (moved or deleted): pass --profile PATH" in err, err
