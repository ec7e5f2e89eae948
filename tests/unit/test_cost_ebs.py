"""The source's EBS volumes (from the inventory) are priced in its monthly bill per volume type and region, with
provisioned IOPS and throughput; a region without an EBS price is an error, a loud fallback, or the profile's rate."""

from __future__ import annotations

from datetime import date

import pytest

from engine.catalog.load import embedded_catalog
from engine.cost.ebs import SourceVolume, volumes_from_inventory
from engine.cost.model import compute_costs
from engine.errors import BadInputError
from engine.profile import parse_profile
from tests.cost_support import TARGET_A2, WORKLOAD_8_7_10, aws_source

CAT = embedded_catalog()


def profile(region: str = "us-east-1", cost: str = "") -> object:
    return parse_profile("\n" + aws_source(region) + TARGET_A2 + WORKLOAD_8_7_10 + f"[cost]\nparallel_run_days = 0\n{cost}")


def vol(size: float, kind: str, region: str = "us-east-1", iops: float | None = None,
        mibps: float | None = None) -> SourceVolume:
    return SourceVolume(volume_id=f"vol-{kind}-{size}", region=region, size_gib=size, volume_type=kind, iops=iops,
                        throughput_mibps=mibps)


def test_volumes_are_in_the_source_bill_and_the_saving() -> None:
    volumes = [vol(500, "gp3", iops=3000, mibps=125), vol(500, "gp3", iops=4000, mibps=250),
               vol(100, "io1", iops=1000), vol(2000, "st1")]
    without = compute_costs(profile(), CAT, with_sensitivity=False, source_volumes=None)
    priced = compute_costs(profile(), CAT, with_sensitivity=False, source_volumes=volumes)
    ebs = 1000 * 0.08 + (1000 * 0.005 + 125 * 0.04) + 100 * 0.125 + 1000 * 0.065 + 2000 * 0.045
    assert priced.source.storage_monthly_usd - without.source.storage_monthly_usd == pytest.approx(ebs)
    assert priced.primary.savings_monthly_usd - without.primary.savings_monthly_usd == pytest.approx(ebs)
    assert "4 EBS volumes, 3,100 GiB (gp3, io1, st1) in us-east-1" in priced.source.storage_detail
    assert "EBS prices as of 2024-07-01" in priced.source.storage_detail
    assert any("EBS volumes are not priced (no inventory" in n for n in without.notes)
    # the only EBS note is the prices' age (2024-07-01): stale today, said with the refresh that reads today's
    assert [n.split(":")[0] for n in priced.notes if "EBS" in n] == ["source EBS volumes"]
    assert any(n.startswith("source EBS volumes: the price is") and "aws-region us-east-1` reads today's" in n
               for n in priced.notes)
    fresh = compute_costs(profile(), CAT, with_sensitivity=False, source_volumes=volumes, today=date(2024, 8, 1))
    assert not any("EBS" in n for n in fresh.notes)
    big = compute_costs(profile(), CAT, with_sensitivity=False, source_volumes=[vol(100, "io2", iops=40000)])
    assert any("40,000 io2 IOPS priced at one rate" in n for n in big.notes)
    empty = compute_costs(profile(), CAT, with_sensitivity=False, source_volumes=[])
    assert any("found no EBS volumes on the source's p3.2xlarge instances" in n for n in empty.notes)


def test_a_region_without_an_ebs_price_is_an_error_a_loud_fallback_or_the_profiles_rate() -> None:
    cost = "source_storage_usd_per_gb_month = 0.023"
    # Jakarta opened after the recorded EBS feed (2021-05): no EBS price there
    volumes = [vol(1000, "gp3", region="ap-southeast-3")]
    with pytest.raises(BadInputError,
                       match=r"no aws.ebs.gp3 price for ap-southeast-3 .*cost.source_ebs_usd_per_gb_month"):
        compute_costs(profile("ap-southeast-3", cost), CAT, with_sensitivity=False, source_volumes=volumes)
    loud = compute_costs(profile("ap-southeast-3", cost), CAT, with_sensitivity=False, source_volumes=volumes,
                         allow_price_fallback=True)
    assert any(n.startswith("PRICE FALLBACK: no aws.ebs.gp3 price for ap-southeast-3") for n in loud.notes)
    own = compute_costs(profile("ap-southeast-3", cost + "\nsource_ebs_usd_per_gb_month = 0.088"), CAT,
                        with_sensitivity=False, source_volumes=volumes)
    assert own.source.storage_monthly_usd == pytest.approx(1000 * 0.088)
    with pytest.raises(BadInputError, match="no aws.ebs.gp9 price for us-east-1"):
        compute_costs(profile(), CAT, with_sensitivity=False, source_volumes=[vol(10, "gp9")])


def test_only_the_source_types_volumes_in_its_region_are_taken() -> None:
    data = {"aws": {"instances": [
        {"region": "us-east-1", "instance_type": "p3.2xlarge",
         "volumes": [{"volume_id": "vol-a", "size_gib": 500, "volume_type": "gp3", "iops": 3000}]},
        {"region": "us-west-2", "instance_type": "p3.2xlarge",
         "volumes": [{"volume_id": "vol-b", "size_gib": 100, "volume_type": "gp2"}]},
        {"region": "us-east-1", "instance_type": "g5.xlarge",
         "volumes": [{"volume_id": "vol-c", "size_gib": 100, "volume_type": "gp2"}]}]}}
    assert [v.volume_id for v in volumes_from_inventory(data, "p3.2xlarge", "us-east-1") or []] == ["vol-a"]
    assert [v.volume_id for v in volumes_from_inventory(data, "p3.2xlarge", None) or []] == ["vol-a", "vol-b"]
    assert volumes_from_inventory({"aws": None}, "p3.2xlarge", "us-east-1") is None
