"""The Billing Catalog refresher against Google's own price list (recorded 2023-10-30, origin in the fixture).

94 real Compute Engine SKUs (A100 40 GB and 80 GB, L4, A2/G2 hosts, Local SSD; on-demand, Spot, 1- and 3-year
commitments in three regions) are served through the loopback Billing Catalog stand-in, refreshed, and the
machine rows are checked against the prices the embedded catalog ships (Cyclenerd's pricing.yml, itself built
from the Billing Catalog in 2026): where Google has not changed a price since 2023 they must agree to the 9th
decimal, which they only do when every SKU lands on the right GPU, host series, region and usage.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.catalog.load import REFRESHED, embedded_catalog, load_catalog
from engine.catalog.refresh_gcp import API_KEY_ENV, ENDPOINT_ENV, SkuInfo, classify, refresh_gcp
from tests.catalog_support import BillingCatalogStub, skus_from_pricing_export

EXPORT = Path(__file__).resolve().parents[1] / "fixtures" / "catalog" / "gcp_billing_pricing_export_2023-10-30.csv"
HOURS_A_MONTH = 730  # Google's GiB-month -> GiB-hour (a month of 730 hours)


def _skus() -> list[dict]:
    return skus_from_pricing_export(EXPORT, "2023-10-30T00:00:00Z")


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory: pytest.TempPathFactory):
    """One refresh of the whole recorded excerpt (2 pages), shared by the tests below."""
    cache = tmp_path_factory.mktemp("gcp-export-cache")
    with BillingCatalogStub(_skus(), per_page=50, api_key="k") as server, pytest.MonkeyPatch.context() as mp:
        mp.setenv(ENDPOINT_ENV, server.url)
        mp.setenv(API_KEY_ENV, "k")
        result = refresh_gcp(page_size=50, cache=cache)
    return result, load_catalog(cache=cache)


def test_every_recorded_sku_maps_to_its_part_or_is_reported() -> None:
    seen: dict[tuple[str, str, str], list[str]] = {}
    for raw in _skus():
        cat = raw["category"]
        mapped = classify(SkuInfo(raw["skuId"], raw["description"], cat["resourceFamily"], cat["resourceGroup"],
                                  cat["usageType"], raw["serviceRegions"], None, ""))
        seen.setdefault((mapped.kind, mapped.key, mapped.usage), []).append(raw["skuId"])
    # the 80GB part is its own GPU: never the 40GB one, in any usage
    assert "EDA0-3A70-3138" in seen[("gpu", "A100 80GB", "ondemand")]
    assert "DD90-547C-2AAA" in seen[("gpu", "A100 80GB", "spot")]
    assert "039F-D0DA-4055" in seen[("gpu", "A100 40GB", "ondemand")]
    # commitments are published for the 40GB part only (both "for 3 Year" and "for 3 Years" wordings are real)
    assert sorted(seen[("gpu", "A100 40GB", "cud-3y")]) == ["11A1-17CA-448D", "6297-6CDB-2FBE", "AC87-9557-955D"]
    assert ("gpu", "A100 80GB", "cud-1y") not in seen
    assert sorted(seen[("gpu", "L4", "cud-3y")]) == ["60B2-2A10-9A50", "9729-5F05-D31D", "97A5-D1C6-4BCD"]
    assert sorted(seen[("core", "g2", "cud-3y")]) == ["0500-D8D1-825F", "1141-3973-5ADE", "657B-7456-DFE6"]
    assert "3178-715E-CFB6" in seen[("core", "a2", "spot")]  # "Spot Preemptible A2 Instance Core ..."
    # Local SSD, which A2 Ultra and A3 bundle: on-demand, Spot and commitments
    assert sorted(seen[("ssd", "local-ssd", "ondemand")]) == ["1B8A-BA6B-7FB6", "62AF-A39E-269B", "EFD6-4D88-8C94"]
    assert sorted(seen[("ssd", "local-ssd", "cud-1y")]) == ["1151-DACF-BEA4", "B2EB-ACD8-4C33", "D612-7A63-70E5"]
    # Google files the Spot Local SSD lines under "On Demand"; their name says Spot, and they are read as Spot
    assert sorted(seen[("ssd", "local-ssd", "spot")]) == ["8D0B-EA58-9E35", "90BB-573D-32B7", "E725-3CC5-D4BE"]
    # reserved and sole-tenancy lines are skipped; nothing is ambiguous, unknown or contradictory
    assert len(seen[("skip", "", "")]) == 4
    assert not any(kind in ("ambiguous", "unknown", "mismatch") for kind, _, _ in seen)


def test_g2_with_l4_matches_the_shipped_prices_in_each_region(refreshed) -> None:
    """L4 and G2 on-demand and commitment prices are unchanged since 2023: the refresh from the recorded SKUs
    gives the shipped rows' figures exactly, per region (Iowa, Virginia, Netherlands SKUs)."""
    _result, cat = refreshed
    shipped = embedded_catalog()
    for region in ("us-central1", "us-east4", "europe-west4"):
        got, want = cat.gcp_machine("g2-standard-4", region), shipped.gcp_machine("g2-standard-4", region)
        assert got is not None and got.origin == REFRESHED and want is not None
        assert got.ondemand_usd_per_hr == pytest.approx(want.ondemand_usd_per_hr, abs=1e-9), region
        assert got.cud_1y_usd_per_hr == pytest.approx(want.cud_1y_usd_per_hr, abs=1e-9), region
        assert got.cud_3y_usd_per_hr == pytest.approx(want.cud_3y_usd_per_hr, abs=1e-9), region
    iowa = cat.gcp_machine("g2-standard-4", "us-central1")
    assert iowa.ondemand_usd_per_hr == pytest.approx(4 * 0.024988212 + 16 * 0.002927448 + 0.560040239)
    # Spot: the 2023 Spot SKUs, not today's (Google changes Spot prices; the shipped row is newer)
    assert iowa.spot_usd_per_hr == pytest.approx(4 * 0.0095 + 16 * 0.001112 + 0.168012071)
    assert iowa.cud_3y_usd_per_hr == pytest.approx(4 * 0.011244695 + 16 * 0.001317351 + 0.252018107)


def test_a100_80gb_is_priced_from_its_own_sku_with_its_bundled_local_ssd(refreshed) -> None:
    """a2-ultragpu-1g = 12 vCPU + 170 GiB + one A100 80GB + 375 GB of bundled Local SSD.  Without the SSD the
    refresh wrote $5.0277/h, $0.0411 under Google's list price $5.0688 (the shipped row)."""
    _result, cat = refreshed
    ultra = cat.gcp_machine("a2-ultragpu-1g", "us-central1")
    assert ultra is not None and ultra.origin == REFRESHED
    assert ultra.gpu_ondemand_usd_per_hr == pytest.approx(3.92808)  # EDA0-3A70-3138, not the 40GB 2.933908
    assert ultra.ondemand_usd_per_hr == pytest.approx(12 * 0.031611 + 170 * 0.004237 + 3.92808
                                                      + 375 * 0.08 / HOURS_A_MONTH)
    shipped = embedded_catalog().gcp_machine("a2-ultragpu-1g", "us-central1")
    assert ultra.ondemand_usd_per_hr == pytest.approx(shipped.ondemand_usd_per_hr, abs=1e-8)  # 5.06879789
    assert ultra.local_ssd_gb == 375
    virginia = cat.gcp_machine("a2-ultragpu-1g", "us-east4")
    assert virginia.ondemand_usd_per_hr == pytest.approx(12 * 0.035605 + 170 * 0.004771 + 4.424197
                                                         + 375 * 0.088 / HOURS_A_MONTH)
    # no 80GB commitment SKU exists: the 40GB one is not borrowed, so the refresh prices no commitment
    assert ultra.cud_1y_usd_per_hr is None and ultra.cud_3y_usd_per_hr is None
    # Spot: every part's Spot SKU, the Spot Local SSD included (2023 prices; Google has changed Spot since)
    assert ultra.spot_usd_per_hr == pytest.approx(12 * 0.01264 + 170 * 0.001695 + 1.5712 + 375 * 0.0634 / HOURS_A_MONTH)
    assert "the refresh read no spot price" not in ultra.notes


def test_a100_40gb_commitments_per_region(refreshed) -> None:
    result, cat = refreshed
    for region, core, ram, gpu in (("us-central1", 0.019915, 0.002669, 1.84836204),
                                   ("us-east4", 0.0224312, 0.0030054, 1.932378471),
                                   ("europe-west4", 0.0219253, 0.002938, 1.84836204)):
        a2 = cat.gcp_machine("a2-highgpu-1g", region)
        assert a2 is not None and a2.origin == REFRESHED
        assert a2.cud_1y_usd_per_hr == pytest.approx(12 * core + 85 * ram + gpu), region
    a2 = cat.gcp_machine("a2-highgpu-1g", "us-central1")
    assert a2.ondemand_usd_per_hr == pytest.approx(3.673385, abs=1e-6)  # Google's list price, and the shipped one
    assert a2.cud_3y_usd_per_hr == pytest.approx(12 * 0.011063888 + 85 * 0.001483222 + 1.0268678)
    assert a2.spot_usd_per_hr == pytest.approx(12 * 0.01264 + 85 * 0.001695 + 1.1736)


def test_google_s_own_wordings_need_no_guess(refreshed) -> None:
    result, _cat = refreshed
    assert result.problems == []  # no conflict, no unit problem, no ambiguity in 94 real SKUs
    assert result.skus_seen == 94 and result.pages == 2
    assert sum(result.skipped.values()) == 4  # 3 "Reserved ... 0.00" lines and one Sole Tenancy line
    # the export has no H100 SKU, so no A3 row is refreshed (and none is invented)
    assert not any(row["machine_type"].startswith("a3") for row in result.rows)


def test_catalog_refresh_as_a_user_runs_it_names_each_sku_it_cannot_use(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`gpumigrate catalog refresh --gcp --json` against the stand-in serving the recorded price list plus the
    recorded A3 Mega SKUs of gcp_skus_page_cromwell-monitor_2024-11-05.json (whose recording lost their unit): the
    summary counts what was reported, each reported SKU is named in a warning, no A3 Mega price is made up, and the
    refreshed A2 Ultra price is what the catalog then uses."""
    import json

    from tui.cli import main

    cromwell = json.loads((EXPORT.parent / "gcp_skus_page_cromwell-monitor_2024-11-05.json").read_text())["skus"]
    mega = [raw for raw in cromwell if raw["skuId"] in ("8609-4BAD-F240", "5F45-2ADE-3091")]
    with BillingCatalogStub(_skus() + mega, per_page=50, api_key="k") as server:
        monkeypatch.setenv(ENDPOINT_ENV, server.url)
        monkeypatch.setenv(API_KEY_ENV, "k")
        code = main(["catalog", "refresh", "--gcp", "--json"])
    out = capsys.readouterr().out
    assert code == 0
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    gcp = events[-1]["providers"]["gcp"]
    assert gcp["ok"] and gcp["skus_seen"] == 96 and len(gcp["problems"]) == 2
    warnings = "\n".join(e.get("text", "") for e in events if e.get("level") == "warning")
    assert all(sku_id in warnings and "unit ''" in warnings for sku_id in ("8609-4BAD-F240", "5F45-2ADE-3091"))
    assert not any(m.machine_type.startswith("a3-mega") and m.origin == REFRESHED
                   for m in load_catalog().gcp_machines)
    ultra = load_catalog().gcp_machine("a2-ultragpu-1g", "us-east4")
    assert ultra is not None and ultra.origin == REFRESHED
    assert ultra.ondemand_usd_per_hr == pytest.approx(12 * 0.035605 + 170 * 0.004771 + 4.424197 + 375 * 0.088 / 730)
