"""The data volume from an inventory: the ``[[transfer]]`` sources' sizes as the inventory found them.

`gpumigrate cost` and the Cost screen price the move without running it, so they had no volume unless
``cost.data_gb`` was set: egress, the largest one-off, read "NOT counting egress: data volume unknown" even when
the inventory had just sized the very bucket the profile moves.  Here a source is sized when the inventory sized
exactly it: an S3 bucket's prefix the profile's ``[inventory] buckets`` names (listed, or CloudWatch's daily
figure where the listing stopped), a bucket the credentials saw (CloudWatch, whole bucket), or a ``local_dirs``
folder.  The whole source is counted, which is what a first move copies (the transfer plan leaves out what the
destination already holds).  A source it did not size is named, and its egress is said to be left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class InventoryVolume:
    """What the inventory says of the transfer sources."""

    bytes: int = 0
    objects: int = 0
    sized: list[str] = field(default_factory=list)
    """One line per source sized: the source, its figures and how the inventory got them."""
    unsized: list[str] = field(default_factory=list)
    """The sources it did not size (their egress is not counted)."""
    partial: bool = False
    """Whether an entry copies only part of its source (not recursive, or with ``exclude`` patterns)."""

    def basis(self, origin: str) -> str:
        return (f"{origin}: " + "; ".join(self.sized)
                + (" (each source counted whole: more than a first move copies where an entry leaves part of it, "
                   "as said)" if self.partial else " (the whole source counted: what a first move copies)"))


def _split_s3(url: str) -> tuple[str, str]:
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    return bucket, prefix


def _s3_size(aws: dict[str, Any], bucket: str, prefix: str) -> str | tuple[int, int, str]:
    """(bytes, objects, how) for s3://bucket/prefix, or why the inventory does not size it."""
    want = prefix.rstrip("/")
    for entry in aws.get("buckets") or []:
        if entry.get("bucket") != bucket:
            continue
        if entry.get("error"):
            return f"the inventory could not size it: {entry['error']}"
        for part in entry.get("prefixes") or []:
            if str(part.get("prefix", "")).rstrip("/") == want:
                how = part.get("method") or "listed"
                if part.get("estimated") and how == "listed":
                    how = "estimated"
                if part.get("note"):
                    how += f": {part['note']}"
                return int(part.get("bytes") or 0), int(part.get("objects") or 0), how
        named = ", ".join(repr(p.get("prefix", "")) for p in entry.get("prefixes") or [])
        return f"the inventory sized other prefixes of it ({named}), not {prefix!r}"
    for listing in aws.get("discovered_buckets") or []:
        if listing.get("name") != bucket:
            continue
        if listing.get("bytes") is None or listing.get("objects") is None:
            return f"CloudWatch has no size for it{': ' + listing['error'] if listing.get('error') else ''}"
        if want:
            return "the inventory has the whole bucket's size (CloudWatch), not the prefix's"
        return int(listing["bytes"]), int(listing["objects"]), \
            f"CloudWatch's daily figure for {listing.get('metrics_at') or 'an unknown day'}"
    return "not in the inventory (name it in [inventory] buckets)"


def _local_size(data: dict[str, Any], src: str, base_dir: Path | None) -> str | tuple[int, int, str]:
    path = Path(src.removeprefix("file://"))
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    for entry in data.get("local_dirs") or []:
        if Path(entry.get("resolved", "")) == path.resolve() and entry.get("exists", True):
            skipped = entry.get("skipped") or []
            how = "walked" + (f", {len(skipped)} entries unreadable (not counted)" if skipped else "")
            return int(entry.get("bytes") or 0), int(entry.get("files") or 0), how
    return "not in the inventory's local_dirs"


def inventory_volume(profile: Any, data: dict[str, Any] | None, base_dir: Path | None = None) -> InventoryVolume | None:
    """The transfer sources sized from an inventory's data (the ``inventory`` step's result, or
    ``Inventory.model_dump(mode="json")``); None when it sizes none of them."""
    if not isinstance(data, dict) or not profile.transfer:
        return None
    aws = data.get("aws") if isinstance(data.get("aws"), dict) else {}
    out = InventoryVolume()
    for spec in profile.transfer:
        src = spec.src
        if src.startswith("s3://"):
            found = _s3_size(aws, *_split_s3(src))
        elif "://" in src and not src.startswith("file://"):
            found = "the inventory does not size this kind of source"
        else:
            found = _local_size(data, src, base_dir)
        if isinstance(found, str):
            out.unsized.append(f"{src} ({found})")
            continue
        size, count, how = found
        if not spec.recursive:
            how += "; this copy is not recursive: the figure includes sub-folders it leaves"
        if spec.exclude:  # the inventory sized the whole prefix; the patterns leave some of it behind
            how += (f"; this copy excludes {len(spec.exclude)} pattern{'s' * (len(spec.exclude) != 1)} "
                    f"({', '.join(spec.exclude)}): the figure includes what they leave")
        out.partial = out.partial or not spec.recursive or bool(spec.exclude)
        out.bytes, out.objects = out.bytes + size, out.objects + count
        out.sized.append(f"{src} {count:,} object{'s' * (count != 1)}, {size / 1024**3:,.2f} GiB ({how})")
    return out if out.sized else None


def recorded_inventory(store: Any) -> tuple[dict[str, Any] | None, str]:
    """(the inventory step's data in session ``store``, whose it is and when), or (None, why there is none)."""
    from datetime import datetime, timezone

    record = store.step("inventory")
    data = (record.result or {}).get("data") if record is not None else None
    if record is None or not isinstance(data, dict):
        return None, f"session {store.name} has no inventory result: the data volume is not taken from it"
    when = datetime.fromtimestamp(record.finished_at or record.updated_at, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    state = "" if record.state == "completed" else f", {record.state.upper()}"
    return data, f"the inventory of session {store.name} ({when}{state})"


def compute_with_inventory(profile: Any, catalog: Any, data: dict[str, Any] | None, origin: str,
                           base_dir: Path | None = None, **kwargs: Any) -> Any:
    """``compute_costs`` with what an inventory knows: the source's EBS volumes, and the data volume from the
    sources it sized when ``cost.data_gb`` is unset (``origin`` says whose inventory, in the data basis)."""
    from engine.cost.ebs import inventory_volumes
    from engine.cost.model import compute_costs

    volume = None
    if isinstance(data, dict):
        found, why = inventory_volumes(data, profile.source.instance_type, profile.source.region)
        kwargs.update(source_volumes=found, source_volumes_unknown=f"{origin}: {why}" if why else "")
        if profile.cost.data_gb is None:
            volume = inventory_volume(profile, data, base_dir)
    else:  # whose inventory is missing (a session's, said of the data volume too), or none run here (the app)
        kwargs["source_volumes_unknown"] = f"no inventory of them: {origin.split(':', 1)[0] or 'none has run here'}"
    if volume is not None:
        kwargs.update(data_bytes=volume.bytes, object_count=volume.objects, volume_basis=volume.basis(origin),
                      unsized_sources=[u.split(" (", 1)[0] for u in volume.unsized])
    report = compute_costs(profile, catalog, **kwargs)
    if volume is not None:
        report.notes.extend(f"not sized by {origin}: {u}" for u in volume.unsized)
    return report
