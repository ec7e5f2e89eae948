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
