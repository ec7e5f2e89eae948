"""AWS inventory against moto's server on 127.0.0.1: several regions, GPU types, EBS, big buckets."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest

from engine.catalog.load import load_catalog
from engine.errors import EnvironmentProblem, ExitCode
from engine.events import Event, ItemDone, Progress
from engine.inventory import aws as awsinv
from engine.inventory.scan import catalog_fallback, run_inventory
from engine.profile import parse_profile
from engine.runner import run_steps
from engine.session import SessionStore
from tests import stand_ins


def _launch(region: str, instance_type: str, count: int = 1, name: str = "", ebs_gib: int | None = None) -> list[str]:
    ec2 = boto3.client("ec2", region_name=region)
    ami = "ami-12c6146b"  # moto accepts any AMI id; listing its 1,300 images costs seconds
    kwargs: dict = {}
    if ebs_gib:
        kwargs["BlockDeviceMappings"] = [{"DeviceName": "/dev/sda1", "Ebs": {"VolumeSize": ebs_gib, "VolumeType": "gp3"}}]
    if name:
        kwargs["TagSpecifications"] = [{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}]
    run = ec2.run_instances(ImageId=ami, InstanceType=instance_type, MinCount=count, MaxCount=count, **kwargs)
    return [i["InstanceId"] for i in run["Instances"]]


@pytest.fixture()
def fleet(aws: stand_ins.StandIn) -> dict[str, list[str]]:
    ids = {
        "p3": _launch("us-east-1", "p3.2xlarge", 2, name="trainer", ebs_gib=500),
        "m5": _launch("us-east-1", "m5.large"),
        "p4d": _launch("us-west-2", "p4d.24xlarge", name="big-train", ebs_gib=2000),
        "g5": _launch("us-west-2", "g5.xlarge"),
        "g4dn": _launch("eu-west-1", "g4dn.xlarge", name="infer"),
    }
    boto3.client("ec2", region_name="eu-west-1").stop_instances(InstanceIds=ids["g4dn"])
    return ids


def test_gpu_instances_across_regions(fleet: dict[str, list[str]]) -> None:
    events: list[Event] = []
    lock = threading.Lock()

    def emit(e: Event) -> None:
        with lock:
            events.append(e)

    inv = awsinv.scan_instances(awsinv.make_session(), ["us-east-1", "us-west-2", "eu-west-1", "ap-south-1"],
                             emit=emit, fallback=catalog_fallback(load_catalog()))
    by_id = {i.instance_id: i for i in inv.instances}
    assert set(by_id) == set(fleet["p3"] + fleet["p4d"] + fleet["g5"] + fleet["g4dn"])  # m5.large is not a GPU
    p3 = by_id[fleet["p3"][0]]
    # moto's describe_instance_types lacks p3.2xlarge: the catalog fills it in
    assert p3.gpu is not None and p3.gpu.source == "catalog"
    assert (p3.gpu.gpu_model, p3.gpu.gpu_count, p3.gpu.gpu_memory_mib) == ("V100", 1, 16384)
    assert p3.region == "us-east-1" and p3.state == "running" and p3.name == "trainer"
    assert p3.availability_zone and p3.availability_zone.startswith("us-east-1") and p3.launch_time
    assert [v.size_gib for v in p3.volumes] == [500] and p3.volumes[0].volume_type == "gp3"
    p4d = by_id[fleet["p4d"][0]]
    assert p4d.gpu is not None and p4d.gpu.source == "describe_instance_types"
    assert (p4d.gpu.gpu_model, p4d.gpu.gpu_count, p4d.gpu.gpu_memory_mib) == ("A100", 8, 40960)
    assert p4d.ebs_gib == 2000
    assert by_id[fleet["g4dn"][0]].state == "stopped" and by_id[fleet["g4dn"][0]].gpu.gpu_model == "T4"
    assert set(inv.instance_types) == {"p3.2xlarge", "p4d.24xlarge", "g5.xlarge", "g4dn.xlarge"}
    assert inv.errors == {}
    done = {e.item for e in events if isinstance(e, ItemDone)}
    assert done == {"aws:us-east-1", "aws:us-west-2", "aws:eu-west-1", "aws:ap-south-1"}
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress[-1].done == 4 and progress[-1].total == 4


def test_unknown_type_without_catalog_is_kept_and_flagged(fleet: dict[str, list[str]]) -> None:
    messages: list[Event] = []
    inv = awsinv.scan_instances(awsinv.make_session(), ["us-east-1"], emit=messages.append)
    types = {i.instance_type: i.gpu for i in inv.instances}
    assert set(types) == {"p3.2xlarge"}
    assert types["p3.2xlarge"] is not None and types["p3.2xlarge"].source == "unknown"
    assert any("p3.2xlarge: GPU details unknown" in getattr(m, "text", "") for m in messages)


def test_all_enabled_regions(aws: stand_ins.StandIn) -> None:
    regions = awsinv.enabled_regions(awsinv.make_session())
    assert "us-east-1" in regions and "eu-west-1" in regions and regions == sorted(regions)


def _fill(bucket: str, prefix: str, count: int, size_of) -> None:  # type: ignore[no-untyped-def]
    from botocore.config import Config

    s3 = boto3.client("s3", region_name="us-east-1", config=Config(max_pool_connections=16))

    def put(i: int) -> None:
        s3.put_object(Bucket=bucket, Key=f"{prefix}{i:05d}.bin", Body=b"x" * size_of(i))

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, range(count)))


def test_bucket_sizes_per_prefix_with_thousands_of_objects(aws: stand_ins.StandIn) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="train-data")
    _fill("train-data", "datasets/", 2100, lambda i: i % 97)
    _fill("train-data", "checkpoints/", 40, lambda i: 1000 + i)
    s3.create_bucket(Bucket="eu-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    boto3.client("s3", region_name="eu-west-1").put_object(Bucket="eu-bucket", Key="a", Body=b"12345")
    events: list[Event] = []
    session = awsinv.make_session()
    sizes = awsinv.size_buckets(session, [("train-data", ["datasets/", "checkpoints/"]), ("eu-bucket", []),
                                       ("no-such-bucket", [])], emit=events.append)
    train, eu, missing = sizes
    assert [(p.prefix, p.objects, p.bytes, p.estimated) for p in train.prefixes] == [
        ("datasets/", 2100, sum(i % 97 for i in range(2100)), False),
        ("checkpoints/", 40, sum(1000 + i for i in range(40)), False)]
    assert train.prefixes[1].largest[0] == ("checkpoints/00039.bin", 1039)
    assert train.region == "us-east-1"
    assert eu.region == "eu-west-1" and eu.objects == 1 and eu.bytes == 5 and eu.prefixes[0].prefix == ""
    assert missing.error and "NoSuchBucket" in missing.error
    assert max(e.done for e in events if isinstance(e, Progress)) == 2141

    # a listing cap on a prefix gives a lower bound, said so ...
    [capped] = awsinv.size_buckets(session, [("train-data", ["datasets/"])], list_limit=1000)
    part = capped.prefixes[0]
    assert part.estimated and part.method == "partial listing (lower bound)" and part.objects == 1000
    assert "stopped after 1,000 objects" in (part.note or "")
    # ... and on a whole bucket, S3's daily CloudWatch storage metrics give the totals (moto serves them)
    [whole] = awsinv.size_buckets(session, [("train-data", [])], list_limit=1000)
    part = whole.prefixes[0]
    assert part.estimated and part.method == "cloudwatch"
    cw = boto3.client("cloudwatch", region_name="us-east-1")
    now = dt.datetime.now(dt.timezone.utc)
    reported = cw.get_metric_statistics(
        Namespace="AWS/S3", MetricName="BucketSizeBytes", StartTime=now - dt.timedelta(days=3), EndTime=now,
        Period=86400, Statistics=["Average"],
        Dimensions=[{"Name": "BucketName", "Value": "train-data"}, {"Name": "StorageType", "Value": "StandardStorage"}])
    assert part.objects == 2140 and part.bytes == int(reported["Datapoints"][-1]["Average"]) > 0
    assert "CloudWatch" in (part.note or "")


def test_missing_credentials_name_what_to_set() -> None:
    with pytest.raises(EnvironmentProblem) as exc:
        awsinv.make_session()
    assert "AWS_PROFILE" in str(exc.value) and "AWS_ACCESS_KEY_ID" in str(exc.value)


def test_unreachable_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in stand_ins.aws_env(f"http://127.0.0.1:{stand_ins.free_port()}").items():
        monkeypatch.setenv(key, value)
    with pytest.raises(EnvironmentProblem) as exc:
        awsinv.scan_instances(awsinv.make_session(), ["us-east-1", "us-west-2"])
    assert "AWS_ENDPOINT_URL" in str(exc.value)


PROFILE = """
[source]
provider = "aws"
region = "us-west-2"
instance_type = "p4d.24xlarge"

[workload]
kind = "training"
params_billions = 7.0
precision = "bf16"
batch_size = 1
seq_len = 2048

[inventory]
aws_regions = ["us-west-2", "us-east-1"]
scan_gpus = false
buckets = [{ bucket = "ckpt", prefixes = ["run1/"] }]
"""


def test_step_records_inventory_and_recommends_from_the_aws_instance(fleet: dict[str, list[str]],
                                                                      tmp_path: Path) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="ckpt")
    _fill("ckpt", "run1/", 25, lambda i: 10)
    profile = parse_profile(PROFILE)
    events: list[Event] = []
    with SessionStore.open("inv-step") as session:
        summary = run_steps(profile, ["inventory"], emit=events.append, session=session,
                            profile_path=tmp_path / "p.toml")
        assert summary.exit_code == ExitCode.OK
        data = summary.results["inventory"].data
        assert session.step("inventory").state == "completed"
    assert len(data["aws"]["instances"]) == 4  # p3 x2, p4d, g5 (eu-west-1 not asked; m5 not a GPU)
    assert data["aws"]["buckets"][0]["prefixes"][0]["objects"] == 25
    sizing = data["sizing"]
    assert sizing["source"]["origin"] == "aws" and sizing["source"]["gpu_model"] == "A100 40GB"
    assert sizing["source"]["gpu_count"] == 8 and sizing["source"]["all_nvlink"]
    recs = sizing["recommendations"]
    assert all(r["gpu_count"] == 8 and "NVLink between the GPUs" in r["reason"] for r in recs)
    lfl = [r for r in recs if r["like_for_like"]]  # the p4d's like-for-like is always shown when it fits
    assert [r["machine_type"] for r in lfl] == ["a2-highgpu-8g"] and "ZeRO" in lfl[0]["layout"]


def test_step_without_credentials_fails_with_environment_code(tmp_path: Path) -> None:
    profile = parse_profile(PROFILE)
    summary = run_steps(profile, ["inventory"], emit=lambda e: None, profile_path=tmp_path / "p.toml")
    assert summary.exit_code == ExitCode.ENVIRONMENT
    result = summary.results["inventory"]
    assert not result.ok and "no AWS credentials found" in result.summary
    assert result.data["sizing"]["recommendations"]  # the rest was still done


def test_run_inventory_region_override(fleet: dict[str, list[str]], tmp_path: Path) -> None:
    profile = parse_profile(PROFILE.replace('buckets = [{ bucket = "ckpt", prefixes = ["run1/"] }]', ""))
    inv = run_inventory(profile, base_dir=tmp_path, regions=["eu-west-1"])
    assert inv.aws is not None and inv.aws.regions == ["eu-west-1"]
    assert [i.instance_type for i in inv.aws.instances] == ["g4dn.xlarge"]
