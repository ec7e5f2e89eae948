"""The cost step of replay: records the same document as `cost --json`, sizing local transfer sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.events import Event
from engine.profile import parse_profile
from engine.runner import run_steps

TEXT = """
[source]
provider = "aws"
instance_type = "p3.2xlarge"
[target]
machine_type = "a2-highgpu-1g"
pricing = "spot"
[workload]
source_hours_per_run = 8.2
speedup = 1.15
runs_per_month = 20
[[transfer]]
src = "data"
dst = "gs://bucket/data"
[[transfer]]
src = "s3://somewhere/else"
dst = "gs://bucket/else"
"""


def test_cost_step_sizes_local_sources_and_records_the_report(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "a.bin").write_bytes(b"x" * 3000)
    (data / "sub" / "b.bin").write_bytes(b"y" * 5000)
    events: list[Event] = []
    summary = run_steps(parse_profile(TEXT), ["cost"], emit=events.append, profile_path=tmp_path / "p.toml")
    result = summary.results["cost"]
    assert result.ok and "$25.09/run" in result.summary
    doc = result.data
    assert doc["data_gb"] == pytest.approx(8000 / 1024**3) and doc["object_count"] == 2
    assert doc["data_basis"] == doc["object_basis"] == "local transfer sources, measured"
    assert [o["side"] for o in doc["options"]] == ["source", "target"]
    for key in ("name", "pricing", "hourly_usd", "hours_per_run", "cost_per_run_usd", "monthly_usd",
                "price_source", "price_date"):
        assert key in doc["options"][1]
    texts = [getattr(e, "text", "") for e in events]
    assert any("s3://somewhere/else not sized here" in t for t in texts)
    assert any(t.startswith("prices: ") for t in texts)


def test_cost_step_fails_cleanly_on_a_missing_price() -> None:
    profile = parse_profile('[source]\nprovider = "other"\n[target]\nmachine_type = "a2-highgpu-1g"\n')
    summary = run_steps(profile, ["cost"], emit=lambda e: None)
    assert not summary.results["cost"].ok and "source.hourly_usd" in summary.results["cost"].summary
    assert int(summary.exit_code) == 2
