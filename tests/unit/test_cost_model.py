"""The cost arithmetic: the reference case, tiered egress, free allowance, commitments, spot, rounding."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.catalog.load import embedded_catalog
from engine.cost.model import (commitment_monthly, compute_costs, egress_cost, tiered_cost, tiers_with_allowance,
                               usd)
from engine.errors import BadInputError
from engine.profile import load_profile, parse_profile

REPO = Path(__file__).resolve().parents[2]
AWS_TIERS = [(0, 100, 0.0), (100, 10240, 0.09), (10240, 51200, 0.085), (51200, 153600, 0.07), (153600, None, 0.05)]

BASE = """
[source]
provider = "aws"
instance_type = "p3.2xlarge"
[target]
machine_type = "a2-highgpu-1g"
pricing = "{pricing}"
[workload]
source_hours_per_run = 8.2
target_hours_per_run = 7.1
runs_per_month = {runs}
[cost]
{cost}
"""


def profile(pricing: str = "on-demand", runs: float = 10, cost: str = "") -> object:
    return parse_profile(BASE.format(pricing=pricing, runs=runs, cost=cost))


def test_reference_case_reproduces_the_published_figures() -> None:
    report = compute_costs(load_profile(REPO / "profiles" / "aws-p3-to-gcp-a100.toml"))
    src, tgt = report.source, report.primary
    # the published figures, at list rates
    assert src.list_cost_per_run_usd == pytest.approx(3.06 * 8.2) and usd(src.list_cost_per_run_usd) == "$25.09"
    assert tgt.list_cost_per_run_usd == pytest.approx(2.48 * 7.1) and usd(tgt.list_cost_per_run_usd) == "$17.61"
    # ...and what is paid: the commitment (2.48 x 730 h) is 77.8% used by 80 runs of 7.1 h
    assert usd(src.cost_per_run_usd) == "$25.09"
    assert tgt.cost_per_run_usd == pytest.approx(2.48 * 730 / 80) and usd(tgt.cost_per_run_usd) == "$22.63"
    assert tgt.utilisation == pytest.approx(0.778, abs=1e-3)
    # savings from the whole monthly bill: compute $1,810.40 + the 200 GiB pd-balanced boot disk $20 vs $2,007.36
    assert tgt.storage_monthly_usd == pytest.approx(200 * 0.1) and tgt.bill_monthly_usd == pytest.approx(1830.40)
    assert tgt.savings_monthly_usd == pytest.approx(2007.36 - 1830.40)
    assert tgt.savings_monthly_fraction == pytest.approx(0.088, abs=1e-3)  # monthly, effective: not "30% less"
    assert "$22.63/run (list rate $17.61)" in report.summary() and "8.8% less a month" in report.summary()
    assert "monthly bill $2,007.36 vs $1,830.40" in report.summary()  # the bill the 8.8% is of
    assert tgt.pricing == "cud-1y" and "negotiated" in tgt.price_source and "negotiated" in src.price_source
    doc = report.to_dict()
    assert doc["currency"] == "USD" and {o["side"] for o in doc["options"]} == {"source", "target"}


def test_tiered_egress_across_tier_boundaries() -> None:
    assert tiered_cost(100, AWS_TIERS) == 0  # all inside the free allowance
    assert tiered_cost(101, AWS_TIERS) == pytest.approx(0.09)
    assert tiered_cost(10240, AWS_TIERS) == pytest.approx(10140 * 0.09)
    assert tiered_cost(10240 + 1000, AWS_TIERS) == pytest.approx(10140 * 0.09 + 1000 * 0.085)
    big = 200_000
    expected = 10140 * 0.09 + 40960 * 0.085 + 102400 * 0.07 + (big - 153600) * 0.05
    assert tiered_cost(big, AWS_TIERS) == pytest.approx(expected)


def test_free_allowance_override_and_monthly_spread() -> None:
    cat = embedded_catalog()
    rows = cat.net_tiers_in("aws.egress.internet", "us-east-1")
    assert tiered_cost(1000, tiers_with_allowance(rows, None)) == pytest.approx(900 * 0.09)
    assert tiered_cost(1000, tiers_with_allowance(rows, 0)) == pytest.approx(1000 * 0.09)
    assert tiered_cost(1000, tiers_with_allowance(rows, 500)) == pytest.approx(500 * 0.09)
    # spread over two months: each month has its own 100 GB free
    assert egress_cost(1000, AWS_TIERS, months=2) == pytest.approx(2 * 400 * 0.09)
    report = compute_costs(profile(cost="data_gb = 1000\ntransfer_months = 2"))
    egress = next(i for i in report.one_off_items if i.name == "egress")
    assert egress.usd == pytest.approx(800 * 0.09) and egress.price_source.startswith("embedded")


def test_routes_change_the_one_off() -> None:
    waiver = compute_costs(profile(cost='data_gb = 5000\nroute = "exit-waiver"'))
    assert next(i for i in waiver.one_off_items if i.name == "egress").usd == 0
    private = compute_costs(profile(cost='data_gb = 5000\nroute = "sts-private-network"'))
    sts = next(i for i in private.one_off_items if "managed private network" in i.name)
    assert sts.usd == pytest.approx(5000 * 0.03)
    requests = compute_costs(profile(cost="data_gb = 64\nobject_count = 2000"))
    items = {i.name: i.usd for i in requests.one_off_items}
    assert items["S3 GET requests"] == pytest.approx(2 * 0.0004)
    assert items["S3 LIST requests"] == pytest.approx(2 / 1000 * 0.005)
    assert items["GCS writes (Class A)"] == pytest.approx(2 * 0.005)


def test_committed_use_is_paid_whether_used_or_not_and_shows_break_even_utilisation() -> None:
    monthly, commit = commitment_monthly(2.0, 730, 1, usage_hours=100, overflow_hourly=3.0)
    assert monthly == commit == pytest.approx(1460)
    monthly, commit = commitment_monthly(2.0, 730, 1, usage_hours=800, overflow_hourly=3.0)
    assert monthly == pytest.approx(1460 + 70 * 3.0)
    report = compute_costs(profile("cud-1y", runs=10))
    tgt = report.primary
    hourly = 1689.3711392 / 730  # the published us-central1 1-year price (pricing.yml month_1y / 730 h)
    assert tgt.hourly_usd == pytest.approx(hourly)
    assert tgt.monthly_usd == pytest.approx(hourly * 730)  # 71 h used, 730 h paid
    assert tgt.cost_per_run_usd == pytest.approx(hourly * 730 / 10)  # what a run really costs
    assert tgt.list_cost_per_run_usd == pytest.approx(hourly * 7.1)
    assert tgt.break_even_utilisation == pytest.approx(hourly / 3.673385)
    assert tgt.utilisation == pytest.approx(71 / 730)
    assert any("on-demand is cheaper below 63.0%" in n for n in report.notes)
    assert report.sensitivity["break_even_runs_per_month"] == pytest.approx(hourly * 730 / (3.06 * 8.2))


def test_spot_discount_and_interruption_overhead() -> None:
    report = compute_costs(profile("spot", runs=10, cost="spot_interruption_overhead = 0.25"))
    tgt = report.primary
    assert tgt.hours_per_run == pytest.approx(7.1 * 1.25)
    assert tgt.cost_per_run_usd == pytest.approx(1.92802 * 7.1 * 1.25)
    assert tgt.monthly_usd == pytest.approx(1.92802 * 7.1 * 1.25 * 10)
    assert tgt.spot_discount == pytest.approx(1 - 1.92802 / 3.673385)
    assert tgt.break_even_speedup == pytest.approx(1.92802 * 1.25 / 3.06)


def test_break_even_months_tco_and_cumulative_series() -> None:
    report = compute_costs(profile("spot", runs=20, cost="data_gb = 2000\nparallel_run_days = 0"))
    tgt, src = report.primary, report.source
    saving = src.bill_monthly_usd - tgt.bill_monthly_usd
    assert report.primary.parallel_run_usd == 0
    assert report.one_off_usd == pytest.approx(report.shared_one_off_usd)
    assert next(i for i in report.one_off_items if i.name == "egress").usd == pytest.approx(1900 * 0.09)
    assert report.break_even_months == pytest.approx(report.one_off_usd / saving)
    assert tgt.tco_1y_usd == pytest.approx(report.one_off_usd + 12 * tgt.bill_monthly_usd)
    assert len(tgt.cumulative_usd) == 37 and tgt.cumulative_usd[0] == pytest.approx(report.one_off_usd)
    crossing = next(m for m, (a, b) in enumerate(zip(src.cumulative_usd, tgt.cumulative_usd)) if b <= a)
    assert crossing == pytest.approx(report.break_even_months, abs=1)


def test_parallel_run_counts_the_target_for_the_overlap() -> None:
    report = compute_costs(profile("on-demand", runs=30, cost="parallel_run_days = 30.4375"))
    assert report.primary.parallel_run_usd == pytest.approx(report.primary.bill_monthly_usd)


def test_speedup_estimates_hours_and_extra_options_compare() -> None:
    text = BASE.format(pricing="on-demand", runs=10, cost="""
[[cost.options]]
name = "A100 spot"
machine_type = "a2-highgpu-1g"
pricing = "spot"
[[cost.options]]
name = "L4"
machine_type = "g2-standard-8"
speedup = 0.5
""").replace("target_hours_per_run = 7.1", "speedup = 1.64")
    report = compute_costs(parse_profile(text))
    names = [o.name for o in report.options]
    assert names == ["p3.2xlarge", "a2-highgpu-1g on-demand", "A100 spot", "L4"]
    assert report.primary.hours_per_run == pytest.approx(8.2 / 1.64)
    assert report.option("A100 spot").hours_per_run == pytest.approx(8.2 / 1.64 * 1.1)  # inherits the A100 speed-up
    assert report.option("L4").hours_per_run == pytest.approx(16.4)
    speeds = report.sensitivity["speedup"]
    assert [row["factor"] for row in speeds][0] == 0.5
    assert speeds[-1]["cost_per_run_usd"] < speeds[0]["cost_per_run_usd"]


def test_rounding_to_cents_happens_only_at_display() -> None:
    assert usd(0.004) == "$0.00" and usd(0.005) == "$0.01" and usd(1234.565) == "$1,234.57"
    assert usd(-3.5) == "-$3.50" and usd(None) == "n/a"
    # three charges of 0.4 cents: kept exact in the report, a cent when shown
    report = compute_costs(profile(cost="data_gb = 1\nobject_count = 10000"))
    get = next(i for i in report.one_off_items if i.name == "S3 GET requests")
    assert get.usd == pytest.approx(0.004) and usd(get.usd) == "$0.00"
    assert usd(3 * get.usd) == "$0.01"


@pytest.mark.parametrize("text,match", [
    ('[source]\nprovider = "other"\n', "set source.hourly_usd"),
    ('[source]\nprovider = "aws"\ninstance_type = "x9.huge"\n[target]\nmachine_type = "a2-highgpu-1g"\n',
     "not in the aws catalog"),
    ('[source]\nprovider = "aws"\ninstance_type = "p3.2xlarge"\n[target]\nmachine_type = "a2-ultragpu-1g"\n'
     'pricing = "cud-1y"\n', "no cud-1y price is published for a2-ultragpu-1g"),
    ('[source]\nprovider = "aws"\ninstance_type = "p3.2xlarge"\n[target]\nmachine_type = "n1-standard-8"\n',
     "target.gpu_model: n1-standard-8 carries one of P100, P4, T4, V100"),
    ('[source]\nprovider = "aws"\ninstance_type = "p3.2xlarge"\n[target]\nmachine_type = "a3-edgegpu-8g"\n'
     'pricing = "spot"\n', "no spot price"),
])
def test_missing_prices_are_bad_input_with_the_fix(text: str, match: str) -> None:
    with pytest.raises(BadInputError, match=match):
        compute_costs(parse_profile(text))


def test_no_runs_gives_no_percentage_and_no_price_paid_per_run() -> None:
    """With no runs the source bills nothing: the percentage fell back to one run at list rates and was printed
    as "41.6% more a month, effective" beside a commitment billing $28,371 a month for no run at all."""
    report = compute_costs(profile("cud-1y", runs=0), embedded_catalog())
    tgt = report.primary
    assert tgt.savings_monthly_usd is not None and tgt.savings_monthly_usd < 0
    assert tgt.savings_monthly_fraction is None and tgt.effective_cost_per_run_usd is None
    assert tgt.list_cost_per_run_usd == pytest.approx(tgt.hourly_usd * 7.1)
    summary = report.summary()
    assert "a month, of the source" not in summary and "no runs a month" in summary
    assert tgt.paid_label() == "no runs" and f"{usd(tgt.list_cost_per_run_usd)}/run at list rate" in summary
    assert f"monthly bill {usd(report.source.bill_monthly_usd)} vs {usd(tgt.bill_monthly_usd)}" in summary


def test_a_commitment_is_not_paid_during_the_parallel_run() -> None:
    """The create scripts say to buy a commitment only after the migration is verified (it cannot be cancelled),
    yet the parallel run was priced at the commitment's monthly bill: the reference case's 14 days were
    $841.91 of a commitment not yet bought. They run at on-demand for the hours used, as advised."""
    report = compute_costs(load_profile(REPO / "profiles" / "aws-p3-to-gcp-a100.toml"))
    tgt = report.primary
    run_rate = 80 * 7.1 * tgt.ondemand_hourly_usd + tgt.storage_monthly_usd
    assert tgt.parallel_run_usd == pytest.approx(run_rate * 14 / 30.4375)
    assert "on-demand" in tgt.parallel_run_detail and "after the migration is verified" in tgt.parallel_run_detail
    line = next(i for i in report.to_dict()["one_off_items"] if i["name"] == "parallel run")
    assert line["detail"] == tgt.parallel_run_detail and line["usd"] == pytest.approx(tgt.parallel_run_usd)
    spot = compute_costs(profile("spot", runs=30, cost="parallel_run_days = 30.4375")).primary
    assert spot.parallel_run_usd == pytest.approx(spot.bill_monthly_usd)  # other pricing: the monthly bill


def test_a_three_year_commitment_owes_its_whole_term_in_the_one_year_total() -> None:
    """A cud-3y option's 1-year total was 12 monthly bills, as if a workload that stops after a year stopped
    paying; the commitment's other 24 months are owed all the same. A 12-month horizon said nothing of them."""
    report = compute_costs(profile("cud-3y", runs=80, cost="data_gb = 0\nhorizon_months = 12"))
    tgt = report.primary
    owed = 24 * tgt.commitment_monthly_usd
    assert tgt.tco_1y_usd == pytest.approx(report.one_off_usd + 12 * tgt.bill_monthly_usd + owed)
    assert tgt.tco_3y_usd == pytest.approx(report.one_off_usd + 36 * tgt.bill_monthly_usd)
    assert any(f"1-year total includes the 24 months still owed on the 3-year commitment ({usd(owed)}" in n
               for n in report.notes)
    assert any("the 12-month horizon ends before the 36-month commitment does" in n for n in report.notes)
    one_year = compute_costs(profile("cud-1y", runs=80, cost="data_gb = 0"))  # its term is the year: nothing owed
    assert one_year.primary.tco_1y_usd == pytest.approx(one_year.one_off_usd + 12 * one_year.primary.bill_monthly_usd)
    assert not any("still owed" in n or "horizon ends" in n for n in one_year.notes)


def test_a_break_even_after_the_horizon_says_so() -> None:
    """2 PB of egress: break-even 57 months read like a payback plan, though the chart and totals stop at 36."""
    report = compute_costs(profile("on-demand", runs=80, cost="data_gb = 2000000"))
    be = report.break_even_months
    assert be is not None and be > 36
    assert f"break-even {be:.1f} months, after the 36-month horizon" in report.summary()
    assert f"break-even {be:.1f} months, after the 36-month horizon" in report.headline()[0]
    assert any(f"break-even {be:.1f} months is after the 36-month horizon" in n for n in report.notes)
    near = compute_costs(profile("spot", runs=80, cost="data_gb = 2000"))
    assert "horizon" not in near.summary() and near.break_even_months < 36
