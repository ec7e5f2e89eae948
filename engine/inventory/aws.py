"""AWS inventory through boto3: GPU instances per region (in parallel), their EBS volumes, instance-type
details, and S3 bucket sizes per prefix.

Credentials and endpoints come from boto3's standard chain only (``AWS_PROFILE``, ``AWS_ACCESS_KEY_ID``
..., ``AWS_ENDPOINT_URL`` for a stand-in).  A missing credential or an unreachable endpoint raises
:class:`~engine.errors.EnvironmentProblem` naming what to set; a failure confined to one region or one
bucket is recorded in the result (``errors``) and the rest of the scan goes on.

``describe_instance_types`` is called one type at a time because one unknown type fails a whole call;
a type AWS (or a stand-in) does not know is filled in from a ``fallback`` (the embedded catalog).
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any, Callable, Iterable

from pydantic import BaseModel, ConfigDict, Field

from engine.errors import EnvironmentProblem, Interrupted
from engine.events import Emit, ItemDone, Message, Progress, discard
from engine.inventory.waiting import call, each_done
from engine.secrets import looks_like_secret_value, names_a_secret

GPU_FAMILIES = ("p2", "p3", "p3dn", "p4d", "p4de", "p5", "p5e", "p5en", "p6", "g3", "g3s", "g4dn", "g4ad", "g5",
                "g5g", "g6", "g6e", "g6f", "gr6")
"""Instance families with GPUs; used when a type's details cannot be looked up at all."""

CREDENTIALS_HELP = ("set AWS credentials through the standard chain: AWS_PROFILE (with ~/.aws/config), "
                    "AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY, or an instance role")

DEFAULT_LIST_LIMIT = 2_000_000
"""Objects listed per bucket prefix before switching to an estimate."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class InstanceTypeInfo(_Model):
    """What an instance type offers (GPU model, count, memory)."""

    instance_type: str
    """e.g. "p4d.24xlarge"."""
    gpu_model: str | None = None
    """e.g. "A100" (AWS's GpuInfo name)."""
    gpu_count: int = 0
    """GPUs per instance."""
    gpu_memory_mib: int | None = None
    """Memory per GPU, MiB."""
    vcpus: int | None = None
    """Default vCPUs."""
    memory_mib: int | None = None
    """Host memory, MiB."""
    source: str = "describe_instance_types"
    """Where the details came from: "describe_instance_types", "catalog" or "unknown"."""


class EbsVolume(_Model):
    """An EBS volume attached to an instance."""

    volume_id: str
    """e.g. "vol-0abc..."."""
    size_gib: int
    """Provisioned size."""
    volume_type: str | None = None
    """gp3, io2, ..."""
    device: str | None = None
    """The device name on the instance."""
    iops: int | None = None
    """Provisioned IOPS (io1/io2/gp3), as describe_volumes reports them."""
    throughput_mibps: int | None = None
    """Provisioned throughput in MiB/s (gp3)."""


class AwsInstance(_Model):
    """One GPU instance."""

    region: str
    """The region it runs in."""
    instance_id: str
    """e.g. "i-0abc..."."""
    instance_type: str
    """e.g. "p3.2xlarge"."""
    state: str
    """running, stopped, ..."""
    availability_zone: str | None = None
    """e.g. "us-east-1a"."""
    launch_time: str | None = None
    """ISO 8601."""
    tags: dict[str, str] = Field(default_factory=dict)
    """The instance's tags."""
    volumes: list[EbsVolume] = Field(default_factory=list)
    """Attached EBS volumes."""
    gpu: InstanceTypeInfo | None = None
    """Its type's GPU details."""

    @property
    def name(self) -> str:
        return self.tags.get("Name", "")

    @property
    def ebs_gib(self) -> int:
        return sum(v.size_gib for v in self.volumes)


class PrefixSize(_Model):
    """Objects and bytes under one prefix."""

    prefix: str
    """The prefix ("" = the whole bucket)."""
    objects: int = 0
    """How many objects (listed, or estimated)."""
    bytes: int = 0
    """Total size in bytes (listed, or estimated)."""
    estimated: bool = False
    """True when the numbers are not a complete listing."""
    method: str = "listed"
    """"listed", "cloudwatch" (daily storage metrics) or "partial listing (lower bound)"."""
    note: str | None = None
    """How an estimate was made."""
    largest: list[tuple[str, int]] = Field(default_factory=list)
    """The largest objects seen (key, bytes)."""


class BucketSize(_Model):
    """One bucket's size, per prefix asked for."""

    bucket: str
    """The bucket name."""
    region: str | None = None
    """The bucket's region."""
    prefixes: list[PrefixSize] = Field(default_factory=list)
    """One entry per prefix."""
    error: str | None = None
    """Why it could not be sized."""

    @property
    def objects(self) -> int:
        return sum(p.objects for p in self.prefixes)

    @property
    def bytes(self) -> int:
        return sum(p.bytes for p in self.prefixes)

    @property
    def estimated(self) -> bool:
        return any(p.estimated for p in self.prefixes)


class BucketListing(_Model):
    """One bucket the credentials can see, sized from CloudWatch's daily storage metrics (nothing listed)."""

    name: str
    """The bucket name."""
    region: str | None = None
    """Its region (None when get_bucket_location was refused)."""
    created: str | None = None
    """Creation date, ISO 8601 (as list_buckets reports it)."""
    objects: int | None = None
    """NumberOfObjects (AllStorageTypes), the latest daily value; None when CloudWatch has none."""
    bytes: int | None = None
    """BucketSizeBytes summed over the storage classes CloudWatch reports; None when it has none."""
    metrics_at: str | None = None
    """The day the figures are for (S3 publishes them once a day, so up to a day old)."""
    error: str | None = None
    """Why the bucket's region or figures could not be read."""

    @property
    def sized(self) -> bool:
        return self.objects is not None and self.bytes is not None


class AwsInventory(_Model):
    """Everything found in AWS."""

    regions: list[str] = Field(default_factory=list)
    """Regions scanned."""
    instances: list[AwsInstance] = Field(default_factory=list)
    """GPU instances, by region then id."""
    instance_types: dict[str, InstanceTypeInfo] = Field(default_factory=dict)
    """Details of each GPU instance type seen."""
    buckets: list[BucketSize] = Field(default_factory=list)
    """S3 buckets sized."""
    discovered_buckets: list[BucketListing] = Field(default_factory=list)
    """Every bucket the credentials can see, when the profile names none (CloudWatch figures, no listing)."""
    errors: dict[str, str] = Field(default_factory=dict)
    """Region or bucket -> what went wrong there."""

    def volumes_unread(self, region: str) -> str | None:
        """Why the region's EBS volumes could not be read (its instances were), or None: then their
        sizes are known, and an instance with none has 0 GiB rather than an unknown amount."""
        return self.errors.get(volumes_key(region))


# --- sessions and errors ---------------------------------------------------------------


def make_session(profile_name: str | None = None) -> Any:
    """A boto3 session from the standard chain; EnvironmentProblem if it has no credentials."""
    import boto3
    import botocore.exceptions

    try:
        session = boto3.Session(profile_name=profile_name) if profile_name else boto3.Session()
    except botocore.exceptions.ProfileNotFound as exc:
        raise EnvironmentProblem(f"AWS profile not found: {exc}; {CREDENTIALS_HELP}") from None
    if session.get_credentials() is None:
        raise EnvironmentProblem(f"no AWS credentials found; {CREDENTIALS_HELP}")
    return session


def _client(session: Any, service: str, region: str) -> Any:
    from botocore.config import Config

    return session.client(service, region_name=region,
                          config=Config(retries={"max_attempts": 4, "mode": "standard"}, connect_timeout=10,
                                        read_timeout=60, max_pool_connections=16))


def translate_error(exc: BaseException, where: str) -> Exception:
    """Map a boto error to EnvironmentProblem (credentials / reachability) or return it unchanged."""
    import botocore.exceptions as be

    if isinstance(exc, (be.NoCredentialsError, be.PartialCredentialsError)):
        return EnvironmentProblem(f"no AWS credentials found ({where}); {CREDENTIALS_HELP}")
    if isinstance(exc, (be.EndpointConnectionError, be.ConnectTimeoutError, be.ConnectionClosedError)):
        return EnvironmentProblem(f"cannot reach the AWS endpoint for {where} ({exc}); check the network, a proxy "
                                  "(HTTPS_PROXY) or AWS_ENDPOINT_URL")
    if isinstance(exc, be.ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        region = where.removeprefix("ec2 in ") if where.startswith("ec2 in ") else None  # a region's scan
        if code == "AuthFailure" and region:  # EC2 answers the same to a region the account has not enabled
            return EnvironmentProblem(_either_cause(region, where))
        if code in ("AuthFailure", "InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken",
                    "UnrecognizedClientException", "InvalidAccessKeyId"):
            return EnvironmentProblem(f"AWS rejected the credentials ({where}: {code}); {CREDENTIALS_HELP}")
    return exc  # type: ignore[return-value]


def _either_cause(region: str, where: str, unchecked: str = "") -> str:
    """AuthFailure in one region when which of its two causes could not be told: both are said."""
    return (f"AWS answered AuthFailure ({where}): either {region} is an opt-in region not enabled for this "
            f"account, or the credentials were rejected{unchecked}. `aws ec2 describe-regions --all-regions "
            f"--region-names {region}` shows its opt-in status (inventory.all_regions scans only enabled regions); "
            f"if it is enabled, {CREDENTIALS_HELP}")


def explain_auth_failures(session: Any, regions: list[str], home: str) -> dict[str, str]:
    """What EC2's AuthFailure in each of ``regions`` means, asked of EC2 in ``home`` (a region that took the
    credentials, else us-east-1, enabled in every account).

    EC2 answers a region the account has not enabled, and credentials it does not accept, with the same
    401 AuthFailure.  DescribeRegions tells them apart: a region ``not-opted-in`` is not enabled; the same
    AuthFailure from ``home`` means the credentials are rejected everywhere; an enabled opt-in region that
    refuses temporary credentials is the global STS endpoint's version 1 token, valid only in the regions
    enabled by default (IAM API, SetSecurityTokenServicePreferences).  Where DescribeRegions cannot be
    read (denied, unreachable), both causes are said, never one of them as a guess."""
    import botocore.exceptions as be

    try:
        answer = _client(session, "ec2", home).describe_regions(AllRegions=True, RegionNames=regions)
    except be.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "AuthFailure":  # the credentials are refused in the home region too: not the region
            return {r: f"AWS rejected the credentials (ec2 in {r} and in {home}: AuthFailure); {CREDENTIALS_HELP}"
                    for r in regions}
        why = f" (ec2:DescribeRegions, which tells them apart, was refused: {code})"
        return {r: _either_cause(r, f"ec2 in {r}", why) for r in regions}
    except Exception as exc:  # noqa: BLE001 - unreachable, throttled: the answer stays undecided
        why = f" (ec2:DescribeRegions, which tells them apart, failed: {type(exc).__name__})"
        return {r: _either_cause(r, f"ec2 in {r}", why) for r in regions}
    status = {r.get("RegionName"): r.get("OptInStatus") for r in answer.get("Regions", [])}
    temporary = bool(getattr(session.get_credentials(), "token", None))
    out = {}
    for r in regions:
        if status.get(r) == "not-opted-in":
            out[r] = (f"{r} is an opt-in region not enabled for this account (EC2 answers AuthFailure there; "
                      f"DescribeRegions in {home} says not-opted-in): enable it (AWS console, Account, AWS Regions) "
                      "or leave it out of inventory.aws_regions")
        elif status.get(r) == "opted-in" and temporary:
            out[r] = (f"AWS rejected these temporary credentials in {r} (AuthFailure), an opt-in region that is "
                      f"enabled: session tokens from the global STS endpoint (version 1) are valid only in regions "
                      f"enabled by default. Get them from a regional STS endpoint (AWS_STS_REGIONAL_ENDPOINTS="
                      f"regional), or set the account's global endpoint token version to 2 (IAM account settings)")
        elif status.get(r) in ("opted-in", "opt-in-not-required"):
            out[r] = (f"AWS rejected the credentials in {r} (AuthFailure), though the region is enabled "
                      f"({status[r]}) and {home} accepted them: a region enabled minutes ago can take a while "
                      f"to accept them; else {CREDENTIALS_HELP}")
        else:
            out[r] = _either_cause(r, f"ec2 in {r}", f" (DescribeRegions in {home} does not know {r})")
    return out


def _code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def _short(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        err = response["Error"]
        return f"{err.get('Code', type(exc).__name__)}: {err.get('Message', '')}".strip()
    return f"{type(exc).__name__}: {exc}"


# --- regions and instances ---------------------------------------------------------------


def enabled_regions(session: Any, home: str = "us-east-1") -> list[str]:
    """Every region enabled for the account."""
    try:
        resp = _client(session, "ec2", home).describe_regions(
            Filters=[{"Name": "opt-in-status", "Values": ["opt-in-not-required", "opted-in"]}])
    except Exception as exc:
        raise translate_error(exc, f"ec2 describe_regions in {home}") from None
    return sorted(r["RegionName"] for r in resp["Regions"])


class _TypeCache:
    """Instance type details, looked up once per type across all region threads."""

    def __init__(self, fallback: Callable[[str], InstanceTypeInfo | None] | None):
        self.fallback = fallback
        self._lock = threading.Lock()
        self._known: dict[str, InstanceTypeInfo | None] = {}
        self._events: dict[str, threading.Event] = {}

    def get(self, ec2: Any, instance_type: str) -> InstanceTypeInfo | None:
        with self._lock:
            if instance_type in self._known:
                return self._known[instance_type]
            waiter = self._events.get(instance_type)
            owner = waiter is None
            if owner:
                waiter = self._events[instance_type] = threading.Event()
        if not owner:
            waiter.wait(120)
            return self._known.get(instance_type)
        try:
            info = self._lookup(ec2, instance_type)
        finally:
            with self._lock:
                self._known.setdefault(instance_type, None)
        with self._lock:
            self._known[instance_type] = info
        waiter.set()
        return info

    def _lookup(self, ec2: Any, instance_type: str) -> InstanceTypeInfo | None:
        import botocore.exceptions as be

        try:
            found = ec2.describe_instance_types(InstanceTypes=[instance_type])["InstanceTypes"]
        except be.ClientError as exc:
            # ec2:DescribeInstanceTypes not allowed: the type's shape is public, the catalog's answer serves
            # (source "catalog"), where the refusal dropped every instance of the region
            if exc.response.get("Error", {}).get("Code") not in ("InvalidInstanceType", "InvalidParameterValue",
                                                                  "UnauthorizedOperation"):
                raise
            found = []
        if found:
            it = found[0]
            gpus = (it.get("GpuInfo") or {}).get("Gpus") or []
            return InstanceTypeInfo(
                instance_type=instance_type,
                gpu_model=gpus[0].get("Name") if gpus else None,
                gpu_count=sum(int(g.get("Count", 0)) for g in gpus),
                gpu_memory_mib=(gpus[0].get("MemoryInfo") or {}).get("SizeInMiB") if gpus else None,
                vcpus=(it.get("VCpuInfo") or {}).get("DefaultVCpus"),
                memory_mib=(it.get("MemoryInfo") or {}).get("SizeInMiB"),
            )
        if self.fallback is not None:
            info = self.fallback(instance_type)
            if info is not None:
                return info.model_copy(update={"source": "catalog"})
        family = instance_type.split(".")[0]
        if family in GPU_FAMILIES:
            return InstanceTypeInfo(instance_type=instance_type, gpu_count=0, source="unknown")
        return None


def volumes_key(region: str) -> str:
    """The ``errors`` key of a region whose instances were listed but whose EBS volumes could not be read."""
    return f"{region} EBS volumes"


def _scan_region(session: Any, region: str, types: _TypeCache, cancel: threading.Event | None
                 ) -> tuple[list[AwsInstance], str | None]:
    """The region's GPU instances, and why their EBS volumes could not be read (None: they were)."""
    ec2 = _client(session, "ec2", region)
    raw: list[dict[str, Any]] = []
    for page in ec2.get_paginator("describe_instances").paginate(
            Filters=[{"Name": "instance-state-name",
                      "Values": ["pending", "running", "stopping", "stopped", "shutting-down"]}],
            PaginationConfig={"PageSize": 500}):
        if cancel is not None and cancel.is_set():
            raise Interrupted("inventory interrupted; run it again")
        for reservation in page.get("Reservations", []):
            raw.extend(reservation.get("Instances", []))
    out: list[AwsInstance] = []
    for inst in raw:
        info = types.get(ec2, inst["InstanceType"])
        if info is None or (info.gpu_count == 0 and info.source != "unknown"):
            continue  # not a GPU instance
        launch = inst.get("LaunchTime")
        out.append(AwsInstance(
            region=region, instance_id=inst["InstanceId"], instance_type=inst["InstanceType"],
            state=(inst.get("State") or {}).get("Name", "unknown"),
            availability_zone=(inst.get("Placement") or {}).get("AvailabilityZone"),
            launch_time=launch.isoformat() if isinstance(launch, dt.datetime) else (str(launch) if launch else None),
            tags=_tags(inst.get("Tags") or []),
            gpu=info,
        ))
    problem = None
    if out:
        import botocore.exceptions as be

        try:
            _attach_volumes(ec2, out)
        except be.ClientError as exc:  # ec2:DescribeVolumes not allowed: the instances are still worth showing
            problem = _short(exc)
            for inst in out:
                inst.volumes.clear()
    return sorted(out, key=lambda i: i.instance_id), problem


def _tags(raw: list[dict[str, str]]) -> dict[str, str]:
    """The instance's tags, a credential's value withheld: a tag named like one (DB_PASSWORD, api-token) or
    holding one (an access key id) would otherwise reach the session store, the --json output and the app."""
    out = {}
    for tag in raw:
        key, value = tag["Key"], tag.get("Value", "")
        out[key] = "[REDACTED]" if names_a_secret(key) or looks_like_secret_value(value) else value
    return out


def _attach_volumes(ec2: Any, instances: list[AwsInstance]) -> None:
    by_id = {i.instance_id: i for i in instances}
    ids = list(by_id)
    for start in range(0, len(ids), 199):  # a filter takes at most 200 values
        chunk = ids[start:start + 199]
        for page in ec2.get_paginator("describe_volumes").paginate(
                Filters=[{"Name": "attachment.instance-id", "Values": chunk}]):
            for vol in page.get("Volumes", []):
                for att in vol.get("Attachments") or []:
                    owner = by_id.get(att.get("InstanceId", ""))
                    if owner is not None:
                        owner.volumes.append(EbsVolume(volume_id=vol["VolumeId"], size_gib=int(vol.get("Size", 0)),
                                                       volume_type=vol.get("VolumeType"), device=att.get("Device"),
                                                       iops=vol.get("Iops"), throughput_mibps=vol.get("Throughput")))
    for inst in instances:
        inst.volumes.sort(key=lambda v: v.device or v.volume_id)


def scan_instances(session: Any, regions: Iterable[str], *, emit: Emit = discard, step: str = "inventory",
                   cancel: threading.Event | None = None, fallback: Callable[[str], InstanceTypeInfo | None] | None = None,
                   max_workers: int = 8, inventory: AwsInventory | None = None) -> AwsInventory:
    """GPU instances in each region, regions in parallel. Per-region failures go to ``errors``."""
    regions = list(dict.fromkeys(regions))
    inv = inventory or AwsInventory()
    inv.regions = regions
    types = _TypeCache(fallback)
    done = 0
    env_problems: dict[str, EnvironmentProblem] = {}
    auth_failed: list[str] = []
    for region, found, exc in each_done(lambda r: _scan_region(session, r, types, cancel), regions,
                                        cancel=cancel, max_workers=max_workers, name="aws-region"):
        done += 1
        if isinstance(exc, Interrupted) or (exc is not None and not isinstance(exc, Exception)):
            raise exc
        if exc is not None:
            err = translate_error(exc, f"ec2 in {region}")
            if isinstance(err, EnvironmentProblem):
                env_problems[region] = err
                if _code(exc) == "AuthFailure":
                    auth_failed.append(region)
            inv.errors[region] = str(err) if isinstance(err, EnvironmentProblem) else _short(exc)
            emit(ItemDone(step, item=f"aws:{region}", status="failed", detail=inv.errors[region]))
        else:
            found, volumes_problem = found
            inv.instances.extend(found)
            emit(ItemDone(step, item=f"aws:{region}", status="ok",
                          detail=f"{len(found)} GPU instance(s)", data={"region": region, "instances": len(found)}))
            if volumes_problem:
                inv.errors[volumes_key(region)] = volumes_problem
        emit(Progress(step, done=done, total=len(regions), unit="regions", label="regions"))
    if auth_failed:  # a region not enabled, or credentials refused: EC2 says the same; ask which it is
        ok = next((r for r in regions if r not in inv.errors), "us-east-1")
        why_each = call(lambda: explain_auth_failures(session, sorted(auth_failed), ok), cancel=cancel)
        for region, why in why_each.items():
            env_problems[region] = EnvironmentProblem(why)
            inv.errors[region] = why
    if env_problems and len(env_problems) == len(regions):
        raise env_problems[regions[0]]  # nothing worked: credentials or endpoint, say what to set
    inv.instances.sort(key=lambda i: (i.region, i.instance_id))
    for inst in inv.instances:
        if inst.gpu is not None:
            inv.instance_types[inst.instance_type] = inst.gpu
            if inst.gpu.source == "unknown":
                emit(Message(step, level="warning",
                             text=f"{inst.instance_type}: GPU details unknown (not in describe_instance_types "
                                  "nor in the catalog)"))
    return inv


# --- S3 ---------------------------------------------------------------------------------


def _bucket_region(s3: Any, bucket: str) -> str:
    loc = s3.get_bucket_location(Bucket=bucket).get("LocationConstraint")
    return {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(loc, loc)


def _cloudwatch_size(session: Any, bucket: str, region: str) -> tuple[int, int] | None:
    """(objects, bytes) from S3's daily CloudWatch storage metrics, or None if there are none."""
    cw = _client(session, "cloudwatch", region)
    now = dt.datetime.now(dt.timezone.utc)
    values: dict[str, float] = {}
    for metric, storage in (("NumberOfObjects", "AllStorageTypes"), ("BucketSizeBytes", "StandardStorage")):
        resp = cw.get_metric_statistics(
            Namespace="AWS/S3", MetricName=metric, StartTime=now - dt.timedelta(days=3), EndTime=now,
            Period=86400, Statistics=["Average"],
            Dimensions=[{"Name": "BucketName", "Value": bucket}, {"Name": "StorageType", "Value": storage}])
        points = sorted(resp.get("Datapoints", []), key=lambda p: p["Timestamp"])
        if not points:
            return None
        values[metric] = points[-1]["Average"]
    return int(values["NumberOfObjects"]), int(values["BucketSizeBytes"])


def size_prefix(s3: Any, bucket: str, prefix: str, *, list_limit: int = DEFAULT_LIST_LIMIT, keep_largest: int = 5,
                on_page: Callable[[int, int], None] | None = None,
                cancel: threading.Event | None = None) -> PrefixSize:
    """List a prefix with the paginator; stop after ``list_limit`` objects (then ``estimated``)."""
    import heapq

    result = PrefixSize(prefix=prefix)
    largest: list[tuple[int, str]] = []
    kwargs: dict[str, Any] = {"Bucket": bucket}
    if prefix:
        kwargs["Prefix"] = prefix
    for page in s3.get_paginator("list_objects_v2").paginate(**kwargs, PaginationConfig={"PageSize": 1000}):
        if cancel is not None and cancel.is_set():
            raise Interrupted("inventory interrupted; run it again")
        contents = page.get("Contents", [])
        for obj in contents:
            size = int(obj.get("Size", 0))
            result.objects += 1
            result.bytes += size
            if len(largest) < keep_largest:
                heapq.heappush(largest, (size, obj["Key"]))
            elif size > largest[0][0]:
                heapq.heapreplace(largest, (size, obj["Key"]))
        if on_page is not None:
            on_page(len(contents), sum(int(o.get("Size", 0)) for o in contents))
        if result.objects >= list_limit and page.get("IsTruncated"):
            result.estimated = True
            result.method = "partial listing (lower bound)"
            result.note = (f"listing stopped after {result.objects:,} objects (limit {list_limit:,}); "
                           "the true count and size are larger")
            break
    result.largest = [(key, size) for size, key in sorted(largest, reverse=True)]
    return result


def size_buckets(session: Any, buckets: Iterable[tuple[str, list[str]]], *, emit: Emit = discard,
                 step: str = "inventory", cancel: threading.Event | None = None,
                 list_limit: int = DEFAULT_LIST_LIMIT, max_workers: int = 8, home_region: str = "us-east-1",
                 ) -> list[BucketSize]:
    """Size each (bucket, prefixes) pair; prefixes in parallel. Per-bucket failures go to ``error``."""
    buckets = list(buckets)
    s3_home = _client(session, "s3", home_region)
    results: list[BucketSize] = []
    jobs: list[tuple[BucketSize, str, Any]] = []
    for name, prefixes in buckets:
        size = BucketSize(bucket=name)
        results.append(size)
        try:
            size.region = call(lambda: _bucket_region(s3_home, name), cancel=cancel)  # noqa: B023 - waited for here
        except Interrupted:
            raise
        except Exception as exc:
            err = translate_error(exc, f"s3 bucket {name}")
            if isinstance(err, EnvironmentProblem):
                raise err from None
            size.error = _short(exc)
            emit(ItemDone(step, item=f"s3://{name}", status="failed", detail=size.error))
            continue
        s3 = _client(session, "s3", size.region or home_region)
        for prefix in prefixes or [""]:
            jobs.append((size, prefix, s3))
    lock = threading.Lock()
    counted = {"objects": 0, "bytes": 0}

    def on_page(objects: int, nbytes: int) -> None:
        with lock:
            counted["objects"] += objects
            counted["bytes"] += nbytes
            emit(Progress(step, done=counted["objects"], unit="objects", label="objects listed",
                          extra={"bytes": counted["bytes"]}))

    sized: dict[tuple[str, str], PrefixSize] = {}
    def size_job(job: tuple[BucketSize, str, Any]) -> PrefixSize:
        bucket, prefix, s3 = job
        return size_prefix(s3, bucket.bucket, prefix, list_limit=list_limit, on_page=on_page, cancel=cancel)

    for (bucket, prefix, _s3), found, exc in each_done(size_job, jobs, cancel=cancel, max_workers=max_workers,
                                                       name="s3-size"):
        if exc is None:
            sized[(bucket.bucket, prefix)] = found
        elif isinstance(exc, Interrupted) or not isinstance(exc, Exception):
            raise exc
        else:
            err = translate_error(exc, f"s3 bucket {bucket.bucket}")
            if isinstance(err, EnvironmentProblem):
                raise err from None
            bucket.error = _short(exc)
    for bucket in results:
        if bucket.region is None:
            continue  # its failure was reported above
        wanted = [p for b, p, _ in jobs if b is bucket]
        bucket.prefixes = [sized[(bucket.bucket, p)] for p in wanted if (bucket.bucket, p) in sized]
        whole = [p for p in bucket.prefixes if p.prefix == "" and p.estimated]
        for part in whole:  # a huge whole bucket: CloudWatch's daily storage metrics beat a lower bound
            try:
                metrics = call(lambda: _cloudwatch_size(session, bucket.bucket,  # noqa: B023 - waited for here
                                                        bucket.region or home_region), cancel=cancel)
            except Interrupted:
                raise
            except Exception:
                metrics = None
            if metrics is not None and metrics[0] >= part.objects:
                part.objects, part.bytes = metrics
                part.method = "cloudwatch"
                part.note = (f"listing stopped after the first objects; totals are CloudWatch's daily S3 storage "
                             f"metrics (NumberOfObjects, BucketSizeBytes for StandardStorage), up to a day old")
        status = "ok"
        detail = f"{bucket.objects:,} objects, {bucket.bytes:,} bytes" + (" (estimated)" if bucket.estimated else "")
        if bucket.error:
            status, detail = "failed", bucket.error
        emit(ItemDone(step, item=f"s3://{bucket.bucket}", status=status, detail=detail))
    return results


# --- every bucket, without listing one ----------------------------------------------------


def _latest_points(cw: Any, metric: str, bucket: str, storage_types: list[str],
                   now: dt.datetime) -> tuple[float, dt.datetime] | None:
    """The sum over ``storage_types`` of each one's latest daily Average, and the newest day seen."""
    total, newest, found = 0.0, None, False
    for storage in storage_types:
        resp = cw.get_metric_statistics(
            Namespace="AWS/S3", MetricName=metric, StartTime=now - dt.timedelta(days=3), EndTime=now,
            Period=86400, Statistics=["Average"],
            Dimensions=[{"Name": "BucketName", "Value": bucket}, {"Name": "StorageType", "Value": storage}])
        points = sorted(resp.get("Datapoints", []), key=lambda p: p["Timestamp"])
        if points:
            found = True
            total += points[-1]["Average"]
            newest = max(newest or points[-1]["Timestamp"], points[-1]["Timestamp"])
    return (total, newest) if found and newest is not None else None


def _storage_types(cw: Any, bucket: str) -> list[str]:
    """The StorageType values CloudWatch has BucketSizeBytes for (Standard, Glacier, IA ...)."""
    types: list[str] = []
    for page in cw.get_paginator("list_metrics").paginate(
            Namespace="AWS/S3", MetricName="BucketSizeBytes", Dimensions=[{"Name": "BucketName", "Value": bucket}]):
        for metric in page.get("Metrics", []):
            for dim in metric.get("Dimensions", []):
                if dim.get("Name") == "StorageType" and dim.get("Value") not in types:
                    types.append(dim["Value"])
    return types or ["StandardStorage"]


def _bucket_metrics(session: Any, listing: BucketListing, home_region: str) -> None:
    try:
        listing.region = _bucket_region(_client(session, "s3", home_region), listing.name)
    except Exception as exc:
        err = translate_error(exc, f"s3 bucket {listing.name}")
        if isinstance(err, EnvironmentProblem):
            raise err from None
        listing.error = _short(exc)
        return
    cw = _client(session, "cloudwatch", listing.region or home_region)
    now = dt.datetime.now(dt.timezone.utc)
    try:
        size = _latest_points(cw, "BucketSizeBytes", listing.name, _storage_types(cw, listing.name), now)
        count = _latest_points(cw, "NumberOfObjects", listing.name, ["AllStorageTypes"], now)
    except Exception as exc:
        err = translate_error(exc, f"cloudwatch for {listing.name}")
        if isinstance(err, EnvironmentProblem):
            raise err from None
        listing.error = f"no CloudWatch figures: {_short(exc)}"
        return
    if size is not None and count is not None:
        listing.bytes, listing.objects = int(size[0]), int(count[0])
        listing.metrics_at = max(size[1], count[1]).date().isoformat()


def discover_buckets(session: Any, *, emit: Emit = discard, step: str = "inventory", home_region: str = "us-east-1",
                     max_workers: int = 8, page_size: int = 1000,
                     cancel: threading.Event | None = None) -> list[BucketListing]:
    """Every bucket the credentials can list: name, region, creation date, and size from CloudWatch.

    Nothing is listed: the figures are S3's daily storage metrics (free, up to a day old, absent for a
    bucket younger than a day). Exact counts are :func:`size_buckets`' job, for the buckets a user picks.
    """
    # Paginated (MaxBuckets, ContinuationToken): S3 rejects an unpaginated ListBuckets from an account whose
    # bucket quota was raised above 10,000 (S3 User Guide, "General purpose bucket quotas").
    def list_all() -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for page in _client(session, "s3", home_region).get_paginator("list_buckets").paginate(
                PaginationConfig={"PageSize": page_size}):
            out.extend(page.get("Buckets", []))
        return out

    try:
        buckets = call(list_all, cancel=cancel)
    except Interrupted:
        raise
    except Exception as exc:
        raise translate_error(exc, "s3 list_buckets") from None
    found = []
    for raw in buckets:
        created = raw.get("CreationDate")
        found.append(BucketListing(name=raw["Name"], created=created.isoformat() if isinstance(created, dt.datetime)
                                   else (str(created) if created else None)))
    finished = each_done(lambda b: _bucket_metrics(session, b, home_region), found, cancel=cancel,
                         max_workers=max_workers, name="s3-discover")
    for done, (listing, _none, exc) in enumerate(finished, start=1):
        if exc is not None:
            raise exc  # an EnvironmentProblem stops the discovery: it says what to set
        detail = (f"{listing.objects:,} objects, {listing.bytes:,} bytes (CloudWatch, {listing.metrics_at})"
                  if listing.sized else listing.error or "no CloudWatch storage figures yet")
        emit(ItemDone(step, item=f"s3://{listing.name}", detail=detail,
                      status="failed" if listing.error else "ok"))
        emit(Progress(step, done=done, total=len(found), unit="buckets", label="buckets"))
    return sorted(found, key=lambda b: b.name)
