"""Zones and the H200 (A3 Ultra) prices of the Google Cloud catalog from a recorded SkyPilot ``vms.csv`` excerpt.

Input (``--skypilot-vms`` of :mod:`engine.catalog.generate_gcp`): verbatim rows of skypilot-org/skypilot-catalog
``catalogs/v8/gcp/vms.csv`` (``engine/catalog/sources/gcp_vms_skypilot_v8_006059e0.csv``): host rows (InstanceType
set, the machine type's zones and host price) and GPU rows (InstanceType empty, a GPU's zones and price).

Why two kinds of rows: SkyPilot's H100 GPU rows are the union of A3 High and A3 Edge zones, so the zones of an
accelerator-optimized series come from its own host rows; the GPUs attached to N1, and L4 (G2 only), have no host
type of their own there, so theirs come from their one-GPU rows.

The file contradicts itself for the newest GPUs, so prices are taken only where they are consistent:

* a machine is priced in a region only when its host row and its GPU row there both carry a price (the A4 host
  rows carry 0.0, so A4 stays unpriced);
* a GPU on-demand figure is refused everywhere it appears when any region giving that figure has a spot price
  above it (an on-demand list price is never below spot: such a figure is some other SKU's), and a region with a
  refused figure is not priced; each row says which regions and figures were refused and why.
"""

from __future__ import annotations

import csv
from collections import defaultdict

SOURCE = "skypilot-org/skypilot-catalog catalogs/v8/gcp/vms.csv @ 006059e0"
DATE = "2025"
"""The commit's own date was not read: the year its catalog v8 was current, so every row reads as stale."""
ZONE_VERIFIED = "yes (catalog presence; real capacity varies)"

HOST_SERIES = {
    # host machine-type prefix -> the catalog's GPU model
    "a2-highgpu": "A100 40GB", "a2-megagpu": "A100 40GB", "a2-ultragpu": "A100 80GB",
    "a3-highgpu": "H100 80GB", "a3-megagpu": "H100 80GB Mega", "a3-edgegpu": "H100 80GB",
    "a3-ultragpu": "H200 141GB", "a4-highgpu": "B200 180GB",
}
GPU_SERIES = {
    # SkyPilot accelerator name (one-GPU rows) -> (the catalog's GPU model, machine series)
    "L4": ("L4", "g2-standard"), "T4": ("T4", "n1 (attached)"), "V100": ("V100", "n1 (attached)"),
    "P100": ("P100", "n1 (attached)"), "P4": ("P4", "n1 (attached)"),
}
PRICED = {
    # machine type priced from host + GPU rows -> (SkyPilot GPU name, GPU count, GPU model, GPU GB, local SSD GB)
    "a3-ultragpu-8g": ("H200", 8, "H200 141GB", 141, ""),
}
CROSS_CHECKS: dict[str, str] = {}
"""A note per machine type naming an independent figure that disagrees. Empty today: the 2026-10-13 Billing Catalog
snapshot that disagreed with the A3 Ultra rows ($83.49 against $86.76 in us-central1) is now an input of its own
(:mod:`engine.catalog.generate_gcp_billing_snapshot`) and replaces these rows wherever it prices a region."""


def read_rows(text: str) -> list[dict[str, str]]:
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return list(csv.DictReader(lines))


def series_of(machine_type: str) -> str:
    """``a3-ultragpu-8g`` -> ``a3-ultragpu`` (the zone rows' machine_series)."""
    return "-".join(machine_type.split("-")[:2])


def zone_rows(text: str) -> list[dict[str, str]]:
    """One row per (GPU model, machine series, zone)."""
    seen: dict[tuple[str, str, str], dict[str, str]] = {}
    for row in read_rows(text):
        if row["InstanceType"]:
            series = series_of(row["InstanceType"])
            if series not in HOST_SERIES:
                continue
            model = HOST_SERIES[series]
        elif row["AcceleratorName"] in GPU_SERIES and row["AcceleratorCount"] == "1":
            model, series = GPU_SERIES[row["AcceleratorName"]]
        else:
            continue
        zone = row["AvailabilityZone"]
        seen.setdefault((model, series, zone), {
            "gpu_model": model, "machine_series": series, "region": row["Region"], "zone": zone,
            "source": f"{SOURCE} ({'host' if row['InstanceType'] else 'GPU'} rows: zones listed with prices)",
            "source_date": DATE, "verified": ZONE_VERIFIED})
    return sorted(seen.values(), key=lambda r: (r["gpu_model"], r["region"], r["zone"], r["machine_series"]))


def _price(value: str) -> float | None:
    return float(value) if value and float(value) > 0 else None


def refused_figures(gpu_rows: list[dict[str, str]]) -> dict[float, list[str]]:
    """On-demand figure -> the regions whose spot price is above it (a figure that cannot be an on-demand price)."""
    refused: dict[float, list[str]] = defaultdict(list)
    for row in gpu_rows:
        ondemand, spot = _price(row["Price"]), _price(row["SpotPrice"])
        if ondemand is not None and spot is not None and spot > ondemand:
            refused[ondemand].append(row["Region"])
    return dict(refused)


def machine_rows(text: str) -> list[dict[str, str]]:
    """Rows for the machine types of :data:`PRICED`, in the regions where host and GPU prices are consistent."""
    rows = read_rows(text)
    out: list[dict[str, str]] = []
    for machine, (gpu, count, model, memory, ssd) in PRICED.items():
        hosts = {r["Region"]: r for r in rows if r["InstanceType"] == machine}
        gpus = {r["Region"]: r for r in rows if not r["InstanceType"] and r["AcceleratorName"] == gpu
                and r["AcceleratorCount"] == str(count)}
        refused = refused_figures(list(gpus.values()))
        figures = sorted({_price(r["Price"]) for r in gpus.values()} - {None})  # type: ignore[type-var]
        kept = [f for f in figures if f not in refused]
        dropped = sorted(region for region, r in gpus.items() if _price(r["Price"]) in refused)
        no_host = sorted(region for region in gpus if _price((hosts.get(region) or {}).get("Price", "")) is None)
        parts = [f"PRICE CHECK: SkyPilot's {gpu} x{count} GPU rows give on-demand "
                 + " or ".join(f"${f!r}" for f in figures) + " by region"]
        for figure, where in sorted(refused.items()):
            carrying = sorted(region for region, r in gpus.items() if _price(r["Price"]) == figure)
            parts.append(f"${figure!r} (in {', '.join(carrying)}) is refused: the spot price is above it in "
                         f"{', '.join(sorted(where))}, so it is not an on-demand list price; those regions are "
                         "not priced")
        if no_host:
            parts.append(f"no host price in {', '.join(no_host)}: not priced there")
        if machine in CROSS_CHECKS:
            parts.append(CROSS_CHECKS[machine])
        notes = "; ".join(parts)
        for region in sorted(gpus):
            host, gpu_row = hosts.get(region), gpus[region]
            if region in dropped or host is None:
                continue
            host_od, gpu_od = _price(host["Price"]), _price(gpu_row["Price"])
            if host_od is None or gpu_od is None or gpu_od not in kept:
                continue
            host_spot, gpu_spot = _price(host["SpotPrice"]), _price(gpu_row["SpotPrice"])
            spot = host_spot + gpu_spot if host_spot is not None and gpu_spot is not None else None
            out.append({
                "machine_type": machine, "gpu_model": model, "gpu_count": str(count), "gpu_memory_gb": str(memory),
                "vcpus": f"{float(host['vCPUs']):g}", "memory_gb": f"{float(host['MemoryGiB']):g}",
                "local_ssd_gb": ssd, "region": region,
                "ondemand_usd_per_hr": _num(host_od + gpu_od), "spot_usd_per_hr": _num(spot),
                "cud_1y_usd_per_hr": "", "cud_3y_usd_per_hr": "",
                "host_ondemand_usd_per_hr": _num(host_od), "gpu_ondemand_usd_per_hr": _num(gpu_od / count),
                "host_spot_usd_per_hr": _num(host_spot), "gpu_spot_usd_per_hr": _num(
                    None if gpu_spot is None else gpu_spot / count),
                "notes": notes, "source": f"{SOURCE} (host + GPU rows)", "source_date": DATE, "as_of": DATE,
                "spot_as_of": DATE if spot is not None else "", "cud_as_of": "", "verified": "partial",
            })
    return out


def _num(value: float | None) -> str:
    return "" if value is None else repr(round(float(value), 9))
