"""Deliberate SKU mapping: exact names map, family-only names are ambiguous, odd SKUs are reported."""

from __future__ import annotations

import pytest

from engine.catalog.refresh_aws import parse_product
from engine.catalog.refresh_gcp import SkuInfo, build_prices, classify
from tests.catalog_support import product


def info(desc: str, usage: str = "OnDemand", price: float = 1.0, unit: str = "h",
         regions: list[str] | None = None, family: str = "Compute") -> SkuInfo:
    return SkuInfo("X", desc, family, "GPU", usage, regions or ["us-central1"], price, unit)


@pytest.mark.parametrize("desc,usage,kind,key,mapped_usage", [
    ("Nvidia Tesla A100 GPU running in Americas", "OnDemand", "gpu", "A100 40GB", "ondemand"),
    ("Nvidia Tesla A100 80GB GPU running in Americas", "OnDemand", "gpu", "A100 80GB", "ondemand"),
    ("Nvidia H100 80GB GPU running in Americas", "OnDemand", "gpu", "H100 80GB", "ondemand"),
    ("Nvidia H100 80GB Mega GPU running in Americas", "OnDemand", "gpu", "H100 80GB Mega", "ondemand"),
    ("Spot Preemptible Nvidia L4 GPU running in Americas", "Preemptible", "gpu", "L4", "spot"),
    ("Commitment v1: Nvidia L4 GPU in Iowa for 1 Year", "Commit1Yr", "gpu", "L4", "cud-1y"),
    ("Commitment v1: Nvidia Tesla A100 GPU in Americas for 3 Years", "Commit3Yr", "gpu", "A100 40GB", "cud-3y"),
    ("A2 Instance Core running in Americas", "OnDemand", "core", "a2", "ondemand"),
    ("G2 Instance Ram running in Americas", "OnDemand", "ram", "g2", "ondemand"),
    ("A3 Mega Instance Core running in Americas", "OnDemand", "core", "a3-mega", "ondemand"),
    ("N1 Predefined Instance Core running in Americas", "OnDemand", "core", "n1", "ondemand"),
    ("Commitment v1: A2 Cpu in Americas for 1 Year", "Commit1Yr", "core", "a2", "cud-1y"),
])
def test_exact_names_map(desc: str, usage: str, kind: str, key: str, mapped_usage: str) -> None:
    mapped = classify(info(desc, usage))
    assert (mapped.kind, mapped.key, mapped.usage) == (kind, key, mapped_usage)


@pytest.mark.parametrize("desc,candidates", [
    ("Nvidia H100 GPU running in Americas", "H100 80GB or H100 80GB Mega"),
    ("Nvidia A100 SXM GPU running in Americas", "A100 40GB or A100 80GB"),
    ("Nvidia H100 Mega GPU running in Americas", "H100 80GB or H100 80GB Mega"),
])
def test_family_only_names_are_ambiguous(desc: str, candidates: str) -> None:
    mapped = classify(info(desc))
    assert mapped.kind == "ambiguous" and candidates in mapped.reason


def test_usage_type_must_agree_with_description_and_special_skus_are_skipped() -> None:
    assert classify(info("Spot Preemptible Nvidia L4 GPU running in Americas", "OnDemand")).kind == "mismatch"
    assert classify(info("Nvidia Tesla T4 Virtual Workstation GPU running in Americas")).kind == "skip"
    assert classify(info("Nvidia Tesla A100 GPU running in Americas", family="Storage")).kind == "skip"
    assert classify(info("Nvidia Frobnicator GPU running in Americas")).kind == "unknown"


def test_build_prices_reports_conflicts_units_and_spot_above_ondemand() -> None:
    prices, problems, _ = build_prices([
        info("Nvidia L4 GPU running in Americas", price=0.56),
        info("Nvidia L4 GPU running in Iowa", price=0.60),
        info("A2 Instance Ram running in Americas", unit="h"),  # RAM must be per GiB-hour
        info("Nvidia Tesla T4 GPU running in Americas", price=0.35),
        info("Spot Preemptible Nvidia Tesla T4 GPU running in Americas", "Preemptible", price=0.5),
    ])
    text = "\n".join(problems)
    assert "conflict: gpu L4" in text and "not the expected USD per GiBy.h" in text and "spot gpu T4" in text
    assert ("gpu", "T4", "us-central1", "ondemand") in prices
    assert ("gpu", "T4", "us-central1", "spot") not in prices
    assert not any(k[1] == "L4" for k in prices)


def test_aws_product_parsing() -> None:
    fields, why = parse_product(product("p5.48xlarge", "55.0400000000", gpu="8", memory="2048 GiB"))
    assert why is None and fields["ondemand_usd_per_hr"] == 55.04 and fields["memory_gb"] == 2048
    fields, why = parse_product(product("p5.48xlarge", "0.0000000000"))
    assert fields is None and "no positive USD price" in why


def _public_skus() -> list[list[str]]:
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "fixtures" / "catalog" / "gcp_sku_descriptions_public.tsv"
    return [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines() if line and line[0] != "#"]


@pytest.mark.parametrize("sku_id,desc,usage,kind,key,mapped_usage", _public_skus())
def test_real_sku_descriptions_map_or_are_reported(sku_id: str, desc: str, usage: str, kind: str, key: str,
                                                   mapped_usage: str) -> None:
    mapped = classify(SkuInfo(sku_id, desc, "Compute", "GPU" if "GPU" in desc else "CPU", usage, ["us-central1"],
                              0.35, "h"))
    assert mapped.kind == kind, mapped.reason
    if kind in ("gpu", "core", "ram"):
        assert (mapped.key, mapped.usage) == (key, mapped_usage)
    elif kind != "skip":
        assert mapped.reason  # reported with why, never guessed


def test_a_per_slice_b200_sku_is_reported_not_skipped_or_guessed() -> None:
    """"A4 Nvidia B200 (1 gpu slice) running in Netherlands" is quoted as the B200 SKU wording in public code
    (infercrane/infercrane internal/priceingest/gcp.go @ 2559cdf2); what a slice includes is not said with it, so a
    refresh reports it (A4 stays unpriced and visibly so) instead of skipping it quietly."""
    mapped = classify(info("A4 Nvidia B200 (1 gpu slice) running in Netherlands", regions=["europe-west4"]))
    assert mapped.kind == "ambiguous" and "1 gpu slice" in mapped.reason and "not guessed" in mapped.reason
    _prices, problems, skipped = build_prices([info("A4 Nvidia B200 (1 gpu slice) running in Netherlands")])
    assert problems and not skipped


@pytest.mark.parametrize("desc,usage,kind,mapped_usage", [
    # Google's recorded wordings (price list 2023-10-30): base region without a location, per city, spot, commitments
    ("SSD backed Local Storage", "OnDemand", "ssd", "ondemand"),
    ("SSD backed Local Storage in Virginia", "OnDemand", "ssd", "ondemand"),
    ("SSD backed Local Storage attached to Spot Preemptible VMs in Netherlands", "Preemptible", "ssd", "spot"),
    ("Commitment v1: Local SSD in Americas for 3 Year", "Commit3Yr", "ssd", "cud-3y"),
    # Google files this Spot SKU under "On Demand" (its price list, every location): its name decides
    ("SSD backed Local Storage attached to Spot Preemptible VMs", "OnDemand", "ssd", "spot"),
    ("SSD backed Local Storage in Virginia", "Preemptible", "mismatch", ""),
    ("Storage PD Capacity", "OnDemand", "skip", ""),
])
def test_local_ssd_skus_map_per_usage(desc: str, usage: str, kind: str, mapped_usage: str) -> None:
    mapped = classify(info(desc, usage, unit="GiBy.mo", family="Storage"))
    assert (mapped.kind, mapped.usage if kind == "ssd" else "") == (kind, mapped_usage), mapped.reason


def test_a_machine_with_bundled_local_ssd_is_not_written_without_the_ssd_price() -> None:
    """a2-ultragpu-1g bundles 375 GB of Local SSD: core + RAM + GPU alone is $0.04/h under the list price, so
    without a Local SSD SKU for the region and usage no row is written (the embedded one stays)."""
    from engine.catalog.refresh_gcp import machine_rows

    parts = [info("A2 Instance Core running in Americas", price=0.031611),
             info("A2 Instance Ram running in Americas", price=0.004237, unit="GiBy.h"),
             info("Nvidia Tesla A100 80GB GPU running in Americas", price=3.92808)]
    rows, _ = machine_rows(build_prices(parts)[0])
    assert not any(r["machine_type"] == "a2-ultragpu-1g" for r in rows)
    ssd = info("SSD backed Local Storage", price=0.08, unit="GiBy.mo", family="Storage")
    rows, _ = machine_rows(build_prices(parts + [ssd])[0])
    ultra = next(r for r in rows if r["machine_type"] == "a2-ultragpu-1g" and r["region"] == "us-central1")
    assert ultra["ondemand_usd_per_hr"] == pytest.approx(5.06879789, abs=1e-8) and ultra["local_ssd_gb"] == 375


def test_a_zero_price_is_not_a_price() -> None:
    """Google's price list carries 0.00 SKUs where a GPU is not sold (recorded 2023-10-30: "Nvidia Tesla V100 GPU
    running in Osaka" 0.00 beside a 0.74 Spot SKU, and 0.00 commitments).  Taken as a price, the N1 + V100 machine
    there was written at its host price alone; now such a SKU prices nothing and is counted with the reason."""
    from engine.catalog.refresh_gcp import machine_rows

    osaka = ["asia-northeast2"]  # the V100 lines are the recorded ones; the N1 host prices are illustrative
    prices, problems, skipped = build_prices([
        info("N1 Predefined Instance Core running in Osaka", price=0.0409, regions=osaka),
        info("N1 Predefined Instance Ram running in Osaka", price=0.0055, unit="GiBy.h", regions=osaka),
        info("Nvidia Tesla V100 GPU running in Osaka", price=0.0, regions=osaka),
        info("Nvidia Tesla V100 GPU attached to Spot Preemptible VMs running in Osaka", "Preemptible", price=0.74,
             regions=osaka),
        info("Commitment v1: Nvidia Tesla V100 GPU running in Osaka for 1 Year", "Commit1Yr", price=0.0,
             regions=osaka),
    ])
    assert not any(k[1] == "V100" and k[3] in ("ondemand", "cud-1y") for k in prices)
    assert sum(n for why, n in skipped.items() if "0.00" in why) == 2
    rows, _ = machine_rows(prices)
    assert not any(r["gpu_model"] == "V100" for r in rows)
