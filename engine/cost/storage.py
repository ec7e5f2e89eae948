"""Storage at rest, each month: the moved data on both sides (S3 on the source, the chosen GCS class on the
target), the source's EBS volumes (when the inventory listed them) and the target's boot disk.  Part of the whole
monthly bill, so of the parallel run and the saving.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from engine.catalog.check import CatalogError
from engine.catalog.geo import FALLBACK_ELSEWHERE, nearby_aws_region, nearby_words
from engine.catalog.load import Catalog, NetPrice
from engine.cost.ebs import SourceVolume, ebs_monthly
from engine.cost.freshness import PRICE_STALE_DAYS, price_age
from engine.cost.one_off import tiered_cost


def _stale_note(what: str, rows: list[NetPrice], today: date | None, hint: str = "") -> list[str]:
    """A note when the oldest of ``rows`` is older than PRICE_STALE_DAYS, as the one-off lines say it."""
    aged = [(price_age(r.date, "list", today), r) for r in rows]
    stale = [(age, r) for (age, is_stale), r in aged if is_stale]
    if not stale:
        return []
    age, row = max(stale, key=lambda a: float("inf") if a[0] is None else a[0])
    how_old = f"is {age} days old (stale after {PRICE_STALE_DAYS})" if age is not None else \
        "has no date (its age is unknown)"
    return [f"{what}: the price {how_old}: check it before trusting this line ({row.source}){hint}"]


def source_storage(profile: Any, catalog: Catalog, data_gb: float, allow_fallback: bool,
                   volumes: list[SourceVolume] | None = None,
                   today: date | None = None, volumes_unknown: str = "") -> tuple[float, str, list[str]]:
    """(USD a month, detail, notes) for the data at rest on the source and, on AWS, its EBS volumes
    (``volumes`` from the inventory; None when no inventory of them is at hand, ``volumes_unknown`` saying why:
    whose inventory and what it did not read); a stale price says so."""
    src = profile.source
    total, detail, notes = _source_data(profile, catalog, data_gb, allow_fallback, today)
    if src.provider != "aws":
        return total, detail, notes
    if volumes is None:
        # The inventory step of the same session lists them (replay); `gpumigrate cost` alone has none.
        why = volumes_unknown or "no inventory of them: `gpumigrate cost --session NAME` reads a session's"
        notes.append(f"the source's EBS volumes are not priced ({why}): the saving is understated by their "
                     "monthly cost")
        return total, detail, notes
    if not volumes:
        notes.append(f"the inventory found no EBS volumes on the source's {src.instance_type or 'GPU'} instances")
        return total, detail, notes
    usd, ebs_detail, more, rows = ebs_monthly(volumes, catalog, allow_fallback,
                                              profile.cost.source_ebs_usd_per_gb_month)
    notes.extend(more)
    notes.extend(_stale_note("source EBS volumes", rows, today,
                             f"; `gpumigrate catalog refresh --aws --aws-region {src.region}` reads today's"
                             if src.region else ""))
    dates = sorted({r.date for r in rows if r.date})
    ebs_detail += f" (EBS prices as of {', '.join(dates)})" if dates else ""
    return total + usd, "; ".join(p for p in (detail, ebs_detail) if p), notes


def _source_data(profile: Any, catalog: Catalog, data_gb: float, allow_fallback: bool,
                 today: date | None = None) -> tuple[float, str, list[str]]:
    """(USD a month, detail, notes) for the moved data at rest on the source."""
    cost, src = profile.cost, profile.source
    notes: list[str] = []
    if data_gb <= 0:
        return 0.0, "", notes
    if cost.source_storage_usd_per_gb_month is not None:
        rate = cost.source_storage_usd_per_gb_month
        return data_gb * rate, f"{data_gb:,.1f} GB at ${rate}/GB-month (cost.source_storage_usd_per_gb_month)", notes
    if src.provider != "aws":
        notes.append(f"data at rest on {src.provider} is not priced: set cost.source_storage_usd_per_gb_month")
        return 0.0, "", notes
    region = src.region or "us-east-1"
    cls = cost.source_storage_class
    key = "aws.s3.storage" if cls == "STANDARD" else f"aws.s3.storage.{cls}"
    label = "S3 Standard" if cls == "STANDARD" else f"S3 {cls}"
    rows = catalog.net_tiers_in(key, region)
    if not rows:
        if not allow_fallback:
            raise CatalogError("source.region", f"the catalog has no {label} storage price for {region} (known: "
                                f"{', '.join(catalog.net_scopes(key)) or 'none'}); set "
                                "cost.source_storage_usd_per_gb_month, run `gpumigrate catalog refresh --aws "
                                f"--aws-region {region}`, "
                                "or `gpumigrate cost --allow-price-fallback`"
                                + FALLBACK_ELSEWHERE)
        near = nearby_aws_region(region, catalog.net_scopes(key))
        why = nearby_words(region, near)
        notes.append(f"PRICE FALLBACK: no {label} storage price for {region}; priced at {near}'s{why} "
                     "(price fallback allowed)")
        rows = catalog.net_tiers_in(key, near)
    if cls == "INTELLIGENT_TIERING":
        notes.append("S3 INTELLIGENT_TIERING is priced at its frequent-access rate: objects it moved to cheaper "
                     "tiers cost less, and its per-object monitoring fee is not included")
    elif cls in ("GLACIER", "DEEP_ARCHIVE"):
        notes.append(f"S3 {cls} objects must be restored before they can be copied: the restore is not priced")
    notes.extend(_stale_note(f"source data at rest ({label})", rows, today,
                             f"; `gpumigrate catalog refresh --aws --aws-region {region}` reads today's"
                             if cls == "STANDARD" else ""))
    tiers = [(r.tier_start_gb or 0.0, r.tier_end_gb, r.price_usd) for r in rows]
    return tiered_cost(data_gb, tiers), f"{data_gb:,.1f} GB in {label} ({rows[0].scope}, tiered)", notes


S3_MIN_DAYS = {"STANDARD_IA": 30, "ONEZONE_IA": 30, "GLACIER": 90, "DEEP_ARCHIVE": 180}
"""Minimum storage duration of the S3 classes that have one: an object deleted sooner is billed for the rest
(docs.aws.amazon.com/AmazonS3/latest/userguide/storage-class-intro.html#sc-compare)."""
S3_RESTORE_FIRST = ("GLACIER", "DEEP_ARCHIVE")
S3_READ_FEE = ("STANDARD_IA", "ONEZONE_IA")
"""Classes read in place that bill a retrieval fee per GB read (the copy reads every byte once), same page."""


def not_counted(profile: Any) -> list[str]:
    """What the storage classes add to the move that no figure includes: the saving and the break-even are given
    without it, so every line that gives them names it (``CostReport.not_counted``)."""
    src_cls, dst_cls = profile.cost.source_storage_class, profile.cost.target_storage_class
    out = []
    if profile.source.provider == "aws" and profile.cost.source_storage_usd_per_gb_month is None:
        if src_cls in S3_RESTORE_FIRST:
            out.append(f"S3 {src_cls} restore before the copy (retrieval per GB and per request: one-off)")
        if src_cls in S3_READ_FEE:
            out.append(f"S3 {src_cls} retrieval of every GB the copy reads (per GB: one-off)")
        if src_cls in S3_MIN_DAYS:
            out.append(f"S3 {src_cls} early deletion (objects deleted before {S3_MIN_DAYS[src_cls]} days are billed "
                       "for the rest: one-off)")
    if dst_cls in GCS_MIN_DAYS:
        out.append(f"GCS {dst_cls} retrieval on every read (per GB, each run that reads the data: monthly)")
        out.append(f"GCS {dst_cls} early deletion (objects deleted before {GCS_MIN_DAYS[dst_cls]} days are billed "
                   "for the rest)")
    return out


GCS_MIN_DAYS = {"NEARLINE": 30, "COLDLINE": 90, "ARCHIVE": 365}
"""Minimum storage duration of the colder GCS classes (an object deleted sooner is billed for the rest)."""
GCS_CLASSES_SOURCE = "cloud.google.com/storage/docs/storage-classes"


def target_storage(profile: Any, catalog: Catalog, region: str, data_gb: float) -> tuple[float, str, list[str]]:
    """(USD a month, detail, notes) for the data in GCS and the boot disk, in ``region``."""
    parts: list[str] = []
    notes: list[str] = []
    total = 0.0
    storage_class = profile.cost.target_storage_class
    if data_gb > 0:
        row = catalog.storage_price("gcs", storage_class, region)
        if row is None:
            notes.append(f"GCS {storage_class} has no {region} price in the catalog: data at rest not included")
        else:
            total += data_gb * row.usd_per_gib_month
            parts.append(f"{data_gb:,.1f} GiB GCS {storage_class} at ${row.usd_per_gib_month}/GiB-month")
        if storage_class in GCS_MIN_DAYS:
            notes.append(f"GCS {storage_class}: reading the data pays a retrieval fee per GB, and each object is "
                         f"billed for at least {GCS_MIN_DAYS[storage_class]} days ({GCS_CLASSES_SOURCE}); neither is "
                         "priced here, and a training job reads its data every run")
    drivers = profile.drivers
    disk = catalog.storage_price("disk", drivers.boot_disk_type, region)
    if disk is None:
        notes.append(f"boot disk type {drivers.boot_disk_type} has no {region} price in the catalog: not included")
    else:
        total += drivers.boot_disk_gb * disk.usd_per_gib_month
        parts.append(f"{drivers.boot_disk_gb} GiB {drivers.boot_disk_type} boot disk at "
                     f"${disk.usd_per_gib_month}/GiB-month")
    return total, "; ".join(parts), notes
