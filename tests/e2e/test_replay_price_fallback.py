"""`gpumigrate replay` as a user runs it, on a source region the catalog cannot fully price (Jakarta: no EBS or
egress price recorded), its EBS volume found by the inventory step on moto's server: the cost step stops and says
how to go on; with ``cost.allow_price_fallback = true`` it prices at us-east-1's rates and says so loudly, in the
step's summary line and in the JSON, as `gpumigrate cost --allow-price-fallback` does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from engine.errors import ExitCode
from engine.profile import parse_profile
from engine.runner import run_steps
from engine.session import SessionStore
from tests import stand_ins
from tests.conftest import REPO

PROFILE = """
[source]
provider = "aws"
region = "ap-southeast-3"
instance_type = "g5.xlarge"

[target]
machine_type = "g2-standard-4"

[workload]
source_hours_per_run = 8
target_hours_per_run = 7
runs_per_month = 10

[inventory]
aws_regions = ["ap-southeast-3"]
scan_gpus = false

[cost]
data_gb = 1000
parallel_run_days = 0
"""


def replay(profile: Path) -> tuple[int, list[dict]]:
    out = subprocess.run([sys.executable, "-m", "tui.cli", "replay", str(profile), "--steps", "inventory,cost",
                          "--json"], cwd=REPO, capture_output=True, text=True, env=dict(os.environ), timeout=120)
    return out.returncode, [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def test_replay_prices_a_region_without_prices_only_when_the_profile_allows_it_and_says_so(
        aws: stand_ins.StandIn, tmp_path: Path) -> None:
    boto3.client("ec2", region_name="ap-southeast-3").run_instances(
        ImageId="ami-12c6146b", InstanceType="g5.xlarge", MinCount=1, MaxCount=1,
        BlockDeviceMappings=[{"DeviceName": "/dev/sda1", "Ebs": {"VolumeSize": 500, "VolumeType": "gp3"}}])
    # Without it, the same steps in-process (one CLI run below is enough to show the command): the cost step
    # stops and names the way on, in the profile replay reads
    with SessionStore.open("jakarta") as session:
        stopped = run_steps(parse_profile(PROFILE), ["inventory", "cost"], emit=lambda e: None, session=session,
                            profile_path=tmp_path / "jakarta.toml")
    assert stopped.exit_code == ExitCode.BAD_INPUT
    assert "cost.allow_price_fallback = true" in stopped.results["cost"].summary

    profile = tmp_path / "jakarta.toml"
    profile.write_text(PROFILE + "allow_price_fallback = true\n")
    code, events = replay(profile)
    assert code == 0, events[-1]
    summary = events[-1]["steps"]["cost"]["summary"]
    assert "PRICE FALLBACK: 2 prices taken from another region, NOT this region's" in summary
    result = next(e for e in events if e.get("event") == "step_finished" and e.get("step") == "cost")["result"]
    assert [n.split(";")[0] for n in result["price_fallbacks"]] == [
        "PRICE FALLBACK: no AWS egress tiers for ap-southeast-3 in the catalog",
        "PRICE FALLBACK: no aws.ebs.gp3 price for ap-southeast-3"]
    warned = [e["text"] for e in events if e.get("event") == "message" and e.get("level") == "warning"]
    assert any(w.startswith("PRICE FALLBACK: no aws.ebs.gp3 price for ap-southeast-3") for w in warned)
    source = result["options"][0]
    # the volume at Singapore's gp3 rate (the nearest priced region, said; it was us-east-1's $0.08), the data
    # at rest at Jakarta's own recorded S3 Standard rate
    assert source["storage_monthly_usd"] == pytest.approx(500 * 0.096 + 1000 * 0.025)
    assert any("aws.ebs.gp3 price for ap-southeast-3; priced at ap-southeast-1's" in n for n in result["price_fallbacks"])
