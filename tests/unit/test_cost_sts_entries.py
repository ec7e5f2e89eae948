"""The cost model prices Storage Transfer Service for [[transfer]] entries whose engine resolves to sts."""

from __future__ import annotations

import pytest

from engine.cost.model import compute_costs
from engine.profile import parse_profile

ROLE = "arn:aws:iam::123456789012:role/r"
HEAD = """
[source]
provider = "aws"
instance_type = "p3.2xlarge"
[target]
machine_type = "a2-highgpu-1g"
[workload]
source_hours_per_run = 8
runs_per_month = 20
[cost]
data_gb = 2048
object_count = 1000
"""


def sts_lines(report):
    return [i for i in report.one_off_items if i.name == "Storage Transfer Service"]


def entry(engine: str, extra: str = "") -> str:
    return f"""
[[transfer]]
src = "s3://bucket/data"
dst = "gs://bucket/data"
engine = "{engine}"
[transfer.sts]
aws_role_arn = "{ROLE}"
{extra}
"""


def test_sts_entry_over_the_managed_private_network_is_priced_per_gib_for_its_scope():
    report = compute_costs(parse_profile(HEAD + entry("sts", 'managed_private_network = true\nnetwork_scope = "EU"')),
                           with_sensitivity=False)
    (line,) = sts_lines(report)
    assert line.usd == pytest.approx(2048 * 0.04) and "managed_private_network" in line.detail
    assert "storage-transfer/pricing" in line.price_source


def test_local_entries_and_auto_under_the_thresholds_add_no_sts_line():
    assert not sts_lines(compute_costs(parse_profile(HEAD + entry("local")), with_sensitivity=False))
    small = HEAD.replace("data_gb = 2048", "data_gb = 500")
    assert not sts_lines(compute_costs(parse_profile(small + entry("auto")), with_sensitivity=False))
    # 2 TiB is over the default 1 TiB threshold: auto resolves to sts (agentless: no STS fee, still listed)
    big = HEAD
    (line,) = sts_lines(compute_costs(parse_profile(big + entry("auto")), with_sensitivity=False))
    assert line.usd == 0 and "agentless" in line.detail


def test_the_transfer_steps_per_entry_plan_wins_and_the_route_is_not_counted_twice():
    profile = parse_profile(HEAD.replace("data_gb = 2048\n", "") + entry("auto", "managed_private_network = true"))
    planned = [{"engine": "sts", "planned_bytes": 10 * 1024**3, "planned_objects": 5}]
    report = compute_costs(profile, data_bytes=10 * 1024**3, transfer_entries=planned, with_sensitivity=False)
    (line,) = sts_lines(report)
    assert line.usd == pytest.approx(10 * 0.03)
    routed = parse_profile(HEAD + 'route = "sts-private-network"\n' + entry("sts", "managed_private_network = true"))
    lines = [i for i in compute_costs(routed, with_sensitivity=False).one_off_items if "Storage Transfer" in i.name]
    assert len(lines) == 1  # the route's own line; the entry's would double it
