"""Hand a ``[[transfer]]`` entry to Google's Storage Transfer Service (STS).

Past what one jump host should move (many TB, tens of millions of objects) the
same entry runs as an STS job, with the local engine's semantics where STS has
them:

=====================  ==========================================================
local engine           Storage Transfer Service job
=====================  ==========================================================
``s3://`` source       ``awsS3DataSource`` (agentless), role ARN or a Secret
                       Manager secret holding the AWS key (never the key itself)
local / POSIX source   ``posixDataSource`` + ``sourceAgentPoolName`` (agents you
                       install with :func:`agent_install_command`)
``gs://`` source       ``gcsDataSource``
``-x REGEX``           ``objectConditions.excludePrefixes`` (translated by
                       :mod:`engine.transfer.sts_translate`; refused when a regex
                       is not a pure prefix)
``-d`` + guards        ``deleteObjectsUniqueInSink``, only after the same guards:
                       the source must list non-empty and the planned deletions
                       must stay under ``max_delete``, or the user confirms
copy new or changed    ``overwriteWhen = DIFFERENT`` (ETag / checksum compare)
``-c``                 STS always compares by ETag/checksum and verifies every
                       copied object's checksum; nothing weaker exists
``--bwlimit``          the agent pool's ``bandwidthLimit`` (POSIX only)
=====================  ==========================================================

Entry points for the step and ``gpumigrate transfer``:

* :func:`choose_engine` -- pure: ``auto`` -> ("sts" | "local", why);
* :func:`plan_sts_job` -- pure: the ``TransferJob`` that would be created (dry run);
* :func:`run_sts_transfer` -- create/patch the job, run it (or attach to its
  running operation), track it with events, apply the delete guards;
* :func:`sts_cost_usd` -- the STS fee for the cost step.

Tracking (polling, progress, per-object failures, pause/resume/cancel) lives
in :mod:`engine.transfer.sts_track`.
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
import threading
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from engine.errors import BadInputError, EnvironmentProblem, Interrupted
from engine.events import Emit, Message, discard
from engine.transfer.spec import TransferSpec
from engine.transfer.sts_track import (
    OperationSnapshot,
    StsControl,
    api_errors,
    track_operation,
)
from engine.transfer.sts_options import (
    AGENT_POOL_PATTERN,
    ROLE_ARN_PATTERN,
    SECRET_RESOURCE_PATTERN,
    TIB,
    StsOptions,
    StsSchedule,
    StsThresholds,
)
from engine.transfer.sts_translate import PrefixFilter, PrefixRefused, translate_filters
from engine.transfer.urls import Location, parse_url

if TYPE_CHECKING:  # the client import is slow; load it only when a job really runs
    from google.cloud import storage_transfer_v1 as st

GIB = 1024**3

ENDPOINT_ENV = "GPUMIGRATE_STS_ENDPOINT"
"""Point the Storage Transfer client at another endpoint (a stand-in on 127.0.0.1) with anonymous credentials."""

# --------------------------------------------------------------------------- models


@dataclass(frozen=True)
class DeletePlan:
    """What a listing diff (the local planner's dry run) found, for the delete guards."""

    source_objects: int
    sink_objects: int
    deletions: int


class StsDeleteRefused(BadInputError):
    """Delete-unique-in-sink was refused by a guard; the message says how to proceed."""


# --------------------------------------------------------------------------- engine choice


def _human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"  # pragma: no cover


def sts_supports(spec: TransferSpec) -> str | None:
    """Why STS cannot run this entry as written, or None when it can."""
    try:
        src, dst = parse_url(spec.src), parse_url(spec.dst)
    except BadInputError as exc:
        return str(exc)
    if dst.scheme != "gs":
        return f"STS here writes to Cloud Storage only; the destination {spec.dst!r} is not gs://"
    if src.scheme == "file":
        if spec.exclude or _options(spec).include:
            return "STS transfers from a file system do not support include/exclude filters"
    else:
        try:
            translate_filters(list(spec.exclude), list(_options(spec).include))
        except PrefixRefused as exc:
            return str(exc)
    return None


def _options(spec: TransferSpec, options: StsOptions | None = None) -> StsOptions:
    if options is not None:
        return options
    found = getattr(spec, "sts", None)
    return found if isinstance(found, StsOptions) else StsOptions()


def choose_engine(
    planned_bytes: int | None,
    planned_objects: int | None,
    spec: TransferSpec,
    thresholds: StsThresholds | None = None,
) -> tuple[Literal["local", "sts"], str]:
    """Which engine runs ``spec``, and why (pure; no network).

    ``engine = "local"`` or ``"sts"`` is honoured as written.  ``auto`` picks STS
    when the planned transfer reaches either threshold (default 1 TiB or 10
    million objects) and STS can express the entry; otherwise the local engine.
    """
    if spec.engine in ("local", "sts"):
        return spec.engine, f'the entry says engine = "{spec.engine}"'  # type: ignore[return-value]
    limits = thresholds or _options(spec).thresholds
    over: list[str] = []
    if planned_bytes is not None and planned_bytes >= limits.bytes:
        over.append(f"{_human_bytes(planned_bytes)} planned >= {_human_bytes(limits.bytes)}")
    if planned_objects is not None and planned_objects >= limits.objects:
        over.append(f"{planned_objects:,} objects planned >= {limits.objects:,}")
    if planned_bytes is None and planned_objects is None:
        return "local", "auto: the size of the transfer is not known yet, so the local engine runs"
    if not over:
        size = _human_bytes(planned_bytes or 0)
        return "local", (
            f"auto: {size} and {planned_objects or 0:,} objects are under the STS thresholds "
            f"({_human_bytes(limits.bytes)} or {limits.objects:,} objects)"
        )
    why_not = sts_supports(spec)
    if why_not is None and parse_url(spec.src).scheme == "file" and not _options(spec).agent_pool:
        why_not = "a file-system source needs an STS agent pool (set sts.agent_pool)"
    if why_not:
        return "local", f"auto: {' and '.join(over)}, but STS cannot run it: {why_not}"
    return "sts", f"auto: {' and '.join(over)}: Storage Transfer Service moves it without this machine"


# --------------------------------------------------------------------------- pricing


@dataclass(frozen=True)
class StsPrice:
    """One row of the shipped STS price table, with where it came from."""

    mode: str
    scope: str
    usd_per_gib: float
    what: str
    notes: str
    source: str
    source_date: str
    verified: str


StsMode = Literal["agentless", "managed_private_network", "agent"]


@lru_cache(maxsize=1)
def sts_prices() -> tuple[StsPrice, ...]:
    """The shipped Storage Transfer Service prices (``sts_prices.csv``, source: cloud.google.com/storage-transfer/pricing)."""
    path = Path(__file__).with_name("sts_prices.csv")
    with path.open(newline="", encoding="utf-8") as fh:
        return tuple(
            StsPrice(
                mode=row["mode"],
                scope=row["scope"],
                usd_per_gib=float(row["price_usd_per_gib"]),
                what=row["what"],
                notes=row["notes"],
                source=row["source"],
                source_date=row["source_date"],
                verified=row["verified"],
            )
            for row in csv.DictReader(fh)
        )


def sts_price(mode: StsMode, scope: str = "NA") -> StsPrice:
    """The price row for a mode (``scope`` matters for the managed private network only)."""
    rows = [p for p in sts_prices() if p.mode == mode]
    if not rows:
        raise BadInputError(f"unknown STS mode {mode!r}: use agentless, managed_private_network or agent")
    for row in rows:
        if row.scope in (scope, "global"):
            return row
    scopes = ", ".join(r.scope for r in rows)
    raise BadInputError(f"no STS price for {mode} in {scope!r}; known: {scopes}")


def sts_cost_usd(nbytes: int, mode: StsMode, scope: str = "NA") -> float:
    """Storage Transfer Service's own fee for moving ``nbytes`` in ``mode`` (USD).

    Prices per GiB from cloud.google.com/storage-transfer/pricing (2025-2026,
    shipped in ``sts_prices.csv``): agentless 0 (AWS egress and request
    charges are still billed by AWS: the cost step adds them), managed private
    network 0.03 (NA) / 0.04 (EU) / 0.08 (APAC), agent-based file systems 0.0125.
    """
    if nbytes < 0:
        raise BadInputError("bytes must be >= 0")
    return round(nbytes / GIB * sts_price(mode, scope).usd_per_gib, 6)


def sts_mode(spec: TransferSpec, options: StsOptions | None = None) -> StsMode:
    """The pricing mode this entry runs in on STS."""
    opts = _options(spec, options)
    src = parse_url(spec.src)
    if src.scheme == "file":
        return "agent"
    if src.scheme == "s3" and opts.managed_private_network:
        return "managed_private_network"
    return "agentless"


# --------------------------------------------------------------------------- translation


def bwlimit_to_mbps(bwlimit: str) -> int:
    """``--bwlimit`` (bytes/s, K/M/G = 1024 steps, as rsync) -> an agent pool's ``limitMbps`` (at least 1).

    ``AgentPool.BandwidthLimit.limit_mbps`` is "bandwidth rate in megabytes per second"
    (google-cloud-storage-transfer), so the unit is 10^6 bytes/s, not megabits: 50M = 52,428,800 B/s -> 52.
    Rounded down, so the pool never runs faster than the entry allows.
    """
    text = bwlimit.strip()
    factor = 1
    if text and text[-1] in "KkMmGg":
        factor = 1024 ** ("kmg".index(text[-1].lower()) + 1)
        text = text[:-1]
    bytes_per_s = float(text) * factor
    if bytes_per_s <= 0:
        raise BadInputError(f"bwlimit {bwlimit!r} must be more than 0")
    return max(1, math.floor(bytes_per_s / 1_000_000))


def job_name_for(spec: TransferSpec) -> str:
    """A stable STS job name for an entry (same src and dst -> same job, so a re-run finds it).

    STS requires ``transferJobs/OPI...`` for file-system transfers and forbids it otherwise.
    """
    digest = hashlib.sha256(f"{spec.src}\x00{spec.dst}".encode()).hexdigest()[:20]
    posix = parse_url(spec.src).scheme == "file"
    return f"transferJobs/{'OPI' if posix else ''}gpumigrate-{digest}"


def agent_install_command(project: str, pool: str, root_directory: str, count: int = 3) -> str:
    """The command that installs STS agents (Docker) on a machine that can read ``root_directory``."""
    import shlex

    # Shown for people to paste into a shell: every value quoted, so a path with spaces or
    # shell characters stays one argument.
    return shlex.join(["gcloud", "transfer", "agents", "install", f"--project={project}", f"--pool={pool}",
                       f"--count={int(count)}", f"--mount-directories={root_directory}"])


@dataclass
class StsJobPlan:
    """What :func:`plan_sts_job` decided: the job, and everything a person should see."""

    job: "st.TransferJob"
    mode: StsMode
    source: Location
    sink: Location
    source_root_url: str
    """The URL prefix STS error log entries start with (to turn them into relative paths)."""
    filters: PrefixFilter
    notes: list[str] = field(default_factory=list)
    agent_pool_name: str | None = None
    agent_command: str | None = None
    bandwidth_mbps: int | None = None

    def job_dict(self) -> dict[str, Any]:
        """The job as the REST API sees it (camelCase JSON), for the dry run and the session."""
        from google.cloud import storage_transfer_v1 as st
        from google.protobuf import json_format

        return json_format.MessageToDict(st.TransferJob.pb(self.job), preserving_proto_field_name=False)


def _schedule(schedule: StsSchedule) -> "st.Schedule":
    from google.cloud import storage_transfer_v1 as st
    from google.protobuf import duration_pb2
    from google.type import date_pb2, timeofday_pb2

    def as_date(text: str) -> date_pb2.Date:
        try:
            d = date.fromisoformat(text)
        except ValueError as exc:
            raise BadInputError(f"sts.schedule: {text!r} is not a date ({exc})") from None
        return date_pb2.Date(year=d.year, month=d.month, day=d.day)

    out = st.Schedule(
        schedule_start_date=as_date(schedule.start_date),
        repeat_interval=duration_pb2.Duration(seconds=int(schedule.repeat_every_hours * 3600)),
    )
    if schedule.end_date:
        if date.fromisoformat(schedule.end_date) < date.fromisoformat(schedule.start_date):
            raise BadInputError("sts.schedule.end_date is before start_date")
        out.schedule_end_date = as_date(schedule.end_date)
    if schedule.start_time_utc:
        hours, minutes = (int(x) for x in schedule.start_time_utc.split(":"))
        out.start_time_of_day = timeofday_pb2.TimeOfDay(hours=hours, minutes=minutes)
    return out


def plan_sts_job(
    spec: TransferSpec,
    project: str,
    options: StsOptions | None = None,
    *,
    delete: bool | None = None,
    base_dir: Path | None = None,
) -> StsJobPlan:
    """Translate ``spec`` into the STS ``TransferJob`` (pure: no network).

    ``delete`` overrides ``spec.delete`` (the runner first runs without it when
    the guards need STS's own listing).  Raises ``BadInputError`` for what STS
    cannot express and ``EnvironmentProblem`` when no AWS credential source is named.
    """
    from google.cloud import storage_transfer_v1 as st

    opts = _options(spec, options)
    if not project:
        raise BadInputError("Storage Transfer Service needs a project: set [target] project in the profile")
    source, sink = parse_url(spec.src, base_dir), parse_url(spec.dst, base_dir)
    if sink.scheme != "gs":
        raise BadInputError(
            f"engine = \"sts\" copies into Cloud Storage only; {spec.dst!r} is not a gs:// address "
            "(use engine = \"local\" for other destinations)"
        )
    if not spec.recursive:
        raise BadInputError("engine = \"sts\" always copies whole trees; set recursive = true or use engine = \"local\"")
    notes: list[str] = []
    do_delete = spec.delete if delete is None else delete
    tspec = st.TransferSpec(gcs_data_sink=st.GcsData(bucket_name=sink.bucket, path=sink.prefix))
    plan_extra: dict[str, Any] = {}
    if source.scheme == "s3":
        if opts.aws_role_arn and opts.aws_credentials_secret_resource:
            raise BadInputError("set only one of sts.aws_role_arn and sts.aws_credentials_secret_resource")
        if not (opts.aws_role_arn or opts.aws_credentials_secret_resource):
            raise EnvironmentProblem(
                "Storage Transfer Service needs AWS access to read "
                f"s3://{source.bucket}: set sts.aws_role_arn (an IAM role trusting STS's service account) "
                "or sts.aws_credentials_secret_resource (a Secret Manager secret holding the access key "
                "as JSON); the key itself never goes in the profile"
            )
        aws = st.AwsS3Data(
            bucket_name=source.bucket,
            path=source.prefix,
            role_arn=opts.aws_role_arn or "",
            credentials_secret=opts.aws_credentials_secret_resource or "",
        )
        if opts.managed_private_network:  # a field with presence: set it only when used
            aws.managed_private_network = True
        tspec.aws_s3_data_source = aws
        root_url = f"s3://{source.bucket}/{source.prefix}"
    elif source.scheme == "gs":
        tspec.gcs_data_source = st.GcsData(bucket_name=source.bucket, path=source.prefix)
        root_url = f"gs://{source.bucket}/{source.prefix}"
    else:  # a file system, through agents
        if not opts.agent_pool:
            raise BadInputError(
                f"a file-system source ({source.path}) runs on STS through agents: set sts.agent_pool "
                "to an agent pool id (create one with `gcloud transfer agent-pools create NAME`)"
            )
        root = source.path.rstrip("/") + "/"
        tspec.posix_data_source = st.PosixFilesystem(root_directory=root)
        pool_name = f"projects/{project}/agentPools/{opts.agent_pool}"
        tspec.source_agent_pool_name = pool_name
        root_url = f"file://{root}"
        plan_extra["agent_pool_name"] = pool_name
        plan_extra["agent_command"] = agent_install_command(project, opts.agent_pool, root, opts.agent_count)
        if spec.bwlimit:
            plan_extra["bandwidth_mbps"] = bwlimit_to_mbps(spec.bwlimit)
    filters = PrefixFilter()
    if spec.exclude or opts.include:
        if source.scheme == "file":
            raise PrefixRefused(
                ", ".join(list(spec.exclude) + list(opts.include)),
                "STS transfers from a file system do not support include/exclude prefixes at all",
            )
        filters = translate_filters(list(spec.exclude), list(opts.include))
        tspec.object_conditions = st.ObjectConditions(
            include_prefixes=filters.include_prefixes, exclude_prefixes=filters.exclude_prefixes
        )
        notes.extend(filters.notes)
    if spec.bwlimit and source.scheme != "file":
        notes.append(
            f"bwlimit {spec.bwlimit} is not applied: agentless STS transfers have no bandwidth limit "
            "(only agent pools do)"
        )
    overwrite = {
        "different": st.TransferOptions.OverwriteWhen.DIFFERENT,
        "always": st.TransferOptions.OverwriteWhen.ALWAYS,
        "never": st.TransferOptions.OverwriteWhen.NEVER,
    }[opts.overwrite_when]
    metadata = st.MetadataOptions()
    if opts.preserve_mtime and source.scheme != "file":
        metadata.time_created = st.MetadataOptions.TimeCreated.TIME_CREATED_PRESERVE_AS_CUSTOM_TIME
    tspec.transfer_options = st.TransferOptions(
        overwrite_when=overwrite,
        delete_objects_unique_in_sink=do_delete,
        metadata_options=metadata,
    )
    if not spec.checksum:
        notes.append(
            "STS compares objects by ETag/checksum (not size and modification time) and verifies the "
            "checksum of every object it copies: that is at least as strict as -c"
        )
    logging = st.LoggingConfig(
        log_actions=[
            st.LoggingConfig.LoggableAction.FIND,
            st.LoggingConfig.LoggableAction.COPY,
            st.LoggingConfig.LoggableAction.DELETE,
        ],
        log_action_states=[st.LoggingConfig.LoggableActionState.FAILED],
    )
    if source.scheme == "file":
        logging = st.LoggingConfig(enable_onprem_gcs_transfer_logs=True)
    job = st.TransferJob(
        name=job_name_for(spec),
        project_id=project,
        description=f"gpumigrate: {spec.src} -> {spec.dst}"[:1024],
        status=st.TransferJob.Status.ENABLED,
        transfer_spec=tspec,
        logging_config=logging,
    )
    if opts.schedule:
        job.schedule = _schedule(opts.schedule)
    return StsJobPlan(
        job=job,
        mode=sts_mode(spec, opts),
        source=source,
        sink=sink,
        source_root_url=root_url,
        filters=filters,
        notes=notes,
        **plan_extra,
    )


# --------------------------------------------------------------------------- guards


def default_max_delete(sink_objects: int) -> int:
    """The local engine's default: 10% of the destination's objects or 1,000, whichever is smaller."""
    return min(sink_objects // 10, 1000)


def check_delete_guards(
    spec: TransferSpec, plan: DeletePlan | None, *, confirmed: bool = False
) -> None:
    """Refuse delete-unique-in-sink the way the local engine refuses ``-d`` (pure).

    * the source lists empty -> refused unless ``spec.allow_empty_source``;
    * deletions above ``spec.max_delete`` (default: 10% of the destination or
      1,000, whichever is smaller) -> refused unless ``confirmed``;
    * no planned count at all -> refused unless ``confirmed`` (STS deletes as it
      goes; there is no dry run to count first).
    """
    if not spec.delete:
        return
    if plan is None:
        if not confirmed:
            raise StsDeleteRefused(
                "delete-unique-in-sink on STS needs a deletion count before it runs, and none was "
                "planned: run the entry with --dry-run first (it lists both sides and counts), or "
                "confirm explicitly with sts.confirm_delete = true / --yes-delete"
            )
        return
    if plan.source_objects == 0 and not spec.allow_empty_source:
        raise StsDeleteRefused(
            "the source lists empty: delete-unique-in-sink would delete every destination object; "
            "refused (set allow_empty_source = true if that is really wanted)"
        )
    limit = spec.max_delete if spec.max_delete is not None else default_max_delete(plan.sink_objects)
    if plan.deletions > limit and not confirmed:
        raise StsDeleteRefused(
            f"{plan.deletions:,} deletions planned, more than max_delete = {limit:,}: refused "
            "(raise max_delete, or confirm with sts.confirm_delete = true / --yes-delete)"
        )


# --------------------------------------------------------------------------- client


def make_client() -> "st.StorageTransferServiceClient":
    """A Storage Transfer client from the standard credential chain (ADC).

    With ``GPUMIGRATE_STS_ENDPOINT`` set (e.g. ``http://127.0.0.1:PORT``) it talks
    REST to that endpoint with anonymous credentials (the local stand-in).
    """
    from google.cloud import storage_transfer_v1 as st

    endpoint = os.environ.get(ENDPOINT_ENV)
    if endpoint:
        from google.auth.credentials import AnonymousCredentials

        if "://" not in endpoint:
            endpoint = "http://" + endpoint
        return st.StorageTransferServiceClient(
            credentials=AnonymousCredentials(), transport="rest", client_options={"api_endpoint": endpoint}
        )
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    try:
        credentials, _project = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
    except DefaultCredentialsError:
        raise EnvironmentProblem(
            "no Google Cloud credentials for Storage Transfer Service: set GOOGLE_APPLICATION_CREDENTIALS "
            "to a service-account key file, or run `gcloud auth application-default login`"
        ) from None
    return st.StorageTransferServiceClient(credentials=credentials)


# --------------------------------------------------------------------------- running


@dataclass
class StsResult:
    """How an STS transfer ended, in the local engine's summary terms plus STS detail."""

    ok: bool
    job_name: str
    status: str
    """SUCCESS | FAILED | ABORTED | DRY_RUN | IN_PROGRESS (detached) ..."""
    operations: list[str] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)
    job: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    agent_command: str | None = None
    mode: str = ""
    cost_usd: float | None = None

    def summary(self) -> dict[str, int]:
        """The local engine's final summary keys (copied, deleted, skipped, failed, bytes, verified)."""
        c = self.counters
        return {
            "copied": c.get("objectsCopiedToSink", 0),
            "deleted": c.get("objectsDeletedFromSink", 0),
            "skipped": c.get("objectsFromSourceSkippedBySync", 0),
            "failed": c.get("objectsFromSourceFailed", 0),
            "bytes": c.get("bytesCopiedToSink", 0),
            # STS checks the checksum of every object it copies.
            "verified": c.get("objectsCopiedToSink", 0),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "engine": "sts",
            "ok": self.ok,
            "job_name": self.job_name,
            "status": self.status,
            "operations": self.operations,
            "counters": self.counters,
            "failures": self.failures,
            "summary": self.summary(),
            "job": self.job,
            "notes": self.notes,
            "agent_command": self.agent_command,
            "mode": self.mode,
            "cost_usd": self.cost_usd,
        }


def _upsert_job(client: "st.StorageTransferServiceClient", job: "st.TransferJob",
                exists: bool | None = None) -> "st.TransferJob":
    """Create the job, or bring an existing one (same entry) up to date.

    ``exists``: whether the caller has just read the job (None = read it here), so a run reads it once.
    """
    from google.api_core import exceptions as gexc
    from google.protobuf import field_mask_pb2

    with api_errors("Storage Transfer Service"):
        if exists is None:
            try:
                client.get_transfer_job(request={"job_name": job.name, "project_id": job.project_id})
                exists = True
            except gexc.NotFound:
                exists = False
        if not exists:
            return client.create_transfer_job(request={"transfer_job": job})
        # ``schedule`` is always in the mask: a field named in the mask but absent from the job is
        # cleared, so a profile without a schedule removes the one an earlier run left on the job
        # (left out of the mask, the old schedule would keep starting runs after cutover).
        # ``status`` is not: a job disabled at cutover is re-enabled only on purpose (--enable).
        paths = ["description", "transfer_spec", "logging_config", "schedule"]
        return client.update_transfer_job(
            request={
                "job_name": job.name,
                "project_id": job.project_id,
                "transfer_job": job,
                "update_transfer_job_field_mask": field_mask_pb2.FieldMask(paths=paths),
            }
        )


_LIVE = {"IN_PROGRESS", "PAUSED", "QUEUED", "SUSPENDING"}


def _start_or_attach(
    client: "st.StorageTransferServiceClient", job: "st.TransferJob", emit: Emit, step: str
) -> str:
    """The name of the operation to track: the job's live one (after a crash), or a new run."""
    from google.api_core import exceptions as gexc
    from engine.transfer.sts_track import get_snapshot

    with api_errors("Storage Transfer Service"):
        latest = client.get_transfer_job(request={"job_name": job.name, "project_id": job.project_id})
        if latest.latest_operation_name:
            snap = get_snapshot(client, latest.latest_operation_name)
            if snap.status in _LIVE:
                emit(Message(step, text=f"attaching to the running STS operation {snap.name} ({snap.status})"))
                return snap.name
        try:
            lro = client.run_transfer_job(request={"job_name": job.name, "project_id": job.project_id})
        except gexc.BadRequest:  # e.g. its schedule started an operation meanwhile
            latest = client.get_transfer_job(request={"job_name": job.name, "project_id": job.project_id})
            if not latest.latest_operation_name:
                raise
            snap = get_snapshot(client, latest.latest_operation_name)
            if snap.status not in _LIVE:
                raise
            return snap.name
        return lro.operation.name


def ensure_agent_pool(client: "st.StorageTransferServiceClient", pool_name: str, bandwidth_mbps: int | None) -> None:
    """Check the agent pool exists and, when the entry sets a limit, set the pool's to ``bandwidth_mbps`` (MB/s).

    ``None`` leaves the pool's limit as it is: the pool is shared by every job that uses it, and an
    entry without ``bwlimit`` says nothing about how fast the others may go.
    """
    from google.api_core import exceptions as gexc
    from google.cloud import storage_transfer_v1 as st
    from google.protobuf import field_mask_pb2

    with api_errors("Storage Transfer Service"):
        try:
            pool = client.get_agent_pool(request={"name": pool_name})
        except gexc.NotFound:
            pool_id = pool_name.rsplit("/", 1)[-1]
            raise EnvironmentProblem(
                f"the STS agent pool {pool_name} does not exist: create it with "
                f"`gcloud transfer agent-pools create {pool_id}`, then install agents"
            ) from None
        if bandwidth_mbps is None:
            return
        current = pool.bandwidth_limit.limit_mbps if "bandwidth_limit" in pool else 0
        if current != bandwidth_mbps:
            update = st.AgentPool(name=pool_name,
                                  bandwidth_limit=st.AgentPool.BandwidthLimit(limit_mbps=bandwidth_mbps))
            client.update_agent_pool(
                request={"agent_pool": update, "update_mask": field_mask_pb2.FieldMask(paths=["bandwidth_limit"])}
            )


def _run_phase(
    client: "st.StorageTransferServiceClient",
    plan: StsJobPlan,
    *,
    emit: Emit,
    step: str,
    opts: StsOptions,
    cancel: threading.Event | None,
    control: StsControl | None,
    clock: Any,
    confirmed: bool = False,
    exists: bool | None = None,
) -> OperationSnapshot:
    from engine.transfer.sts_jobs import check_job_state, state_of

    job = _upsert_job(client, plan.job, exists)
    # The guard reads what the job IS after the update (schedule, delete option, status),
    # not what the profile asked for.
    check_job_state(state_of(job), confirmed=confirmed)
    op_name = _start_or_attach(client, job, emit, step)
    if control is not None:
        control.operation_name = op_name
    return track_operation(
        client,
        op_name,
        emit=emit,
        step=step,
        poll_interval_s=opts.poll_interval_s,
        cancel=cancel,
        control=control,
        source_root_url=plan.source_root_url,
        on_cancel=opts.on_cancel,
        clock=clock,
    )


def run_sts_transfer(
    spec: TransferSpec,
    *,
    project: str,
    emit: Emit = discard,
    step: str = "transfer",
    options: StsOptions | None = None,
    client: "st.StorageTransferServiceClient | None" = None,
    cancel: threading.Event | None = None,
    control: StsControl | None = None,
    dry_run: bool = False,
    delete_plan: DeletePlan | None = None,
    confirm_delete: bool = False,
    planned_bytes: int | None = None,
    base_dir: Path | None = None,
    clock: Any = None,
) -> StsResult:
    """Run ``spec`` as a Storage Transfer Service job and track it to the end.

    * ``dry_run``: return the job that would be created (nothing is called).
    * Re-running the same entry finds the same job (:func:`job_name_for`),
      updates it, and attaches to its operation if one is still running.
    * ``spec.delete``: with a ``delete_plan`` (counts from a listing diff) the
      guards run first and the job deletes in the same run; without one, the
      user must confirm, and the job first runs *without* deleting so STS's own
      listing proves the source is not empty, then once more with deletion.
    * ``cancel`` set: the operation is cancelled (``on_cancel = "cancel"``) and
      :class:`Interrupted` raised, or only the watching stops (``"detach"``).
    """
    opts = _options(spec, options)
    confirmed = confirm_delete or opts.confirm_delete
    final_plan = plan_sts_job(spec, project, opts, base_dir=base_dir)
    for note in final_plan.notes:
        emit(Message(step, text=note))
    if final_plan.agent_command:
        emit(Message(step, text=f"STS agents for this transfer: {final_plan.agent_command}"))
    refused: str | None = None
    try:
        check_delete_guards(spec, delete_plan, confirmed=confirmed)
        if spec.delete and opts.schedule and not confirmed:
            raise StsDeleteRefused(
                "delete-unique-in-sink on a scheduled STS job would delete on every later run without "
                "the guards: confirm with sts.confirm_delete = true / --yes-delete, or drop the schedule"
            )
    except StsDeleteRefused as exc:
        if not dry_run:
            raise
        # The dry run is the view the guards point to ("run the entry with --dry-run first"): it shows the
        # job and says the real run would be refused, as the local engine's -n -d does; it never is the refusal.
        refused = f"a real run would refuse the deletions: {exc}"
        emit(Message(step, text=refused, level="warning"))
    cost = sts_cost_usd(planned_bytes, final_plan.mode, opts.network_scope) if planned_bytes is not None else None
    result = StsResult(
        ok=refused is None,
        job_name=final_plan.job.name,
        status="DRY_RUN",
        job=final_plan.job_dict(),
        notes=list(final_plan.notes) + ([refused] if refused else []),
        agent_command=final_plan.agent_command,
        mode=final_plan.mode,
        cost_usd=cost,
    )
    if dry_run:
        return result
    client = client or make_client()
    from engine.transfer.sts_jobs import check_job_state, job_state

    existing = job_state(client, final_plan.job.name, project)
    if existing is not None:
        check_job_state(existing, confirmed=True)  # a DISABLED job is refused here, before any change
        if existing.scheduled and not opts.schedule:
            emit(Message(step, text=f"STS job {existing.name} has a schedule the profile no longer sets: removing it"))
    if final_plan.agent_pool_name:
        ensure_agent_pool(client, final_plan.agent_pool_name, final_plan.bandwidth_mbps)
    phases: list[StsJobPlan] = [final_plan]
    if spec.delete and delete_plan is None:
        phases = [plan_sts_job(spec, project, opts, delete=False, base_dir=base_dir), final_plan]
    snap: OperationSnapshot | None = None
    failures: list[dict[str, Any]] = []
    for index, phase in enumerate(phases):
        if index == 1:
            assert snap is not None
            # objectsFoundFromSource leaves out what the sync skipped (already in the sink):
            # the source holds both.
            found = snap.counters.get("objectsFoundFromSource", 0) + snap.counters.get(
                "objectsFromSourceSkippedBySync", 0)
            if found == 0 and not spec.allow_empty_source:
                result.counters, result.status, result.ok = snap.counters, snap.status, False
                raise StsDeleteRefused(
                    "STS listed the source as empty: delete-unique-in-sink would delete every destination "
                    "object; the copy ran, the deletion was refused (set allow_empty_source = true if wanted)"
                )
            emit(Message(step, text=f"the source lists {found:,} objects; deleting what only the destination has"))
        kind = "copy (no deletions yet)" if len(phases) == 2 and index == 0 else "transfer"
        emit(Message(step, text=f"STS job {phase.job.name}: starting the {kind}"))
        # The job was read above (phase 0) or written by the phase before: no second read.
        snap = _run_phase(client, phase, emit=emit, step=step, opts=opts, cancel=cancel, control=control, clock=clock,
                          confirmed=confirmed, exists=existing is not None or index > 0)
        result.operations.append(snap.name)
        failures.extend(snap.failures)
        if snap.detached:
            result.status, result.counters, result.failures = "DETACHED", snap.counters, failures
            result.ok = True
            return result
        if snap.status == "ABORTED" and cancel is not None and cancel.is_set():
            raise Interrupted(
                f"STS operation {snap.name} cancelled; running the same entry again starts a new run "
                "that skips what is already copied"
            )
        if snap.status != "SUCCESS":
            break
    assert snap is not None
    result.status = snap.status
    result.counters = snap.counters
    result.failures = failures
    result.ok = snap.status == "SUCCESS" and snap.counters.get("objectsFromSourceFailed", 0) == 0
    if delete_plan is not None and spec.delete:
        deleted = snap.counters.get("objectsDeletedFromSink", 0)
        if deleted > delete_plan.deletions:
            emit(Message(
                step,
                level="warning",
                text=f"STS deleted {deleted:,} objects, more than the {delete_plan.deletions:,} planned "
                "(the destination changed between planning and the run)",
            ))
    return result


__all__ = [
    "AGENT_POOL_PATTERN",
    "ROLE_ARN_PATTERN",
    "SECRET_RESOURCE_PATTERN",
    "TIB",
    "DeletePlan",
    "StsControl",
    "StsDeleteRefused",
    "StsJobPlan",
    "StsOptions",
    "StsResult",
    "StsSchedule",
    "StsThresholds",
    "agent_install_command",
    "bwlimit_to_mbps",
    "check_delete_guards",
    "choose_engine",
    "default_max_delete",
    "ensure_agent_pool",
    "job_name_for",
    "make_client",
    "plan_sts_job",
    "run_sts_transfer",
    "sts_cost_usd",
    "sts_mode",
    "sts_price",
    "sts_prices",
    "sts_supports",
]
