"""Replay's cost step prices the EBS volumes the inventory step found (describe_volumes on moto's server) in the
source's monthly bill: only those on instances of the source's type, in its region."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from engine.errors import ExitCode
from engine.profile import parse_profile
from engine.runner import run_steps
from engine.session import SessionStore
from tests import stand_ins
from tests.cost_support import TARGET_A2, WORKLOAD_8_7_10, aws_source

PROFILE = "\n" + aws_source(hourly=False) + "\n" + TARGET_A2 + "\n" + WORKLOAD_8_7_10 + """
[inventory]
aws_regions = ["us-east-1"]
scan_gpus = false
"""


def _launch(instance_type: str, volume: dict) -> str:
    run = boto3.client("ec2", region_name="us-east-1").run_instances(
        ImageId="ami-12c6146b", InstanceType=instance_type, MinCount=1, MaxCount=1,
        BlockDeviceMappings=[{"DeviceName": "/dev/sda1", "Ebs": volume}])
    return run["Instances"][0]["InstanceId"]


def _attach_io1(instance_id: str, size: int, iops: int) -> None:
    """A data volume with provisioned IOPS, created and attached as one would (moto drops Iops in run_instances)."""
    ec2 = boto3.client("ec2", region_name="us-east-1")
    zone = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["Placement"]
    vol = ec2.create_volume(AvailabilityZone=zone["AvailabilityZone"], Size=size, VolumeType="io1", Iops=iops)
    ec2.attach_volume(VolumeId=vol["VolumeId"], InstanceId=instance_id, Device="/dev/sdf")


def test_inventoried_ebs_volumes_are_in_the_source_bill(aws: stand_ins.StandIn, tmp_path: Path) -> None:
    _launch("p3.2xlarge", {"VolumeSize": 500, "VolumeType": "gp3"})
    _attach_io1(_launch("p3.2xlarge", {"VolumeSize": 8, "VolumeType": "gp3"}), 100, 1000)
    _launch("g5.xlarge", {"VolumeSize": 900, "VolumeType": "gp2"})  # not the source's type: not its bill
    with SessionStore.open("cost-ebs") as session:
        summary = run_steps(parse_profile(PROFILE), ["inventory", "cost"], emit=lambda e: None, session=session,
                            profile_path=tmp_path / "p.toml")
    assert summary.exit_code == ExitCode.OK, summary.results
    source = summary.results["cost"].data["options"][0]
    assert source["side"] == "source"
    assert source["storage_monthly_usd"] == pytest.approx(508 * 0.08 + 100 * 0.125 + 1000 * 0.065)
    assert "3 EBS volumes, 608 GiB (gp3, io1) in us-east-1" in source["storage_detail"]
    alone = run_steps(parse_profile(PROFILE), ["cost"], emit=lambda e: None, profile_path=tmp_path / "p.toml")
    assert any("EBS volumes are not priced (no inventory" in n
               for n in alone.results["cost"].data["notes"])  # no inventory in this run: said, not silent
