"""The whole inventory: local GPUs, AWS, local directories, images, and the sizing that follows.

Front ends call :func:`run_inventory` (the CLI and the replay step) or the per-part functions
(the Inventory screen runs each part in its own worker).  Everything reports through ``emit``.
"""

from __future__ import annotations

import re

import threading
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict, Field

from engine.errors import EnvironmentProblem, Interrupted
from engine.events import Emit, ItemDone, Message, discard
from engine.inventory.aws import AwsInventory, InstanceTypeInfo
from engine.inventory.images import ImageScan, scan_images
from engine.gpus.mig import parse_mig_profile
from engine.gpus.names import gpu_spec
from engine.inventory.local import DirSize, size_dir
from engine.inventory.waiting import call
from engine.inventory.nvml import GpuHost, NvmlApi, read_host
from engine.inventory.sizing import (
    Candidate,
    SizingResult,
    SourceShape,
    WorkloadSpec,
    gcp_nvlink,
    normalize_gpu_model,
    recommend,
)

STEP = "inventory"


class Inventory(BaseModel):
    """Everything the inventory found, and the sizing derived from it."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    host: GpuHost | None = None
    """This machine's GPUs (None when scan_gpus is off)."""
    aws: AwsInventory | None = None
    """AWS instances and buckets (None when the profile names none)."""
    aws_problem: str | None = None
    """Why AWS could not be scanned (credentials, endpoint)."""
    local_dirs: list[DirSize] = Field(default_factory=list)
    """Local directories sized."""
    images: ImageScan | None = None
    """Container image references."""
    sizing: SizingResult | None = None
    """Memory estimate and recommended targets."""
    notes: list[str] = Field(default_factory=list)
    """Things a person should know about this inventory."""

    def missing_dirs(self) -> list[str]:
        """The ``inventory.local_dirs`` entries and the ``images_dir`` that are not folders here (a typo, a volume
        not mounted): the counts beside them are of the others, so the inventory is incomplete."""
        missing = [d.path for d in self.local_dirs if not d.exists]
        if self.images is not None and not self.images.found:
            missing.append(self.images.root)
        return missing


# --- parts -------------------------------------------------------------------------------------


def catalog_fallback(catalog: Any) -> Callable[[str], InstanceTypeInfo | None]:
    """Instance type details from the catalog, for types describe_instance_types does not know."""

    def lookup(instance_type: str) -> InstanceTypeInfo | None:
        row = catalog.aws_instance(instance_type) if catalog is not None else None
        if row is None:
            return None
        mem = row.gpu_memory_gb
        return InstanceTypeInfo(
            instance_type=instance_type, gpu_model=row.gpu_model, gpu_count=int(row.gpu_count),
            gpu_memory_mib=int(mem * 1024) if mem else None, vcpus=int(row.vcpus) if row.vcpus else None,
            memory_mib=int(row.memory_gb * 1024) if row.memory_gb else None, source="catalog")

    return lookup


def load_catalog_or_none() -> Any:
    try:
        from engine.catalog.load import load_catalog
    except ImportError:
        return None
    return load_catalog()


def scan_aws(section: Any, *, regions: list[str] | None = None, emit: Emit = discard,
             cancel: threading.Event | None = None, catalog: Any = None,
             list_limit: int | None = None) -> AwsInventory | None:
    """Instances in the profile's (or given) regions, and its buckets. None when nothing is asked."""
    from engine.inventory import aws

    wanted_regions = list(regions or section.aws_regions)
    if not wanted_regions and not section.all_regions and not section.buckets:
        return None
    session = aws.make_session()
    if section.all_regions and not regions:
        wanted_regions = call(lambda: aws.enabled_regions(session), cancel=cancel)
    inv = AwsInventory()
    if wanted_regions:
        aws.scan_instances(session, wanted_regions, emit=emit, step=STEP, cancel=cancel,
                           fallback=catalog_fallback(catalog), inventory=inv)
    if section.buckets:
        kwargs = {"list_limit": list_limit} if list_limit else {}
        inv.buckets = aws.size_buckets(session, [(b.bucket, list(b.prefixes)) for b in section.buckets],
                                       emit=emit, step=STEP, cancel=cancel,
                                       home_region=wanted_regions[0] if wanted_regions else "us-east-1", **kwargs)
        for bucket in inv.buckets:
            if bucket.error:
                inv.errors[f"s3://{bucket.bucket}"] = bucket.error
    else:  # the profile names no bucket: show every one the credentials see, sized without listing
        try:
            inv.discovered_buckets = aws.discover_buckets(
                session, emit=emit, step=STEP, home_region=wanted_regions[0] if wanted_regions else "us-east-1",
                cancel=cancel)
        except (EnvironmentProblem, Interrupted):
            raise
        except Exception as exc:  # e.g. AccessDenied on ListBuckets: the instances are still worth showing
            inv.errors["s3"] = str(aws.translate_error(exc, "s3 list_buckets"))
    return inv


def scan_local_dirs(section: Any, base_dir: Path, *, emit: Emit = discard,
                    cancel: threading.Event | None = None) -> list[DirSize]:
    out = []
    for path in section.local_dirs:
        size = size_dir(path, base_dir, emit=emit, step=STEP, cancel=cancel)
        out.append(size)
        if size.exists:
            emit(ItemDone(STEP, item=f"dir:{path}", detail=f"{size.files:,} files, {size.bytes:,} bytes",
                          data={"files": size.files, "bytes": size.bytes}))
        else:
            emit(ItemDone(STEP, item=f"dir:{path}", status="failed", detail=f"{size.resolved} does not exist"))
    return out


def scan_images_dir(section: Any, base_dir: Path, *, emit: Emit = discard) -> ImageScan | None:
    if not section.images_dir:
        return None
    root = Path(section.images_dir).expanduser()
    if not root.is_absolute():
        root = base_dir / root
    scan = scan_images(root)
    emit(ItemDone(STEP, item=f"images:{section.images_dir}", status="failed" if scan.problems and not scan.images
                  else "ok", detail=f"{len(scan.images)} image reference(s) in {scan.files_scanned} file(s)"))
    for problem in scan.problems:
        emit(Message(STEP, text=problem, level="warning"))
    return scan


# --- sizing ------------------------------------------------------------------------------------


def candidates_from_catalog(catalog: Any) -> list[Candidate]:
    """Catalog rows as candidates, each GPU with its usable memory (the recorded NVML total where known)."""
    out = []
    for row in getattr(catalog, "gcp_machines", []) or []:
        if not row.gpu_count or not row.gpu_memory_gb or row.shape:
            continue  # a flexible N1 shape (n1-standard-4 + 1 T4...) is priced when chosen, not recommended
        model = normalize_gpu_model(row.gpu_model, row.gpu_memory_gb) or row.gpu_model
        spec = gpu_spec(model)
        usable = spec.usable_gib if spec is not None else float(row.gpu_memory_gb) * 1e9 / 2**30
        out.append(Candidate(machine_type=row.machine_type, gpu_model=model, catalog_gpu_model=row.gpu_model,
                             gpu_count=int(row.gpu_count), gpu_memory_gib=round(usable, 3), region=row.region,
                             hourly_usd=row.ondemand_usd_per_hr,
                             price_as_of=row.date if row.ondemand_usd_per_hr is not None else None,
                             nvlink=gcp_nvlink(row.machine_type, int(row.gpu_count))))
    return out


def _weakest_link(matrix: list[list[str]]) -> str | None:
    order = ["SYS", "NODE", "PHB", "PXB", "PIX"]
    labels = {cell for i, row in enumerate(matrix) for j, cell in enumerate(row) if i != j}
    for label in order:
        if label in labels:
            return label
    nv = sorted((int(x[2:]) for x in labels if x.startswith("NV") and x[2:].isdigit()))
    return f"NV{nv[0]}" if nv else None


def _host_shape(host: GpuHost) -> SourceShape:
    """This host's GPUs; a MIG host is sized by its largest instance (a job runs inside one instance)."""
    first = host.first_readable() or host.gpus[0]
    mib = first.memory_total_bytes / 2**20 if first.memory_total_bytes else None
    model = normalize_gpu_model(first.name, mib / 1024 if mib else None)
    profiles = [m.profile for g in host.gpus for m in g.mig_instances if m.profile]
    topo = host.topology
    nvlink: bool | None = topo.all_nvlink if topo.nvlink_known else None
    shape = SourceShape(gpu_model=model, gpu_count=len(host.gpus), all_nvlink=nvlink, nvswitch=topo.nvswitch,
                        gpu_memory_gib=round(mib / 1024, 3) if mib else None,
                        topology_label=None if nvlink is None else _weakest_link(topo.matrix),
                        mig_profiles=profiles, origin="nvml", runs_today=True)
    instances = [m for g in host.gpus for m in g.mig_instances if m.memory_total_bytes]
    if instances:
        biggest = max(instances, key=lambda m: m.memory_total_bytes or 0)
        shape.mig_instance = biggest.profile
        shape.gpu_memory_gib = round((biggest.memory_total_bytes or 0) / 2**30, 3)
        shape.gpu_count = 1
    return shape


def _in_mig_instance(shape: SourceShape, name: str | None) -> SourceShape:
    """A source.gpu_model naming a MIG instance ("A100-SXM4-80GB MIG 1g.10gb"): the job runs inside that instance,
    so it is sized by it, as a scanned MIG host is.  Its memory is the profile's nominal GB read as 10^9 bytes
    (1g.10gb: 9.31 GiB), at or below what NVML reports for every instance (1g.10gb: 9,728 MiB)."""
    mig = parse_mig_profile(name)
    if mig is None:
        return shape
    shape.mig_instance = mig.text
    shape.mig_profiles = [mig.text]
    shape.gpu_memory_gib = round(mig.memory_gb * 1e9 / 2**30, 3)
    shape.gpu_count = 1
    shape.all_nvlink, shape.nvswitch, shape.topology_label = None, False, None
    return shape


def source_shape(profile: Any, host: GpuHost | None, aws: AwsInventory | None, catalog: Any = None) -> SourceShape:
    """The source GPUs: this host's (NVML) first, then the AWS instance of source.instance_type, then the profile."""
    src = profile.source
    if host is not None and host.available and host.gpus:
        return _host_shape(host)
    info: InstanceTypeInfo | None = None
    if aws is not None and src.instance_type:
        info = aws.instance_types.get(src.instance_type)
    if info is None and src.instance_type and catalog is not None:
        info = catalog_fallback(catalog)(src.instance_type)
    if info is not None and info.gpu_count:
        model = normalize_gpu_model(src.gpu_model or info.gpu_model,
                                    info.gpu_memory_mib / 1024 if info.gpu_memory_mib else None)
        spec = gpu_spec(model)
        gib = spec.usable_gib if spec else (info.gpu_memory_mib / 1024 if info.gpu_memory_mib else None)
        count = src.gpu_count or info.gpu_count
        nvlink = count > 1 and src.instance_type.split(".")[0] in ("p3", "p3dn", "p4d", "p4de", "p5", "p5e", "p5en")
        return _in_mig_instance(SourceShape(
            gpu_model=model, gpu_count=count, gpu_memory_gib=round(gib, 3) if gib else None,
            all_nvlink=nvlink, nvswitch=nvlink and src.instance_type.split(".")[0] not in ("p3",),
            topology_label="NVLink" if nvlink else None, runs_today=True,
            origin="aws" if aws is not None and src.instance_type in aws.instance_types else "catalog"), src.gpu_model)
    model = normalize_gpu_model(src.gpu_model)
    spec = gpu_spec(model)
    return _in_mig_instance(SourceShape(gpu_model=model, gpu_count=src.gpu_count or 1, origin="profile",
                                        gpu_memory_gib=round(spec.usable_gib, 3) if spec else None), src.gpu_model)


def workload_spec(w: Any) -> WorkloadSpec:
    """The [workload] section's sizing fields as the sizing input."""
    fields = set(WorkloadSpec.model_fields)
    return WorkloadSpec(**{k: v for k, v in w.model_dump().items() if k in fields and v is not None})


def size_workload(profile: Any, inv: Inventory, catalog: Any) -> SizingResult:
    shape = source_shape(profile, inv.host, inv.aws, catalog)
    w, target = profile.workload, profile.target
    measured = None
    hours = w.target_hours_per_run or (w.source_hours_per_run / w.speedup if w.source_hours_per_run and w.speedup
                                       else None)
    if hours and target.gpu_model:
        measured = (normalize_gpu_model(target.gpu_model) or target.gpu_model, hours)
    return recommend(workload_spec(w), shape, candidates_from_catalog(catalog), region=target.region,
                     source_hours=w.source_hours_per_run, target_hours=measured, current=target.machine_type,
                     pricer=_pricer(catalog))


def _pricer(catalog: Any) -> Callable[[Candidate, float], float | None]:
    """The cost model's on-demand price of one run on a candidate shape (None where it cannot price it)."""
    from engine.cost.pricing import price_per_run
    from engine.errors import BadInputError

    def price(c: Candidate, hours: float) -> float | None:
        try:
            return price_per_run(catalog, c.machine_type, c.gpu_count, c.region or "us-central1", hours,
                                 gpu_model=c.catalog_gpu_model).cost_per_run_usd
        except BadInputError:
            return None

    return price


# --- the whole thing ----------------------------------------------------------------------------


def run_inventory(profile: Any, *, base_dir: Path, emit: Emit = discard, cancel: threading.Event | None = None,
                  regions: list[str] | None = None, nvml_api: NvmlApi | None = None, catalog: Any = None,
                  list_limit: int | None = None) -> Inventory:
    """Scan everything the profile's [inventory] names, then size. AWS problems land in ``aws_problem``."""
    section = profile.inventory
    inv = Inventory()
    catalog = catalog if catalog is not None else load_catalog_or_none()
    if section.scan_gpus:
        inv.host = read_host(nvml_api)
        if inv.host.available:
            emit(ItemDone(STEP, item="gpus", detail=inv.host.summary(), data={"gpus": len(inv.host.gpus)}))
        else:
            emit(Message(STEP, text=f"local GPUs: {inv.host.reason}; going on without them", level="warning"))
    inv.local_dirs = scan_local_dirs(section, base_dir, emit=emit, cancel=cancel)
    inv.images = scan_images_dir(section, base_dir, emit=emit)
    try:
        inv.aws = scan_aws(section, regions=regions, emit=emit, cancel=cancel, catalog=catalog, list_limit=list_limit)
    except EnvironmentProblem as exc:
        inv.aws_problem = str(exc)
        emit(Message(STEP, text=f"AWS: {exc}", level="error"))
    if inv.aws is not None:
        for where, err in inv.aws.errors.items():
            emit(Message(STEP, text=f"AWS {where}: {err}", level="warning"))
    if catalog is None:
        inv.notes.append("no catalog available: no target recommendation")
    else:
        inv.sizing = size_workload(profile, inv, catalog)
        for warning in inv.sizing.warnings:
            emit(Message(STEP, text=warning, level="warning"))
    return inv


def summary_line(inv: Inventory) -> str:
    parts = []
    if inv.host is not None:
        parts.append(inv.host.summary() if inv.host.available else f"GPUs: {inv.host.reason}")
    if inv.aws is not None:
        parts.append(f"{len(inv.aws.instances)} AWS GPU instance(s) in {len(inv.aws.regions)} region(s)")
        if inv.aws.buckets:
            parts.append(f"{len(inv.aws.buckets)} bucket(s), {sum(b.bytes for b in inv.aws.buckets):,} bytes")
        if inv.aws.errors:
            parts.append(incomplete_line(inv.aws.errors))
    if inv.local_dirs:
        parts.append(f"{sum(d.files for d in inv.local_dirs):,} local files, "
                     f"{sum(d.bytes for d in inv.local_dirs):,} bytes")
    if inv.images is not None:
        parts.append(f"{len(inv.images.images)} image reference(s)")
    if inv.missing_dirs():
        parts.append(f"INCOMPLETE: not found: {', '.join(inv.missing_dirs())}")
    if inv.sizing is not None and inv.sizing.best is not None:
        best = inv.sizing.best
        parts.append(f"recommended {best.machine_type} ({best.gpu_count}x {best.gpu_model})")
    return "; ".join(parts)


def incomplete_line(errors: dict[str, str]) -> str:
    """What the AWS scan could not read (a region whose DescribeInstances was refused, ListBuckets denied, a
    bucket), each with the error's code: the counts beside it are of what was read, not of what is there."""
    def code(why: str) -> str:
        boto = re.match(r"An error occurred \((\w+)\)", why)  # str(ClientError)
        head = boto.group(1) if boto else why.split(":", 1)[0].strip()  # "Code: message" (aws._short)
        return f" ({head})" if head and " " not in head and head != why.strip() else ""

    return "AWS INCOMPLETE: not read: " + ", ".join(f"{where}{code(why)}" for where, why in errors.items())
