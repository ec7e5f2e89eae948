"""The ``cost`` step of ``replay``: price the profile and record the same document as ``gpumigrate cost --json``
(plus ``prices_digest``: which prices it read, so a session runs it again after a refresh; see ``outdated``).

The data volume comes from ``cost.data_gb`` when set, else from the transfer
step's result when this session already has one, else from walking the local
``[[transfer]]`` sources and planning the cloud ones as the transfer step would (replay runs cost first: an S3
source's egress was left out); a source that cannot be sized is named, and its egress is said to be missing.  The source's EBS volumes come from this session's inventory
step, when it has run: those attached to instances of the source's type (in its region, when named).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from engine.errors import Interrupted
from engine.events import Progress

_WALK_LIMIT = 2_000_000


def _from_transfer_result(ctx: Any) -> tuple[int | None, int | None]:
    """The transfer step's ``planned_bytes`` / ``planned_objects`` (see engine.transfer.step)."""
    result = ctx.results.get("transfer")
    if result is None or not isinstance(result.data, dict):
        return None, None
    size, count = result.data.get("planned_bytes"), result.data.get("planned_objects")
    return (int(size) if isinstance(size, (int, float)) else None), \
        (int(count) if isinstance(count, (int, float)) else None)


def _transfer_entries(ctx: Any) -> list[dict[str, Any]] | None:
    result = ctx.results.get("transfer")
    entries = result.data.get("entries") if result is not None and isinstance(result.data, dict) else None
    return entries if isinstance(entries, list) else None


def _walk_local(ctx: Any) -> tuple[int | None, int | None, list[str]]:
    total, count, skipped = 0, 0, []
    any_local = False
    for spec in ctx.profile.transfer:
        src = spec.src
        if "://" in src and not src.startswith("file://"):
            skipped.append(src)
            continue
        path = Path(src.removeprefix("file://"))
        if not path.is_absolute():
            path = ctx.base_dir / path
        if not path.exists():
            skipped.append(src)
            continue
        any_local = True
        if path.is_file():
            total, count = total + path.stat().st_size, count + 1
            continue
        for root, _dirs, files in os.walk(path):
            for name in files:
                try:
                    total += (Path(root) / name).stat().st_size
                except OSError:
                    continue
                count += 1
                if count % 1000 == 0:
                    if ctx.cancel.is_set():
                        raise Interrupted("cost: interrupted while sizing the local transfer sources")
                    ctx.emit(Progress(ctx.step, done=count, unit="files", label="sizing"))
                if count >= _WALK_LIMIT:
                    skipped.append(f"{src} (stopped after {_WALK_LIMIT:,} files)")
                    return total, count, skipped
    return (total if any_local else None), (count if any_local else None), skipped


def _plan_cloud(ctx: Any, sources: list[str]) -> tuple[int, int, list[str], list[str]]:
    """Size the cloud sources (s3://, gs://) by the transfer's own plan, listed now: what it would copy and what the
    destination already holds (counted, and said). Replay runs cost before transfer, so without this an
    S3 source's egress, the largest one-off, was left out and the break-even came out months early.

    Returns (bytes, objects, what was planned, what could not be: each with why)."""
    from engine.errors import GpumigrateError
    from engine.transfer.api import plan_transfer

    total, count, planned, unsized = 0, 0, [], []
    for spec in ctx.profile.transfer:
        if spec.src not in sources:
            continue
        if spec.engine == "sts":
            unsized.append(f"{spec.src} (engine = \"sts\": not listed here)")
            continue
        ctx.emit(Progress(ctx.step, done=0, unit="objects", label=f"sizing {spec.src}"))
        try:
            plan = plan_transfer(spec, base_dir=ctx.base_dir, keep=0, cancel=ctx.cancel)
        except GpumigrateError as exc:
            try:  # the destination may be what cannot be read here (no Google credentials where cost runs)
                size, objects = _list_source(ctx, spec)
            except GpumigrateError:
                unsized.append(f"{spec.src} ({exc})")
                continue
            total, count = total + size, count + objects
            planned.append(f"{spec.src}: {objects:,} object{'s' * (objects != 1)} listed at the source, all counted "
                           f"(the plan could not be made: {str(exc)[:160]})")
            continue
        if ctx.cancel.is_set():
            raise Interrupted("cost: interrupted while sizing the transfer sources")
        # What the destination already holds is in the move too: run after the transfer (a session's cost step runs
        # again once the prices change) the plan had nothing left to copy, and the one-off came out without egress.
        present, present_bytes = plan.skip + plan.check, plan.skip_bytes + plan.check_bytes
        total, count = total + plan.copy_bytes + present_bytes, count + plan.copy + present
        there = (f", {present:,} already at the destination (counted: an earlier run of this move paid "
                 f"{'its' if present == 1 else 'their'} egress; an over-count if {'it was' if present == 1 else 'they were'} "
                 "there before)") if present else ""
        planned.append(f"{spec.src}: {plan.copy:,} object{'s' * (plan.copy != 1)} to copy{there}")
    return total, count, planned, unsized


def _list_source(ctx: Any, spec: Any) -> tuple[int, int]:
    """Every object under the source alone (what a first move copies: an upper bound where the destination
    already holds some)."""
    from engine.transfer.backends import open_backend
    from engine.transfer.plan import without_placeholders
    from engine.transfer.urls import parse_url

    src = open_backend(parse_url(spec.src, ctx.base_dir))
    size = count = 0
    try:
        for info in without_placeholders(src.list(spec.recursive)):
            size, count = size + info.size, count + 1
            if count % 1000 == 0 and ctx.cancel.is_set():
                raise Interrupted("cost: interrupted while sizing the transfer sources")
    finally:
        src.close()
    return size, count


def _source_volumes(ctx: Any) -> tuple[Any, str]:
    """(the source's EBS volumes from this session's inventory step, or None; why None)."""
    from engine.cost.ebs import inventory_volumes

    result = ctx.results.get("inventory")
    if result is None or not isinstance(result.data, dict):
        return None, "no inventory of them: the inventory step has not run in this session"
    src = ctx.profile.source
    found, why = inventory_volumes(result.data, src.instance_type, src.region)
    return found, f"this session's inventory: {why}" if why else ""


def run(ctx: Any) -> Any:
    from engine.catalog.check import CatalogError
    from engine.catalog.load import load_catalog, prices_digest
    from engine.cost.model import compute_costs
    from engine.profile import located_error
    from engine.runner import StepResult

    digest = prices_digest()  # before reading: a refresh landing meanwhile makes the next replay run again
    catalog = load_catalog()
    for problem in catalog.problems:
        ctx.message(problem, "warning")
    data_bytes: int | None = None
    objects: int | None = None
    unsized: list[str] = []
    basis = "planned by the transfer step"
    if ctx.profile.cost.data_gb is None:
        data_bytes, objects = _from_transfer_result(ctx)
        if data_bytes is None and ctx.profile.transfer:
            basis = "local transfer sources, measured"
            data_bytes, objects, skipped = _walk_local(ctx)
            cloud = [src for src in skipped if "://" in src and not src.startswith("file://")]
            if cloud:
                size, count, planned, not_planned = _plan_cloud(ctx, cloud)
                if planned:
                    data_bytes, objects = (data_bytes or 0) + size, (objects or 0) + count
                    basis = ("planned now like the transfer step plans it (" + "; ".join(planned) + ")"
                             + ("; local sources measured" if len(planned) < len(ctx.profile.transfer) else ""))
                skipped = [src for src in skipped if src not in cloud] + not_planned
            for src in skipped:
                name, _, why = src.partition(" (")
                ctx.message(f"cost: {name} not sized here{f' ({why}' if why else ''}; set cost.data_gb to include "
                            "it", "warning")
            if data_bytes is not None:  # some sized: the others' egress is missing, and every line must say so
                unsized = [src.split(" (", 1)[0] for src in skipped]
    volumes, volumes_unknown = _source_volumes(ctx)
    try:
        report = compute_costs(ctx.profile, catalog, data_bytes=data_bytes, object_count=objects,
                               volume_basis=basis, transfer_entries=_transfer_entries(ctx),
                               source_volumes=volumes, source_volumes_unknown=volumes_unknown,
                               unsized_sources=unsized,
                               allow_price_fallback=bool(ctx.options.get("allow_price_fallback")))
    except CatalogError as exc:  # a price the catalog refuses: point at the profile's line when there is a file
        if ctx.profile_path is None:
            raise
        raise located_error(ctx.profile_path, [(exc.field, str(exc).split(": ", 1)[1])]) from None
    for note in report.notes:
        ctx.message(note, "warning" if note.startswith("PRICE FALLBACK") else "info")
    ctx.message(f"prices: {catalog.age_note()}")
    return StepResult(ok=True, summary=report.summary(), data={**report.to_dict(), "prices_digest": digest})


def outdated(data: dict[str, Any] | None) -> str | None:
    """Why a cost result a session completed earlier no longer holds though the profile is the same (the runner
    runs the step again), or None: its figures come from the prices it read, and a catalog refresh changes them."""
    from engine.catalog.load import prices_digest

    if not isinstance(data, dict) or data.get("prices_digest") != prices_digest():
        return "the prices changed since it completed (catalog refresh or a new price data release)"
    return None
