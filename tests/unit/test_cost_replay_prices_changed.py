"""A session skips a step already completed on the same profile; the cost step's figures also depend on the prices
it read. After `gpumigrate catalog refresh` changed them, `replay --session` skipped cost and the session kept the old
figures as its completed result (the step bar and `session show` with them). Now cost runs again and says why."""

from __future__ import annotations

from engine.catalog.load import AWS_CACHE, cache_dir, write_cache
from engine.events import Event, Message
from engine.profile import parse_profile
from engine.runner import run_steps
from engine.session import SessionStore

PROFILE = parse_profile("""
[source]
provider = "aws"
region = "us-east-1"
instance_type = "p3.2xlarge"
[target]
machine_type = "a2-highgpu-1g"
[workload]
source_hours_per_run = 8
target_hours_per_run = 8
runs_per_month = 10
[cost]
data_gb = 0
""")

P3 = {"instance_type": "p3.2xlarge", "family": "p3", "gpu_model": "V100", "gpu_count": 1.0, "gpu_memory_gb": 16.0,
      "vcpus": 8.0, "memory_gb": 61.0, "region": "us-east-1", "notes": ""}


def replay() -> tuple[str, list[str]]:
    events: list[Event] = []
    with SessionStore.open("prices-moved") as session:
        out = run_steps(PROFILE, ["cost"], emit=events.append, session=session)
        record = session.step("cost")
    assert out.exit_code == 0 and record is not None and record.state == "completed"
    return record.result["summary"], [e.text for e in events if isinstance(e, Message)]


def test_cost_runs_again_in_a_session_when_the_prices_changed() -> None:
    first, _ = replay()
    assert "p3.2xlarge $24.48/run" in first  # the embedded $3.06/h x 8 h
    _, messages = replay()
    assert any(m.startswith("cost: already completed in session prices-moved at ") and m.endswith("; skipped")
               and "p3.2xlarge $24.48/run" in m for m in messages), messages  # nothing changed: skipped
    write_cache(cache_dir() / AWS_CACHE, {"refreshed_at": "2026-11-29T10:00:00+00:00", "source": "AWS Price List API",
                                          "instances": [{**P3, "ondemand_usd_per_hr": 2.0}], "problems": []})
    again, messages = replay()
    assert "p3.2xlarge $16.00/run" in again  # the refreshed price, not the old figures kept as current
    assert any(m.startswith("cost: the prices changed since it completed") for m in messages), messages
    _, messages = replay()
    assert any(m.startswith("cost: already completed in session prices-moved at ") and "$16.00/run" in m
               for m in messages), messages
