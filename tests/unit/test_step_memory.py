"""engine.step_memory: a step's last outcome per profile, stale once the sections it read change."""

from __future__ import annotations

import json
import os
from pathlib import Path

from engine.profile import load_profile
from engine.session import state_dir
from engine.step_memory import current_states, describe, outcomes, remember, why_stale
from tests.conftest import REPO


def test_a_record_is_fresh_until_a_section_its_step_reads_changes(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text((REPO / "profiles" / "demo.toml").read_text())
    profile = load_profile(path)
    remember(path, profile, "cost", "completed", "saves 31% a month")
    remember(path, profile, "verify", "incomplete", "2 checks not run")
    assert remember(path, profile, "transfer", "completed") is None  # the journals speak for transfers
    assert current_states(path, profile) == ({"cost": "completed", "verify": "incomplete"}, {})

    changed = profile.model_copy(deep=True)
    changed.drivers.os_image = "ubuntu-2204-lts"  # cost does not read drivers
    assert current_states(path, changed)[0] == {"cost": "completed", "verify": "incomplete"}
    changed.cost.parallel_run_days = 30
    fresh, stale = current_states(path, changed)
    assert fresh == {"verify": "incomplete"} and list(stale) == ["cost"]
    assert describe(stale["cost"], stale=True) == "profile changed since last run"
    assert "saves 31% a month" in describe(outcomes(path)["cost"], stale=False)


def test_the_file_is_private_and_keeps_no_secret(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text((REPO / "profiles" / "demo.toml").read_text())
    store = state_dir() / "step-outcomes.json"
    store.parent.mkdir(parents=True, exist_ok=True)
    store.write_text("{}")
    os.chmod(store, 0o644)  # an older file under a loose umask
    remember(path, load_profile(path), "verify", "failed", "endpoint said: token AKIAIOSFODNN7EXAMPLE refused\nline 2")
    assert os.stat(store).st_mode & 0o777 == 0o600
    text = store.read_text()
    assert "AKIAIOSFODNN7EXAMPLE" not in text and "\\n" not in json.loads(text)[str(path.resolve())]["steps"]["verify"]["summary"]


def test_an_unreadable_store_is_no_memory(tmp_path: Path) -> None:
    store = state_dir() / "step-outcomes.json"
    store.parent.mkdir(parents=True, exist_ok=True)
    store.write_text("not json")
    assert outcomes(tmp_path / "p.toml") == {}


def test_a_store_of_the_wrong_shape_is_no_memory_and_is_rewritten(tmp_path: Path) -> None:
    """Valid JSON of another shape (a hand edit, another version) must not raise at open or at a run's end."""
    path = tmp_path / "p.toml"
    path.write_text((REPO / "profiles" / "demo.toml").read_text())
    profile = load_profile(path)
    key = str(path.resolve())
    store = state_dir() / "step-outcomes.json"
    store.parent.mkdir(parents=True, exist_ok=True)
    for bad in ({key: {"steps": []}}, {key: {"steps": {"cost": 5}}}, {key: {"steps": "x"}},
                {key: {"steps": {}, "updated": "soon"}, "/other.toml": {"steps": {}, "updated": 1.0},
                 "/third.toml": {"steps": {}, "updated": "later"}}):
        store.write_text(json.dumps(bad))
        assert outcomes(path) == {}
        assert current_states(path, profile) == ({}, {})
        assert remember(path, profile, "cost", "completed", "ok") is not None
        assert current_states(path, profile)[0] == {"cost": "completed"}


def test_every_section_a_step_reads_stales_its_record(tmp_path: Path) -> None:
    """Inventory sizes its recommendation from [workload]; Cost sizes the one-off copy from [[transfer]] when
    cost.data_gb is unset; Verify checks the transferred data ([[transfer]]): a change there is a new input."""
    path = tmp_path / "p.toml"
    path.write_text((REPO / "profiles" / "demo.toml").read_text())
    profile = load_profile(path)
    assert profile.cost.data_gb is None
    for step in ("inventory", "cost", "verify"):
        remember(path, profile, step, "completed")
    more_data = profile.model_copy(deep=True)
    more_data.transfer.append(more_data.transfer[0].model_copy(update={"src": "demo/images"}))
    assert set(current_states(path, more_data)[1]) == {"cost", "verify"}
    bigger_model = profile.model_copy(deep=True)
    bigger_model.workload.params_billions = (bigger_model.workload.params_billions or 1) * 10
    assert "inventory" in current_states(path, bigger_model)[1]


def test_a_cost_record_goes_stale_when_the_prices_change(tmp_path: Path) -> None:
    """Without a session the app kept "✓ cost: saves 31% a month" after `gpumigrate catalog refresh` changed the
    prices it came from (and opened past the Cost step): the record is stale now, and says why."""
    from engine.catalog.load import AWS_CACHE, cache_dir, write_cache

    path = tmp_path / "p.toml"
    path.write_text((REPO / "profiles" / "demo.toml").read_text())
    profile = load_profile(path)
    remember(path, profile, "cost", "completed", "saves 31% a month")
    remember(path, profile, "verify", "completed", "all checks passed")
    write_cache(cache_dir() / AWS_CACHE, {"refreshed_at": "2026-11-29T10:00:00+00:00", "instances": [],
                                          "problems": []})
    fresh, stale = current_states(path, profile)
    assert fresh == {"verify": "completed"} and list(stale) == ["cost"]
    assert describe(stale["cost"], stale=why_stale(stale["cost"], profile, "cost")) == (
        "prices changed (catalog refresh) since last run")
