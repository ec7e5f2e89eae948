"""Where a migration stands: what is left to decide, where to open, what Next goes to."""

from __future__ import annotations

from engine.guide import first_mode, hint_line, left_to_decide, next_step
from engine.profile import parse_profile
from tests.conftest import REPO
from engine.profile import load_profile


def test_a_bare_profile_leaves_every_step_something_to_decide() -> None:
    bare = parse_profile('[source]\nprovider = "aws"\n')
    assert left_to_decide(bare, "inventory")[0] == "source.instance_type"
    assert "target.pricing" in left_to_decide(bare, "cost")  # the default is not a decision
    assert left_to_decide(bare, "transfer") == ["add a [[transfer]] entry (source and destination)"]
    assert "drivers.os_image" in left_to_decide(bare, "drivers")
    assert "verify.baseline" in left_to_decide(bare, "verify")
    assert hint_line(bare, "transfer").startswith("Left to decide: add a [[transfer]]")


def test_the_reference_profile_has_made_its_cost_choices() -> None:
    ref = load_profile(REPO / "profiles" / "aws-p3-to-gcp-a100.toml")
    assert left_to_decide(ref, "cost") == []
    assert hint_line(ref, "cost") == "Nothing left to decide here."


def test_open_on_the_running_step_else_the_first_not_done() -> None:
    assert first_mode({}) == "inventory"
    assert first_mode({"inventory": "completed", "cost": "failed"}) == "cost"
    assert first_mode({"inventory": "completed", "cost": "completed", "verify": "running"}) == "verify"
    every = {s: "completed" for s in ("inventory", "cost", "transfer", "drivers", "verify")}
    assert first_mode(every) == "verify"


def test_next_skips_steps_that_are_done_and_decided() -> None:
    ref = load_profile(REPO / "profiles" / "aws-p3-to-gcp-a100.toml")
    states = {"inventory": "completed", "cost": "completed", "transfer": "failed"}
    assert next_step("inventory", states, ref) == "transfer"  # cost is done and fully decided
    assert next_step("transfer", states, ref) in ("drivers", "verify")


def test_the_left_to_decide_line_names_every_choice_or_counts_them_within_its_width() -> None:
    """At 80 columns the line was cut after its first item's hint ("…instance t…"), hiding three of four."""
    bare = parse_profile('[source]\nprovider = "other"\n')
    assert len(left_to_decide(bare, "cost")) == 4
    full = hint_line(bare, "cost")
    assert hint_line(bare, "cost", width=len(full)) == full
    line = hint_line(bare, "cost", width=78)
    assert len(line) <= 78 and "source.hourly_usd" in line and "target.pricing" in line, line
    assert "(no catalog price" not in line  # the hints go before the items do
    narrow = hint_line(bare, "cost", width=60)
    assert len(narrow) <= 60 and narrow.startswith("Left to decide (4): source.hourly_usd") and "more" in narrow, narrow
