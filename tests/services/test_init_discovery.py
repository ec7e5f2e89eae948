"""`gpumigrate init` and bucket discovery against moto's server (S3, EC2 and CloudWatch on 127.0.0.1)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import boto3

from engine.events import Event, ItemDone
from engine.inventory import aws as awsinv
from engine.inventory.discover import InitChoices, discover, profile_text, starting_profile
from engine.inventory.scan import run_inventory
from engine.profile import load_profile, parse_profile
from tests import stand_ins
from tui.cli import main


def _buckets() -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="train-data")
    for i in range(30):
        s3.put_object(Bucket="train-data", Key=f"shard-{i:03d}", Body=b"x" * (100 + i))
    s3.create_bucket(Bucket="eu-models", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    boto3.client("s3", region_name="eu-west-1").put_object(Bucket="eu-models", Key="m.pt", Body=b"12345")


def _reported(bucket: str, region: str) -> int:
    now = dt.datetime.now(dt.timezone.utc)
    resp = boto3.client("cloudwatch", region_name=region).get_metric_statistics(
        Namespace="AWS/S3", MetricName="BucketSizeBytes", StartTime=now - dt.timedelta(days=3), EndTime=now,
        Period=86400, Statistics=["Average"],
        Dimensions=[{"Name": "BucketName", "Value": bucket}, {"Name": "StorageType", "Value": "StandardStorage"}])
    return int(resp["Datapoints"][-1]["Average"])


def test_every_bucket_is_found_with_cloudwatch_sizes_and_nothing_listed(aws: stand_ins.StandIn) -> None:
    _buckets()
    events: list[Event] = []
    found = awsinv.discover_buckets(awsinv.make_session(), emit=events.append)
    by_name = {b.name: b for b in found}
    assert sorted(by_name) == ["eu-models", "train-data"]
    train, eu = by_name["train-data"], by_name["eu-models"]
    # the figures are CloudWatch's (moto computes its BucketSizeBytes its own way), not a listing's
    assert (train.region, train.objects, train.bytes) == ("us-east-1", 30, _reported("train-data", "us-east-1"))
    assert (eu.region, eu.objects, eu.bytes) == ("eu-west-1", 1, _reported("eu-models", "eu-west-1"))
    assert train.created and dt.datetime.fromisoformat(train.created).year >= 2024
    assert train.metrics_at == dt.datetime.now(dt.timezone.utc).date().isoformat()
    assert {e.item for e in events if isinstance(e, ItemDone)} == {"s3://train-data", "s3://eu-models"}


def test_inventory_without_buckets_in_the_profile_lists_every_bucket(aws: stand_ins.StandIn, tmp_path: Path) -> None:
    _buckets()
    profile = parse_profile('[source]\nprovider = "aws"\n[inventory]\naws_regions = ["us-east-1"]\nscan_gpus = false\n')
    inv = run_inventory(profile, base_dir=tmp_path)
    assert inv.aws is not None and inv.aws.buckets == []  # nothing sized by listing ...
    assert [b.name for b in inv.aws.discovered_buckets] == ["eu-models", "train-data"]  # ... but all are seen
    picked = profile.model_copy(deep=True)
    picked.inventory = type(profile.inventory).model_validate({"aws_regions": ["us-east-1"], "scan_gpus": False,
                                                                "buckets": [{"bucket": "train-data"}]})
    exact = run_inventory(picked, base_dir=tmp_path)
    assert exact.aws is not None and [(b.bucket, b.objects, b.estimated) for b in exact.aws.buckets] == [
        ("train-data", 30, False)]
    assert exact.aws.discovered_buckets == []


def test_init_with_credentials_takes_the_instance_and_the_buckets(aws: stand_ins.StandIn, tmp_path: Path,
                                                                  capsys) -> None:  # type: ignore[no-untyped-def]
    _buckets()
    boto3.client("ec2", region_name="us-east-1").run_instances(ImageId="ami-12c6146b", InstanceType="p3.2xlarge",
                                                              MinCount=1, MaxCount=1)
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.bin").write_bytes(b"a" * 10)
    out = tmp_path / "m.toml"
    code = main(["init", str(out), "--aws-region", "us-east-1", "--data-dir", str(data), "--bucket", "train-data",
                 "--dest", "gs://landing/run1", "--no-gpus", "--pricing", "spot"])
    assert code == 0
    profile = load_profile(out)
    assert (profile.source.provider, profile.source.region, profile.source.instance_type) == (
        "aws", "us-east-1", "p3.2xlarge")
    assert profile.source.gpu_model == "V100"
    assert profile.target.machine_type and profile.target.pricing == "spot"
    assert [(t.src, t.dst) for t in profile.transfer] == [
        (str(data), "gs://landing/run1/data"), ("s3://train-data", "gs://landing/run1/train-data")]
    assert [b.bucket for b in profile.inventory.buckets] == ["train-data"]
    text = out.read_text()
    assert "s3://eu-models (eu-west-1" in text and "1 GPU instance(s) in us-east-1" in text
    assert "# decide: target.project" in text and "# decide: target.pricing" not in text
    assert "AWS_SECRET" not in text and "testing" not in text.lower().split("aws")[0]


def test_an_empty_account_leaves_the_source_to_the_flags(aws: stand_ins.StandIn, tmp_path: Path) -> None:
    found = discover(regions=["us-east-1"], scan_gpus=False, base_dir=tmp_path)
    assert found.aws_problem is None and found.instances == [] and found.buckets == []
    text = profile_text(starting_profile(found, InitChoices(provider="aws", instance_type="g5.xlarge")), found)
    assert 'instance_type = "g5.xlarge"' in text
    parse_profile(text)
