"""Refresh Google Cloud GPU prices from the Cloud Billing Catalog API (Compute Engine service).

SKUs are mapped deliberately, never by "first description that contains the
GPU name" (that rule priced A100 80GB and H100 wrongly in SkyPilot's catalog):

* a GPU SKU's name must be exactly one of :data:`GPU_NAMES` after the fixed
  prefix/suffix are parsed away; a name that only *contains* a known family
  ("A100", "H100") is reported as ambiguous with its candidates and not used;
* the usage type comes from ``category.usage_type`` and must agree with the
  description (a "Spot Preemptible" description with an OnDemand usage type is
  reported);
* two SKUs that price the same (model, region, usage type) differently are a
  conflict: both are reported and neither is used;
* a spot price above the on-demand price is reported and dropped;
* a price of 0.00 (Google lists such SKUs where the part is not sold) is not a price: counted, not used.

Machine prices are rebuilt from parts (vCPUs x core SKU + GiB x RAM SKU + GPUs
x GPU SKU + the bundled Local SSD's GB x Local SSD SKU) for the machine shapes
the embedded catalog knows, in every region the SKUs cover; a usage whose parts
are not all priced there is not written.  The result goes to
``state_dir()/catalog/gcp.json``.
"""

from __future__ import annotations

import os
import re
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from engine.catalog.load import GCP_CACHE, cache_dir, embedded_catalog, machine_series, write_cache
from engine.catalog.refresh_compare import compare
from engine.errors import EnvironmentProblem, GpumigrateError, Interrupted
from engine.events import Emit, Message, Progress, discard

COMPUTE_SERVICE = "services/6F81-5844-456A"
ENDPOINT_ENV = "GPUMIGRATE_BILLING_CATALOG_ENDPOINT"
"""Overrides the API endpoint (like AWS_ENDPOINT_URL): a proxy, or a stand-in on loopback."""
API_KEY_ENV = "GPUMIGRATE_BILLING_API_KEY"
"""An API key allowed to call the Cloud Billing API (the Catalog API accepts keys)."""
SOURCE = f"Cloud Billing Catalog API ({COMPUTE_SERVICE})"
USAGE_TYPES = {"OnDemand": "ondemand", "Preemptible": "spot", "Commit1Yr": "cud-1y", "Commit3Yr": "cud-3y"}

# The exact GPU names in SKU descriptions ("Nvidia Tesla A100 GPU running in Americas" -> "a100").
# The bare "A100" SKU is the 40GB part: it predates the 80GB SKU, which carries "80GB" in its name.
GPU_NAMES: dict[str, str] = {
    "t4": "T4",
    "p4": "P4",
    "p100": "P100",
    "v100": "V100",
    "k80": "K80",
    "l4": "L4",
    "a100": "A100 40GB",
    "a100 40gb": "A100 40GB",
    "a100 80gb": "A100 80GB",
    "h100 80gb": "H100 80GB",
    "h100 80gb mega": "H100 80GB Mega",
    "h100 mega 80gb": "H100 80GB Mega",
    # The A3 Mega GPU was first published as "H100 80GB Plus" (A3 Mega hosts are still "A3Plus Instance ..."):
    # recorded SKUs 8609-4BAD-F240 (spot) and 5F45-2ADE-3091 (3-year) price nvidia-h100-mega-80gb on a
    # 208-vCPU / 1872-GB host (a3-megagpu-8g) in deepgenomics/cromwell-monitor (2024-11-05); later SKUs say "Mega".
    "h100 80gb plus": "H100 80GB Mega",
    "h200 141gb": "H200 141GB",
    "b200": "B200 180GB",
}
# Families whose variants differ in price: a name containing one of these but not listed above is ambiguous.
GPU_FAMILIES: dict[str, list[str]] = {
    "a100": ["A100 40GB", "A100 80GB"],
    "h100": ["H100 80GB", "H100 80GB Mega"],
    "h200": ["H200 141GB"],
    "b200": ["B200 180GB"],
    "l4": ["L4"],
    "t4": ["T4"],
    "v100": ["V100"],
    "p100": ["P100"],
}
# Host (vCPU / RAM) SKU prefixes -> the machine series they price (see load.machine_series).
HOST_SERIES: dict[str, str] = {
    "a2": "a2",
    "a3": "a3",
    "a3 mega": "a3-mega",
    "a3plus": "a3-mega",  # "Spot Preemptible A3Plus Instance Core running in Americas" (AEAF-12C5-E41B, recorded)
    "a3 ultra": "a3-ultra",
    "a3 edge": "a3-edge",
    "a4": "a4",
    "g2": "g2",
    "n1 predefined": "n1",
}
SKIP_WORDS = ("reserved", "sole tenancy", "sole-tenancy", "dws", "calendar", "flex", "custom", "premium",
              "virtual workstation", "extended", "upgrade", "licen", "spot preemptible commit")

# Spot GPU SKUs are published as "Nvidia Tesla T4 GPU attached to Spot Preemptible VMs running in Warsaw" (the
# wording Google's own API reference quotes; older ones "... attached to Preemptible VMs ..."); a leading
# "Spot Preemptible" is accepted too.  Newer GPU SKUs drop the vendor: "H200 141GB GPU running in Netherlands".
_GPU_RE = re.compile(r"^(?!commitment )(?P<spot>spot preemptible |preemptible )?(?:nvidia )?(?:tesla )?(?P<name>.+?) gpu "
                     r"(?P<attached>attached to (?:spot )?preemptible vms )?running in (?P<geo>.+)$")
# Both "... GPU in Iowa for 1 Year" and "... GPU running in Americas for 3 Years" are published wordings.
_GPU_COMMIT_RE = re.compile(r"^commitment v\d+: (?:nvidia )?(?:tesla )?(?P<name>.+?) gpu (?:running )?in (?P<geo>.+?) "
                            r"for (?P<years>[13]) years?$")
_HOST_RE = re.compile(r"^(?P<spot>spot preemptible |preemptible )?(?P<series>[a-z0-9 ]+?) instance (?P<kind>core|ram) running in (?P<geo>.+)$")
# N1's commitments are not per series: "Commitment v1: Cpu in Americas for 1 Year", "Commitment v1: Ram in ... for
# 3 Years" (the wording billing-export queries and SKU parsers in public code map to N1).  They price N1's vCPUs and
# memory under a commitment; the machine rows do not model them (an N1 commitment's price stays the embedded one,
# dated), so they are counted under their own reason and said on the refresh line, never skipped as noise.
_N1_COMMIT_RE = re.compile(r"^commitment v\d+: (?P<kind>cpu|ram) in (?P<geo>.+?) for (?P<years>[13]) years?$")
N1_COMMITMENTS = "N1 commitments ('Commitment v1: Cpu/Ram in ...'): not modelled"
"""The skip reason (and ``skipped`` key) of N1's commitment SKUs."""
_HOST_COMMIT_RE = re.compile(r"^commitment v\d+: (?P<series>[a-z0-9 ]+?) (?P<kind>cpu|core|ram) in (?P<geo>.+?) for (?P<years>[13]) years?$")
# Local SSD, which A2 Ultra and A3 machines bundle (its GB are in their list price).  Recorded wordings (Google's
# price list, 2023-10-30): "SSD backed Local Storage" (the base region, no location), "SSD backed Local Storage in
# Virginia", "SSD backed Local Storage attached to Spot Preemptible VMs in Netherlands", "Commitment v1: Local SSD
# in Americas for 3 Year".  Priced per GiB-month.
_SSD_RE = re.compile(r"^ssd backed local storage(?P<spot> attached to spot preemptible vms)?(?: in (?P<geo>.+))?$")
_SSD_COMMIT_RE = re.compile(r"^commitment v\d+: local ssd in (?P<geo>.+?) for (?P<years>[13]) years?$")
HOURS_A_MONTH = 730.0
"""Google prices GiB-month SKUs on a 730-hour month (the shipped a2-ultragpu rows reproduce with it)."""


@dataclass
class SkuInfo:
    """The parts of a SKU the mapping reads (decoupled from the client's proto types)."""

    sku_id: str
    description: str
    resource_family: str
    resource_group: str
    usage_type: str
    regions: list[str]
    price: float | None
    unit: str
    effective_time: str = ""


@dataclass
class Mapped:
    kind: str
    """gpu | core | ram | ssd | skip | ambiguous | unknown | mismatch."""
    key: str = ""
    """GPU model or host series."""
    usage: str = ""
    """ondemand | spot | cud-1y | cud-3y."""
    reason: str = ""


def classify(sku: SkuInfo) -> Mapped:
    """Map one SKU to (gpu model | host series, usage type) or say why not."""
    desc = " ".join(sku.description.lower().split())
    usage = USAGE_TYPES.get(sku.usage_type)
    if sku.resource_family == "Storage" and usage is not None:
        return _classify_ssd(desc, usage, sku.usage_type)
    if sku.resource_family != "Compute":
        return Mapped("skip", reason="not Compute")
    if usage is None:
        return Mapped("skip", reason=f"usage type {sku.usage_type}")
    if "gpu slice" in desc:
        # "A4 Nvidia B200 (1 gpu slice) running in Netherlands" is the B200 SKU's wording (quoted as such in public
        # code); whether one slice also carries an eighth of the A4 host's vCPUs and memory is not said with it.
        # Reported so an A4 refresh visibly fails to price, instead of being skipped quietly or guessed either way.
        return Mapped("ambiguous", usage=usage, reason="per-slice GPU SKU ('1 gpu slice'): whether the slice includes "
                                                       "its share of the host's vCPUs and memory is not stated; not "
                                                       "guessed")
    if any(word in desc for word in SKIP_WORDS):
        return Mapped("skip", reason="reserved/DWS/custom/premium/other special SKU")
    if _N1_COMMIT_RE.match(desc):
        return Mapped("skip", usage=usage, reason=N1_COMMITMENTS)
    for regex, is_host in ((_GPU_RE, False), (_GPU_COMMIT_RE, False), (_HOST_RE, True), (_HOST_COMMIT_RE, True)):
        match = regex.match(desc)
        if not match:
            continue
        groups = match.groupdict()
        described = "spot" if groups.get("spot") or groups.get("attached") else ("cud-" + groups["years"] + "y" if groups.get("years") else
                                                        "ondemand")
        if described != usage:
            return Mapped("mismatch", reason=f"description says {described}, usage type says {sku.usage_type}")
        if is_host:
            series = HOST_SERIES.get(groups["series"].strip())
            if series is None:
                return Mapped("skip", reason=f"host series {groups['series']!r} not priced here")
            kind = "ram" if groups["kind"] == "ram" else "core"
            return Mapped(kind, series, usage)
        name = groups["name"].strip()
        model = GPU_NAMES.get(name)
        if model is not None:
            return Mapped("gpu", model, usage)
        families = [fam for fam in GPU_FAMILIES if re.search(rf"\b{fam}\b", name)]
        candidates = sorted({c for fam in families for c in GPU_FAMILIES[fam]})
        if candidates:
            return Mapped("ambiguous", usage=usage,
                          reason=f"GPU name {name!r} could be {' or '.join(candidates)}; not guessed")
        return Mapped("unknown", usage=usage, reason=f"GPU name {name!r} is not in the mapping table")
    if " gpu " in f" {desc} ":
        return Mapped("unknown", usage=usage, reason="GPU SKU description in an unknown form")
    return Mapped("skip", reason="not a GPU or A2/A3/G2/N1 host SKU")


def _classify_ssd(desc: str, usage: str, usage_type: str) -> Mapped:
    """A Local SSD SKU (family Storage) -> ("ssd", "local-ssd", usage), or skip (other storage)."""
    match = _SSD_RE.match(desc) or _SSD_COMMIT_RE.match(desc)
    if not match:
        return Mapped("skip", reason="not Compute")
    groups = match.groupdict()
    described = "spot" if groups.get("spot") else ("cud-" + groups["years"] + "y" if groups.get("years") else
                                                   "ondemand")
    if described == "spot" and usage_type == "OnDemand":
        # Google files the generic Spot Local SSD SKU under "On Demand" (its own price list, 2023-10-30: "SSD backed
        # Local Storage attached to Spot Preemptible VMs" in "Local SSD > On Demand", in every location; the same is
        # noted of the live catalog by SKU-reading code).  Its name says Spot and nothing else: read as Spot.
        return Mapped("ssd", "local-ssd", "spot")
    if described != usage:
        return Mapped("mismatch", reason=f"description says {described}, usage type says {usage_type}")
    return Mapped("ssd", "local-ssd", usage)


def sku_info(sku: Any) -> SkuInfo:
    """Read a ``google.cloud.billing_v1.Sku`` into :class:`SkuInfo` (first tier of the latest pricing)."""
    price: float | None = None
    unit = ""
    when = ""
    if sku.pricing_info:
        info = sku.pricing_info[-1]
        expr = info.pricing_expression
        unit = expr.usage_unit
        rates = sorted(expr.tiered_rates, key=lambda r: r.start_usage_amount)
        if rates and rates[0].unit_price.currency_code in ("USD", ""):
            money = rates[0].unit_price
            price = int(money.units) + money.nanos / 1e9
        if info.effective_time:
            when = info.effective_time.isoformat() if hasattr(info.effective_time, "isoformat") else str(
                info.effective_time)
    return SkuInfo(sku_id=sku.sku_id, description=sku.description, resource_family=sku.category.resource_family,
                   resource_group=sku.category.resource_group, usage_type=sku.category.usage_type,
                   regions=list(sku.service_regions), price=price, unit=unit, effective_time=when)


@dataclass
class RefreshResult:
    """What a refresh read, mapped, wrote, and what it refused to guess."""

    provider: str
    skus_seen: int = 0
    pages: int = 0
    mapped: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    path: str = ""
    refreshed_at: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"provider": self.provider, "skus_seen": self.skus_seen, "pages": self.pages, "mapped": self.mapped,
                "rows": len(self.rows), "problems": self.problems, "skipped": self.skipped, "path": self.path,
                "refreshed_at": self.refreshed_at, **self.extra}


def build_prices(skus: Iterable[SkuInfo]) -> tuple[dict[tuple[str, str, str, str], float], list[str], dict[str, int]]:
    """(kind, key, region, usage) -> USD per hour (per GPU, per vCPU, per GiB), problems, skip counts."""
    seen: dict[tuple[str, str, str, str], tuple[float, str]] = {}
    conflicts: set[tuple[str, str, str, str]] = set()
    problems: list[str] = []
    skipped: dict[str, int] = defaultdict(int)
    for sku in skus:
        mapped = classify(sku)
        if mapped.kind == "skip":
            skipped[mapped.reason] += 1
            continue
        if mapped.kind in ("ambiguous", "unknown", "mismatch"):
            problems.append(f"SKU {sku.sku_id} {sku.description!r}: {mapped.reason}")
            continue
        expected_unit = {"ram": "GiBy.h", "ssd": "GiBy.mo"}.get(mapped.kind, "h")
        if sku.unit != expected_unit or sku.price is None:
            problems.append(f"SKU {sku.sku_id} {sku.description!r}: unit {sku.unit!r} / price {sku.price} "
                            f"not the expected USD per {expected_unit}; not used")
            continue
        if sku.price == 0:
            # Google's price list carries 0.00 SKUs where the part is not sold (recorded 2023-10-30: V100 in Osaka,
            # beside a 0.74 Spot SKU; 0.00 commitments).  Taken as a price, a machine there is its host alone.
            skipped["price 0.00 (listed where the part is not sold): not a price"] += 1
            continue
        hourly = sku.price / HOURS_A_MONTH if expected_unit == "GiBy.mo" else sku.price
        for region in sku.regions:
            key = (mapped.kind, mapped.key, region, mapped.usage)
            if key in seen and abs(seen[key][0] - hourly) > 1e-9:
                conflicts.add(key)
                problems.append(f"conflict: {mapped.kind} {mapped.key} {mapped.usage} in {region} priced "
                                f"{seen[key][0]:.6f} by SKU {seen[key][1]} and {hourly:.6f} by SKU {sku.sku_id};"
                                " neither used")
            else:
                seen.setdefault(key, (hourly, sku.sku_id))
    prices = {k: v[0] for k, v in seen.items() if k not in conflicts}
    for (kind, key, region, usage), price in list(prices.items()):
        if usage == "spot":
            ondemand = prices.get((kind, key, region, "ondemand"))
            if ondemand is not None and price > ondemand:
                problems.append(f"spot {kind} {key} in {region} ({price:.6f}) is above on-demand ({ondemand:.6f}): "
                                "spot price dropped")
                del prices[(kind, key, region, usage)]
    return prices, problems, dict(skipped)


def machine_rows(prices: dict[tuple[str, str, str, str], float]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Machine prices for every embedded machine shape in every region with all three parts priced."""
    rows: list[dict[str, Any]] = []
    shapes = {}
    for m in embedded_catalog().gcp_machines:
        if m.vcpus is not None and m.memory_gb is not None:  # N1: every GPU count it takes, by its count
            shapes[(m.machine_type, m.gpu_model, m.gpu_count)] = m
    regions = sorted({k[2] for k in prices})
    for (machine_type, gpu_model, _count), shape in sorted(shapes.items()):
        series = machine_series(machine_type)
        for region in regions:
            def total(usage: str) -> tuple[float | None, float | None, float | None]:
                gpu = prices.get(("gpu", gpu_model, region, usage))
                core = prices.get(("core", series, region, usage))
                ram = prices.get(("ram", series, region, usage))
                # the bundled Local SSD is part of the machine's price: without its SKU the total would be low.  The
                # generic Local SSD SKUs price it for A2 Ultra and A3, per usage (as Cyclenerd's pricing.pl does,
                # build/pricing.pl @ dac31281 lines 1136-1140; only C4/C4A/C4D have SSD SKUs of their own)
                ssd = prices.get(("ssd", "local-ssd", region, usage)) if shape.local_ssd_gb else 0.0
                if gpu is None or core is None or ram is None or ssd is None:
                    return None, None, gpu
                host = core * float(shape.vcpus or 0) + ram * float(shape.memory_gb or 0) + \
                    ssd * float(shape.local_ssd_gb or 0)
                return host + gpu * shape.gpu_count, host, gpu

            ondemand, host_od, gpu_od = total("ondemand")
            if ondemand is None:
                continue
            spot, host_spot, gpu_spot = total("spot")
            cud1, _, _ = total("cud-1y")
            cud3, _, _ = total("cud-3y")
            rows.append({"machine_type": machine_type, "gpu_model": gpu_model, "gpu_count": shape.gpu_count,
                         "gpu_memory_gb": shape.gpu_memory_gb, "vcpus": shape.vcpus, "memory_gb": shape.memory_gb,
                         "region": region, "ondemand_usd_per_hr": ondemand, "spot_usd_per_hr": spot,
                         "host_ondemand_usd_per_hr": host_od, "gpu_ondemand_usd_per_hr": gpu_od,
                         "host_spot_usd_per_hr": host_spot, "gpu_spot_usd_per_hr": gpu_spot,
                         "cud_1y_usd_per_hr": cud1, "cud_3y_usd_per_hr": cud3, "shape": shape.shape,
                         "local_ssd_gb": shape.local_ssd_gb})
    # committed-use discount per GPU model, us-central1 where priced (informational, shown by `catalog show`)
    discounts: dict[str, Any] = {}
    for (kind, key, region, usage), price in prices.items():
        if kind == "gpu" and usage in ("cud-1y", "cud-3y") and region == "us-central1":
            ondemand = prices.get((kind, key, region, "ondemand"))
            if ondemand:
                discounts.setdefault(usage, {})[f"gpu:{key}"] = round(1 - price / ondemand, 6)
    return rows, discounts


def make_client() -> Any:
    """A ``CloudCatalogClient`` over REST: API key from $GPUMIGRATE_BILLING_API_KEY, else Application Default
    Credentials; endpoint from $GPUMIGRATE_BILLING_CATALOG_ENDPOINT when set."""
    from google.cloud import billing_v1

    options: dict[str, Any] = {}
    endpoint = os.environ.get(ENDPOINT_ENV)
    if endpoint:
        options["api_endpoint"] = endpoint
    api_key = os.environ.get(API_KEY_ENV)
    if api_key:
        options["api_key"] = api_key
        return billing_v1.CloudCatalogClient(transport="rest", client_options=options)
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    try:
        credentials, _project = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-billing.readonly"])
    except DefaultCredentialsError:
        raise EnvironmentProblem(
            f"no Google Cloud credentials for the Cloud Billing Catalog API: set {API_KEY_ENV} to an API key, or "
            "set up Application Default Credentials (gcloud auth application-default login, or "
            "GOOGLE_APPLICATION_CREDENTIALS); the embedded catalog stays in use") from None
    return billing_v1.CloudCatalogClient(credentials=credentials, transport="rest", client_options=options)


def refresh_gcp(emit: Emit = discard, *, cancel: threading.Event | None = None, cache: Path | None = None,
                page_size: int = 5000, client: Any = None) -> RefreshResult:
    """Read every page of Compute Engine SKUs, map them, and write the GCP price cache."""
    from google.api_core import exceptions as gexc

    cancel = cancel or threading.Event()
    client = client if client is not None else make_client()
    result = RefreshResult(provider="gcp")
    infos: list[SkuInfo] = []
    try:
        pager = client.list_skus(request={"parent": COMPUTE_SERVICE, "currency_code": "USD",
                                          "page_size": page_size})
        for page in pager.pages:
            if cancel.is_set():
                raise Interrupted("catalog refresh interrupted; the previous cache is unchanged")
            result.pages += 1
            for sku in page.skus:
                infos.append(sku_info(sku))
            result.skus_seen = len(infos)
            emit(Progress("catalog", done=result.skus_seen, unit="SKUs", label="gcp"))
    except (gexc.Unauthorized, gexc.Forbidden) as exc:
        raise EnvironmentProblem(f"the Cloud Billing Catalog API refused the credentials ({exc.message}); "
                                 f"check {API_KEY_ENV} or Application Default Credentials") from None
    except gexc.GoogleAPICallError as exc:
        raise EnvironmentProblem(f"the Cloud Billing Catalog API failed: {exc.message}") from None
    except (GpumigrateError, KeyboardInterrupt):
        raise
    except Exception as exc:  # connection refused, DNS, TLS: the service is unreachable
        raise EnvironmentProblem(f"cannot reach the Cloud Billing Catalog API: {exc}") from None
    prices, problems, skipped = build_prices(infos)
    rows, discounts = machine_rows(prices)
    result.mapped = len(prices)
    result.rows, result.problems, result.skipped = rows, problems, skipped
    for problem in problems:
        emit(Message("catalog", text=f"gcp: {problem}", level="warning"))
    if not rows:
        raise GpumigrateError(f"the Billing Catalog returned {result.skus_seen} SKUs but no machine could be priced "
                              f"({len(problems)} problems); the price cache ({GCP_CACHE}) is unchanged: the embedded prices (or "
                              "an earlier refresh's) stay in use")
    result.refreshed_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    path = (cache if cache is not None else cache_dir()) / GCP_CACHE
    result.extra.update(compare(path, "machines", ("machine_type", "gpu_model", "region", "gpu_count"), rows))
    result.extra["n1_commitments_skipped"] = skipped.get(N1_COMMITMENTS, 0)
    write_cache(path, {"refreshed_at": result.refreshed_at, "source": SOURCE, "machines": rows,
                       "n1_commitments_skipped": result.extra["n1_commitments_skipped"],
                       "cud_discounts": discounts, "problems": problems,
                       "gpu_prices": [{"kind": k[0], "key": k[1], "region": k[2], "usage": k[3], "usd_per_hr": v}
                                      for k, v in sorted(prices.items())]})
    result.path = str(path)
    return result
