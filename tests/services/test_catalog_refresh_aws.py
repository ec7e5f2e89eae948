"""The AWS Price List refresher against a loopback stub of GetProducts (JSON 1.1, several pages)."""

from __future__ import annotations

import pytest

from engine.catalog.load import REFRESHED, load_catalog
from engine.catalog.refresh_aws import refresh_aws
from engine.errors import EnvironmentProblem
from tests.catalog_support import PriceListStub, product

PRODUCTS = [
    product("p3.2xlarge", "3.0600000000"),
    product("p4d.24xlarge", "21.9576420000", gpu="8", vcpu="96", memory="1152 GiB", gpu_memory="320 GiB"),
    product("g5.xlarge", "1.0060000000", vcpu="4", memory="16 GiB", gpu_memory="24 GiB"),
    # a new g6 size the embedded catalog does not know: GPU model from its family (all g6 are L4)
    product("g6.3xlarge", "1.1000000000", vcpu="12", memory="48 GiB", gpu_memory="24 GiB"),
    # a new family: GPU model unknown -> reported, not added
    product("p9.48xlarge", "200.0000000000", gpu="8"),
    # two products for one type at different prices -> reported, not guessed
    product("g4dn.xlarge", "0.5260000000", sku_id="SKUA"),
    product("g4dn.xlarge", "0.6000000000", sku_id="SKUB"),
    # two price dimensions -> reported
    product("g6.xlarge", "0.8048000000", dims=2),
]


@pytest.fixture()
def stub(monkeypatch: pytest.MonkeyPatch):
    with PriceListStub(PRODUCTS, per_page=3) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_PRICING", server.url)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        yield server


NEW = ["g6.3xlarge", "p9.48xlarge"]  # asked for by name: the embedded catalog does not know them


def test_reads_every_page_with_the_filters(stub: PriceListStub) -> None:
    result = refresh_aws(page_size=3, instance_types=NEW)
    assert result.pages == len(stub.requests) == 3 and result.skus_seen == len(PRODUCTS)
    assert [r["body"].get("NextToken") for r in stub.requests] == [None, "3", "6"]
    first = stub.requests[0]["body"]
    assert first["ServiceCode"] == "AmazonEC2" and first["MaxResults"] == 3
    by_field = {f["Field"]: f for f in first["Filters"]}
    assert by_field["regionCode"]["Value"] == "us-east-1"
    assert by_field["operatingSystem"]["Value"] == "Linux" and by_field["tenancy"]["Value"] == "Shared"
    assert by_field["preInstalledSw"]["Value"] == "NA" and by_field["capacitystatus"]["Value"] == "Used"
    assert by_field["instanceType"]["Type"] == "ANY_OF" and "p3.2xlarge" in by_field["instanceType"]["Value"]
    assert stub.requests[0]["authorization"].startswith("AWS4-HMAC-SHA256")


def test_maps_products_and_reports_what_it_will_not_guess(stub: PriceListStub) -> None:
    result = refresh_aws(page_size=3, instance_types=NEW)
    text = "\n".join(result.problems)
    assert "p9.48xlarge: GPU model unknown" in text
    assert "g4dn.xlarge: 2 products with different prices" in text
    assert "g6.xlarge: 2 price dimensions" in text
    cat = load_catalog()
    p3 = cat.aws_instance("p3.2xlarge")
    assert p3 is not None and p3.origin == REFRESHED and p3.ondemand_usd_per_hr == pytest.approx(3.06)
    new = cat.aws_instance("g6.3xlarge")
    assert new is not None and new.gpu_model == "L4" and new.gpu_memory_gb == pytest.approx(24)
    assert cat.aws_instance("p9.48xlarge") is None
    g4 = cat.aws_instance("g4dn.xlarge")  # the embedded row stays when the refresh could not decide
    assert g4 is not None and g4.origin == "embedded"
    p4 = cat.aws_instance("p4d.24xlarge")
    assert p4 is not None and p4.gpu_model == "A100 40GB" and p4.gpu_count == 8


def test_without_credentials_refresh_says_what_to_set_and_exits_4(capsys: pytest.CaptureFixture[str]) -> None:
    from tui.cli import main

    code = main(["catalog", "refresh", "--aws"])
    out = capsys.readouterr().out
    assert code == 4 and "AWS_PROFILE" in out and "embedded" in out
    assert load_catalog().refreshed == {}
    with pytest.raises(EnvironmentProblem):
        refresh_aws()


def test_a_region_refreshed_long_ago_keeps_its_own_date(stub: PriceListStub) -> None:
    """A refresh of us-east-1 keeps eu-west-1's rows from an earlier refresh: they must keep that refresh's date.
    The overlay stamped every cached row with the newest refresh, so a 300-day-old price read as fresh."""
    import json

    from engine.catalog.load import AWS_CACHE, cache_dir, write_cache
    from engine.cost.freshness import price_age

    old = {"instance_type": "p3.2xlarge", "family": "p3", "gpu_model": "V100", "gpu_count": 1.0,
           "gpu_memory_gb": 16.0, "vcpus": 8.0, "memory_gb": 61.0, "region": "eu-west-1",
           "ondemand_usd_per_hr": 3.305, "notes": "SKU OLD"}
    write_cache(cache_dir() / AWS_CACHE, {"refreshed_at": "2025-01-10T08:00:00+00:00", "source": "AWS Price List API",
                                          "instances": [old], "problems": []})
    refresh_aws(page_size=3)
    cat = load_catalog()
    east, west = cat.aws_instance("p3.2xlarge", "us-east-1"), cat.aws_instance("p3.2xlarge", "eu-west-1")
    assert east is not None and west is not None and west.origin == REFRESHED
    assert east.date != "2025-01-10" and west.date == "2025-01-10"
    assert price_age(west.date, "on-demand", None)[1] is True  # stale, not "refreshed today"
    assert "2025-01-10" in cat.age_note()  # the footer names the oldest refresh still in use
    again = json.loads((cache_dir() / AWS_CACHE).read_text())
    assert {r["region"]: r["refreshed_at"][:10] for r in again["instances"] if r["instance_type"] == "p3.2xlarge"}[
        "eu-west-1"] == "2025-01-10"


def test_a_refresh_of_one_region_says_what_moved_there_and_what_it_no_longer_prices(stub: PriceListStub) -> None:
    refresh_aws(page_size=3)
    stub.products = [product("p3.2xlarge", "3.2130000000")] + [p for p in PRODUCTS[1:] if "g5.xlarge" not in p]
    result = refresh_aws(page_size=3)
    assert [(c["instance_type"], c["from"], c["to"]) for c in result.extra["prices_changed"]] == [
        ("p3.2xlarge", 3.06, 3.213)]
    assert result.extra["no_longer_priced"] == ["g5.xlarge us-east-1 (was $1.0060/h)"]
    stub.products.append(product("p3.2xlarge", "3.3050000000", region="eu-west-1"))
    other = refresh_aws(page_size=3, region="eu-west-1")  # another region compares with its own rows only
    assert other.extra["no_longer_priced"] == [] and other.extra["prices_changed"] == []


def test_machine_prices_written_and_network_prices_not_is_said_as_such(stub: PriceListStub, capsys) -> None:
    """A Price List answer with machine prices and no egress/EBS/S3 product: the machine prices were written, then
    the network refresh's error escaped the loop, the command ended "gpumigrate: ... the cache is unchanged", exit 1,
    and `--json` printed no summary at all. Each part now ends on its own line and the summary says which was
    written."""
    import json

    from tui.cli import main

    code = main(["catalog", "refresh", "--aws", "--aws-region", "us-east-1", "--json"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    summary = lines[-1]
    assert summary["event"] == "summary" and code == summary["exit_code"] == 1
    assert summary["providers"]["aws"]["ok"] is True
    network = summary["providers"]["aws-network"]
    assert network["ok"] is False and network["error"].endswith(
        "the egress/EBS/S3 price cache (aws_network.json) is unchanged: the embedded prices (or an earlier "
        "refresh's) stay in use")
    assert main(["catalog", "refresh", "--aws", "--aws-region", "us-east-1"]) == 1
    captured = capsys.readouterr()
    assert "✗" in captured.out or "not refreshed" in captured.out
    assert "the cache is unchanged" not in captured.out + captured.err
