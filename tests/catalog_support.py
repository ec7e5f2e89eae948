"""Loopback stand-ins for the pricing APIs (no emulator exists for either).

* :class:`BillingCatalogStub` speaks the Cloud Billing Catalog API v1 REST JSON
  (``GET /v1/services/{id}/skus`` with ``pageSize``/``pageToken``/``nextPageToken``).
* :class:`PriceListStub` speaks the AWS Price List Query API (JSON 1.1:
  ``POST /`` with ``X-Amz-Target: AWSPriceListService.GetProducts``, ``NextToken``
  pages, ``PriceList`` items as JSON strings).  It answers only what GetProducts
  answers: products of the asked ``ServiceCode`` that every filter matches
  (``TERM_MATCH``/``EQUALS`` exact, ``CONTAINS`` substring, ``ANY_OF``/``NONE_OF``
  comma lists; ``productFamily`` and ``sku`` are product fields, the rest
  attributes), and it refuses (400 ``InvalidParameterException``) a missing
  ServiceCode, a FormatVersion other than ``aws_v1``, MaxResults outside 1-100,
  an unknown filter type or a filter without Field/Value.

Both run on 127.0.0.1 in a thread, record every request, and serve fixed pages
so tests can check pagination, filters and the mapping.  The product code
reaches them only through the clients' endpoint settings.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SERVICE = "6F81-5844-456A"


def money(price: float) -> dict[str, Any]:
    units = int(price)
    return {"currencyCode": "USD", "units": str(units), "nanos": int(round((price - units) * 1e9))}


def sku(sku_id: str, description: str, usage: str, price: float, regions: list[str], *, unit: str = "h",
        family: str = "Compute", group: str = "GPU", effective: str = "2026-10-01T00:00:00Z") -> dict[str, Any]:
    """One SKU in the REST wire format."""
    base = {"h": ("s", 3600), "GiBy.h": ("By.s", 3600 * 2**30), "GiBy.mo": ("By.s", 730 * 3600 * 2**30)}[unit]
    return {
        "name": f"services/{SERVICE}/skus/{sku_id}", "skuId": sku_id, "description": description,
        "category": {"serviceDisplayName": "Compute Engine", "resourceFamily": family, "resourceGroup": group,
                     "usageType": usage},
        "serviceRegions": regions, "serviceProviderName": "Google",
        "geoTaxonomy": {"type": "MULTI_REGIONAL" if len(regions) > 1 else "REGIONAL", "regions": regions},
        "pricingInfo": [{"effectiveTime": effective, "currencyConversionRate": 1,
                         "pricingExpression": {"usageUnit": unit, "baseUnit": base[0],
                                               "baseUnitConversionFactor": base[1], "displayQuantity": 1,
                                               "tieredRates": [{"startUsageAmount": 0, "unitPrice": money(price)}]}}],
    }


# The Compute Engine region of each location name the price-list export uses (cloud.google.com/compute/docs/
# regions-zones); "Americas" and location-less base SKUs: us-central1 only (see the fixture's header).
EXPORT_LOCATIONS = {"Iowa": "us-central1", "Virginia": "us-east4", "Netherlands": "europe-west4",
                    "Americas": "us-central1", "": "us-central1"}
_EXPORT_UNITS = {"hour": "h", "gibibyte hour": "GiBy.h", "gibibyte month": "GiBy.mo"}
_EXPORT_USAGE = (("Commit 1 Year", "Commit1Yr"), ("Commit 3 Year", "Commit3Yr"), ("Preemptible", "Preemptible"),
                 ("On Demand", "OnDemand"), ("Reservation", "OnDemand"))


def skus_from_pricing_export(path: Any, effective: str) -> list[dict[str, Any]]:
    """Billing Catalog SKUs (REST wire format) from the lines of a Cloud Billing price-list export (CSV).

    SKU id, description, unit and list price are the recorded ones; serviceRegions, usageType and the
    resource family/group are filled as the fixture's header states (the export does not carry them)."""
    import csv
    import re
    from pathlib import Path

    lines = [line for line in Path(path).read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    out = []
    for row in csv.DictReader(lines):
        desc, taxonomy = row["SKU description"], row["Product taxonomy"]
        where = re.search(r" in ([A-Za-z ]+?)(?: for [13] Years?)?$", desc)
        usage = next(u for words, u in _EXPORT_USAGE if words in taxonomy)
        family, group = (("Storage", "LocalSSD") if "Local SSD" in taxonomy else
                         ("Compute", "GPU") if "> GPUs >" in taxonomy else
                         ("Compute", "RAM") if "Memory" in taxonomy else ("Compute", "CPU"))
        out.append(sku(row["SKU ID"], desc, usage, float(row["List price ($)"]),
                       [EXPORT_LOCATIONS[where.group(1) if where else ""]],
                       unit=_EXPORT_UNITS[row["Unit description"]], family=family, group=group,
                       effective=effective))
    return out


class _Server:
    def __init__(self, handler: type[BaseHTTPRequestHandler]):
        self.requests: list[dict[str, Any]] = []
        handler.stub = self  # type: ignore[attr-defined]
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> "_Server":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _reply(handler: BaseHTTPRequestHandler, code: int, body: dict[str, Any],
           content_type: str = "application/json") -> None:
    data = json.dumps(body).encode()
    handler.send_response(code)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class BillingCatalogStub(_Server):
    """Serves ``skus`` in pages of ``per_page``; requires ``api_key`` (header or ?key=) when given."""

    def __init__(self, skus: list[dict[str, Any]], per_page: int = 2, api_key: str | None = None):
        self.skus, self.per_page, self.api_key = skus, per_page, api_key

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                stub: BillingCatalogStub = self.stub  # type: ignore[attr-defined]
                url = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qs(url.query)
                key = self.headers.get("x-goog-api-key") or (query.get("key") or [None])[0]
                stub.requests.append({"path": url.path, "query": query, "api_key": key})
                if stub.api_key is not None and key != stub.api_key:
                    return _reply(self, 403, {"error": {"code": 403, "message": "API key not valid",
                                                        "status": "PERMISSION_DENIED"}})
                if url.path != f"/v1/services/{SERVICE}/skus":
                    return _reply(self, 404, {"error": {"code": 404, "message": f"no {url.path}",
                                                        "status": "NOT_FOUND"}})
                start = int((query.get("pageToken") or ["0"])[0] or 0)
                end = start + stub.per_page
                body: dict[str, Any] = {"skus": stub.skus[start:end]}
                body["nextPageToken"] = str(end) if end < len(stub.skus) else ""
                _reply(self, 200, body)

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(Handler)


def product(instance_type: str, price: str, *, region: str = "us-east-1", gpu: str = "1", vcpu: str = "8",
            memory: str = "61 GiB", gpu_memory: str = "16 GiB", sku_id: str | None = None,
            dims: int = 1) -> str:
    """One Price List product as the JSON string ``get_products`` returns."""
    sku_id = sku_id or f"SKU{abs(hash((instance_type, region))) % 10**8:08d}"
    term = f"{sku_id}.JRTCKXETXF"
    dimensions = {f"{term}.6YS6EN2CT{i}": {"unit": "Hrs", "pricePerUnit": {"USD": price},
                                          "description": f"${price} per On Demand Linux {instance_type} Instance Hour",
                                          "beginRange": "0", "endRange": "Inf", "appliesTo": [],
                                          "rateCode": f"{term}.6YS6EN2CT{i}"} for i in range(dims)}
    return json.dumps({
        "product": {"productFamily": "Compute Instance", "sku": sku_id, "attributes": {
            "instanceType": instance_type, "vcpu": vcpu, "memory": memory, "gpu": gpu, "gpuMemory": gpu_memory,
            "operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA", "capacitystatus": "Used",
            "location": "US East (N. Virginia)", "regionCode": region, "servicecode": "AmazonEC2"}},
        "serviceCode": "AmazonEC2",
        "terms": {"OnDemand": {term: {"offerTermCode": "JRTCKXETXF", "sku": sku_id,
                                      "effectiveDate": "2026-10-01T00:00:00Z", "priceDimensions": dimensions,
                                      "termAttributes": {}}}},
        "version": "20261001000000", "publicationDate": "2026-10-01T00:00:00Z",
    })


FILTER_TYPES = ("TERM_MATCH", "EQUALS", "CONTAINS", "ANY_OF", "NONE_OF")


def _refused(body: dict[str, Any]) -> str | None:
    """Why GetProducts refuses ``body`` (None: it does not)."""
    if not body.get("ServiceCode"):
        return "ServiceCode is required"
    if body.get("FormatVersion", "aws_v1") != "aws_v1":
        return f"FormatVersion {body.get('FormatVersion')!r} is not supported"
    if "MaxResults" in body and not 1 <= int(body["MaxResults"]) <= 100:
        return "MaxResults must be between 1 and 100"
    for f in body.get("Filters") or []:
        if f.get("Type") not in FILTER_TYPES or not f.get("Field") or "Value" not in f:
            return f"invalid filter {f}"
    return None


def _selected(product: dict[str, Any], body: dict[str, Any]) -> bool:
    if product.get("serviceCode") != body["ServiceCode"]:
        return False
    prod = product.get("product") or {}
    for f in body.get("Filters") or []:
        field, value = f["Field"], str(f["Value"])
        have = prod.get(field) if field in ("productFamily", "sku") else (prod.get("attributes") or {}).get(field)
        have = "" if have is None else str(have)
        kind = f["Type"]
        if kind in ("TERM_MATCH", "EQUALS") and have != value:
            return False
        if kind == "CONTAINS" and value not in have:
            return False
        if kind == "ANY_OF" and have not in value.split(","):
            return False
        if kind == "NONE_OF" and have in value.split(","):
            return False
    return True


class PriceListStub(_Server):
    """Serves ``products`` (JSON strings) in pages of ``per_page`` for GetProducts."""

    def __init__(self, products: list[str], per_page: int = 2):
        self.products, self.per_page = products, per_page

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                stub: PriceListStub = self.stub  # type: ignore[attr-defined]
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                target = self.headers.get("X-Amz-Target", "")
                stub.requests.append({"target": target, "body": body,
                                      "authorization": self.headers.get("Authorization", "")})
                if target != "AWSPriceListService.GetProducts":
                    return _reply(self, 400, {"__type": "InvalidParameterException", "message": target},
                                  "application/x-amz-json-1.1")
                problem = _refused(body)
                if problem:
                    return _reply(self, 400, {"__type": "InvalidParameterException", "Message": problem},
                                  "application/x-amz-json-1.1")
                matching = [p for p in stub.products if _selected(json.loads(p), body)]
                start = int(body.get("NextToken") or 0)
                size = int(body.get("MaxResults") or stub.per_page)
                size = min(size, stub.per_page)
                end = start + size
                out: dict[str, Any] = {"FormatVersion": "aws_v1", "PriceList": matching[start:end]}
                if end < len(matching):
                    out["NextToken"] = str(end)
                _reply(self, 200, out, "application/x-amz-json-1.1")

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(Handler)


# --- recorded AWS offer files as GetProducts items ---------------------------------------------------------------
# GetProducts (FormatVersion aws_v1) answers one JSON string per product: the offer file's product, its service
# code, its OnDemand terms, version and publication date.  These turn a recorded offer-file excerpt into those
# items without touching the recorded values.

OFFER_CSV_ATTRIBUTES = {  # bulk-offer CSV column -> JSON attribute name (as in the recorded JSON offers)
    "serviceCode": "servicecode", "Location": "location", "Location Type": "locationType",
    "Availability": "availability", "Storage Class": "storageClass", "Volume Type": "volumeType",
    "usageType": "usagetype", "operation": "operation", "Durability": "durability", "serviceName": "servicename",
}


def offer_json_items(path: Any) -> list[str]:
    """Every product of a recorded JSON offer file (``_origin`` aside) as a GetProducts item."""
    offer = json.loads(open(path, encoding="utf-8").read())
    terms = offer["terms"]["OnDemand"]
    return [json.dumps({"product": product, "serviceCode": offer["offerCode"], "terms": {"OnDemand": terms[sku]},
                        "version": offer["version"], "publicationDate": offer["publicationDate"]})
            for sku, product in offer["products"].items() if sku in terms]


def offer_csv_items(path: Any, region_code: str) -> list[str]:
    """Every row of a recorded CSV offer excerpt (``#`` origin lines and the 5 offer header lines aside) as a
    GetProducts item.  ``region_code`` is added as ``regionCode``: offers before 2020 do not carry that attribute,
    and the Query API is asked by it."""
    import csv

    lines = [line for line in open(path, encoding="utf-8").read().splitlines() if not line.startswith("#")]
    header = dict(next(csv.reader([line])) for line in lines[1:5])
    table = list(csv.DictReader(lines[5:]))
    items = []
    for row in table:
        attrs = {name: row[column] for column, name in OFFER_CSV_ATTRIBUTES.items()}
        attrs["regionCode"] = region_code
        term = f"{row['SKU']}.{row['OfferTermCode']}"
        dims = {row["RateCode"]: {"rateCode": row["RateCode"], "description": row["PriceDescription"],
                                  "beginRange": row["StartingRange"], "endRange": row["EndingRange"],
                                  "unit": row["Unit"], "pricePerUnit": {row["Currency"]: row["PricePerUnit"]},
                                  "appliesTo": []}}
        items.append(json.dumps({
            "product": {"productFamily": row["Product Family"], "sku": row["SKU"], "attributes": attrs},
            "serviceCode": header["OfferCode"],
            "terms": {"OnDemand": {term: {"offerTermCode": row["OfferTermCode"], "sku": row["SKU"],
                                          "effectiveDate": row["EffectiveDate"], "priceDimensions": dims,
                                          "termAttributes": {}}}},
            "version": header["Version"], "publicationDate": header["Publication Date"]}))
    return items
