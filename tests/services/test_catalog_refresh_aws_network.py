"""Refreshing one region's egress tiers, EBS and S3 storage prices from the AWS Price List Query API, against the
strict loopback GetProducts stub: a region the embedded catalog cannot price becomes priced, with its origin."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from engine.catalog.load import REFRESHED, load_catalog
from engine.catalog.refresh_aws_network import refresh_aws_network, s3_rows
from engine.cost.ebs import SourceVolume
from engine.cost.model import compute_costs
from engine.errors import BadInputError, GpumigrateError
from engine.profile import parse_profile
from tests.catalog_support import PriceListStub, offer_csv_items, offer_json_items, product

REGION = "me-central-1"  # sells GPU instances; no egress, EBS or S3 row in the embedded catalog


def offer(service: str, family: str, sku: str, attrs: dict[str, str], dims: list[tuple[str, str, str, str]]) -> str:
    """A product in the Price List wire format; ``dims`` are (beginRange, endRange, unit, USD).  The prices are
    test inputs, not published ones."""
    term = f"{sku}.JRTCKXETXF"
    dimensions = {f"{term}.RATE{i}": {"rateCode": f"{term}.RATE{i}", "description": f"test tier {i}",
                                      "beginRange": b, "endRange": e, "unit": u, "pricePerUnit": {"USD": usd},
                                      "appliesTo": []} for i, (b, e, u, usd) in enumerate(dims)}
    return json.dumps({"product": {"productFamily": family, "sku": sku, "attributes": {"servicecode": service, **attrs}},
                       "serviceCode": service,
                       "terms": {"OnDemand": {term: {"offerTermCode": "JRTCKXETXF", "sku": sku,
                                                     "effectiveDate": "2026-11-01T00:00:00Z",
                                                     "priceDimensions": dimensions, "termAttributes": {}}}},
                       "version": "20261101000000", "publicationDate": "2026-11-01T00:00:00Z"})


def egress(region: str, sku: str, tiers: list[tuple[str, str, str]]) -> str:
    return offer("AWSDataTransfer", "Data Transfer", sku,
                 {"fromRegionCode": region, "fromLocation": "Middle East (UAE)", "toLocation": "External",
                  "toLocationType": "Other", "transferType": "AWS Outbound", "usagetype": "MEC1-DataTransfer-Out-Bytes"},
                 [(b, e, "GB", usd) for b, e, usd in tiers])


def s3_class(sku: str, usagetype: str, dims: list[tuple[str, str, str, str]]) -> str:
    """An S3 storage product of another class: the usage types are those cost tools query the Price List by
    (Infracost's s3_bucket.go: TimedStorage-SIA/ZIA/INT-FA-ByteHrs under AmazonS3), region-prefixed as Standard's."""
    return offer("AmazonS3", "Storage", sku, {"regionCode": REGION, "usagetype": f"MEC1-{usagetype}"}, dims)


TIERS = [("0", "10240", "0.110"), ("10240", "51200", "0.085"), ("51200", "153600", "0.082"), ("153600", "Inf", "0.080")]
PRODUCTS = [
    egress(REGION, "EGRESSMEC1", TIERS),
    egress("eu-west-1", "EGRESSEU", [("0", "Inf", "0.09")]),  # another region: not what was asked
    offer("AmazonEC2", "Storage", "EBSGP3MEC1", {"regionCode": REGION, "volumeApiName": "gp3",
                                                  "usagetype": "MEC1-EBS:VolumeUsage.gp3"}, [("0", "Inf", "GB-Mo", "0.0968")]),
    offer("AmazonEC2", "Storage", "EBSIO1MEC1", {"regionCode": REGION, "volumeApiName": "io1",
                                                  "usagetype": "MEC1-EBS:VolumeUsage.piops"}, [("0", "Inf", "GB-Mo", "0.15")]),
    offer("AmazonEC2", "System Operation", "IOPSIO1MEC1", {"regionCode": REGION, "volumeApiName": "io1",
                                                            "usagetype": "MEC1-EBS:VolumeP-IOPS.piops"},
          [("0", "Inf", "IOPS-Mo", "0.078")]),
    offer("AmazonEC2", "Provisioned Throughput", "THPTGP3MEC1", {"regionCode": REGION, "volumeApiName": "gp3",
                                                                 "usagetype": "MEC1-EBS:VolumeP-Throughput.gp3"},
          [("0", "Inf", "GiBps-mo", "49.152")]),
    product("p5.48xlarge", "60.0000000000", region=REGION),  # AmazonEC2 but a Compute Instance: filtered out
    offer("AmazonS3", "Storage", "S3STDMEC1", {"regionCode": REGION, "storageClass": "General Purpose",
                                                "volumeType": "Standard", "usagetype": "MEC1-TimedStorage-ByteHrs"},
          [("0", "51200", "GB-Mo", "0.025"), ("51200", "512000", "GB-Mo", "0.024"), ("512000", "Inf", "GB-Mo", "0.023")]),
    s3_class("S3SIAMEC1", "TimedStorage-SIA-ByteHrs", [("0", "Inf", "GB-Mo", "0.0141")]),
    s3_class("S3ZIAMEC1", "TimedStorage-ZIA-ByteHrs", [("0", "Inf", "GB-Mo", "0.0112")]),
    s3_class("S3INTMEC1", "TimedStorage-INT-FA-ByteHrs",
             [("0", "51200", "GB-Mo", "0.026"), ("51200", "512000", "GB-Mo", "0.025"), ("512000", "Inf", "GB-Mo", "0.024")]),
]


@pytest.fixture()
def stub(monkeypatch: pytest.MonkeyPatch):
    with PriceListStub(PRODUCTS, per_page=2) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_PRICING", server.url)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        yield server


def test_a_refreshed_region_is_priced_with_its_own_egress_ebs_and_s3(stub: PriceListStub) -> None:
    text = f'[source]\nprovider = "aws"\nregion = "{REGION}"\ninstance_type = "p5.48xlarge"\nhourly_usd = 60\n' \
           '[target]\nmachine_type = "a3-highgpu-8g"\n[cost]\ndata_gb = 20100\n'
    with pytest.raises(BadInputError, match=f"no AWS internet egress tiers for {REGION}"):
        compute_costs(parse_profile(text), load_catalog(), with_sensitivity=False)
    result = refresh_aws_network(region=REGION, page_size=2)
    assert [p.split(" (")[0] for p in result.problems] == ["S3: 0 S3 GLACIER storage products",
                                                         "S3: 0 S3 DEEP_ARCHIVE storage products"]
    assert {b["body"]["ServiceCode"] for b in stub.requests} == \
        {"AWSDataTransfer", "AmazonEC2", "AmazonS3", "AmazonS3GlacierDeepArchive"}
    cat = load_catalog()
    tiers = cat.net_tiers_in("aws.egress.internet", REGION)
    assert [(t.tier_start_gb, t.price_usd) for t in tiers] == [(0, 0), (100, 0.11), (10240, 0.085), (51200, 0.082),
                                                               (153600, 0.08)]
    assert tiers[1].origin == REFRESHED
    assert cat.net_tiers_in("aws.egress.internet", "eu-west-1")[1].origin != REFRESHED  # not asked, not touched
    report = compute_costs(parse_profile(text), cat, with_sensitivity=False,
                           source_volumes=[SourceVolume("vol-1", REGION, 1000, "gp3", iops=3000, throughput_mibps=250),
                                           SourceVolume("vol-2", REGION, 100, "io1", iops=1000)])
    egress_item = next(i for i in report.one_off_items if i.name == "egress")
    assert egress_item.usd == pytest.approx(10140 * 0.11 + 9860 * 0.085)
    ebs = 1000 * 0.0968 + 125 * 49.152 / 1024 + 100 * 0.15 + 1000 * 0.078
    assert report.source.storage_monthly_usd == pytest.approx(20100 * 0.025 + ebs)


def test_what_it_cannot_decide_is_reported_not_guessed(monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.catalog.refresh_aws_network import ebs_rows, egress_rows

    gap = [egress(REGION, "EG1", [("0", "10240", "0.11"), ("51200", "Inf", "0.08")])]  # 10-50 TB missing
    twice = [egress(REGION, "EG1", TIERS), egress(REGION, "EG2", TIERS)]
    ebs = [offer("AmazonEC2", "Storage", f"GP3{i}", {"regionCode": REGION, "volumeApiName": "gp3"},
                 [("0", "Inf", "GB-Mo", usd)]) for i, usd in enumerate(("0.0968", "0.1"))]
    assert "tiers do not run from 0 to Inf without gaps" in " ".join(egress_rows(gap, REGION)[1])
    assert "2 'AWS Outbound' products" in " ".join(egress_rows(twice, REGION)[1])
    assert "EBS gp3 storage: 2 different prices" in " ".join(ebs_rows(ebs, REGION)[1])
    with PriceListStub(gap + ebs) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_PRICING", server.url)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        with pytest.raises(GpumigrateError, match="no egress, EBS or S3 price could be used"):
            refresh_aws_network(region=REGION)  # nothing usable: the cache is not written
        assert load_catalog().net_tiers_in("aws.egress.internet", REGION) == []
        with pytest.raises(ClientError, match="MaxResults must be between 1 and 100"):
            boto3.client("pricing", region_name="us-east-1").get_products(ServiceCode="AmazonEC2", MaxResults=101)


def test_the_other_s3_classes_are_refreshed_and_the_ones_it_cannot_read_are_named(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`catalog refresh --aws` read only S3 Standard: a profile's STANDARD_IA/ONEZONE_IA/INTELLIGENT_TIERING data
    stayed at the embedded price. A class without a product of its recorded shape (here a Glacier-usage product
    without the recorded volumeType "Amazon Glacier", and no Deep Archive product) is reported and named, not
    taken: the output says so instead of implying it was refreshed."""
    from tui.cli import main

    classes = [s3_class("S3GLAMEC1", "TimedStorage-GlacierByteHrs", [("0", "Inf", "GB-Mo", "0.0041")])]
    with PriceListStub(PRODUCTS + classes, per_page=3) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_PRICING", server.url)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        result = refresh_aws_network(region=REGION, page_size=3)
        assert len(result.problems) == 2 and "volumeType 'Amazon Glacier'" in result.problems[0], result.problems
        assert result.to_dict()["s3_not_refreshed"] == ["GLACIER", "DEEP_ARCHIVE"]
        cat = load_catalog()
        for key, price in (("aws.s3.storage.STANDARD_IA", 0.0141), ("aws.s3.storage.ONEZONE_IA", 0.0112),
                           ("aws.s3.storage.INTELLIGENT_TIERING", 0.026), ("aws.s3.storage", 0.025)):
            first = cat.net_tiers_in(key, REGION)[0]
            assert (first.price_usd, first.origin) == (price, REFRESHED), key
        assert cat.net_tiers_in("aws.s3.storage.GLACIER", REGION)[0].origin != REFRESHED  # not guessed from S3's
        text = f'[source]\nprovider = "aws"\nregion = "{REGION}"\ninstance_type = "p5.48xlarge"\nhourly_usd = 60\n' \
               '[target]\nmachine_type = "a3-highgpu-8g"\n[cost]\ndata_gb = 1000\nsource_storage_class = "STANDARD_IA"\n'
        report = compute_costs(parse_profile(text), cat, with_sensitivity=False, allow_price_fallback=True)
        assert report.source.storage_monthly_usd == pytest.approx(1000 * 0.0141)
        capsys.readouterr()
        main(["catalog", "refresh", "--aws", "--aws-region", REGION])
        out = capsys.readouterr()
        assert "S3 GLACIER, DEEP_ARCHIVE not refreshed" in " ".join((out.out + out.err).split())


ARCHIVE = Path(__file__).parents[1] / "fixtures" / "catalog" / "aws_pricelist_archive_2018_2023"


def test_glacier_and_deep_archive_are_read_in_their_recorded_shapes(monkeypatch: pytest.MonkeyPatch) -> None:
    """GLACIER from AmazonS3's "Amazon Glacier" storage product (AWS's 2018 offer, EU (Ireland), $0.004) and
    DEEP_ARCHIVE from AmazonS3GlacierDeepArchive, whose recorded product has no productFamily (2023 offer,
    us-east-1, $0.00099): each served as GetProducts serves it, each read only from its own region; two products of
    one class are reported, not one of them picked."""
    from engine.cost.storage import source_storage

    glacier = offer_csv_items(ARCHIVE / "amazons3_glacier_eu-west-1_2018-04-04.csv", "eu-west-1")
    deep = offer_json_items(ARCHIVE / "amazons3glacierdeeparchive_us-east-1_2023-02-07.json")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with PriceListStub(glacier + deep, per_page=1) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_PRICING", server.url)
        europe = refresh_aws_network(region="eu-west-1", page_size=1)
        america = refresh_aws_network(region="us-east-1", page_size=1)
    assert europe.extra["s3_not_refreshed"] == ["STANDARD", "INTELLIGENT_TIERING", "STANDARD_IA", "ONEZONE_IA",
                                                "DEEP_ARCHIVE"]
    assert "GLACIER" in america.extra["s3_not_refreshed"] and "DEEP_ARCHIVE" not in america.extra["s3_not_refreshed"]
    cat = load_catalog()
    for key, region, price in (("aws.s3.storage.GLACIER", "eu-west-1", 0.004),
                               ("aws.s3.storage.DEEP_ARCHIVE", "us-east-1", 0.00099)):
        [tier] = cat.net_tiers_in(key, region)
        assert (tier.tier_start_gb, tier.tier_end_gb, tier.price_usd, tier.origin) == (0, None, price, REFRESHED)
    text = '[source]\nprovider = "aws"\nregion = "us-east-1"\nhourly_usd = 3\n[target]\nmachine_type = ' \
           '"a2-highgpu-1g"\n[cost]\ndata_gb = 1000\nsource_storage_class = "DEEP_ARCHIVE"\n'
    assert source_storage(parse_profile(text), cat, 1000.0, False, volumes=[])[0] == pytest.approx(1000 * 0.00099)
    rows, problems = s3_rows(glacier + [glacier[0].replace("SX7QQVPF4M2A4YZ2", "SECONDCOPY000000")], "eu-west-1")
    assert not any(r["key"] == "aws.s3.storage.GLACIER" for r in rows)
    assert "S3: 2 S3 GLACIER storage products (AmazonS3 TimedStorage-GlacierByteHrs / volumeType 'Amazon Glacier') " \
           "for eu-west-1 (expected 1)" in " ".join(problems), problems


def test_a_second_refresh_lists_each_moved_tier_and_the_rows_it_no_longer_prices(
        stub: PriceListStub, capsys: pytest.CaptureFixture[str]) -> None:
    """Egress, EBS and S3 refreshes were dated per row but never compared: a tier that moved from $0.085 to
    $0.095 a GB (a 20 TB move's egress up by $99) was overwritten in silence, and an EBS type the new answer
    lacked fell back to the embedded price with no word. Each tier is now compared with the one it replaces."""
    from tui.cli import main

    refresh_aws_network(region=REGION, page_size=2)
    moved = [("0", "10240", "0.110"), ("10240", "61440", "0.095"), ("61440", "153600", "0.082"),
             ("153600", "Inf", "0.080")]  # the second tier costs more and ends later; the third starts later
    stub.products = [egress(REGION, "EGRESSMEC1", moved) if '"EGRESSMEC1"' in p else p for p in PRODUCTS
                     if '"EBSIO1MEC1"' not in p]
    result = refresh_aws_network(region=REGION, page_size=2)
    changed = {c["label"]: c for c in result.extra["prices_changed"]}
    tier = changed["internet egress next 40 TB/month me-central-1 (10,240-61,440 GB)"]
    assert (tier["from"], tier["to"], tier["unit"]) == (0.085, 0.095, "/GB")
    assert (tier["tier_end_from"], tier["tier_end_to"]) == (51200, 61440)
    assert len(changed) == 1  # S3, EBS gp3 and the other tiers did not move
    assert sorted(result.extra["no_longer_priced"]) == [
        "EBS io1 storage me-central-1 (was $0.1500/GB-month)",
        "internet egress next 100 TB/month me-central-1 (51,200-153,600 GB) (was $0.0820/GB)"]
    stub.products = PRODUCTS  # back: the CLI line names the tier, old -> new, in its unit
    assert main(["catalog", "refresh", "--aws", "--aws-region", REGION]) in (0, 4)
    out = " ".join(capsys.readouterr().out.split())
    assert ("aws-network: " in out and "1 price changed since the previous refresh" in out
            and "internet egress next 40 TB/month me-central-1 (10,240-51,200 GB) $0.0950 -> $0.0850/GB (-10.5%) "
                "(tier now ends at 51,200 GB, was 61,440 GB)" in out), out
