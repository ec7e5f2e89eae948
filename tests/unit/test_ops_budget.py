"""The budget: sized from the cost model's run-rate, thresholds and channel from the profile."""

from __future__ import annotations

import json
import math

import pytest
from google.cloud.billing import budgets_v1
from google.protobuf import json_format

from engine.cost.model import compute_costs
from engine.errors import BadInputError
from engine.ops.budget import RunRate, budget_diff, build_budget, monthly_run_rate, render_budget_json
from engine.profile import load_profile, parse_profile
from tests.conftest import REPO

TOML = """
[source]
provider = "aws"
instance_type = "p3.2xlarge"
hourly_usd = 3.06
[target]
project = "demo-gpu-project"
machine_type = "a2-highgpu-1g"
gpu_model = "A100 40GB"
hourly_usd = 2.48
[workload]
source_hours_per_run = 8.2
target_hours_per_run = 7.1
runs_per_month = 30
[ops]
budget_thresholds_pct = [25, 90, 110]
budget_email_channels = ["projects/demo-gpu-project/notificationChannels/7"]
budget_pubsub_topic = "projects/demo-gpu-project/topics/budget-alerts"
"""


def test_amount_is_the_cost_models_target_run_rate() -> None:
    profile = parse_profile(TOML)
    expected = compute_costs(profile, with_sensitivity=False).primary.bill_monthly_usd  # storage in: the project pays it
    rate = monthly_run_rate(profile)
    assert rate.monthly == pytest.approx(expected) and "cost model" in rate.source
    budget = build_budget(profile, rate)
    assert budget.amount.specified_amount.units == math.ceil(expected)
    assert budget.amount.specified_amount.currency_code == "USD"
    assert [r.threshold_percent for r in budget.threshold_rules] == [0.25, 0.9, 1.1]
    assert all(r.spend_basis == budgets_v1.ThresholdRule.Basis.CURRENT_SPEND for r in budget.threshold_rules)
    assert list(budget.notifications_rule.monitoring_notification_channels) == \
        ["projects/demo-gpu-project/notificationChannels/7"]
    assert budget.notifications_rule.pubsub_topic == "projects/demo-gpu-project/topics/budget-alerts"
    assert list(budget.budget_filter.projects) == ["projects/demo-gpu-project"]


def test_more_runs_mean_a_bigger_budget() -> None:
    small = monthly_run_rate(parse_profile(TOML.replace("runs_per_month = 30", "runs_per_month = 10")))
    big = monthly_run_rate(parse_profile(TOML))
    disk = compute_costs(parse_profile(TOML), with_sensitivity=False).primary.storage_monthly_usd  # a run adds none
    assert disk > 0 and big.monthly - disk == pytest.approx(3 * (small.monthly - disk))


def test_override_and_cost_step_data() -> None:
    profile = parse_profile(TOML + "budget_monthly_usd = 999.5\n")
    rate = monthly_run_rate(profile)
    assert rate == RunRate(999.5, "[ops].budget_monthly_usd (the old name of budget_monthly)")
    assert build_budget(profile, rate).amount.specified_amount.units == 1000
    from_step = monthly_run_rate(parse_profile(TOML), {"monthly_usd": {"source": 10.0, "target": 321.0}})
    assert from_step.monthly == 321.0


def test_demo_profile_budget_json_round_trips() -> None:
    profile = load_profile(REPO / "profiles" / "demo.toml")
    rate = monthly_run_rate(profile)
    doc = json.loads(render_budget_json(profile, rate))
    parsed = budgets_v1.Budget()
    json_format.ParseDict(doc["budget"], budgets_v1.Budget.pb(parsed))
    assert parsed == build_budget(profile, rate)
    assert doc["sizedFrom"]["monthly"] == round(rate.monthly, 2)


def test_budget_needs_a_project() -> None:
    profile = parse_profile(TOML.replace('project = "demo-gpu-project"\n', ""))
    with pytest.raises(BadInputError, match="project"):
        build_budget(profile, RunRate(10, "x"))


def test_diff_ignores_server_defaults_but_not_changes() -> None:
    profile = parse_profile(TOML)
    want = build_budget(profile, RunRate(100, "x"))
    have = budgets_v1.Budget(want)
    have.name = "billingAccounts/012345-6789AB-CDEF01/budgets/abc"
    have.etag = "e1"
    have.budget_filter.credit_types_treatment = budgets_v1.Filter.CreditTypesTreatment.INCLUDE_ALL_CREDITS
    have.budget_filter.calendar_period = budgets_v1.CalendarPeriod.MONTH
    assert budget_diff(want, have) == []
    numbered = budgets_v1.Budget(have)
    numbered.budget_filter.projects = ["projects/123456789"]
    assert budget_diff(want, numbered) == ["budget_filter"]
    assert budget_diff(want, numbered, {"demo-gpu-project": "123456789"}) == []
    bigger = build_budget(profile, RunRate(200, "x"))
    assert budget_diff(bigger, have) == ["amount"]


def test_a_budget_in_another_currency_is_not_sized_from_dollars() -> None:
    """budget_currency = "EUR" sent the cost model's US-dollar run-rate as that many euros (JPY: 1/150th of it)."""
    profile = parse_profile(TOML + 'budget_currency = "JPY"\n')
    with pytest.raises(BadInputError, match="ops.budget_currency: JPY budget, but the cost model's run-rate is in US "
                                            "dollars"):
        monthly_run_rate(profile)
    given = parse_profile(TOML + 'budget_currency = "JPY"\nbudget_monthly = 270000\n')
    rate = monthly_run_rate(given)
    assert rate == RunRate(270000, "[ops].budget_monthly", "JPY")
    budget = build_budget(given, rate)
    assert (budget.amount.specified_amount.units, budget.amount.specified_amount.currency_code) == (270000, "JPY")


def test_the_old_field_budget_monthly_usd_still_loads_and_says_in_which_currency_it_is_read() -> None:
    """`budget_monthly_usd` has always held the amount in `budget_currency` (s7's refusal even told people to put
    yen there), though its name says US dollars. Old profiles load as before; what the amount is read as is said
    wherever the budget is shown, with the new name `budget_monthly`."""
    old = parse_profile(TOML + 'budget_currency = "JPY"\nbudget_monthly_usd = 270000\n')
    rate = monthly_run_rate(old)
    assert (rate.monthly, rate.currency) == (270000, "JPY")
    assert rate.source == ("[ops].budget_monthly_usd, read as JPY (the budget_currency), not US dollars: the field's "
                           "old name; rename it budget_monthly")
    assert build_budget(old, rate).amount.specified_amount.units == 270000
    dollars = monthly_run_rate(parse_profile(TOML + "budget_monthly_usd = 999.5\n"))
    assert dollars == RunRate(999.5, "[ops].budget_monthly_usd (the old name of budget_monthly)", "USD")


def test_both_budget_amount_fields_is_bad_input_at_the_old_ones_line(tmp_path) -> None:
    from engine.errors import BadInputError as Bad

    path = tmp_path / "p.toml"
    path.write_text(TOML + "budget_monthly = 100\nbudget_monthly_usd = 120\n", encoding="utf-8")
    with pytest.raises(Bad) as err:
        load_profile(path)
    line = len((TOML + "budget_monthly = 100\n").splitlines()) + 1
    assert any(f"/p.toml:{line}: ops.budget_monthly_usd: the old name of ops.budget_monthly" in p and
               "set only budget_monthly" in p for p in err.value.problems), err.value.problems


def test_the_cost_screens_budget_line_and_the_ops_json_name_the_currency() -> None:
    """The Cost screen wrote a 270,000 JPY budget as "$270,000.00/month"; `ops --json` gave no currency."""
    from engine.ops.budget import amount_text

    assert amount_text(RunRate(270000, "x", "JPY")) == "270,000.00 JPY"
    assert amount_text(RunRate(1830.4, "x")) == "$1,830.40"


def test_the_budget_titles_the_amount_the_budget_holds() -> None:
    """Review s7: the title said '322 USD/month' (the run-rate $322.45 rounded to nearest) over a file whose budget
    holds 323 (rounded up, so a normal month stays under its 100% rule): the title names the amount set."""
    from engine.ops.render import render_kind

    profile = parse_profile(TOML)
    for monthly in (322.45, 322.0, 0.2):
        (rendered,) = render_kind(profile, "budget", cost_data={"bill_monthly_usd": {"target": monthly}})
        units = json.loads(rendered.text)["budget"]["amount"]["specifiedAmount"]["units"]
        assert f"({int(units):,} USD/month)" in rendered.title, (monthly, units, rendered.title)
