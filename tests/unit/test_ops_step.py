"""The `ops` replay step: renders everything, applies only when asked, says what to set without credentials."""

from __future__ import annotations

import json

from engine.errors import ExitCode
from engine.events import Event
from engine.ops.render import SCREEN_KINDS, screen_artefacts
from engine.profile import load_profile
from engine.runner import run_steps
from engine.session import SessionStore
from tests.conftest import REPO

DEMO = REPO / "profiles" / "demo.toml"


def test_demo_renders_everything_and_applies_nothing() -> None:
    profile = load_profile(DEMO)
    events: list[Event] = []
    with SessionStore.open("ops-step-test") as session:
        summary = run_steps(profile, ["ops"], emit=events.append, profile_path=DEMO, session=session)
        assert summary.ok, summary.results["ops"].summary
        data = summary.results["ops"].data
        assert json.loads(session.get_meta("ops.rollback_items"))[0]["gate"] is True
        assert session.get_meta("ops.rollback_markdown").startswith("# Rollback plan")
    kinds = {a["kind"] for a in data["artefacts"]}
    assert kinds == {"alerts", "prometheus", "grafana", "budget", "rollback", "spot-watcher"}
    assert data["skipped"] == {}
    assert "not applied" in summary.results["ops"].summary
    assert data["budget_monthly"]["amount"] > 0
    assert [e for e in events if e.kind == "item_done" and e.status == "rendered"]


def test_apply_without_credentials_exits_4_and_says_what_to_set() -> None:
    profile = load_profile(DEMO)
    profile.ops.apply = True
    summary = run_steps(profile, ["ops"], emit=lambda e: None, profile_path=DEMO)
    result = summary.results["ops"]
    assert not result.ok and summary.exit_code == ExitCode.ENVIRONMENT
    assert "GOOGLE_APPLICATION_CREDENTIALS" in result.summary
    assert result.data["artefacts"]  # still rendered


def test_dry_run_applies_nothing() -> None:
    profile = load_profile(DEMO)
    profile.ops.apply = True
    summary = run_steps(profile, ["ops"], emit=lambda e: None, profile_path=DEMO, dry_run=True)
    assert summary.ok and "dry run" in summary.results["ops"].summary


def test_spot_watcher_skipped_for_a_non_spot_target() -> None:
    profile = load_profile(DEMO)
    profile.ops.spot_watcher = "auto"
    profile.target.pricing = "cud-1y"
    summary = run_steps(profile, ["ops"], emit=lambda e: None, profile_path=DEMO)
    assert summary.ok and "spot-watcher" in summary.results["ops"].data["skipped"]


def test_screen_tuples() -> None:
    profile = load_profile(DEMO)
    profile.ops.spot_watcher = "auto"
    profile.target.pricing = "cud-1y"
    drivers = screen_artefacts(profile, "drivers")
    assert all(len(t) == 3 for t in drivers)
    titles = [t[0] for t in drivers]
    assert "Cloud Monitoring alert policies" in titles and "Prometheus alert rules" in titles
    assert any(t.startswith("spot-watcher: not generated") for t in titles)
    (budget,) = screen_artefacts(profile, "cost")
    assert budget[0].startswith("Cloud Billing budget") and budget[1] == "json"
    (rollback,) = screen_artefacts(profile, "runbook")
    assert rollback[1] == "markdown"
    assert set(SCREEN_KINDS) == {"drivers", "cost", "runbook"}
