"""The source's EBS volumes, each month: billed for what is provisioned whether the instance runs or not, and
gone once the workload has moved, so part of the source's monthly bill (and of the saving).

The volumes come from the inventory (``describe_volumes`` of the source's instances); the prices from the
catalog's ``aws.ebs.*`` rows: storage per GB-month for each volume type, io1/io2 provisioned IOPS, and gp3 IOPS
and throughput above what gp3 includes (3,000 IOPS, 125 MiB/s).  A region or volume type without a price is an
error, or with ``--allow-price-fallback`` a loud note (a nearby region's rate, or not included);
``cost.source_ebs_usd_per_gb_month`` replaces the catalog's prices altogether.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.catalog.check import CatalogError
from engine.catalog.geo import FALLBACK_ELSEWHERE, nearby_aws_region, nearby_words
from engine.catalog.load import Catalog, NetPrice

GP3_FREE_IOPS = 3000
GP3_FREE_MIBPS = 125
IO2_FIRST_TIER_IOPS = 32000
"""Above this, say that one io2 IOPS rate may overstate (tiered pricing is not in the recorded input)."""


@dataclass(frozen=True)
class SourceVolume:
    """One EBS volume of the source, as the inventory found it."""

    volume_id: str
    region: str
    size_gib: float
    volume_type: str | None
    iops: float | None = None
    throughput_mibps: float | None = None


def volumes_from_inventory(data: Any, instance_type: str | None, region: str | None) -> list[SourceVolume] | None:
    """The volumes attached to the inventoried instances of the source's type (and region, when the profile names
    one), from an ``inventory`` step result's data; None when the inventory did not scan AWS."""
    return inventory_volumes(data, instance_type, region)[0]


def inventory_volumes(data: Any, instance_type: str | None,
                      region: str | None) -> tuple[list[SourceVolume] | None, str]:
    """(:func:`volumes_from_inventory`, why it is None: what the inventory did not read, "" when it read them).
    The cost note said "no inventory of them in this run" also of a session's inventory that was read."""
    aws = data.get("aws") if isinstance(data, dict) else None
    if not isinstance(aws, dict):
        problem = data.get("aws_problem") if isinstance(data, dict) else None
        return None, (f"it could not reach AWS: {problem}" if problem else
                      "it scanned no AWS region (the profile's [inventory] names no aws_regions)")
    unread = {where: why for where, why in (aws.get("errors") or {}).items() if not where.startswith("s3")}
    for where, why in unread.items():
        if region is None or where == region or where.startswith(f"{region} "):
            # the source's region (or its EBS volumes) could not be read: not priced, never "no volumes"
            return None, f"it could not read {where}: {why}"
    if region and "regions" in aws and region not in (aws.get("regions") or []):
        return None, f"it did not scan {region}, the source's region (only S3 buckets or other regions)"
    out: list[SourceVolume] = []
    for inst in aws.get("instances") or []:
        if instance_type and inst.get("instance_type") != instance_type:
            continue
        if region and inst.get("region") != region:
            continue
        for vol in inst.get("volumes") or []:
            out.append(SourceVolume(volume_id=vol["volume_id"], region=inst["region"], size_gib=vol["size_gib"],
                                    volume_type=vol.get("volume_type"), iops=vol.get("iops"),
                                    throughput_mibps=vol.get("throughput_mibps")))
    return out, ""


def _rate(catalog: Catalog, key: str, region: str, allow_fallback: bool, notes: list[str]) -> NetPrice | None:
    rows = catalog.net_tiers_in(key, region)
    if rows:
        return rows[0]
    known = ", ".join(catalog.net_scopes(key)) or "none"
    if not allow_fallback:
        raise CatalogError("source.region", f"the catalog has no {key} price for {region} (known: {known}), for "
                            "the source's EBS volumes the inventory found; set cost.source_ebs_usd_per_gb_month "
                            "(your rate), or run `gpumigrate cost --allow-price-fallback`"
                            + FALLBACK_ELSEWHERE +
                            " for a nearby region's rate")
    near = nearby_aws_region(region, catalog.net_scopes(key))
    fallback = catalog.net_tiers_in(key, near)
    why = nearby_words(region, near)
    note = (f"PRICE FALLBACK: no {key} price for {region}; priced at {near}'s{why} (price fallback allowed)"
            if fallback else f"PRICE FALLBACK: no {key} price anywhere in the catalog: not included")
    if note not in notes:
        notes.append(note)
    return fallback[0] if fallback else None


def ebs_monthly(volumes: list[SourceVolume], catalog: Catalog, allow_fallback: bool,
                rate_override: float | None = None) -> tuple[float, str, list[str], list[NetPrice]]:
    """(USD a month, detail, notes, the price rows used) for ``volumes``; ``rate_override`` (USD per GB-month,
    every type, from the profile) replaces the catalog."""
    notes: list[str] = []
    used: dict[int, NetPrice] = {}
    total, gib = 0.0, 0.0
    if rate_override is not None:
        gib = sum(v.size_gib for v in volumes)
        notes.append("the source's EBS volumes are priced at cost.source_ebs_usd_per_gb_month for storage only "
                     "(provisioned IOPS and throughput not included)")
        return gib * rate_override, (f"{len(volumes)} EBS volume{'s' * (len(volumes) != 1)}, {gib:,.0f} GiB at "
                                     f"${rate_override}/GB-month (cost.source_ebs_usd_per_gb_month)"), notes, []
    for vol in volumes:
        kind = vol.volume_type or "unknown"

        def rate(key: str) -> float:
            row = _rate(catalog, key, vol.region, allow_fallback, notes)
            if row is None:
                return 0.0
            used[id(row)] = row
            return row.price_usd

        total += vol.size_gib * rate(f"aws.ebs.{kind}")
        gib += vol.size_gib
        if kind in ("io1", "io2") and vol.iops:
            total += vol.iops * rate(f"aws.ebs.{kind}.iops")
            if kind == "io2" and vol.iops > IO2_FIRST_TIER_IOPS:
                notes.append(f"{vol.volume_id}: {vol.iops:,.0f} io2 IOPS priced at one rate, the catalog's; "
                             "io2 IOPS may be priced lower at this size (tiered), so this may overstate")
        if kind == "gp3":
            if vol.iops and vol.iops > GP3_FREE_IOPS:
                total += (vol.iops - GP3_FREE_IOPS) * rate("aws.ebs.gp3.iops")
            if vol.throughput_mibps and vol.throughput_mibps > GP3_FREE_MIBPS:
                total += (vol.throughput_mibps - GP3_FREE_MIBPS) * rate("aws.ebs.gp3.throughput")
    kinds = sorted({v.volume_type or "unknown" for v in volumes})
    regions = sorted({v.region for v in volumes})
    detail = (f"{len(volumes)} EBS volume{'s' * (len(volumes) != 1)}, {gib:,.0f} GiB ({', '.join(kinds)}) in "
              f"{', '.join(regions)}" if volumes else "")
    return total, detail, notes, list(used.values())
