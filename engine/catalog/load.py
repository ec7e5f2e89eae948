"""The price and hardware catalog: embedded data files, overlaid by a refreshed user cache.

The embedded catalog ships in ``engine/catalog/data/`` as CSV files that keep
the ``source``, ``source_date``, ``as_of`` and ``verified`` columns of the facts
they were built from, so everything works offline and every price can say
where it came from and how old it is.  ``gpumigrate catalog refresh`` writes
JSON files under ``state_dir()/catalog/``; :func:`load_catalog` lays those over
the embedded rows (a refreshed row replaces the embedded row with the same key
and says so in its ``origin``).

Nothing here talks to the network; the refreshers live in ``refresh_gcp.py``
and ``refresh_aws.py``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from engine.gpus.names import same_gpu

EMBEDDED = "embedded"
REFRESHED = "refreshed"
NEGOTIATED = "negotiated"

GCP_CACHE = "gcp.json"
AWS_CACHE = "aws.json"
AWS_NET_CACHE = "aws_network.json"
CACHE_FORMAT = 1


def cache_dir() -> Path:
    """Where refreshed prices live: ``state_dir()/catalog``."""
    from engine.session import state_dir

    return state_dir() / "catalog"


# --- rows ---------------------------------------------------------------------


@dataclass(frozen=True)
class Origin:
    """Where a price came from: embedded (with its as-of date), refreshed (with the refresh date) or negotiated."""

    kind: str
    source: str
    date: str
    verified: str = ""

    def describe(self, today: date | None = None) -> str:
        """``embedded, as of 2025-06 (17 months old)`` and the like."""
        if self.kind == NEGOTIATED:
            return f"negotiated ({self.source})"
        when = self.date or "undated"
        age = age_text(self.date, today)
        text = f"{self.kind}, {'as of' if self.kind == EMBEDDED else 'on'} {when}"
        if age:
            text += f" ({age})"
        if self.verified and not self.verified.startswith("yes"):
            text += f"; verified={self.verified}"
        return text


@dataclass(frozen=True, kw_only=True)
class _Sourced:
    """Where a row's figures come from: every catalog row carries its origin, source and age."""

    origin: str = EMBEDDED
    source: str = ""
    date: str = ""
    verified: str = ""
    notes: str = ""

    @property
    def price_origin(self) -> Origin:
        return Origin(self.origin, self.source, self.date, self.verified)


def _embedded(r: dict[str, str]) -> dict[str, str]:
    """The provenance columns of a shipped CSV row, as :class:`_Sourced` fields."""
    return {"origin": EMBEDDED, "source": r["source"], "date": r["as_of"], "verified": r["verified"],
            "notes": r["notes"]}


@dataclass(frozen=True)
class GcpMachine(_Sourced):
    """A Compute Engine GPU machine type in one region; prices are per instance-hour (host + GPUs)."""

    machine_type: str
    gpu_model: str
    gpu_count: int
    gpu_memory_gb: float | None
    """Memory per GPU, in GB."""
    vcpus: float | None
    memory_gb: float | None
    region: str
    ondemand_usd_per_hr: float | None
    spot_usd_per_hr: float | None
    host_ondemand_usd_per_hr: float | None = None
    gpu_ondemand_usd_per_hr: float | None = None
    """Per GPU."""
    host_spot_usd_per_hr: float | None = None
    gpu_spot_usd_per_hr: float | None = None
    cud_1y_usd_per_hr: float | None = None
    """Committed-use price an instance-hour (published per region; refreshed from Commit1Yr SKUs)."""
    cud_3y_usd_per_hr: float | None = None
    local_ssd_gb: float | None = None
    """Local SSD bundled with (and priced in) the machine type, in GB."""
    spot_date: str = ""
    """When the spot price was read (spot prices change up to once a day)."""
    cud_date: str = ""
    """When the committed-use prices were published, where older than the row (N1 GPU commitments come from
    Google's 2022 price list): a commitment is aged by this date, not the on-demand price's."""
    spot_source: str = ""
    cud_source: str = ""
    """Set on a refreshed row whose spot (or commitment) figures the refresh did not read: they are the
    embedded catalog's, from this source, aged by ``spot_date`` / ``cud_date``."""
    shape: str = ""
    """"n1-flexible": an N1 type + GPU count Google documents beyond the catalog's one usual shape per GPU count
    (n1-standard-4 + 1 T4); priced and validated like any row, but not a sizing candidate."""

    @property
    def series(self) -> str:
        return machine_series(self.machine_type)


@dataclass(frozen=True)
class GcpZone:
    """A region (and zone, where the source lists it) where a GPU model is offered."""

    gpu_model: str
    machine_series: str
    region: str
    zone: str
    """Empty when the source lists the region without its zones."""
    source: str
    date: str
    verified: str


@dataclass(frozen=True)
class StoragePrice(_Sourced):
    """Google Cloud storage at rest in one region: a GCS class (``kind`` gcs) or a persistent disk type (disk)."""

    kind: str
    storage_class: str
    region: str
    usd_per_gib_month: float


@dataclass(frozen=True)
class AwsInstance(_Sourced):
    """An EC2 GPU instance type in one region; on-demand Linux price per instance-hour."""

    instance_type: str
    family: str
    gpu_model: str
    gpu_count: float
    """GPUs per instance (fractional for the g6f shapes)."""
    gpu_memory_gb: float | None
    """Memory per GPU, in GB."""
    vcpus: float | None
    memory_gb: float | None
    region: str
    ondemand_usd_per_hr: float | None


@dataclass(frozen=True)
class Discount(_Sourced):
    """A discount rate (committed use, sustained use) with its scope."""

    provider: str
    kind: str
    scope: str
    discount: float


@dataclass(frozen=True)
class NetPrice(_Sourced):
    """One network, storage, request or transfer-service price; tiers are by monthly volume in GB."""

    key: str
    provider: str
    category: str
    item: str
    scope: str
    tier_start_gb: float | None
    tier_end_gb: float | None
    price_usd: float
    unit: str


@dataclass
class Catalog:
    """Everything the cost model and the sizing work know about prices and machines."""

    gcp_machines: list[GcpMachine] = field(default_factory=list)
    aws_instances: list[AwsInstance] = field(default_factory=list)
    discounts: list[Discount] = field(default_factory=list)
    network: list[NetPrice] = field(default_factory=list)
    gcp_zones: list[GcpZone] = field(default_factory=list)
    gcp_storage: list[StoragePrice] = field(default_factory=list)
    refreshed: dict[str, str] = field(default_factory=dict)
    """provider -> when its cache was refreshed (ISO time); empty when only embedded data is in use."""
    refreshed_oldest: dict[str, str] = field(default_factory=dict)
    """provider -> the oldest refresh still in its cache (AWS caches keep other regions' rows from earlier
    refreshes), when older than ``refreshed``: the footer must not call those rows as fresh as the newest."""
    problems: list[str] = field(default_factory=list)
    """Things a person should know (an unreadable cache, SKUs a refresh could not map)."""
    n1_commitments_skipped: int = 0
    """N1 commitment SKUs the last Billing Catalog refresh saw and did not model: an N1 row's commitment price is
    the embedded one (dated), or there is none."""
    _by_type: dict[str, list[GcpMachine]] = field(default_factory=dict, repr=False, compare=False)
    _by_type_key: tuple[int, int] = field(default=(0, -1), repr=False, compare=False)
    _offered: dict[str, list[GcpZone] | None] = field(default_factory=dict, repr=False, compare=False)
    _zones_key: tuple[int, int] = field(default=(0, -1), repr=False, compare=False)

    def machines_of(self, machine_type: str) -> list[GcpMachine]:
        """Every row of one machine type (an index rebuilt when ``gcp_machines`` is replaced or grows:
        sizing prices hundreds of shapes, and a scan of every row per lookup cost 5 ms each)."""
        key = (id(self.gcp_machines), len(self.gcp_machines))
        if key != self._by_type_key:
            index: dict[str, list[GcpMachine]] = {}
            for row in self.gcp_machines:
                index.setdefault(row.machine_type, []).append(row)
            self._by_type, self._by_type_key = index, key
        return self._by_type.get(machine_type, [])

    # --- lookups -------------------------------------------------------------

    def aws_instance(self, instance_type: str, region: str | None = None) -> AwsInstance | None:
        """The row for an instance type (refreshed before embedded; ``region`` None = any, us-east-1 first)."""
        rows = [r for r in self.aws_instances if r.instance_type == instance_type]
        if region is not None:
            rows = [r for r in rows if r.region == region]
        return _best(rows, preferred_region="us-east-1")

    def gcp_machine(self, machine_type: str, region: str | None = None,
                    gpu_model: str | None = None, gpu_count: int | None = None) -> GcpMachine | None:
        """The row for a machine type (N1 types take ``gpu_model`` to pick the attached GPU and ``gpu_count``
        how many; without a count, the usual shape where there is one, else the fewest GPUs)."""
        rows = list(self.machines_of(machine_type))
        if gpu_model is not None:
            rows = [r for r in rows if gpu_matches(r.gpu_model, gpu_model)]
        if gpu_count is not None:
            rows = [r for r in rows if r.gpu_count == gpu_count]
        elif any(r.shape for r in rows):
            usual = [r for r in rows if not r.shape]
            rows = usual or [r for r in rows if r.gpu_count == min(x.gpu_count for x in rows)]
        if region is not None:
            rows = [r for r in rows if r.region == region]
        return _best(rows, preferred_region="us-central1")

    def gcp_machines_for_gpu(self, gpu_model: str, region: str | None = None) -> list[GcpMachine]:
        """Machine types with this GPU ("A100" matches 40GB and 80GB; "A100 80GB" only the latter)."""
        rows = [r for r in self.gcp_machines if gpu_matches(r.gpu_model, gpu_model) and not r.shape]
        if region is not None:
            rows = [r for r in rows if r.region == region]
        best: dict[tuple[str, str, str], GcpMachine] = {}
        for row in rows:
            key = (row.machine_type, row.gpu_model, row.region)
            if key not in best or (row.origin == REFRESHED and best[key].origin != REFRESHED):
                best[key] = row
        return sorted(best.values(), key=lambda r: (r.gpu_count, r.region != "us-central1", r.region,
                                                    r.ondemand_usd_per_hr or float("inf")))

    def storage_price(self, kind: str, storage_class: str, region: str) -> StoragePrice | None:
        """GCS class (``kind`` "gcs") or disk type ("disk") price per GiB-month in ``region``."""
        return next((r for r in self.gcp_storage
                     if r.kind == kind and r.storage_class == storage_class and r.region == region), None)

    def gpu_offered_in(self, gpu_model: str, machine_type: str | None = None) -> list[GcpZone] | None:
        """Where ``gpu_model`` is offered, or None when the catalog does not know (availability unchecked).

        With ``machine_type``, the zones of its own series when the catalog lists them apart (A3 Edge is offered
        in zones A3 High is not, with the same GPU); otherwise every zone offering the GPU."""
        key = (id(self.gcp_zones), len(self.gcp_zones))
        if key != self._zones_key:
            self._offered, self._zones_key = {}, key
        series = "-".join(machine_type.split("-")[:2]) if machine_type else ""
        cache = f"{gpu_model}\0{series}"
        if cache not in self._offered:
            rows = [z for z in self.gcp_zones
                    if gpu_matches(gpu_model, z.gpu_model) or gpu_matches(z.gpu_model, gpu_model)]
            own = [z for z in rows if series and series in z.machine_series.split("/")]
            self._offered[cache] = own or rows or None
        return self._offered[cache]

    def cud_discount(self, kind: str, machine_type: str | None = None) -> Discount | None:
        """The committed-use discount for ``cud-1y``/``cud-3y`` measured for the machine series, or None."""
        series = machine_series(machine_type or "")
        rows = [d for d in self.discounts if d.provider == "gcp" and d.kind == kind]
        # Only a rate measured for the series: a "default" rate would be a guess at a price nobody published.
        return next((row for row in rows if row.scope == series), None)

    def net_tiers(self, key: str) -> list[NetPrice]:
        """The tiers of one network/storage price, in order (one row for a flat price)."""
        rows = [r for r in self.network if r.key == key]
        return sorted(rows, key=lambda r: r.tier_start_gb or 0.0)

    def net_tiers_in(self, key: str, scope: str) -> list[NetPrice]:
        """The tiers of one price for one region or region pair (with any all-region rows, such as a free
        allowance); empty when the catalog has no row for ``scope`` itself."""
        rows = [r for r in self.network if r.key == key and (r.scope == scope or r.scope.startswith("all"))]
        if not any(r.scope == scope for r in rows):
            return []
        return sorted(rows, key=lambda r: r.tier_start_gb or 0.0)

    def net_scopes(self, key: str) -> list[str]:
        return sorted({r.scope for r in self.network if r.key == key and not r.scope.startswith("all")})

    def net_price(self, key: str) -> NetPrice | None:
        tiers = self.net_tiers(key)
        return tiers[0] if tiers else None

    def age_note(self, today: date | None = None) -> str:
        """One line on how old the prices are, for every screen and table footer."""
        parts = []
        for provider in ("gcp", "aws"):
            when = self.refreshed.get(provider)
            if when:
                text = f"{provider.upper()} refreshed {when[:10]} ({age_text(when[:10], today)})"
                oldest = self.refreshed_oldest.get(provider, "")
                if oldest[:10] and oldest[:10] < when[:10]:
                    text += f", some regions' rows on {oldest[:10]} ({age_text(oldest[:10], today)})"
                parts.append(text)
            else:
                parts.append(f"{provider.upper()} embedded" + self._embedded_span(provider))
        return "; ".join(parts)

    def _embedded_span(self, provider: str) -> str:
        """" 2025..2026-10-13": the dates of the embedded machine prices, so a catalog installed long after its
        release reads as old. No age or STALE word here (they depend on the day, and this line is in every cost
        screen's snapshot): each row carries its own age and flag, and the one-line summary names the stale ones."""
        rows = self.gcp_machines if provider == "gcp" else self.aws_instances
        dated = sorted({(when, r.date) for r in rows if r.origin == EMBEDDED
                        for when in [parse_as_of(r.date)] if when is not None})
        return f" {dated[0][1]}..{dated[-1][1]}" if dated else ""


def _best(rows: list[Any], preferred_region: str) -> Any:
    if not rows:
        return None
    return sorted(rows, key=lambda r: (r.origin != REFRESHED, r.region != preferred_region, r.region))[0]


def machine_series(machine_type: str) -> str:
    """``a2-highgpu-1g`` -> ``a2``; ``a3-megagpu-8g`` -> ``a3-mega`` (its host is priced apart)."""
    parts = machine_type.split("-")
    if len(parts) < 2:
        return parts[0]
    family, shape = parts[0], parts[1]
    for special in ("mega", "ultra", "edge"):
        if family == "a3" and shape.startswith(special):
            return f"a3-{special}"
    return family


@lru_cache(maxsize=4096)
def _norm_gpu(name: str) -> str:
    return re.sub(r"[\s_-]+", " ", name.strip().lower()).replace("tesla ", "").replace("nvidia ", "")


SKU_MARKERS = {"mega"}
"""Words the catalog uses to tell two machine SKUs of one GPU apart ("H100 80GB Mega" is A3 Mega's H100)."""


@lru_cache(maxsize=8192)
def gpu_matches(catalog_model: str, wanted: str) -> bool:
    """True when ``wanted`` names this GPU: the catalog's own name or its family ("A100" for "A100 80GB"), or any
    name the shared matcher (:func:`engine.gpus.names.same_gpu`) knows for the same GPU ("NVIDIA H100 80GB HBM3",
    "nvidia-tesla-t4", "Tesla V100-SXM2-16GB"), unless it asks for a SKU this row is not ("... Mega")."""
    have, want = _norm_gpu(catalog_model), _norm_gpu(wanted)
    if have == want or have.startswith(want + " "):
        return True
    if (set(want.split()) & SKU_MARKERS) - set(have.split()):
        return False
    return same_gpu(catalog_model, wanted)


# --- dates ----------------------------------------------------------------------


@lru_cache(maxsize=1024)
def parse_as_of(text: str) -> date | None:
    """``2025-06`` / ``2025`` / ``2026-02-12`` / an ISO time -> a date (first of the period)."""
    text = (text or "").strip()
    match = re.match(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?", text)
    if not match:
        return None
    year, month, day = match.group(1), match.group(2) or "01", match.group(3) or "01"
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def age_text(as_of: str, today: date | None = None) -> str:
    when = parse_as_of(as_of)
    if when is None:
        return ""
    today = today or datetime.now(timezone.utc).date()
    days = (today - when).days
    if days < 0:
        return "dated in the future"
    if days < 60:
        return f"{days} days old"
    return f"{round(days / 30.44)} months old"


# --- loading --------------------------------------------------------------------


def _f(value: str | None) -> float | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    return float(value)


@lru_cache(maxsize=None)
def _read_csv_cached(name: str) -> tuple[dict[str, str], ...]:
    text = resources.files("engine.catalog").joinpath("data", name).read_text(encoding="utf-8")
    return tuple(csv.DictReader(text.splitlines()))


def _read_csv(name: str) -> list[dict[str, str]]:
    """The rows of a shipped CSV (read once a process: the files are part of the installed package)."""
    return [dict(r) for r in _read_csv_cached(name)]


def embedded_catalog() -> Catalog:
    """The catalog shipped in the package, with no refreshed overlay (a fresh Catalog each call: its lists
    are copies, its rows immutable, so a caller may overlay or filter it freely)."""
    shipped = _shipped()
    return Catalog(gcp_machines=list(shipped.gcp_machines), aws_instances=list(shipped.aws_instances),
                   discounts=list(shipped.discounts), network=list(shipped.network),
                   gcp_zones=list(shipped.gcp_zones), gcp_storage=list(shipped.gcp_storage))


@lru_cache(maxsize=1)
def _shipped() -> Catalog:
    """The shipped rows, built once a process (profile validation consults the catalog on every load)."""
    cat = Catalog()
    for r in _read_csv("gcp_gpu_machines.csv"):
        cat.gcp_machines.append(GcpMachine(
            machine_type=r["machine_type"], gpu_model=r["gpu_model"], gpu_count=int(r["gpu_count"]),
            gpu_memory_gb=_f(r["gpu_memory_gb"]), vcpus=_f(r["vcpus"]), memory_gb=_f(r["memory_gb"]),
            region=r["region"], ondemand_usd_per_hr=_f(r["ondemand_usd_per_hr"]),
            spot_usd_per_hr=_f(r["spot_usd_per_hr"]), host_ondemand_usd_per_hr=_f(r["host_ondemand_usd_per_hr"]),
            gpu_ondemand_usd_per_hr=_f(r["gpu_ondemand_usd_per_hr"]),
            host_spot_usd_per_hr=_f(r["host_spot_usd_per_hr"]), gpu_spot_usd_per_hr=_f(r["gpu_spot_usd_per_hr"]),
            cud_1y_usd_per_hr=_f(r.get("cud_1y_usd_per_hr")), cud_3y_usd_per_hr=_f(r.get("cud_3y_usd_per_hr")),
            local_ssd_gb=_f(r.get("local_ssd_gb")), spot_date=r.get("spot_as_of") or "",
            cud_date=r.get("cud_as_of") or "", shape=r.get("shape") or "", **_embedded(r)))
    for r in _read_csv("gcp_storage_prices.csv"):
        cat.gcp_storage.append(StoragePrice(kind=r["kind"], storage_class=r["storage_class"], region=r["region"],
                                            usd_per_gib_month=float(r["usd_per_gib_month"]), origin=EMBEDDED,
                                            source=r["source"], date=r["as_of"], verified=r["verified"]))
    for r in _read_csv("gcp_gpu_zones.csv"):
        cat.gcp_zones.append(GcpZone(gpu_model=r["gpu_model"], machine_series=r["machine_series"], region=r["region"],
                                     zone=r["zone"], source=r["source"], date=r["source_date"],
                                     verified=r["verified"]))
    for r in _read_csv("aws_gpu_instances.csv"):
        cat.aws_instances.append(AwsInstance(
            instance_type=r["instance_type"], family=r["family"], gpu_model=r["gpu_model"],
            gpu_count=float(r["gpu_count"]), gpu_memory_gb=_f(r["gpu_memory_gb"]), vcpus=_f(r["vcpus"]),
            memory_gb=_f(r["memory_gb"]), region=r["region"], ondemand_usd_per_hr=_f(r["ondemand_usd_per_hr"]),
            **_embedded(r)))
    for r in _read_csv("gcp_discounts.csv"):
        cat.discounts.append(Discount(
            provider=r["provider"], kind=r["kind"], scope=r["scope"], discount=float(r["discount"]),
            **_embedded(r)))
    for r in [*_read_csv("network_storage_prices.csv"), *_read_csv("gcp_interregion_egress.csv")]:
        cat.network.append(NetPrice(
            key=r["key"], provider=r["provider"], category=r["category"], item=r["item"],
            scope=r["region_or_scope"], tier_start_gb=_f(r["tier_start_gb"]), tier_end_gb=_f(r["tier_end_gb"]),
            price_usd=float(r["price_usd"]), unit=r["unit"], **_embedded(r)))
    return cat


def load_catalog(cache: Path | None = None) -> Catalog:
    """The embedded catalog with the user's refreshed prices laid over it (when a refresh has run)."""
    cat = embedded_catalog()
    folder = cache if cache is not None else cache_dir()
    _overlay_gcp(cat, folder / GCP_CACHE)
    _overlay_aws(cat, folder / AWS_CACHE)
    _overlay_aws_network(cat, folder / AWS_NET_CACHE)
    return cat


@lru_cache(maxsize=1)
def _embedded_digest() -> str:
    folder = resources.files("engine.catalog").joinpath("data")
    digest = hashlib.sha256()
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".csv"):
            digest.update(entry.name.encode() + b"\0" + entry.read_bytes())
    return digest.hexdigest()[:16]


def cache_stamp(cache: Path | None = None) -> tuple[tuple[str, int, int], ...]:
    """(name, mtime ns, size) of each refreshed cache present: cheap enough to check on every screen visit, so a
    catalog held in memory is read again after `gpumigrate catalog refresh` ran in another terminal."""
    folder = cache if cache is not None else cache_dir()
    stamp = []
    for name in (GCP_CACHE, AWS_CACHE, AWS_NET_CACHE):
        try:
            st = (folder / name).stat()
        except OSError:
            continue
        stamp.append((name, st.st_mtime_ns, st.st_size))
    return tuple(stamp)


def prices_digest(cache: Path | None = None) -> str:
    """A digest of every price :func:`load_catalog` would read: the shipped data and the refreshed caches. A figure
    computed from other prices (a cost step a session completed before `catalog refresh`) is out of date."""
    folder = cache if cache is not None else cache_dir()
    digest = hashlib.sha256(_embedded_digest().encode())
    for name in (GCP_CACHE, AWS_CACHE, AWS_NET_CACHE):
        try:
            digest.update(name.encode() + b"\0" + (folder / name).read_bytes())
        except OSError:
            digest.update(name.encode() + b"\0-")
    return digest.hexdigest()[:16]


def _read_cache(path: Path, cat: Catalog) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT:
            raise ValueError("unknown format")
        return data
    except (OSError, ValueError) as exc:
        cat.problems.append(f"{path}: unreadable price cache ({exc}); using the embedded catalog")
        return None


READ_FROM_API = "yes (read from the API)"


def _cached_rows(cat: Catalog, path: Path, section: str, make: Callable[[dict[str, Any]], Any],
                 default_source: str) -> tuple[dict[str, Any], list[Any], str, str] | None:
    """(the cache, the rows of its ``section`` built by ``make``, when it was refreshed, its source), or None when
    there is no cache or a row is malformed (a problem is noted and the embedded catalog stays whole).

    The three overlays share this and :func:`_replace_rows`; what differs is only the row type, its key and
    what a refreshed row keeps of the embedded one."""
    data = _read_cache(path, cat)
    if data is None:
        return None
    try:
        rows = [make(row) for row in data.get(section, [])]
    except (KeyError, TypeError, ValueError) as exc:
        cat.problems.append(f"{path}: bad {section} row ({exc}); using the embedded catalog")
        return None
    return data, rows, str(data.get("refreshed_at", "")), str(data.get("source", default_source))


def _fields_of(row_type: Any) -> Callable[[dict[str, Any]], Any]:
    """A cached row as ``row_type`` (a dataclass), ignoring fields this version does not know."""
    fields = set(row_type.__dataclass_fields__)
    return lambda row: row_type(**{k: v for k, v in row.items() if k in fields})


def row_refreshed_at(row: dict[str, Any], cache_when: str) -> str:
    """When one cached row was read: its own ``refreshed_at`` (AWS caches keep other regions' rows from earlier
    refreshes, each with its date), else the cache's (a cache written before rows carried one)."""
    own = row.get("refreshed_at")
    return own if isinstance(own, str) and parse_as_of(own) is not None else cache_when


def _replace_rows(old: list[Any], new: list[Any], key: Callable[[Any], Any]) -> list[Any]:
    """``old`` without the rows ``new`` refreshes (same key), then ``new``."""
    keys = {key(r) for r in new}
    return [r for r in old if key(r) not in keys] + new


def _gcp_key(row: GcpMachine) -> tuple[str, str, str, int]:
    return row.machine_type, row.gpu_model, row.region, row.gpu_count  # N1: one row per GPU count


def _overlay_gcp(cat: Catalog, path: Path) -> None:
    got = _cached_rows(cat, path, "machines", _fields_of(GcpMachine), "Cloud Billing Catalog API")
    if got is None:
        return
    data, rows, when, source = got
    embedded = {_gcp_key(m): m for m in cat.gcp_machines}
    skipped = data.get("n1_commitments_skipped")
    cat.n1_commitments_skipped = skipped if isinstance(skipped, int) else 0
    rows = [_keep_unread(replace(r, origin=REFRESHED, source=source, date=when[:10], verified=READ_FROM_API,
                                 spot_source="", cud_source=""), embedded, cat.n1_commitments_skipped)
            for r in rows]
    cat.gcp_machines = _replace_rows(cat.gcp_machines, rows, _gcp_key)
    for kind, rate in (data.get("cud_discounts") or {}).items():
        for scope, value in rate.items():
            cat.discounts = [d for d in cat.discounts if not (d.kind == kind and d.scope == scope)]
            cat.discounts.append(Discount("gcp", kind, scope, float(value), origin=REFRESHED, source=source,
                                          date=when[:10], verified=READ_FROM_API,
                                          notes="derived from Commit SKUs / OnDemand SKUs"))
    cat.refreshed["gcp"] = when
    cat.problems.extend(f"gcp refresh: {p}" for p in data.get("problems", [])[:50])


def _keep_unread(row: GcpMachine, embedded: dict[tuple[str, str, str], GcpMachine],
                 n1_commitments_skipped: int = 0) -> GcpMachine:
    """A refreshed row keeps the embedded spot and commitment figures its refresh did not read.

    A refresh answer without spot or commitment SKUs for a machine (a partial page, an ambiguous SKU
    reported rather than guessed) used to replace the embedded row whole: spot profiles then failed and
    commitments were said to be "not published". The kept figures say where they come from and how old they are.
    """
    old = embedded.get((row.machine_type, row.gpu_model, row.region, row.gpu_count))
    if old is None:
        return row
    kept: dict[str, Any] = {}
    if row.spot_usd_per_hr is None and old.spot_usd_per_hr is not None:
        kept.update(spot_usd_per_hr=old.spot_usd_per_hr, host_spot_usd_per_hr=old.host_spot_usd_per_hr,
                    gpu_spot_usd_per_hr=old.gpu_spot_usd_per_hr, spot_date=old.spot_date or old.date,
                    spot_source=old.spot_source or old.source)
    if row.cud_1y_usd_per_hr is None and row.cud_3y_usd_per_hr is None \
            and (old.cud_1y_usd_per_hr is not None or old.cud_3y_usd_per_hr is not None):
        kept.update(cud_1y_usd_per_hr=old.cud_1y_usd_per_hr, cud_3y_usd_per_hr=old.cud_3y_usd_per_hr,
                    cud_date=old.cud_date or old.date, cud_source=old.cud_source or old.source)
    if not kept:
        return row
    what = " and ".join(w for w, k in (("spot", "spot_source"), ("commitment", "cud_source")) if k in kept)
    note = f"the refresh read no {what} price: the embedded one is kept, with its own date"
    if "cud_source" in kept and row.series == "n1" and n1_commitments_skipped:
        note += (f" (N1 commitments are not modelled: the refresh skipped {n1_commitments_skipped} N1 commitment "
                 "SKUs)")
    return replace(row, **kept, notes="; ".join(n for n in (row.notes, old.notes, note) if n))


def _overlay_aws(cat: Catalog, path: Path) -> None:
    got = _cached_rows(cat, path, "instances", _fields_of(AwsInstance), "AWS Price List API")
    if got is None:
        return
    data, rows, when, source = got
    dates = [row_refreshed_at(raw, when) for raw in data.get("instances", [])]
    rows = [replace(r, origin=REFRESHED, source=source, date=d[:10], verified=READ_FROM_API)
            for r, d in zip(rows, dates)]
    cat.aws_instances = _replace_rows(cat.aws_instances, rows, lambda r: (r.instance_type, r.region))
    cat.refreshed["aws"] = when
    _note_oldest(cat, "aws", dates)
    cat.problems.extend(f"aws refresh: {p}" for p in data.get("problems", [])[:50])


def _net_row(r: dict[str, Any]) -> NetPrice:
    return NetPrice(key=str(r["key"]), provider="AWS", category=str(r["category"]), item=str(r["item"]),
                    scope=str(r["scope"]), tier_start_gb=_f(str(r["tier_start_gb"])),
                    tier_end_gb=None if r.get("tier_end_gb") is None else float(r["tier_end_gb"]),
                    price_usd=float(r["price_usd"]), unit=str(r["unit"]), notes=str(r.get("notes", "")))


def _overlay_aws_network(cat: Catalog, path: Path) -> None:
    """Refreshed egress / EBS / S3 rows replace the embedded rows of the same key and region (every tier)."""
    got = _cached_rows(cat, path, "network", _net_row, "AWS Price List API")
    if got is None:
        return
    data, rows, when, source = got
    dates = [row_refreshed_at(raw, when) for raw in data.get("network", [])]
    rows = [replace(r, origin=REFRESHED, source=source, date=d[:10], verified=READ_FROM_API)
            for r, d in zip(rows, dates)]
    cat.network = _replace_rows(cat.network, rows, lambda r: (r.key, r.scope))
    _note_oldest(cat, "aws", dates)
    cat.problems.extend(f"aws refresh: {p}" for p in data.get("problems", [])[:50])


def _note_oldest(cat: Catalog, provider: str, dates: list[str]) -> None:
    oldest = min((d for d in dates if d), default="")
    known = cat.refreshed_oldest.get(provider, "")
    if oldest and (not known or oldest < known):
        cat.refreshed_oldest[provider] = oldest


def write_cache(path: Path, payload: dict[str, Any]) -> None:
    """Atomic write of a refresh result (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps({"format": CACHE_FORMAT, **payload}, indent=1, sort_keys=True), encoding="utf-8")
    tmp.replace(path)
