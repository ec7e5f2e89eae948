"""Refresh AWS GPU instance prices from the AWS Price List Query API (``pricing.get_products``).

One filtered query (every page) for the GPU instance types the embedded
catalog knows plus any the caller adds: ``ServiceCode=AmazonEC2``, the region
code, Linux, shared tenancy, no pre-installed software, capacity status
"Used".  Each product must have exactly one OnDemand term with one hourly
price dimension; anything else (several candidate products for one type,
several dimensions, a zero price) is reported, not guessed.  The GPU model of
a type comes from the embedded catalog, or from its family when every known
member of the family has the same GPU; otherwise the row is reported and left
out.  The result goes to ``state_dir()/catalog/aws.json``.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from engine.catalog.load import AWS_CACHE, cache_dir, embedded_catalog, row_refreshed_at, write_cache
from engine.catalog.refresh_compare import compare
from engine.catalog.refresh_gcp import RefreshResult
from engine.errors import EnvironmentProblem, GpumigrateError, Interrupted
from engine.events import Emit, Message, Progress, discard

SOURCE = "AWS Price List API (pricing.get_products, AmazonEC2)"
PRICING_REGION = "us-east-1"
"""The Price List Query API is served from us-east-1 (and ap-south-1); AWS_ENDPOINT_URL_PRICING overrides it."""


def filters(region: str, instance_types: list[str]) -> list[dict[str, str]]:
    return [
        {"Type": "TERM_MATCH", "Field": "regionCode", "Value": region},
        {"Type": "TERM_MATCH", "Field": "operatingSystem", "Value": "Linux"},
        {"Type": "TERM_MATCH", "Field": "tenancy", "Value": "Shared"},
        {"Type": "TERM_MATCH", "Field": "preInstalledSw", "Value": "NA"},
        {"Type": "TERM_MATCH", "Field": "capacitystatus", "Value": "Used"},
        {"Type": "ANY_OF", "Field": "instanceType", "Value": ",".join(instance_types)},
    ]


def _number(text: Any) -> float | None:
    if text is None:
        return None
    value = str(text).replace(",", "").split()[0] if str(text).strip() else ""
    try:
        return float(value)
    except ValueError:
        return None


def parse_product(item: str | dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """One PriceList entry -> (fields, None) or (None, why it was not used)."""
    data = json.loads(item) if isinstance(item, str) else item
    product = data.get("product", {})
    attrs = product.get("attributes", {})
    itype = attrs.get("instanceType")
    if not itype:
        return None, f"product {product.get('sku')} has no instanceType"
    terms = (data.get("terms") or {}).get("OnDemand") or {}
    if len(terms) != 1:
        return None, f"{itype}: {len(terms)} OnDemand terms (expected 1)"
    term = next(iter(terms.values()))
    dims = term.get("priceDimensions") or {}
    if len(dims) != 1:
        return None, f"{itype}: {len(dims)} price dimensions (expected 1)"
    dim = next(iter(dims.values()))
    if dim.get("unit") not in ("Hrs", "Hours"):
        return None, f"{itype}: price unit {dim.get('unit')!r} is not hours"
    price = _number((dim.get("pricePerUnit") or {}).get("USD"))
    if price is None or price <= 0:
        return None, f"{itype}: no positive USD price ({dim.get('pricePerUnit')})"
    return {
        "instance_type": itype,
        "family": itype.split(".")[0],
        "gpu_count": _number(attrs.get("gpu")),
        "gpu_memory_total_gb": _number(attrs.get("gpuMemory")),
        "vcpus": _number(attrs.get("vcpu")),
        "memory_gb": _number(attrs.get("memory")),
        "region": attrs.get("regionCode", ""),
        "ondemand_usd_per_hr": price,
        "effective": term.get("effectiveDate", ""),
        "sku": product.get("sku", ""),
    }, None


def map_products(items: list[str | dict[str, Any]], region: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Products -> catalog rows (GPU model from the embedded catalog or an unambiguous family)."""
    known = {r.instance_type: r for r in embedded_catalog().aws_instances}
    family_models: dict[str, set[str]] = {}
    for row in known.values():
        family_models.setdefault(row.family, set()).add(row.gpu_model)
    parsed: dict[str, list[dict[str, Any]]] = {}
    problems: list[str] = []
    for item in items:
        fields, why = parse_product(item)
        if fields is None:
            problems.append(str(why))
            continue
        if fields["region"] and fields["region"] != region:
            problems.append(f"{fields['instance_type']}: product for region {fields['region']}, asked {region}")
            continue
        parsed.setdefault(fields["instance_type"], []).append(fields)
    rows: list[dict[str, Any]] = []
    for itype, candidates in sorted(parsed.items()):
        prices = {c["ondemand_usd_per_hr"] for c in candidates}
        if len(prices) > 1:
            problems.append(f"{itype}: {len(candidates)} products with different prices "
                            f"({', '.join(f'{p:g}' for p in sorted(prices))}); not guessed")
            continue
        fields = candidates[0]
        base = known.get(itype)
        if base is not None:
            gpu_model, per_gpu = base.gpu_model, base.gpu_memory_gb
            gpu_count = fields["gpu_count"] or base.gpu_count
        else:
            models = family_models.get(fields["family"], set())
            if len(models) != 1:
                problems.append(f"{itype}: GPU model unknown (family {fields['family']} has "
                                f"{', '.join(sorted(models)) or 'no known GPU'}); not added")
                continue
            gpu_model = next(iter(models))
            gpu_count = fields["gpu_count"] or 0.0
            total = fields["gpu_memory_total_gb"]
            per_gpu = total / gpu_count if total and gpu_count else None
        rows.append({"instance_type": itype, "family": fields["family"], "gpu_model": gpu_model,
                     "gpu_count": float(gpu_count), "gpu_memory_gb": per_gpu, "vcpus": fields["vcpus"],
                     "memory_gb": fields["memory_gb"], "region": region,
                     "ondemand_usd_per_hr": fields["ondemand_usd_per_hr"],
                     "notes": f"SKU {fields['sku']}, effective {fields['effective']}"})
    return rows, problems


def make_client() -> Any:
    """A boto3 ``pricing`` client from the standard credential chain (AWS_ENDPOINT_URL_PRICING is honoured)."""
    import boto3

    session = boto3.session.Session()
    if session.get_credentials() is None:
        raise EnvironmentProblem(
            "no AWS credentials for the Price List API: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY) for an identity allowed pricing:GetProducts; the embedded catalog stays in use")
    return session.client("pricing", region_name=PRICING_REGION)


def refresh_aws(emit: Emit = discard, *, region: str = "us-east-1", instance_types: list[str] | None = None,
                cancel: threading.Event | None = None, cache: Path | None = None, page_size: int = 100,
                client: Any = None) -> RefreshResult:
    """Read every page of matching EC2 products, map them, and write the AWS price cache."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    cancel = cancel or threading.Event()
    client = client if client is not None else make_client()
    types = sorted({r.instance_type for r in embedded_catalog().aws_instances} | set(instance_types or []))
    result = RefreshResult(provider="aws")
    items: list[str] = []
    try:
        paginator = client.get_paginator("get_products")
        pages = paginator.paginate(ServiceCode="AmazonEC2", Filters=filters(region, types),
                                   FormatVersion="aws_v1", PaginationConfig={"PageSize": page_size})
        for page in pages:
            if cancel.is_set():
                raise Interrupted("catalog refresh interrupted; the previous cache is unchanged")
            result.pages += 1
            items.extend(page.get("PriceList", []))
            result.skus_seen = len(items)
            emit(Progress("catalog", done=result.skus_seen, unit="products", label="aws"))
    except NoCredentialsError:
        raise EnvironmentProblem("no AWS credentials for the Price List API: set AWS_PROFILE or "
                                 "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY") from None
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException",
                    "ExpiredTokenException"):
            raise EnvironmentProblem(f"the AWS Price List API refused the credentials ({code}); "
                                     "the identity needs pricing:GetProducts") from None
        raise EnvironmentProblem(f"the AWS Price List API failed: {exc}") from None
    except BotoCoreError as exc:
        raise EnvironmentProblem(f"cannot reach the AWS Price List API: {exc}") from None
    rows, problems = map_products(items, region)
    missing = sorted(set(types) - {r["instance_type"] for r in rows} - {p.split(":")[0] for p in problems})
    if missing:
        problems.append(f"not in the Price List for {region}: {', '.join(missing)}")
    result.mapped = len(rows)
    result.rows, result.problems = rows, problems
    for problem in problems:
        emit(Message("catalog", text=f"aws: {problem}", level="warning"))
    if not rows:
        raise GpumigrateError(f"the AWS Price List returned {result.skus_seen} products but none could be used "
                              f"({len(problems)} problems); the machine price cache ({AWS_CACHE}) is unchanged: the embedded "
                              "prices (or an earlier refresh's) stay in use")
    result.refreshed_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    path = (cache if cache is not None else cache_dir()) / AWS_CACHE
    previous = rows_of_other_regions(path, "instances", "region", region)
    result.extra.update(compare(path, "instances", ("instance_type", "region"), rows,
                                keep=lambda row: row.get("region") == region))
    rows = [{**r, "refreshed_at": result.refreshed_at} for r in rows]
    write_cache(path, {"refreshed_at": result.refreshed_at, "source": SOURCE, "instances": previous + rows,
                       "problems": problems})
    result.path = str(path)
    return result


def rows_of_other_regions(path: Path, rows_key: str, region_field: str, region: str) -> list[dict[str, Any]]:
    """The rows an earlier refresh cached at ``path`` under ``rows_key`` for every region but ``region``:
    a refresh of one region replaces that region's rows and keeps the others'. An unreadable cache keeps none.
    Each kept row keeps when it was read (``refreshed_at``: its own, else that earlier cache's), so the overlay
    dates it by its own refresh, not by the newest one."""
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text())
        when = str(data.get("refreshed_at", ""))
        return [{**r, "refreshed_at": row_refreshed_at(r, when)} for r in data.get(rows_key, [])
                if r.get(region_field) != region]
    except (OSError, ValueError, AttributeError):
        return []
