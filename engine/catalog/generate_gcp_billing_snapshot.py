"""Machine prices of the Google Cloud catalog from a recorded, dated snapshot of the Cloud Billing Catalog.

Input (``--billing-snapshot`` of :mod:`engine.catalog.generate_gcp`): the rows of the huggingface dataset
``tanod/cloud-gpu-list-prices`` that were readable (``engine/catalog/sources/gcp_gpu_list_prices_tanod_2026-10-13.txt``,
origin in its header). For Google Cloud the dataset records, per machine type, region and day, the machine's whole
hourly list price divided by its GPUs (``basis = instance_share``), on-demand and spot, read from the Billing
Catalog API.

Why it is used: it is the only dated per-region recording found for A3 Ultra (H200). SkyPilot's rows for it are
undated and contradict themselves (:mod:`engine.catalog.generate_gcp_skypilot`), so where this snapshot prices a
region its row replaces SkyPilot's, and the row says what SkyPilot gave.

What is checked, because a third party recorded it: the row is Google Cloud's, its basis is ``instance_share``, its
source names the Billing Catalog, and its GPUs and per-GPU vCPU/memory shares give the machine type's shape
(a3-ultragpu-8g: 8 x 28 vCPUs, 8 x 369 GiB). A row that fails is an error; a row cut off in the recording, or without
an on-demand price, prices nothing and is reported. The machine price is GPUs x the recorded share: the share is
rounded to 4 decimals in the recording, so the price is good to GPUs x $0.00005 an hour, which every row says.
"""

from __future__ import annotations

import re

SOURCE = "huggingface.co/datasets/tanod/cloud-gpu-list-prices (Cloud Billing Catalog API snapshot)"
COLUMNS = ["snapshot_date", "chip", "gpu_mem_gb", "provider", "region", "sku", "gpus", "od_per_gpu_h",
           "spot_per_gpu_h", "effective", "basis", "vcpus_per_gpu", "memory_gib_per_gpu", "source"]
MACHINES = {
    # machine type -> (the catalog's GPU model, GPUs, GPU GB, vCPUs, memory GiB)
    "a3-ultragpu-8g": ("H200 141GB", 8, 141, 224, 2952),
}


class SnapshotError(ValueError):
    """A recorded row that does not say what this module reads it as."""


def _header(text: str) -> list[str]:
    """The viewer's column names, in order, from its ``name type range`` header (the layout is checked, not assumed)."""
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    return re.findall(r"(\w+) (?:stringdate|stringclasses|int64|float64|stringlengths)", body.split("|---")[0])


def read_rows(text: str) -> tuple[list[dict[str, str]], list[str]]:
    """(complete rows, lines cut off in the recording)."""
    names = _header(text)
    if names != COLUMNS:
        raise SnapshotError(f"the recorded header has columns {names}, expected {COLUMNS}")
    rows, cut = [], []
    for line in text.splitlines():
        if not re.match(r"\d{4}-\d{2}-\d{2} \|", line):
            continue
        cells = [c.strip() for c in line.strip().rstrip("|").split("|")]
        if len(cells) != len(COLUMNS):
            cut.append(line)
            continue
        rows.append(dict(zip(COLUMNS, cells)))
    return rows, cut


def _share(value: str) -> float | None:
    return None if value == "null" else float(value)


def _num(value: float | None) -> str:
    return "" if value is None else repr(round(value, 9))


def machine_rows(text: str, replaced: dict[tuple[str, str], str] | None = None) -> tuple[list[dict[str, str]], list[str]]:
    """(catalog rows, reasons for rows that price nothing). ``replaced`` maps (machine type, region) to what an older
    input gave there, named in the row."""
    rows, cut = read_rows(text)
    skipped = [f"cut off in the recording, not used: {line.strip()}" for line in cut]
    out = []
    for row in rows:
        if row["provider"] != "Google Cloud" or row["sku"] not in MACHINES:
            skipped.append(f"{row['provider']} {row['sku']} {row['region']}: not a machine type read here")
            continue
        model, gpus, gpu_gb, vcpus, memory = MACHINES[row["sku"]]
        where = f"{row['sku']} {row['region']} {row['snapshot_date']}"
        if row["basis"] != "instance_share" or "Billing Catalog" not in row["source"]:
            raise SnapshotError(f"{where}: basis {row['basis']!r} from {row['source']!r}; expected instance_share "
                                "from the Billing Catalog")
        if (int(row["gpus"]), float(row["vcpus_per_gpu"]) * gpus, float(row["memory_gib_per_gpu"]) * gpus) != (
                gpus, vcpus, memory):
            raise SnapshotError(f"{where}: {row['gpus']} GPUs x {row['vcpus_per_gpu']} vCPUs / "
                                f"{row['memory_gib_per_gpu']} GiB is not {row['sku']} ({gpus} GPUs, {vcpus} vCPUs, "
                                f"{memory} GiB)")
        ondemand, spot = _share(row["od_per_gpu_h"]), _share(row["spot_per_gpu_h"])
        if ondemand is None:
            skipped.append(f"{where}: no on-demand price recorded (spot share {row['spot_per_gpu_h']}), not priced")
            continue
        notes = [f"{gpus} x the recorded per-GPU instance share ${row['od_per_gpu_h']} on-demand"
                 + (f", ${row['spot_per_gpu_h']} spot" if spot is not None else "")
                 + f" (rounded to 4 decimals there: good to ${gpus * 0.00005:.4f}/h); price effective "
                 f"{row['effective']}; a third party's recording of the Billing Catalog; no commitment price recorded"]
        if replaced and (row["sku"], row["region"]) in replaced:
            notes.append(replaced[(row["sku"], row["region"])])
        date = row["snapshot_date"]
        out.append({
            "machine_type": row["sku"], "gpu_model": model, "gpu_count": str(gpus), "gpu_memory_gb": str(gpu_gb),
            "vcpus": str(vcpus), "memory_gb": str(memory), "local_ssd_gb": "", "region": row["region"],
            "ondemand_usd_per_hr": _num(ondemand * gpus), "spot_usd_per_hr": _num(None if spot is None else spot * gpus),
            "cud_1y_usd_per_hr": "", "cud_3y_usd_per_hr": "",
            "host_ondemand_usd_per_hr": "", "gpu_ondemand_usd_per_hr": "", "host_spot_usd_per_hr": "",
            "gpu_spot_usd_per_hr": "", "notes": "; ".join(notes), "source": f"{SOURCE}, snapshot {date}",
            "source_date": date, "as_of": date, "spot_as_of": date if spot is not None else "", "cud_as_of": "",
            "verified": "partial",
        })
    return out, skipped
