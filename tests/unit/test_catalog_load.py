"""The embedded catalog: every price row carries source, date and verification; lookups; cache overlay."""

from __future__ import annotations

import json
from datetime import date

import pytest

from engine.catalog.load import (EMBEDDED, REFRESHED, age_text, cache_dir, embedded_catalog, gpu_matches,
                                 load_catalog, machine_series, write_cache)


def test_every_shipped_row_keeps_source_date_and_verified() -> None:
    cat = embedded_catalog()
    assert len(cat.gcp_machines) > 30 and len(cat.aws_instances) > 40
    for row in [*cat.gcp_machines, *cat.aws_instances, *cat.discounts, *cat.network]:
        assert row.source and row.verified, row
        assert row.origin == EMBEDDED


def test_lookups_used_by_cost_and_sizing() -> None:
    cat = load_catalog()
    assert cat.aws_instance("p3.2xlarge").ondemand_usd_per_hr == pytest.approx(3.06)
    a2 = cat.gcp_machine("a2-highgpu-1g", "us-central1")
    # Cyclenerd pricing.yml generated 2026-07-30 (the "Google's list (2026-07)": spot $1.928/h)
    assert a2.ondemand_usd_per_hr == pytest.approx(3.673385) and a2.spot_usd_per_hr == pytest.approx(1.92802)
    assert a2.cud_1y_usd_per_hr == pytest.approx(1689.3711392 / 730) and a2.spot_date == "2026-07-30"
    assert cat.gcp_machine("a2-highgpu-8g").spot_usd_per_hr == pytest.approx(15.42416, abs=1e-3)
    assert cat.gcp_machine("g2-standard-4").spot_usd_per_hr == pytest.approx(0.397336)
    a3 = cat.gcp_machine("a3-highgpu-8g")
    assert a3.cud_1y_usd_per_hr / a3.ondemand_usd_per_hr == pytest.approx(0.6937, abs=1e-4)  # 30.6% off, not 37%
    assert a3.spot_usd_per_hr is not None and a3.local_ssd_gb == 6000
    assert cat.gcp_machine("n1-standard-8", gpu_model="T4").gpu_model == "T4"
    assert {m.gpu_model for m in cat.gcp_machines_for_gpu("A100")} == {"A100 40GB", "A100 80GB"}
    assert {m.gpu_model for m in cat.gcp_machines_for_gpu("A100 80GB")} == {"A100 80GB"}
    assert {m.gpu_model for m in cat.gcp_machines_for_gpu("H100 80GB")} == {"H100 80GB", "H100 80GB Mega"}
    ultra = cat.gcp_machine("a2-ultragpu-1g")
    assert ultra.ondemand_usd_per_hr == pytest.approx(5.06879789) and ultra.spot_usd_per_hr is not None
    assert ultra.cud_1y_usd_per_hr is None  # none published: not guessed
    sao = cat.gcp_machine("a2-highgpu-1g", "southamerica-east1")
    assert sao.ondemand_usd_per_hr / a2.ondemand_usd_per_hr == pytest.approx(1.41, abs=0.01)
    assert cat.cud_discount("cud-1y", "a2-highgpu-1g") is None  # committed prices are per row now, published
    assert cat.cud_discount("cud-3y", "n1-standard-8") is None  # no guessed "default" rate
    assert [t.price_usd for t in cat.net_tiers_in("aws.egress.internet", "us-east-1")] == [0, 0.09, 0.085, 0.07, 0.05]
    assert [t.price_usd for t in cat.net_tiers_in("aws.egress.internet", "ap-southeast-2")][:2] == [0, 0.114]
    assert [t.price_usd for t in cat.net_tiers_in("aws.egress.internet", "ap-south-1")][:2] == [0, 0.1093]
    assert cat.net_tiers_in("aws.egress.internet", "me-central-1") == []  # unknown: never us-east-1 silently


def test_gpu_matching_and_series() -> None:
    assert gpu_matches("A100 80GB", "a100") and not gpu_matches("A100 80GB", "A100 40GB")
    # names from NVML, GCE accelerator types and AWS go through the shared matcher (engine/gpus/names.py)
    assert gpu_matches("A100 80GB", "NVIDIA A100-SXM4-80GB") and not gpu_matches("A100 40GB", "NVIDIA A100-SXM4-80GB")
    assert gpu_matches("T4", "nvidia-tesla-t4") and gpu_matches("V100", "Tesla V100-SXM2-16GB")
    assert gpu_matches("H100 80GB", "NVIDIA H100 80GB HBM3") and gpu_matches("H100 80GB Mega", "NVIDIA H100 80GB HBM3")
    assert gpu_matches("L4", "NVIDIA L4") and not gpu_matches("L4", "NVIDIA L40S") and not gpu_matches("L4", "L40")
    assert gpu_matches("RTX PRO 6000", "NVIDIA RTX PRO 6000 Blackwell Server Edition")
    assert not gpu_matches("RTX PRO 6000", "NVIDIA RTX A6000")
    # the catalog's SKU marker still tells A3 Mega's H100 from A3 High's
    assert gpu_matches("H100 80GB Mega", "H100 80GB") and not gpu_matches("H100 80GB", "H100 80GB Mega")
    assert machine_series("a3-megagpu-8g") == "a3-mega" and machine_series("a2-ultragpu-1g") == "a2"


def test_age_is_shown_for_every_origin() -> None:
    cat = load_catalog()
    text = cat.gcp_machine("a2-highgpu-1g").price_origin.describe(today=date(2026, 11, 23))
    assert text.startswith("embedded, as of 2026-07-30") and "months old" in text
    assert age_text("2026-11-01", date(2026, 11, 23)) == "22 days old"


def test_refreshed_cache_overrides_embedded_rows_and_bad_cache_falls_back() -> None:
    write_cache(cache_dir() / "aws.json", {"refreshed_at": "2026-11-20T10:00:00+00:00", "source": "test",
                                           "instances": [{"instance_type": "p3.2xlarge", "family": "p3",
                                                          "gpu_model": "V100", "gpu_count": 1.0,
                                                          "gpu_memory_gb": 16.0, "vcpus": 8.0, "memory_gb": 61.0,
                                                          "region": "us-east-1", "ondemand_usd_per_hr": 2.9}]})
    cat = load_catalog()
    row = cat.aws_instance("p3.2xlarge")
    assert row.origin == REFRESHED and row.ondemand_usd_per_hr == 2.9 and row.date == "2026-11-20"
    assert "AWS refreshed 2026-11-20" in cat.age_note()
    (cache_dir() / "gcp.json").write_text("{not json")
    cat = load_catalog()
    assert any("unreadable price cache" in p for p in cat.problems)
    assert cat.gcp_machine("a2-highgpu-1g").origin == EMBEDDED
    json.loads((cache_dir() / "aws.json").read_text())


def test_n1_lookups_pick_the_gpu_count_and_a_refresh_keeps_the_other_counts() -> None:
    """N1 + T4 has a row per GPU count: a count picks its row, no count the usual shape (or the fewest GPUs); a
    refreshed row of one count replaces that count only, not the region's other counts."""
    cat = embedded_catalog()
    assert cat.gcp_machine("n1-standard-8", "us-central1", "T4").gpu_count == 1  # the usual shape
    assert cat.gcp_machine("n1-standard-8", "us-central1", "T4", 4).shape == "n1-flexible"
    assert cat.gcp_machine("n1-standard-4", "us-central1", "T4").gpu_count == 1
    assert cat.gcp_machine("n1-standard-96", "us-central1", "V100", 1) is None
    assert all(not r.shape for r in cat.gcp_machines_for_gpu("T4"))  # sizing candidates: the usual shapes
    write_cache(cache_dir() / "gcp.json", {"refreshed_at": "2026-11-20T10:00:00+00:00", "source": "test",
                                           "machines": [{"machine_type": "n1-standard-8", "gpu_model": "T4",
                                                         "gpu_count": 1, "region": "us-central1",
                                                         "vcpus": 8.0, "memory_gb": 30.0, "gpu_memory_gb": 16.0,
                                                         "spot_usd_per_hr": None,
                                                         "ondemand_usd_per_hr": 0.7}]})
    cat = load_catalog()
    assert cat.gcp_machine("n1-standard-8", "us-central1", "T4", 1).origin == REFRESHED
    four = cat.gcp_machine("n1-standard-8", "us-central1", "T4", 4)
    assert four is not None and four.origin == EMBEDDED


def test_a_malformed_row_in_any_refresh_cache_leaves_that_part_embedded() -> None:
    """The three overlays read their caches the same way: a row missing a field (or of the wrong type) is a named
    problem and the embedded rows stay whole, never a half-applied refresh."""
    when = {"refreshed_at": "2026-11-20T10:00:00+00:00", "source": "test"}
    write_cache(cache_dir() / "gcp.json", {**when, "machines": [{"machine_type": "a2-highgpu-1g"}]})
    write_cache(cache_dir() / "aws.json", {**when, "instances": [{"instance_type": "p3.2xlarge", "vcpus": "x"}]})
    write_cache(cache_dir() / "aws_network.json", {**when, "network": [{"key": "aws.s3.storage", "scope": "x"}]})
    cat = load_catalog()
    for section in ("machines", "instances", "network"):
        assert any(f"bad {section} row" in p and "using the embedded catalog" in p for p in cat.problems), section
    assert cat.gcp_machine("a2-highgpu-1g").origin == EMBEDDED
    assert cat.aws_instance("p3.2xlarge").origin == EMBEDDED
    assert all(r.origin == EMBEDDED for r in cat.net_tiers_in("aws.s3.storage", "us-east-1"))
    assert not cat.refreshed
