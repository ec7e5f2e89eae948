"""Generate the shipped AWS GPU instance catalog (on-demand Linux, every region where each type is sold).

    python -m engine.catalog.generate_aws --prices ALL_GPU_INSTANCES_JS [--base CSV] [--out CSV]

Inputs (named in every row they produce, with their date):

* ``--prices``: tsaol/aws-gpu ``data/all_gpu_instances.js``, a community export of instances.vantage.sh
  (itself built from the AWS Price List offer files): per instance type and region, the on-demand
  Linux price.  Its ``Last updated`` line becomes each row's price date; ``--prices-ref`` records the commit.
* ``--base``: the instance types the catalog knows, with their GPU model, count and memory (the shipped
  ``aws_gpu_instances.csv``).  Hardware facts come from here, never from the price export (which
  names g6f's GPU "L40", for one); a type the export does not price keeps its base rows.  The part of a base
  note that starts "price: " is about the base's own price and is left off the rows the export prices.

A priced type that is not in the base is reported with the reason it is not shipped: not an NVIDIA GPU
(Inferentia, Trainium, Radeon, Mali, Qualcomm AI 100: nothing CUDA to move to a Google Cloud GPU), no
on-demand price in any region, or NVIDIA but without recorded hardware facts (add a base row, with the
source of its GPU count and memory, to ship it).

Spot prices are out of scope (they change by the minute; AWS publishes their history, not a list).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
from pathlib import Path
from typing import Any

PRICES_SOURCE = "tsaol/aws-gpu data/all_gpu_instances.js (export of instances.vantage.sh, from the AWS Price List)"
COLUMNS = ["instance_type", "family", "gpu_model", "gpu_count", "gpu_memory_gb", "vcpus", "memory_gb", "region",
           "ondemand_usd_per_hr", "price_before_2025_06_cut", "notes", "source", "source_date", "as_of", "verified"]


def load_prices(text: str) -> tuple[dict[str, dict[str, Any]], str]:
    """(instance type -> its record, the export's date) from the JavaScript export."""
    match = re.search(r"Last updated:\s*(\d{4}-\d{2}-\d{2})", text)
    if not match:
        raise ValueError("not an all_gpu_instances.js export: no 'Last updated' line")
    body = text[text.index("["): text.rindex("]") + 1]
    records = json.loads(body)
    return {r["name"]: r for r in records}, match.group(1)


def _regional(record: dict[str, Any] | None) -> dict[str, Any]:
    """Region -> on-demand price, regions only (Wavelength and Local Zones left out)."""
    return {region: p.get("onDemand") for region, p in ((record or {}).get("pricing") or {}).items()
            if isinstance(p, dict) and p.get("onDemand") and re.match(r"^[a-z]{2}-[a-z]+-\d$", region)}


def skip_reason(record: dict[str, Any]) -> str:
    """Why a type the base does not know is not shipped."""
    gpu = str(record.get("gpu") or "")
    if not gpu.startswith("NVIDIA"):
        return f"not an NVIDIA GPU ({gpu or 'unnamed'})"
    if not _regional(record):
        return "no on-demand price in any region"
    return "no recorded hardware facts in the base"


PRICE_NOTE = "price: "
"""Where a base row's note turns to the base's own us-east-1 price ("price: from memory, not trusted"): that part
is about a price the export replaces, so it is dropped from every row priced from the export (it was carried
onto 39 of them, verified "yes" and noted "price from memory" at once)."""


def hardware_notes(notes: str) -> str:
    """A base row's note without its part about the base's own price (see PRICE_NOTE)."""
    if notes.startswith(PRICE_NOTE):
        return ""
    return notes.split("; " + PRICE_NOTE, 1)[0]


def generate_rows(prices_text: str, base_text: str, ref: str = "") -> tuple[list[dict[str, str]], list[str]]:
    """All rows, and the priced types the base does not know, each with why (reported, not guessed)."""
    prices, when = load_prices(prices_text)
    source = f"{PRICES_SOURCE}{' @ ' + ref if ref else ''} (last updated {when})"
    base = list(csv.DictReader(io.StringIO(base_text)))
    known: dict[str, dict[str, str]] = {}
    for row in base:
        known.setdefault(row["instance_type"], row)
    rows: list[dict[str, str]] = []
    for instance_type, facts in known.items():
        record = prices.get(instance_type)
        regional = _regional(record)
        if not regional:
            rows.extend({c: r.get(c, "") for c in COLUMNS} for r in base if r["instance_type"] == instance_type)
            continue
        notes = hardware_notes(facts.get("notes", ""))
        for region, price in sorted(regional.items()):
            rows.append({**{c: facts.get(c, "") for c in COLUMNS}, "notes": notes, "region": region,
                         "ondemand_usd_per_hr": repr(round(float(price), 6)),
                         "price_before_2025_06_cut": "", "source": source, "source_date": when, "as_of": when,
                         "verified": "yes (export of the AWS Price List)"})
    unknown = [f"{name} ({skip_reason(prices[name])})" for name in sorted(set(prices) - set(known))]
    rows.sort(key=lambda r: (r["family"], r["instance_type"], r["region"]))
    return rows, unknown


def main(argv: list[str] | None = None) -> int:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(prog="python -m engine.catalog.generate_aws", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prices", required=True, type=Path, help="all_gpu_instances.js (downloaded)")
    parser.add_argument("--prices-ref", default="", help="the commit or URL it was read from")
    parser.add_argument("--base", type=Path, default=here / "sources" / "aws_gpu_instance_types.csv")
    parser.add_argument("--out", type=Path, default=here / "data" / "aws_gpu_instances.csv")
    args = parser.parse_args(argv)
    rows, unknown = generate_rows(args.prices.read_text(encoding="utf-8"), args.base.read_text(encoding="utf-8"),
                                  args.prices_ref)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    args.out.write_text(buf.getvalue(), encoding="utf-8")
    print(f"wrote {len(rows)} rows to {args.out}; in the export but not shipped: {', '.join(unknown) or 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
