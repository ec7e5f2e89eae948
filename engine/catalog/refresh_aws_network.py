"""Refresh one AWS region's internet egress tiers, EBS storage prices and S3 storage prices from the AWS Price
List Query API (``pricing.get_products``), for regions the embedded catalog does not price (or prices stale).

Three filtered queries, every page:

* ``AWSDataTransfer``: fromRegionCode = the region, transferType "AWS Outbound", toLocation "External".  Exactly
  one product, one OnDemand term, tiers by ``beginRange``/``endRange`` in GB that follow on from each other up to
  "Inf"; anything else is reported.  The first tier starts at 100 GB in the catalog (the 100 GB free across all
  regions is its own row).
* ``AmazonEC2``, productFamily "Storage", "System Operation" or "Provisioned Throughput": one GB-Mo price per
  ``volumeApiName``, and io1/io2/gp3 IOPS-Mo and gp3 GiBps-mo prices (two different prices for one part, as
  io2's tiered IOPS, are reported, not guessed).
* ``AmazonS3``, productFamily "Storage": per storage class the profile accepts (cost.source_storage_class), the
  tiers of its one storage product, found by usage type (region prefix aside) as cost tools query it (Infracost's
  ``s3_bucket.go``): STANDARD ``TimedStorage-ByteHrs`` with volumeType "Standard", INTELLIGENT_TIERING
  ``TimedStorage-INT-FA-ByteHrs`` (its frequent-access tier, the rate the cost model uses), STANDARD_IA
  ``TimedStorage-SIA-ByteHrs``, ONEZONE_IA ``TimedStorage-ZIA-ByteHrs``, and GLACIER
  ``TimedStorage-GlacierByteHrs`` with volumeType "Amazon Glacier" (the one recorded row of it: AWS's AmazonS3
  offer of 2018-04-04, storageClass "Archive", in tests/fixtures/catalog/aws_pricelist_archive_2018_2023/).
* ``AmazonS3GlacierDeepArchive`` (regionCode only: its recorded storage product, offer of 2023-02-07, has no
  productFamily): DEEP_ARCHIVE ``TimedStorage-GDA-ByteHrs`` with volumeType "Glacier Deep Archive".

A class with no such product, or more than one, is reported and named in ``s3_not_refreshed``: its embedded
(dated) price stays in use.  Infracost prices GLACIER storage from another service (AmazonGlacier's
``TimedStorage-ByteHrs``, the Glacier vault product); no recorded product of it was found, so that is not read.

The rows go to ``state_dir()/catalog/aws_network.json`` (rows of other regions from an earlier refresh are kept)
and lie over the embedded ones for that region and key (``engine.catalog.load``).
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from engine.catalog.load import AWS_NET_CACHE, cache_dir, write_cache
from engine.catalog.refresh_aws import PRICING_REGION, make_client, rows_of_other_regions
from engine.catalog.refresh_compare import compare, tier_label
from engine.catalog.refresh_gcp import RefreshResult
from engine.errors import EnvironmentProblem, GpumigrateError, Interrupted
from engine.events import Emit, Message, Progress, discard

SOURCE = ("AWS Price List API (pricing.get_products: AWSDataTransfer, AmazonEC2 Storage, AmazonS3, "
          "AmazonS3GlacierDeepArchive)")
EBS_TYPES = ("gp2", "gp3", "io1", "io2", "st1", "sc1", "standard")
EGRESS_ITEMS = {0: "up to 10 TB/month", 10240: "next 40 TB/month", 51200: "next 100 TB/month",
                153600: "over 150 TB/month"}
FREE_GB = 100


def _match(field: str, value: str) -> dict[str, str]:
    return {"Type": "TERM_MATCH", "Field": field, "Value": value}


def queries(region: str) -> dict[str, tuple[str, list[dict[str, str]]]]:
    """What is asked, per part: (service code, filters)."""
    return {
        "egress": ("AWSDataTransfer", [_match("fromRegionCode", region), _match("transferType", "AWS Outbound"),
                                       _match("toLocation", "External")]),
        "ebs": ("AmazonEC2", [_match("regionCode", region),
                              {"Type": "ANY_OF", "Field": "productFamily",
                               "Value": "Storage,System Operation,Provisioned Throughput"}]),
        "s3": ("AmazonS3", [_match("regionCode", region), _match("productFamily", "Storage")]),
        "s3_deep_archive": ("AmazonS3GlacierDeepArchive", [_match("regionCode", region)]),
    }


def _terms(data: dict[str, Any], what: str) -> tuple[list[dict[str, Any]] | None, str | None]:
    """The price dimensions of a product's single OnDemand term, or why not."""
    terms = (data.get("terms") or {}).get("OnDemand") or {}
    if len(terms) != 1:
        return None, f"{what}: {len(terms)} OnDemand terms (expected 1)"
    term = next(iter(terms.values()))
    dims = list((term.get("priceDimensions") or {}).values())
    return (dims, None) if dims else (None, f"{what}: no price dimensions")


def _usd(dim: dict[str, Any]) -> float | None:
    try:
        value = float((dim.get("pricePerUnit") or {}).get("USD"))
    except (TypeError, ValueError):
        return None
    return value if value >= 0 else None


def _tiers(dims: list[dict[str, Any]], unit: str, what: str) -> tuple[list[tuple[float, float | None, float]] | None,
                                                                     str | None]:
    """(start GB, end GB or None, USD) in order, checked to follow on from 0 to "Inf"."""
    out: list[tuple[float, float | None, float]] = []
    for dim in dims:
        if dim.get("unit") != unit:
            return None, f"{what}: a price in {dim.get('unit')!r}, expected {unit!r}"
        price = _usd(dim)
        try:
            begin = float(dim.get("beginRange", ""))
            end = None if dim.get("endRange") == "Inf" else float(dim.get("endRange", ""))
        except ValueError:
            return None, f"{what}: a tier without numeric beginRange/endRange"
        if price is None:
            return None, f"{what}: a tier without a USD price"
        out.append((begin, end, price))
    out.sort(key=lambda t: t[0])
    if out[0][0] != 0 or out[-1][1] is not None or any(a[1] != b[0] for a, b in zip(out, out[1:])):
        return None, f"{what}: tiers do not run from 0 to Inf without gaps ({out})"
    return out, None


def egress_rows(items: list[Any], region: str) -> tuple[list[dict[str, Any]], list[str]]:
    products = [json.loads(i) if isinstance(i, str) else i for i in items]
    mine = [p for p in products if (p.get("product") or {}).get("attributes", {}).get("fromRegionCode") == region]
    if len(mine) != 1:
        return [], [f"egress: {len(mine)} 'AWS Outbound' products for {region} (expected 1); not guessed"]
    dims, why = _terms(mine[0], "egress")
    tiers, why = _tiers(dims, "GB", "egress") if dims else (None, why)
    if tiers is None:
        return [], [str(why)]
    rows = []
    for start, end, price in tiers:
        if end is not None and end <= FREE_GB:
            continue
        rows.append({"key": "aws.egress.internet", "category": "internet egress (DTO)",
                     "item": EGRESS_ITEMS.get(int(start), f"from {start:g} GB/month"), "scope": region,
                     "tier_start_gb": max(start, FREE_GB), "tier_end_gb": end, "price_usd": price, "unit": "USD/GB",
                     "notes": "read from the Price List API (the 100 GB free a month is its own row)"})
    return rows, []


EBS_PARTS = {  # (productFamily, unit) -> (key suffix, catalog unit, divisor to the catalog unit, item)
    ("Storage", "GB-Mo"): ("", "USD/GB-month", 1.0, "storage"),
    ("System Operation", "IOPS-Mo"): (".iops", "USD/IOPS-month", 1.0, "provisioned IOPS"),
    ("Provisioned Throughput", "GiBps-mo"): (".throughput", "USD/MiBps-month", 1024.0, "provisioned throughput"),
}
"""gp3's IOPS and throughput prices apply above what gp3 includes (engine.cost.ebs); GiB/s-month -> MiB/s-month."""


def ebs_rows(items: list[Any], region: str) -> tuple[list[dict[str, Any]], list[str]]:
    found: dict[tuple[str, str], set[float]] = {}
    problems: list[str] = []
    for item in items:
        data = json.loads(item) if isinstance(item, str) else item
        product = data.get("product") or {}
        attrs = product.get("attributes", {})
        kind = attrs.get("volumeApiName")
        family = product.get("productFamily", "")
        if kind not in EBS_TYPES or attrs.get("regionCode", region) != region:
            continue
        if family != "Storage" and kind not in ("io1", "io2", "gp3"):
            continue  # magnetic I/O requests and the like: not priced by the cost model
        dims, why = _terms(data, f"EBS {kind} {family}")
        part = EBS_PARTS.get((family, dims[0].get("unit", ""))) if dims and len(dims) == 1 else None
        if part is None or _usd(dims[0]) is None:
            problems.append(why or f"EBS {kind} {family}: not one price in a known unit "
                                   f"({', '.join(str(d.get('unit')) for d in dims or [])}); not used")
            continue
        found.setdefault((kind, family), set()).add(float(_usd(dims[0]) or 0.0) / part[2])
    rows = []
    for (kind, family), prices in sorted(found.items()):
        suffix, unit, _div, what = next(v for k, v in EBS_PARTS.items() if k[0] == family)
        if len(prices) > 1:
            problems.append(f"EBS {kind} {what}: {len(prices)} different prices in {region}; not guessed")
            continue
        rows.append({"key": f"aws.ebs.{kind}{suffix}", "category": "EBS volume", "item": f"EBS {kind} {what}",
                     "scope": region, "tier_start_gb": 0.0, "tier_end_gb": None, "price_usd": prices.pop(),
                     "unit": unit, "notes": "read from the Price List API"})
    return rows, problems


S3_CLASSES = {  # class (cost.source_storage_class) -> (usage type without the region prefix, catalog key, volumeType)
    "STANDARD": ("TimedStorage-ByteHrs", "aws.s3.storage", "Standard"),
    "INTELLIGENT_TIERING": ("TimedStorage-INT-FA-ByteHrs", "aws.s3.storage.INTELLIGENT_TIERING", None),
    "STANDARD_IA": ("TimedStorage-SIA-ByteHrs", "aws.s3.storage.STANDARD_IA", None),
    "ONEZONE_IA": ("TimedStorage-ZIA-ByteHrs", "aws.s3.storage.ONEZONE_IA", None),
    "GLACIER": ("TimedStorage-GlacierByteHrs", "aws.s3.storage.GLACIER", "Amazon Glacier"),
}
"""The classes read from AmazonS3's Storage products (``volumeType`` None: any; where the recorded product names
one, it is required, so a renamed or doubled product is reported, not taken)."""
S3_DEEP_ARCHIVE = {"DEEP_ARCHIVE": ("TimedStorage-GDA-ByteHrs", "aws.s3.storage.DEEP_ARCHIVE", "Glacier Deep Archive")}
"""The class read from AmazonS3GlacierDeepArchive (every class the profile accepts is in one of the two)."""


def _usage_is(attrs: dict[str, Any], usage: str) -> bool:
    have = str(attrs.get("usagetype", ""))
    return have == usage or have.endswith("-" + usage)


def _class_rows(items: list[Any], region: str, classes: dict[str, tuple[str, str, str | None]],
                service: str) -> tuple[list[dict[str, Any]], list[str]]:
    products = [json.loads(i) if isinstance(i, str) else i for i in items]
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    for cls, (usage, key, volume) in classes.items():
        name = "S3 Standard" if cls == "STANDARD" else f"S3 {cls}"
        mine = [p for p in products if _usage_is((p.get("product") or {}).get("attributes", {}), usage)
                and (volume is None or p["product"]["attributes"].get("volumeType") == volume)]
        if len(mine) != 1:
            kind = f"{usage}{f' / volumeType {volume!r}' if volume else ''}"
            problems.append(f"S3: {len(mine)} {name} storage products ({service} {kind}) for {region} "
                            "(expected 1); not guessed, its embedded price stays in use")
            continue
        dims, why = _terms(mine[0], name)
        tiers, why = _tiers(dims, "GB-Mo", name) if dims else (None, why)
        if tiers is None:
            problems.append(str(why))
            continue
        rows += [{"key": key, "category": "S3 storage", "item": name, "scope": region, "tier_start_gb": start,
                  "tier_end_gb": end, "price_usd": price, "unit": "USD/GB-month",
                  "notes": f"read from the Price List API ({service})"} for start, end, price in tiers]
    return rows, problems


def s3_rows(items: list[Any], region: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The classes priced under AmazonS3's Storage products."""
    return _class_rows(items, region, S3_CLASSES, "AmazonS3")


def s3_deep_archive_rows(items: list[Any], region: str) -> tuple[list[dict[str, Any]], list[str]]:
    """DEEP_ARCHIVE, priced under its own service code."""
    return _class_rows(items, region, S3_DEEP_ARCHIVE, "AmazonS3GlacierDeepArchive")


def _read(client: Any, service: str, filters: list[dict[str, str]], page_size: int, cancel: threading.Event,
          emit: Emit, result: RefreshResult) -> list[str]:
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    items: list[str] = []
    try:
        pages = client.get_paginator("get_products").paginate(
            ServiceCode=service, Filters=filters, FormatVersion="aws_v1", PaginationConfig={"PageSize": page_size})
        for page in pages:
            if cancel.is_set():
                raise Interrupted("catalog refresh interrupted; the previous cache is unchanged")
            result.pages += 1
            items.extend(page.get("PriceList", []))
            emit(Progress("catalog", done=result.skus_seen + len(items), unit="products", label=f"aws {service}"))
    except NoCredentialsError:
        raise EnvironmentProblem("no AWS credentials for the Price List API: set AWS_PROFILE or "
                                 "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY") from None
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        raise EnvironmentProblem(f"the AWS Price List API refused {service} ({code}): "
                                 f"{exc.response.get('Error', {}).get('Message', exc)}") from None
    except BotoCoreError as exc:
        raise EnvironmentProblem(f"cannot reach the AWS Price List API: {exc}") from None
    result.skus_seen += len(items)
    return items


def refresh_aws_network(emit: Emit = discard, *, region: str = "us-east-1", cancel: threading.Event | None = None,
                        cache: Path | None = None, page_size: int = 100, client: Any = None) -> RefreshResult:
    """Read, check and map the three parts for ``region``; write the network price cache."""
    cancel = cancel or threading.Event()
    client = client if client is not None else make_client()
    result = RefreshResult(provider="aws-network", extra={"region": region, "pricing_endpoint": PRICING_REGION})
    rows: list[dict[str, Any]] = []
    for part, (service, filters) in queries(region).items():
        items = _read(client, service, filters, page_size, cancel, emit, result)
        made, problems = {"egress": egress_rows, "ebs": ebs_rows, "s3": s3_rows,
                          "s3_deep_archive": s3_deep_archive_rows}[part](items, region)
        rows += made
        result.problems += problems
    read = {row["key"] for row in rows}
    result.extra["s3_not_refreshed"] = [cls for cls, (_u, key, _v) in {**S3_CLASSES, **S3_DEEP_ARCHIVE}.items()
                                        if key not in read]
    for problem in result.problems:
        emit(Message("catalog", text=f"aws: {problem}", level="warning"))
    if not rows:
        raise GpumigrateError(f"the AWS Price List returned {result.skus_seen} products for {region} but no egress, "
                              f"EBS or S3 price could be used ({len(result.problems)} problems); the egress/EBS/S3 price cache "
                              f"({AWS_NET_CACHE}) is unchanged: the embedded prices (or an earlier refresh's) stay in use")
    result.rows, result.mapped = rows, len(rows)
    result.refreshed_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    path = (cache if cache is not None else cache_dir()) / AWS_NET_CACHE
    previous = rows_of_other_regions(path, "network", "scope", region)
    # per tier, within this region: a tier whose price (or end) moved, and a tier or part the answer lacks (a part
    # not read this time, such as an S3 class, keeps its embedded price and date)
    result.extra.update(compare(path, "network", ("key", "scope", "tier_start_gb"), rows, price_field="price_usd",
                                keep=lambda row: row.get("scope") == region, label=tier_label))
    rows = [{**r, "refreshed_at": result.refreshed_at} for r in rows]
    write_cache(path, {"refreshed_at": result.refreshed_at, "source": SOURCE, "network": previous + rows,
                       "problems": result.problems})
    result.path = str(path)
    return result
