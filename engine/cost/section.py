"""The ``[cost]`` profile section: assumptions of the cost model.

The primary target is ``[target]`` (with hours and speed-up from ``[workload]``);
``[[cost.options]]`` adds up to three more targets to compare side by side.
Choosing one of them on the Cost screen swaps it into ``[target]``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from engine.model_base import MACHINE_TYPE_PATTERN, REGION_PATTERN, Section

Pricing = Literal["on-demand", "spot", "cud-1y", "cud-3y"]
Route = Literal["internet", "sts", "sts-private-network", "exit-waiver"]

# Sane bounds for every number the cost model multiplies: anything outside them is a typo, and inside
# them every product the model forms (price x hours x runs x months) stays a finite float.
MAX_HOURLY_USD = 1_000.0
"""Dollars an instance-hour: the dearest GPU machine lists at about $100/h."""
MIN_HOURS_PER_RUN = 0.001
"""3.6 seconds: below it a run's time is noise (and a denormal would overflow a division)."""
MAX_HOURS_PER_RUN = 8_784.0
"""A leap year of hours."""
MIN_SPEEDUP, MAX_SPEEDUP = 0.01, 1_000.0
MAX_RUNS_PER_MONTH = 100_000.0
MAX_DATA_GB = 1e9
"""1 EB."""

OPTION_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._()+/-]{0,63}$"
GPU_MODEL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,40}$"


class TargetOption(Section):
    """One more Google Cloud target to compare with ``[target]``."""

    name: str | None = Field(default=None, pattern=OPTION_NAME_PATTERN)
    """A label shown in tables and charts (default: machine type and pricing)."""
    machine_type: str | None = Field(default=None, pattern=MACHINE_TYPE_PATTERN)
    """The Compute Engine machine type (e.g. "a2-highgpu-1g"); needed unless hourly_usd is given."""
    region: str | None = Field(default=None, pattern=REGION_PATTERN)
    """The region (default: the [target] region)."""
    gpu_model: str | None = Field(default=None, pattern=GPU_MODEL_PATTERN)
    """GPU model, to pick the GPU attached to an N1 machine type (e.g. "T4")."""
    gpu_count: int = Field(default=1, ge=1, le=16)
    """GPUs per instance."""
    pricing: Pricing = "on-demand"
    """How this option is paid for."""
    hourly_usd: float | None = Field(default=None, gt=0, le=MAX_HOURLY_USD)
    """A negotiated hourly price that overrides the catalog (at most $1,000 an instance-hour)."""
    hours_per_run: float | None = Field(default=None, ge=MIN_HOURS_PER_RUN, le=MAX_HOURS_PER_RUN)
    """Measured or expected hours of one run on this option."""
    speedup: float | None = Field(default=None, ge=MIN_SPEEDUP, le=MAX_SPEEDUP)
    """Speed relative to the source (used when hours_per_run is unset)."""


class CostSection(Section):
    """Assumptions the cost step uses on top of [source], [target] and [workload]."""

    data_gb: float | None = Field(default=None, ge=0, le=MAX_DATA_GB)
    """Data moved off the source, in GB (default: what the transfer step plans)."""
    object_count: int | None = Field(default=None, ge=0, le=10**12)
    """Objects moved (for request charges; default: what the transfer step plans, else estimated)."""
    avg_object_mb: float = Field(default=64, ge=0.001, le=5_000_000)
    """Average object size used to estimate the object count when it is unknown, in MB."""
    parallel_run_days: float = Field(default=14, ge=0, le=3650)
    """Days both environments are paid for during the cutover."""
    route: Route = "internet"
    """How data leaves the source: internet egress, Storage Transfer Service (agentless, egress still paid),
    STS over Google's managed private network, or an exit waiver (no egress charge)."""
    transfer_months: int = Field(default=1, ge=1, le=36)
    """Billing months the transfer is spread over (egress tiers and the free allowance are monthly)."""
    egress_free_gb: float | None = Field(default=None, ge=0, le=1e6)
    """Free egress allowance per month, in GB (default: the catalog's, 100 GB for AWS)."""
    spot_interruption_overhead: float = Field(default=0.10, ge=0, le=5)
    """Extra run time on spot from checkpoint/restart after preemptions (0.10 = 10% longer)."""
    hours_per_month: float = Field(default=730, ge=1, le=744)
    """Billable hours in a month (a commitment is paid for all of them)."""
    commitment_instances: int = Field(default=1, ge=1, le=1000)
    """Instances a committed-use option commits to (paid whether used or not)."""
    horizon_months: int = Field(default=36, ge=1, le=120)
    """Months shown in the cumulative-cost chart and used for the long TCO."""
    target_storage_class: Literal["STANDARD", "NEARLINE", "COLDLINE", "ARCHIVE"] = "STANDARD"
    """The GCS class the moved data is kept in on Google Cloud (priced at rest, per region)."""
    source_storage_class: Literal["STANDARD", "INTELLIGENT_TIERING", "STANDARD_IA", "ONEZONE_IA", "GLACIER",
                                  "DEEP_ARCHIVE"] = "STANDARD"
    """The S3 storage class the data is kept in on the source (priced at rest from the catalog, per region);
    GLACIER and DEEP_ARCHIVE objects must be restored before they can be copied, and STANDARD_IA/ONEZONE_IA bill
    a retrieval fee per GB the copy reads: neither is priced, and every line giving the saving says so."""
    source_storage_usd_per_gb_month: float | None = Field(default=None, gt=0, le=10)
    """What the data costs at rest on the source per GB-month (default: S3 Standard from the catalog); set it
    for other S3 classes or negotiated storage prices."""
    source_ebs_usd_per_gb_month: float | None = Field(default=None, gt=0, le=10)
    """What the source's EBS volumes cost per GB-month, every type (default: the catalog's price per volume type
    and region, with provisioned IOPS/throughput); set it where the catalog has no EBS price for the region."""
    allow_price_fallback: bool = False
    """Where the catalog has no price for a region, price it at another region's rate with a loud PRICE FALLBACK
    note instead of stopping: what `gpumigrate cost --allow-price-fallback` does, here so that replay's cost
    step (and the Cost screen) can do it too."""
    options: list[TargetOption] = Field(default_factory=list, max_length=3)
    """Up to three more targets to compare with [target]."""


def _previous_count(target: Any, catalog: object | None) -> int:
    """The count the target being swapped out has (a2-highgpu-8g with no count: 8, not the field's default 1,
    which as an option would be refused as "1 does not match a2-highgpu-8g")."""
    if catalog is None or "gpu_count" in target.model_fields_set:
        return int(target.gpu_count)
    from engine.catalog.target_gpus import target_gpus

    return target_gpus(target, catalog).gpu_count  # type: ignore[arg-type]


def choose_option(profile: object, index: int, catalog: object | None = None) -> None:
    """Make ``cost.options[index]`` the chosen target: it swaps into ``[target]`` (hours and speed-up into
    ``[workload]``) and the previous target takes its place in ``cost.options``.  Mutates ``profile``."""
    cost = profile.cost  # type: ignore[attr-defined]
    target = profile.target  # type: ignore[attr-defined]
    workload = profile.workload  # type: ignore[attr-defined]
    if not 0 <= index < len(cost.options):
        raise IndexError(f"no cost option #{index}")
    option = cost.options[index]
    new_model, new_count = option.gpu_model, option.gpu_count
    if catalog is not None and option.machine_type:
        from engine.catalog.check import choice_count

        # N1: which shape; unset is the default count (what check and price use), not the catalog's first shape
        count = choice_count(catalog, option.machine_type,  # type: ignore[arg-type]
                             option.gpu_count if "gpu_count" in option.model_fields_set else None)[0]
        lookup = catalog.gcp_machine  # type: ignore[attr-defined]
        row = lookup(option.machine_type, option.region or target.region, option.gpu_model, count) \
            or lookup(option.machine_type, None, option.gpu_model, count)
        if row is not None:
            new_model, new_count = row.gpu_model, row.gpu_count
    previous = TargetOption(machine_type=target.machine_type, region=target.region, gpu_model=target.gpu_model,
                            gpu_count=_previous_count(target, catalog), pricing=target.pricing, hourly_usd=target.hourly_usd,
                            hours_per_run=workload.target_hours_per_run, speedup=workload.speedup)
    same_gpu = new_model is not None and new_model == target.gpu_model
    target.machine_type = option.machine_type
    if option.region and option.region != target.region:
        target.region = option.region
        if target.zone and not target.zone.startswith(option.region + "-"):
            target.zone = None
    target.gpu_model = new_model
    target.gpu_count = new_count
    target.pricing = option.pricing
    target.hourly_usd = option.hourly_usd
    if not (same_gpu and option.hours_per_run is None and option.speedup is None):
        workload.target_hours_per_run = option.hours_per_run
        workload.speedup = option.speedup
    cost.options[index] = previous
