"""An AWS identity that may not list instances in one region nor list the buckets: the inventory lists
what it could read and says INCOMPLETE, naming what it could not.  It said "1 AWS GPU instance(s) in
2 region(s)", recorded the step completed (so the next replay skipped it after the policy was fixed),
and `gpumigrate inventory` printed the table and exited 0 without a word about the denied region."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import boto3
import pytest

from engine.errors import ExitCode
from engine.profile import parse_profile
from engine.runner import run_steps
from engine.session import SessionStore
from tests import stand_ins
from tests.aws_denied import DeniedAws
from tui.cli import main

PROFILE = """
[source]
provider = "aws"
region = "us-east-1"

[inventory]
aws_regions = ["us-west-2", "us-east-1"]
scan_gpus = false
"""


@pytest.fixture()
def denied(aws: stand_ins.StandIn, monkeypatch: pytest.MonkeyPatch) -> Iterator[DeniedAws]:
    for region, instance_type in (("us-east-1", "p3.2xlarge"), ("us-west-2", "g5.xlarge")):
        boto3.client("ec2", region_name=region).run_instances(ImageId="ami-12c6146b", InstanceType=instance_type,
                                                              MinCount=1, MaxCount=1)
    proxy = DeniedAws(aws.url, {("ec2", "us-west-2", "DescribeInstances"), ("s3", "*", "ListAllMyBuckets")})
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    yield proxy
    proxy.stop()


def test_replay_inventory_says_incomplete_and_is_not_recorded_completed(denied: DeniedAws, tmp_path: Path) -> None:
    with SessionStore.open("inv-denied") as session:
        summary = run_steps(parse_profile(PROFILE), ["inventory"], emit=lambda e: None, session=session,
                            profile_path=tmp_path / "p.toml")
        assert session.step("inventory").state == "incomplete"  # the next replay scans again
    result = summary.results["inventory"]
    assert ("ec2", "us-west-2", "DescribeInstances") in denied.refused
    assert [i["instance_type"] for i in result.data["aws"]["instances"]] == ["p3.2xlarge"]  # what it could read
    assert not result.ok and summary.exit_code == ExitCode.FAILED
    assert "INCOMPLETE" in result.summary
    assert "us-west-2 (UnauthorizedOperation)" in result.summary and "s3 (AccessDenied)" in result.summary


def test_inventory_command_names_what_it_could_not_read(denied: DeniedAws, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.toml"
    path.write_text(PROFILE, encoding="utf-8")
    assert main(["inventory", "--profile", str(path)]) == ExitCode.FAILED
    out = capsys.readouterr().out
    assert "AWS INCOMPLETE" in out and "us-west-2" in out and "ec2:DescribeInstances" in out
    assert "s3:ListAllMyBuckets" in out
    assert main(["inventory", "--profile", str(path), "--json"]) == ExitCode.FAILED
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert "INCOMPLETE" in last["summary"] and last["exit_code"] == ExitCode.FAILED


def test_bucket_discovery_pages_through_list_buckets(aws: stand_ins.StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    """ListBuckets was sent unpaginated: an account with a raised bucket quota (over 10,000) has it rejected."""
    from engine.inventory import aws as awsinv
    from tests.aws_denied import PagedListBuckets

    s3 = boto3.client("s3", region_name="us-east-1")
    names = [f"ckpt-{i:02d}" for i in range(23)]
    for name in names:
        s3.create_bucket(Bucket=name)
    proxy = PagedListBuckets(aws.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    try:
        found = awsinv.discover_buckets(awsinv.make_session(), page_size=10)
    finally:
        proxy.stop()
    assert proxy.unpaginated == 0 and proxy.pages == 3
    assert [b.name for b in found] == names


def test_an_instance_tag_holding_a_credential_never_reaches_the_session_store(
        aws: stand_ins.StandIn, tmp_path: Path) -> None:
    tags = [{"Key": "Name", "Value": "trainer"}, {"Key": "DB_PASSWORD", "Value": "hunter2-hunter2"},
            {"Key": "deploy", "Value": "AKIAIOSFODNN7EXAMPLE"}, {"Key": "secret_arn", "Value": "arn:aws:x"}]
    boto3.client("ec2", region_name="us-east-1").run_instances(
        ImageId="ami-12c6146b", InstanceType="p3.2xlarge", MinCount=1, MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance", "Tags": tags}])
    profile = parse_profile(PROFILE.replace('["us-west-2", "us-east-1"]', '["us-east-1"]'))
    with SessionStore.open("inv-tags") as session:
        run_steps(profile, ["inventory"], emit=lambda e: None, session=session, profile_path=tmp_path / "p.toml")
        stored = json.dumps(session.step("inventory").result)
    assert "trainer" in stored and "arn:aws:x" in stored  # a name, and where a secret lives, are kept
    assert "hunter2-hunter2" not in stored and "AKIAIOSFODNN7EXAMPLE" not in stored


def _inventory_us_east_1_denied(aws: stand_ins.StandIn, denied: set, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> tuple[DeniedAws, Any]:
    """The inventory step of the profile, us-east-1 only, through a proxy refusing ``denied``."""
    proxy = DeniedAws(aws.url, denied)
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    profile = parse_profile(PROFILE.replace('["us-west-2", "us-east-1"]', '["us-east-1"]'))
    try:
        return proxy, run_steps(profile, ["inventory"], emit=lambda e: None, profile_path=tmp_path / "p.toml")
    finally:
        proxy.stop()


def test_volumes_denied_keeps_the_instances_and_leaves_ebs_unpriced(aws: stand_ins.StandIn, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """ec2:DescribeVolumes not allowed threw away the region's instances; and a region not read gave the cost
    step an empty list of EBS volumes (priced at $0) instead of 'not priced'."""
    from engine.cost.ebs import volumes_from_inventory

    boto3.client("ec2", region_name="us-east-1").run_instances(
        ImageId="ami-12c6146b", InstanceType="p3.2xlarge", MinCount=1, MaxCount=1,
        BlockDeviceMappings=[{"DeviceName": "/dev/sda1", "Ebs": {"VolumeSize": 500, "VolumeType": "gp3"}}])
    _, summary = _inventory_us_east_1_denied(aws, {("ec2", "*", "DescribeVolumes")}, tmp_path, monkeypatch)
    result = summary.results["inventory"]
    assert [i["instance_type"] for i in result.data["aws"]["instances"]] == ["p3.2xlarge"]
    assert "us-east-1 EBS volumes (UnauthorizedOperation)" in result.summary and result.state == "incomplete"
    assert volumes_from_inventory(result.data, "p3.2xlarge", "us-east-1") is None
    result.data["aws"]["errors"] = {"us-west-2": "UnauthorizedOperation: ..."}  # another region: this one priced
    assert volumes_from_inventory(result.data, "p3.2xlarge", "us-east-1") == []
    assert volumes_from_inventory(result.data, "p3.2xlarge", None) is None


def test_instance_types_denied_falls_back_to_the_catalog(aws: stand_ins.StandIn, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """ec2:DescribeInstanceTypes not allowed dropped every instance of the region."""
    boto3.client("ec2", region_name="us-east-1").run_instances(ImageId="ami-12c6146b", InstanceType="p3.2xlarge",
                                                               MinCount=1, MaxCount=1)
    proxy, summary = _inventory_us_east_1_denied(aws, {("ec2", "*", "DescribeInstanceTypes")}, tmp_path,
                                                 monkeypatch)
    assert ("ec2", "us-east-1", "DescribeInstanceTypes") in proxy.refused
    [inst] = summary.results["inventory"].data["aws"]["instances"]
    assert inst["instance_type"] == "p3.2xlarge" and inst["gpu"]["source"] == "catalog"
    assert inst["gpu"]["gpu_count"] == 1 and "V100" in inst["gpu"]["gpu_model"]


def test_a_region_not_enabled_is_not_said_to_be_bad_credentials_only(aws: stand_ins.StandIn, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """EC2 answers AuthFailure in an opt-in region the account has not enabled; the inventory said only that the
    credentials were rejected and to set AWS_PROFILE, though they work in every other region."""
    proxy = DeniedAws(aws.url, set(), not_enabled=frozenset({"ap-east-1"}))
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    path = tmp_path / "p.toml"
    path.write_text(PROFILE.replace('["us-west-2", "us-east-1"]', '["ap-east-1", "us-east-1"]'), encoding="utf-8")
    try:
        inv = run_steps(parse_profile(path.read_text()), ["inventory"], emit=lambda e: None,
                        profile_path=path).results["inventory"]
        assert "ap-east-1" in inv.data["aws"]["errors"] and "opt-in region" in inv.data["aws"]["errors"]["ap-east-1"]
        path.write_text(PROFILE.replace('["us-west-2", "us-east-1"]', '["ap-east-1"]'), encoding="utf-8")
        alone = run_steps(parse_profile(path.read_text()), ["inventory"], emit=lambda e: None,
                          profile_path=path).results["inventory"]
    finally:
        proxy.stop()
    assert alone.exit_code == ExitCode.ENVIRONMENT
    assert "ap-east-1 is an opt-in region not enabled for this account" in alone.summary


def _scan_errors(aws: stand_ins.StandIn, monkeypatch: pytest.MonkeyPatch, regions: list[str],
                 **proxy_args: Any) -> tuple[DeniedAws, dict[str, str], str | None]:
    """(proxy, AwsInventory.errors, the EnvironmentProblem raised when no region could be read)."""
    from engine.errors import EnvironmentProblem
    from engine.inventory import aws as inventory_aws

    proxy = DeniedAws(aws.url, proxy_args.pop("deny", set()), **proxy_args)
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    inv = inventory_aws.AwsInventory()
    try:
        inventory_aws.scan_instances(inventory_aws.make_session(), regions, inventory=inv)
        raised = None
    except EnvironmentProblem as exc:
        raised = str(exc)
    finally:
        proxy.stop()
    return proxy, inv.errors, raised


def test_a_disabled_region_and_rejected_credentials_are_told_apart(aws: stand_ins.StandIn,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """EC2 answers both with the same 401 AuthFailure; the inventory said 'may be an opt-in region, else set
    AWS_PROFILE' in both cases.  DescribeRegions in a region that took the credentials says which."""
    _, errors, _ = _scan_errors(aws, monkeypatch, ["ap-east-1", "us-east-1"], not_enabled=frozenset({"ap-east-1"}))
    said = errors["ap-east-1"]
    assert said.startswith("ap-east-1 is an opt-in region not enabled for this account") and "credentials" not in said

    _, errors, raised = _scan_errors(aws, monkeypatch, ["ap-east-1", "us-east-1"], bad_credentials=True)
    assert raised is not None and "AWS rejected the credentials" in raised and "opt-in" not in raised
    assert "not enabled" not in errors["ap-east-1"]

    # DescribeRegions refused: which one cannot be known, so both are said
    _, errors, _ = _scan_errors(aws, monkeypatch, ["ap-east-1", "us-east-1"], not_enabled=frozenset({"ap-east-1"}),
                                deny={("ec2", "*", "DescribeRegions")})
    said = errors["ap-east-1"]
    assert "either ap-east-1 is an opt-in region not enabled" in said and "or the credentials were rejected" in said
    assert "DescribeRegions, which tells them apart, was refused: UnauthorizedOperation" in said

    # enabled, but temporary credentials from the global STS endpoint (version 1 tokens) do not work there
    monkeypatch.setenv("AWS_SESSION_TOKEN", "FwoGZXIvYXdzEXAMPLETOKEN")
    _, errors, _ = _scan_errors(aws, monkeypatch, ["ap-east-1", "us-east-1"], v1_session_tokens=True)
    assert "opt-in region that is enabled" in errors["ap-east-1"] and "version 1" in errors["ap-east-1"]


def test_a_cancel_stops_the_aws_scan_at_once_behind_a_slow_endpoint(aws: stand_ins.StandIn,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The scan looked at its cancel only between pages: behind an endpoint that takes 30 s an answer (read
    timeout 60 s, 4 attempts) a cancel waited for the call under way, and Ctrl-C for every region's."""
    import threading
    import time

    from engine.errors import Interrupted
    from engine.inventory.scan import run_inventory

    proxy = DeniedAws(aws.url, set(), slow=30.0)
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    profile = parse_profile(PROFILE.replace('scan_gpus = false', 'scan_gpus = false\n[[inventory.buckets]]\nbucket = "bkt"'))
    cancel = threading.Event()
    timer = threading.Timer(0.5, cancel.set)
    timer.start()
    began = time.monotonic()
    try:
        with pytest.raises(Interrupted):
            run_inventory(profile, base_dir=Path.cwd(), cancel=cancel)
    finally:
        proxy.stop()
    assert time.monotonic() - began < 5
