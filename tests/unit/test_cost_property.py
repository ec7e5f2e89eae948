"""Property: for any valid profile the model prices, no option total is negative or NaN, and the JSON has no
non-finite number anywhere (bounds taken from the profile model, so the extremes are drawn too)."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.catalog.load import embedded_catalog
from engine.cost.model import compute_costs
from engine.cost.section import (MAX_DATA_GB, MAX_HOURLY_USD, MAX_HOURS_PER_RUN, MAX_RUNS_PER_MONTH, MAX_SPEEDUP,
                                 MIN_HOURS_PER_RUN, MIN_SPEEDUP)
from engine.errors import BadInputError
from engine.profile import Profile
from tui.output import dumps_strict, non_finite_paths

CATALOG = embedded_catalog()
AWS_TYPES = sorted({a.instance_type for a in CATALOG.aws_instances})
GCP_TYPES = sorted({(m.machine_type, m.gpu_model) for m in CATALOG.gcp_machines})
money = st.one_of(st.none(), st.floats(min_value=0, max_value=MAX_HOURLY_USD, exclude_min=True))
hours = st.one_of(st.none(), st.floats(min_value=MIN_HOURS_PER_RUN, max_value=MAX_HOURS_PER_RUN))
speed = st.one_of(st.none(), st.floats(min_value=MIN_SPEEDUP, max_value=MAX_SPEEDUP))
pricing = st.sampled_from(["on-demand", "spot", "cud-1y", "cud-3y"])


@st.composite
def option(draw: st.DrawFn) -> dict:
    machine, gpu = draw(st.sampled_from(GCP_TYPES))
    return {"machine_type": machine, "gpu_model": gpu, "pricing": draw(pricing), "hourly_usd": draw(money),
            "hours_per_run": draw(hours), "speedup": draw(speed)}


@st.composite
def profiles(draw: st.DrawFn) -> Profile:
    target = draw(option())
    data = {
        "source": {"provider": draw(st.sampled_from(["aws", "other"])),
                   "region": draw(st.sampled_from(["us-east-1", "eu-west-1", "ap-southeast-2", "sa-east-1"])),
                   "instance_type": draw(st.sampled_from(AWS_TYPES)), "hourly_usd": draw(money)},
        "target": {"machine_type": target["machine_type"], "gpu_model": target["gpu_model"],
                   "region": draw(st.sampled_from(["us-central1", "europe-west4", "asia-northeast1"])),
                   "pricing": target["pricing"], "hourly_usd": target["hourly_usd"]},
        "workload": {"source_hours_per_run": draw(hours), "target_hours_per_run": target["hours_per_run"],
                     "speedup": target["speedup"],
                     "runs_per_month": draw(st.one_of(st.just(0.0), st.floats(min_value=0.001, max_value=MAX_RUNS_PER_MONTH)))},
        "cost": {"data_gb": draw(st.one_of(st.none(), st.floats(min_value=0, max_value=MAX_DATA_GB))),
                 "object_count": draw(st.one_of(st.none(), st.integers(min_value=0, max_value=10**10))),
                 "parallel_run_days": draw(st.floats(min_value=0, max_value=3650, allow_nan=False)),
                 "route": draw(st.sampled_from(["internet", "sts", "sts-private-network", "exit-waiver"])),
                 "transfer_months": draw(st.integers(min_value=1, max_value=36)),
                 "egress_free_gb": draw(st.one_of(st.none(), st.floats(min_value=0, max_value=1e6,
                                                                       allow_nan=False))),
                 "spot_interruption_overhead": draw(st.floats(min_value=0, max_value=5, allow_nan=False)),
                 "commitment_instances": draw(st.integers(min_value=1, max_value=1000)),
                 "options": draw(st.lists(option(), max_size=3))},
    }
    data = _drop_none(data)
    if draw(st.booleans()):
        data["cost"]["target_storage_class"] = draw(st.sampled_from(["STANDARD", "NEARLINE", "COLDLINE", "ARCHIVE"]))
    return Profile.model_validate(data)


def _drop_none(value):  # type: ignore[no-untyped-def]
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def _finite_non_negative(value: float | None) -> bool:
    return value is None or (math.isfinite(value) and value >= 0)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profiles())
def test_no_option_total_is_negative_or_nan(profile: Profile) -> None:
    try:
        report = compute_costs(profile, CATALOG, with_sensitivity=True, allow_price_fallback=True)
    except BadInputError:
        return  # a price the catalog does not have: refused with a message, never a bad number
    assert math.isfinite(report.one_off_usd) and report.one_off_usd >= 0
    for item in report.one_off_items:
        assert math.isfinite(item.usd) and item.usd >= 0, item
    for o in report.options:
        for value in (o.hourly_usd, o.hours_per_run, o.cost_per_run_usd, o.monthly_usd, o.one_off_usd,
                      o.tco_1y_usd, o.tco_3y_usd, o.parallel_run_usd, o.commitment_monthly_usd):
            assert _finite_non_negative(value), (o.name, value)
        assert all(math.isfinite(v) and v >= 0 for v in o.cumulative_usd)
        if o.break_even_months is not None:
            assert math.isfinite(o.break_even_months) and o.break_even_months >= 0
    doc = report.to_dict()
    assert non_finite_paths(doc) == []
    dumps_strict(doc)  # the writer the CLI uses: raises on NaN/Infinity
    assert doc["currency"] == "USD" and len(doc["options"]) == 1 + 1 + len(profile.cost.options)
