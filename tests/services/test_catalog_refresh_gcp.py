"""The Cloud Billing Catalog refresher against a loopback stub of the REST API (several pages)."""

from __future__ import annotations

import json

import pytest

from engine.catalog.load import REFRESHED, embedded_catalog, load_catalog
from engine.catalog.refresh_gcp import API_KEY_ENV, ENDPOINT_ENV, SkuInfo, build_prices, classify, refresh_gcp, sku_info
from engine.errors import EnvironmentProblem, GpumigrateError
from tests.catalog_support import BillingCatalogStub, sku

A100_OD = 2.933908
CORE, RAM = 0.031611, 0.004237
REGIONS = ["us-central1", "us-east1"]

SKUS = [
    sku("0001-A100", "Nvidia Tesla A100 GPU running in Americas", "OnDemand", A100_OD, REGIONS),
    sku("0002-A100S", "Spot Preemptible Nvidia Tesla A100 GPU running in Americas", "Preemptible", 1.1472, REGIONS),
    sku("0003-A100C", "Commitment v1: Nvidia Tesla A100 GPU in Americas for 1 Year", "Commit1Yr", 1.848375, REGIONS),
    sku("0004-A80", "Nvidia Tesla A100 80GB GPU running in Americas", "OnDemand", 3.92, ["us-central1"]),
    # a spot price above on-demand: the SkyPilot anomaly; must be dropped, not used
    sku("0005-A80S", "Spot Preemptible Nvidia Tesla A100 80GB GPU running in Americas", "Preemptible", 4.5,
        ["us-central1"]),
    # ambiguous names: reported, never guessed
    sku("0006-AMB", "Nvidia A100 (80GB variant) GPU running in Americas", "OnDemand", 9.99, ["us-central1"]),
    sku("0007-H100", "Nvidia H100 GPU running in Americas", "OnDemand", 4.20076, ["us-central1"]),
    # two SKUs pricing the same thing differently: a conflict, neither used
    sku("0008-L4A", "Nvidia L4 GPU running in Americas", "OnDemand", 0.56004, ["us-central1"]),
    sku("0009-L4B", "Nvidia L4 GPU running in Iowa", "OnDemand", 0.61, ["us-central1"]),
    # host parts
    sku("0010-A2C", "A2 Instance Core running in Americas", "OnDemand", CORE, REGIONS, group="CPU"),
    sku("0011-A2R", "A2 Instance Ram running in Americas", "OnDemand", RAM, REGIONS, unit="GiBy.h", group="RAM"),
    sku("0012-A2CS", "Spot Preemptible A2 Instance Core running in Americas", "Preemptible", 0.01264, REGIONS,
        group="CPU"),
    sku("0013-A2RS", "Spot Preemptible A2 Instance Ram running in Americas", "Preemptible", 0.001695, REGIONS,
        unit="GiBy.h", group="RAM"),
    sku("0014-A2CC", "Commitment v1: A2 Cpu in Americas for 1 Year", "Commit1Yr", 0.019915, REGIONS, group="CPU"),
    sku("0015-A2RC", "Commitment v1: A2 Ram in Americas for 1 Year", "Commit1Yr", 0.002669, REGIONS,
        unit="GiBy.h", group="RAM"),
    # noise that must be skipped quietly
    sku("0016-PD", "Storage PD Capacity", "OnDemand", 0.04, ["us-central1"], unit="GiBy.h", family="Storage",
        group="PDStandard"),
    sku("0017-RES", "Reserved Nvidia Tesla A100 GPU running in Americas", "OnDemand", 1.0, ["us-central1"]),
    # the Local SSD that A2 Ultra bundles (375 GB in a2-ultragpu-1g): per GiB-month, Google's recorded wording
    sku("0018-SSD", "SSD backed Local Storage", "OnDemand", 0.08, ["us-central1"], unit="GiBy.mo",
        family="Storage", group="LocalSSD"),
]


@pytest.fixture()
def stub(monkeypatch: pytest.MonkeyPatch):
    with BillingCatalogStub(SKUS, per_page=3, api_key="test-key") as server:
        monkeypatch.setenv(ENDPOINT_ENV, server.url)
        monkeypatch.setenv(API_KEY_ENV, "test-key")
        yield server


def test_reads_every_page_and_prices_machines_from_parts(stub: BillingCatalogStub) -> None:
    result = refresh_gcp(page_size=3)
    pages = [r for r in stub.requests if r["path"].endswith("/skus")]
    assert result.pages == len(pages) == 6 and result.skus_seen == len(SKUS)
    assert [r["query"].get("pageToken", [""])[0] for r in pages] == ["", "3", "6", "9", "12", "15"]
    assert all(r["api_key"] == "test-key" for r in pages)
    assert all(r["query"]["currencyCode"] == ["USD"] for r in pages)

    cat = load_catalog()
    a2 = cat.gcp_machine("a2-highgpu-1g", "us-central1")
    assert a2 is not None and a2.origin == REFRESHED
    assert a2.ondemand_usd_per_hr == pytest.approx(12 * CORE + 85 * RAM + A100_OD)
    assert a2.ondemand_usd_per_hr == pytest.approx(3.67339, abs=1e-5)  # Google's list price
    assert a2.spot_usd_per_hr == pytest.approx(12 * 0.01264 + 85 * 0.001695 + 1.1472)
    assert a2.cud_1y_usd_per_hr == pytest.approx(12 * 0.019915 + 85 * 0.002669 + 1.848375)
    assert a2.price_origin.describe().startswith("refreshed, on ")
    # a region the embedded catalog did not have
    east = cat.gcp_machine("a2-highgpu-1g", "us-east1")
    assert east is not None and east.origin == REFRESHED
    # A100 80GB priced from its own SKU, its bad spot price dropped
    ultra = cat.gcp_machine("a2-ultragpu-1g", "us-central1")
    assert ultra is not None and ultra.ondemand_usd_per_hr == pytest.approx(12 * CORE + 170 * RAM + 3.92
                                                                            + 375 * 0.08 / 730)
    # the refreshed spot figure is dropped; the embedded one stays, said to be the embedded one with its own date
    kept = embedded_catalog().gcp_machine("a2-ultragpu-1g", "us-central1")
    assert ultra.spot_source == kept.source and ultra.spot_usd_per_hr == kept.spot_usd_per_hr
    assert ultra.spot_date == kept.spot_date and "the refresh read no spot price" in ultra.notes
    assert "gcp" in cat.refreshed


def test_ambiguous_and_conflicting_skus_are_reported_not_guessed(stub: BillingCatalogStub) -> None:
    result = refresh_gcp(page_size=3)
    text = "\n".join(result.problems)
    assert "0006-AMB" in text and "A100 40GB or A100 80GB" in text
    assert "0007-H100" in text and "H100 80GB or H100 80GB Mega" in text
    assert "conflict: gpu L4 ondemand in us-central1" in text
    assert "spot gpu A100 80GB in us-central1" in text and "dropped" in text
    assert "0017-RES" not in text and "0016-PD" not in text  # skipped quietly, counted
    assert sum(result.skipped.values()) == 2
    # nothing priced at the ambiguous 9.99 or the wrong H100 4.20076, and no L4 machine from the conflict
    data = json.loads(open(result.path).read())
    prices = {(p["key"], p["usage"]) for p in data["gpu_prices"]}
    assert ("L4", "ondemand") not in prices and not any(k.startswith("H100") for k, _ in prices)
    assert all(m["gpu_model"] != "L4" for m in data["machines"])


def test_cost_model_uses_the_refreshed_price_with_its_origin(stub: BillingCatalogStub) -> None:
    from engine.cost.model import compute_costs
    from engine.profile import parse_profile

    refresh_gcp(page_size=3)
    profile = parse_profile("""
[source]
provider = "aws"
instance_type = "p3.2xlarge"
[target]
machine_type = "a2-highgpu-1g"
[workload]
source_hours_per_run = 8.2
target_hours_per_run = 7.1
""")
    report = compute_costs(profile)
    assert report.primary.price_source.startswith("refreshed, on ")
    assert report.primary.hourly_usd == pytest.approx(12 * CORE + 85 * RAM + A100_OD)


def test_wrong_api_key_is_an_environment_problem(stub: BillingCatalogStub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(API_KEY_ENV, "wrong")
    with pytest.raises(EnvironmentProblem, match="refused"):
        refresh_gcp()
    assert not (load_catalog().refreshed)


def test_without_credentials_refresh_says_what_to_set_and_exits_4(monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from tui.cli import main

    monkeypatch.setenv("NO_GCE_CHECK", "True")
    code = main(["catalog", "refresh", "--gcp"])
    out = capsys.readouterr()
    assert code == 4
    assert API_KEY_ENV in out.out and "application-default" in out.out
    assert load_catalog().refreshed == {}


def test_unreachable_service_is_an_environment_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.stand_ins import free_port

    monkeypatch.setenv(ENDPOINT_ENV, f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv(API_KEY_ENV, "k")
    with pytest.raises(EnvironmentProblem):
        refresh_gcp()


def test_a_recorded_skus_page_prices_a2_at_the_list_price(monkeypatch: pytest.MonkeyPatch) -> None:
    """A real skus.list page (recorded in OpenCost's tests, origin in the fixture) served as recorded: the
    refresher rebuilds a2-highgpu-1g in us-central1 from its three SKUs and lands on the price the embedded
    catalog ships from pricing.yml (3.673385), so the mapping and the part arithmetic agree with reality."""
    from pathlib import Path

    page = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "catalog" /
                       "gcp_skus_page_opencost_2023-03-24.json").read_text(encoding="utf-8"))
    assert "opencost/opencost pkg/cloud/gcp/test/skus.json" in page["_origin"]
    embedded = load_catalog().gcp_machine("a2-highgpu-1g", "us-central1")
    with BillingCatalogStub(page["skus"], per_page=2, api_key="test-key") as server:
        monkeypatch.setenv(ENDPOINT_ENV, server.url)
        monkeypatch.setenv(API_KEY_ENV, "test-key")
        result = refresh_gcp(page_size=2)
    assert result.skus_seen == 3 and result.mapped == 3 * 3 and not result.problems  # 3 SKUs x 3 regions
    a2 = load_catalog().gcp_machine("a2-highgpu-1g", "us-central1")
    assert a2 is not None and a2.origin == REFRESHED
    assert a2.ondemand_usd_per_hr == pytest.approx(12 * 0.031611 + 85 * 0.004237 + 2.933908)
    assert embedded is not None and a2.ondemand_usd_per_hr == pytest.approx(embedded.ondemand_usd_per_hr, abs=1e-6)
    # the page has no spot SKUs: nothing invented; the embedded spot price stays, with its own source and date
    assert a2.spot_usd_per_hr == embedded.spot_usd_per_hr and a2.spot_source == embedded.source
    assert a2.spot_date == embedded.spot_date


CROMWELL_PAGE = "gcp_skus_page_cromwell-monitor_2024-11-05.json"
# skuId -> (kind, key, usage) the refresher must read from each recorded SKU (real ids and wordings, 2024-11-05)
CROMWELL_EXPECTED = {
    "EEE5-1DA5-D9CF": ("core", "a3", "spot"),            # Spot Preemptible A3 Instance Core running in Americas
    "9A1D-C6C8-D7B9": ("ram", "a3-mega", "spot"),        # Spot Preemptible A3Plus Instance Ram running in Americas
    "0227-3116-EA8A": ("skip", "", ""),                  # Spot Preemptible H3 Instance Ram: not a GPU host
    "0086-8707-C3B1": ("skip", "", ""),                  # Network Inter Region Data Transfer Out ...: not Compute
    "0001-FC8F-A9AF": ("skip", "", ""),                  # Spot Preemptible E2 Custom Instance Core: custom
    "AEAF-12C5-E41B": ("core", "a3-mega", "spot"),       # Spot Preemptible A3Plus Instance Core running in Americas
    "F619-87C3-D3BA": ("ram", "a3", "spot"),             # Spot Preemptible A3 Instance Ram running in Americas
    "5F45-2ADE-3091": ("gpu", "H100 80GB Mega", "cud-3y"),  # Commitment v1: Nvidia H100 80GB Plus GPU ... 3 Years
    "039F-D0DA-4055": ("gpu", "A100 40GB", "ondemand"),  # Nvidia Tesla A100 GPU running in Americas
    "0008-F633-76AA": ("gpu", "L4", "spot"),             # Nvidia L4 GPU attached to Spot Preemptible VMs ... Hong Kong
    "8609-4BAD-F240": ("gpu", "H100 80GB Mega", "spot"),  # Nvidia H100 80GB Plus GPU attached to Spot Preemptible VMs
}


def _cromwell_page() -> dict:
    from pathlib import Path

    return json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "catalog" / CROMWELL_PAGE).read_text())


def test_a_recorded_page_with_spot_and_commitment_gpu_skus_maps_each_sku() -> None:
    """Spot and commitment GPU SKUs as Google published them (recorded 2024-11-05, origin in the fixture): the A3
    Mega GPU under its first name "H100 80GB Plus" and its "A3Plus" host, L4 spot in Hong Kong, A3 spot host
    parts; noise is skipped.  Before this mapping, the Mega SKUs read as ambiguous and its host as unpriced."""
    page = _cromwell_page()
    assert "deepgenomics/cromwell-monitor" in page["_origin"] and "2024-11-05" in page["_origin"]
    seen = {}
    for raw in page["skus"]:
        cat = raw["category"]
        mapped = classify(SkuInfo(raw["skuId"], raw["description"], cat["resourceFamily"], cat["resourceGroup"],
                                  cat["usageType"], raw["serviceRegions"], None, ""))
        seen[raw["skuId"]] = (mapped.kind, mapped.key, mapped.usage) if mapped.kind != "skip" else ("skip", "", "")
    assert seen == CROMWELL_EXPECTED


def test_a_recorded_page_without_units_is_refused_not_guessed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same recording served as recorded through the loopback Billing Catalog: its authors trimmed every
    usageUnit, so no price can be known to be per hour (or per GiB-hour); each mapped SKU is reported by id and
    nothing is written, rather than assuming the unit."""
    from google.cloud import billing_v1

    page = _cromwell_page()
    with BillingCatalogStub(page["skus"], per_page=4, api_key="test-key") as server:
        monkeypatch.setenv(ENDPOINT_ENV, server.url)
        monkeypatch.setenv(API_KEY_ENV, "test-key")
        with pytest.raises(GpumigrateError, match="no machine could be priced"):
            refresh_gcp(page_size=4)
    assert load_catalog().refreshed == {}
    mapped = [k for k, v in CROMWELL_EXPECTED.items() if v[0] != "skip"]
    infos = [sku_info(billing_v1.Sku.from_json(json.dumps(raw), ignore_unknown_fields=True)) for raw in page["skus"]]
    prices, problems, skipped = build_prices(infos)
    assert prices == {} and sum(skipped.values()) == 3
    assert all(any(sku_id in p and "unit ''" in p for p in problems) for sku_id in mapped)
    spot_mega = next(i for i in infos if i.sku_id == "8609-4BAD-F240")
    assert spot_mega.price == pytest.approx(4.1377) and spot_mega.regions == ["us-central1", "us-west1"]


def test_a_refresh_says_what_moved_and_what_it_no_longer_prices(stub: BillingCatalogStub,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """A second refresh answers with a changed A100 price and without the A100 80GB SKU. It wrote the new cache in
    silence: the moved price was not said, and the 80GB machines fell back to the embedded prices with no word."""
    from tui.cli import main

    refresh_gcp(page_size=3)
    moved = sku("0001-A100", "Nvidia Tesla A100 GPU running in Americas", "OnDemand", 3.22, REGIONS)  # was $2.933908
    stub.skus = [moved if s["skuId"] == "0001-A100" else s for s in SKUS if s["skuId"] != "0004-A80"]
    result = refresh_gcp(page_size=3)
    changed, gone = result.extra["prices_changed"], result.extra["no_longer_priced"]
    a2 = next(c for c in changed if c["machine_type"] == "a2-highgpu-1g" and c["region"] == "us-central1")
    assert a2["to"] - a2["from"] == pytest.approx(3.22 - A100_OD, abs=1e-6)
    assert any(g.startswith("a2-ultragpu-1g A100 80GB us-central1") for g in gone)
    assert main(["catalog", "refresh", "--gcp"]) == 0  # the same answer again: nothing moved, nothing gone
    out = " ".join(capsys.readouterr().out.split())
    assert "0 prices changed since the previous refresh" in out and "no longer priced" not in out
    stub.skus = SKUS
    assert main(["catalog", "refresh", "--gcp"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "prices changed since the previous refresh" in out and "a2-highgpu-1g us-central1 $" in out


N1_REGIONS = ["us-central1", "me-west1"]  # the embedded catalog has N1 + T4 commitments for the first only
N1_SKUS = [
    sku("0101-N1C", "N1 Predefined Instance Core running in Americas", "OnDemand", 0.031611, N1_REGIONS, group="CPU"),
    sku("0102-N1R", "N1 Predefined Instance Ram running in Americas", "OnDemand", 0.004237, N1_REGIONS,
        unit="GiBy.h", group="RAM"),
    sku("0103-T4", "Nvidia Tesla T4 GPU running in Americas", "OnDemand", 0.35, N1_REGIONS),
    sku("0104-T4C", "Commitment v1: Nvidia Tesla T4 GPU running in Americas for 1 Year", "Commit1Yr", 0.22,
        N1_REGIONS),
    # N1's own commitments: generic "Cpu"/"Ram" wording (no series), the ones the machine rows do not model
    sku("0105-N1CC", "Commitment v1: Cpu in Americas for 1 Year", "Commit1Yr", 0.019915, N1_REGIONS, group="CPU"),
    sku("0106-N1RC", "Commitment v1: Ram in Americas for 1 Year", "Commit1Yr", 0.002669, N1_REGIONS,
        unit="GiBy.h", group="RAM"),
    sku("0107-N1CC3", "Commitment v1: Cpu in Americas for 3 Years", "Commit3Yr", 0.014225, N1_REGIONS, group="CPU"),
    sku("0108-N1RC3", "Commitment v1: Ram in Americas for 3 Years", "Commit3Yr", 0.001907, N1_REGIONS,
        unit="GiBy.h", group="RAM"),
]


def test_n1_commitment_skus_are_counted_said_and_a_cost_that_needs_them_says_not_available(
        stub: BillingCatalogStub, capsys: pytest.CaptureFixture[str]) -> None:
    """N1's commitment SKUs fell into the thousands of quietly skipped ones ("not a GPU or A2/A3/G2/N1 host
    SKU"), and a cud-1y N1 target where the catalog has no N1 commitment said "no cud-1y price is published"."""
    from engine.cost.model import compute_costs
    from engine.errors import BadInputError
    from engine.profile import parse_profile
    from tui.cli import main

    stub.skus = SKUS + N1_SKUS
    result = refresh_gcp(page_size=3)
    assert result.extra["n1_commitments_skipped"] == 4 and result.skipped[
        "N1 commitments ('Commitment v1: Cpu/Ram in ...'): not modelled"] == 4
    assert main(["catalog", "refresh", "--gcp"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "skipped 4 SKUs: N1 commitments are not modelled" in out, out
    cat = load_catalog()
    row = cat.gcp_machine("n1-standard-8", "me-west1", "T4", 1)
    assert row is not None and row.origin == REFRESHED and row.cud_1y_usd_per_hr is None

    def profile(region: str) -> str:
        return ('[source]\nprovider = "aws"\nregion = "us-east-1"\ninstance_type = "g4dn.2xlarge"\n[target]\n'
                f'machine_type = "n1-standard-8"\ngpu_model = "T4"\ngpu_count = 1\nregion = "{region}"\n'
                'pricing = "cud-1y"\n[workload]\nruns_per_month = 300\nsource_hours_per_run = 2\n')

    with pytest.raises(BadInputError, match="cud-1y price for n1-standard-8 in me-west1 is not available here: N1 "
                                            "commitments are not modelled.*skipped 4 N1 commitment SKUs"):
        compute_costs(parse_profile(profile("me-west1")), cat, with_sensitivity=False)
    kept = compute_costs(parse_profile(profile("us-central1")), cat, with_sensitivity=False).primary
    # the embedded 2022 commitment, dated and flagged: not the refreshed on-demand rate under a commitment's name
    assert kept.price_date == "2022-03-14" and kept.stale and kept.hourly_usd != kept.ondemand_hourly_usd
    assert "N1 commitments are not modelled" in cat.gcp_machine("n1-standard-8", "us-central1", "T4", 1).notes
