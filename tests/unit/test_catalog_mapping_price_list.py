"""Every GPU SKU of Google's recorded Compute Engine price list (2023-10-30, 1,012 lines) through the SKU mapper.

The export files each line under a product taxonomy ("GCP > Compute > GPUs > GPUs Commit 3 Year > A100") that the
mapper never reads: it is the independent answer the mapped (model, usage) must agree with.  Only the 40 GB/80 GB
split is not in the taxonomy ("A100" for both); the 80 GB part is the one whose description says so.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from pathlib import Path

from engine.catalog.refresh_gcp import SkuInfo, build_prices, classify

PRICE_LIST = (Path(__file__).resolve().parents[1] / "fixtures" / "catalog" /
              "gcp_billing_pricing_export_2023-10-30_gpus.csv")
TAXONOMY_USAGE = {"GPUs On Demand": ("OnDemand", "ondemand"), "GPUs Preemptible": ("Preemptible", "spot"),
                  "GPUs Commit 1 Year": ("Commit1Yr", "cud-1y"), "GPUs Commit 3 Year": ("Commit3Yr", "cud-3y")}


def _lines() -> list[dict[str, str]]:
    text = [line for line in PRICE_LIST.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    return list(csv.DictReader(text))


def _location(desc: str) -> str:
    return re.search(r" in ([A-Za-z ]+?)(?: for [13] Years?)?$", desc).group(1)


def _info(line: dict[str, str], usage_type: str) -> SkuInfo:
    """The line as a SKU, its region the location name (so each location is a region of its own)."""
    return SkuInfo(line["SKU ID"], line["SKU description"], "Compute", "GPU", usage_type,
                   [_location(line["SKU description"])], float(line["List price ($)"]), "h")


def test_each_recorded_gpu_sku_maps_to_the_model_and_usage_google_files_it_under() -> None:
    lines = _lines()
    assert len(lines) == 1012
    placed = 0
    for line in lines:
        desc, taxonomy = line["SKU description"], line["Product taxonomy"].split(" > ")
        bucket, family = taxonomy[3], taxonomy[4]
        if bucket == "GPUs Reservation":  # "Reserved Nvidia Tesla A100 80GB GPU in Iowa", priced 0.00
            assert classify(_info(line, "OnDemand")).kind == "skip", desc
            continue
        usage_type, usage = TAXONOMY_USAGE[bucket]
        mapped = classify(_info(line, usage_type))
        model = {"A100": "A100 80GB" if "80GB" in desc else "A100 40GB"}.get(family, family)
        assert (mapped.kind, mapped.key, mapped.usage) == ("gpu", model, usage), (line["SKU ID"], desc, mapped.reason)
        placed += 1
    assert placed == 1012 - 76


def test_one_price_per_gpu_location_and_usage_spot_and_commitments_below_on_demand() -> None:
    """No two recorded SKUs price the same (GPU, location, usage): the exact-name mapping never folds the 80 GB part
    into the 40 GB one.  Spot and commitment prices sit below on-demand, 3-year below 1-year, in every location."""
    lines = [line for line in _lines() if "Reservation" not in line["Product taxonomy"]]
    infos = [_info(line, TAXONOMY_USAGE[line["Product taxonomy"].split(" > ")[3]][0]) for line in lines]
    prices, problems, skipped = build_prices(infos)
    zero = [i for i in infos if i.price == 0]  # K80/V100 where not sold: 0.00 on-demand and commitments
    assert len(zero) == 30 and problems == []
    assert skipped == {"price 0.00 (listed where the part is not sold): not a price": 30}
    assert len(prices) == len(lines) - 30  # one SKU, one location each: nothing merged, nothing else lost
    by: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for (_kind, model, where, usage), price in prices.items():
        by[(model, where)][usage] = price
    for (model, where), usages in by.items():
        od = usages.get("ondemand")
        if od is None:  # only where the on-demand line is a 0.00 placeholder; then no commitment is priced either
            assert any(i.regions == [where] and model in i.description for i in zero), (model, where)
            assert set(usages) == {"spot"}, (model, where)
            continue
        assert usages.get("spot", 0) < od, (model, where)
        if "cud-1y" in usages:
            assert usages["cud-3y"] < usages["cud-1y"] < od, (model, where)
    # commitments: published per location for the 40 GB A100 (37 locations), never for the 80 GB part
    assert sum("cud-1y" in u for (m, _), u in by.items() if m == "A100 40GB") == 37
    assert not any("cud-1y" in u or "cud-3y" in u for (m, _), u in by.items() if m == "A100 80GB")
    assert sum(1 for (m, _) in by if m == "A100 80GB") == 38
    # a commitment is per location: Iowa's L4 1-year price is not Virginia's
    assert by[("L4", "Iowa")]["cud-1y"] == 0.35282535 and by[("L4", "Virginia")]["cud-1y"] == 0.351670088
