"""Cloud Monitoring alert policies for the target, built as the library's own messages.

Each policy is a ``google.cloud.monitoring_v3.AlertPolicy`` (valid by
construction), with thresholds from ``[ops]``.  ``apply_alert_policies`` makes
the project match them idempotently: policies are matched by the user labels
this module sets (``gpumigrate`` = the migration's label, ``gpumigrate_policy``
= the policy key), falling back to the display name; a policy that already
matches is left alone, one that differs is patched with an update mask of the
fields that differ, a missing one is created.  A second apply changes nothing.

The metrics are the Ops Agent's: its NVML metrics (``agent.googleapis.com/gpu/...``,
always on for GPU VMs) and, for error counts, its DCGM receiver version 2
(``workload.googleapis.com/gpu.dcgm...``).  The Ops Agent has no NVLink error
metric; NVLink errors are alerted on by the Prometheus rules (DCGM exporter).
"""

from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

from engine.errors import BadInputError, EnvironmentProblem
from engine.events import Emit, ItemDone, discard

if TYPE_CHECKING:  # pragma: no cover
    from google.cloud import monitoring_v3

    from engine.profile import Profile

LABEL_KEY = "gpumigrate"
POLICY_KEY = "gpumigrate_policy"
MANAGED_FIELDS = ("display_name", "documentation", "user_labels", "conditions", "combiner", "enabled",
                  "notification_channels", "severity")
"""The AlertPolicy fields this tool owns; anything else on a policy is left as it is."""

ENDPOINT_ENV = "GPUMIGRATE_MONITORING_ENDPOINT"
"""host:port of a Cloud Monitoring API endpoint to use instead of monitoring.googleapis.com
(plain-text gRPC when it is a loopback address, e.g. a local stand-in)."""

GPU_UTIL = "agent.googleapis.com/gpu/utilization"
GPU_MEM = "agent.googleapis.com/gpu/memory/bytes_used"
UPTIME = "compute.googleapis.com/instance/uptime"
PROC_CPU = "agent.googleapis.com/processes/cpu_time"
DCGM_XID = "workload.googleapis.com/gpu.dcgm.xid_errors"
DCGM_ECC = "workload.googleapis.com/gpu.dcgm.ecc_errors"


def _filter(metric: str, *extra: str) -> str:
    parts = [f'metric.type = "{metric}"', 'resource.type = "gce_instance"', *extra]
    return " AND ".join(parts)


def _fmt(value: float) -> str:
    return f"{value:g}"


def build_alert_policies(profile: "Profile") -> list["monitoring_v3.AlertPolicy"]:
    """The policies for this profile's target, in a stable order."""
    from google.cloud import monitoring_v3
    from google.protobuf import duration_pb2

    ops = profile.ops
    AP = monitoring_v3.AlertPolicy
    Cond = AP.Condition
    Agg = monitoring_v3.Aggregation
    instance_filter = [f'resource.labels.zone = "{profile.target.zone}"'] if profile.target.zone else []
    uptime_filter = list(instance_filter)
    if ops.target_instance:
        uptime_filter.append(f'metric.labels.instance_name = "{ops.target_instance}"')

    def seconds(s: float) -> duration_pb2.Duration:
        return duration_pb2.Duration(seconds=int(round(s)))

    def agg(aligner: Any, reducer: Any = None, group_by: Iterable[str] = ()) -> monitoring_v3.Aggregation:
        a = Agg(alignment_period=seconds(300), per_series_aligner=aligner)
        if reducer is not None:
            a.cross_series_reducer = reducer
            a.group_by_fields = list(group_by)
        return a

    def policy(key: str, title: str, doc: str, severity: Any, conditions: list[Any]) -> monitoring_v3.AlertPolicy:
        return AP(
            display_name=f"{ops.label}: {title}",
            documentation=AP.Documentation(content=doc, mime_type="text/markdown",
                                           subject=f"[{ops.label}] {title}"),
            user_labels={LABEL_KEY: ops.label, POLICY_KEY: key},
            conditions=conditions,
            combiner=AP.ConditionCombinerType.OR,
            enabled=True,
            notification_channels=list(ops.notification_channels),
            severity=severity,
        )

    per_instance = ["resource.label.instance_id"]
    per_gpu = ["resource.label.instance_id", "metric.label.gpu_number"]
    policies = [
        policy(
            "idle-gpu", "GPU idle (paying for unused GPUs)",
            f"Every GPU on the instance stayed below {_fmt(ops.idle_gpu_util_pct)}% utilisation for "
            f"{_fmt(ops.idle_hours)} h. Stop the VM or shrink it if the work is done "
            "(threshold: [ops].idle_gpu_util_pct, [ops].idle_hours).",
            AP.Severity.WARNING,
            [Cond(display_name=f"GPU utilisation < {_fmt(ops.idle_gpu_util_pct)}% for {_fmt(ops.idle_hours)} h",
                  condition_threshold=Cond.MetricThreshold(
                      filter=_filter(GPU_UTIL, *instance_filter),
                      aggregations=[agg(Agg.Aligner.ALIGN_MEAN, Agg.Reducer.REDUCE_MAX, per_instance)],
                      comparison=monitoring_v3.ComparisonType.COMPARISON_LT,
                      threshold_value=float(ops.idle_gpu_util_pct),
                      duration=seconds(ops.idle_hours * 3600),
                      trigger=Cond.Trigger(count=1)))]),
        policy(
            "gpu-memory-high", "GPU memory nearly full",
            f"GPU memory use stayed above {_fmt(ops.gpu_memory_alert_pct)}% for "
            f"{_fmt(ops.memory_alert_minutes)} min; the next batch may run out of memory "
            "(threshold: [ops].gpu_memory_alert_pct).",
            AP.Severity.ERROR,
            [Cond(display_name=f"GPU memory used > {_fmt(ops.gpu_memory_alert_pct)}%",
                  condition_threshold=Cond.MetricThreshold(
                      filter=_filter(GPU_MEM, 'metric.labels.state = "used"', *instance_filter),
                      aggregations=[agg(Agg.Aligner.ALIGN_MEAN, Agg.Reducer.REDUCE_SUM, per_gpu)],
                      denominator_filter=_filter(GPU_MEM, *instance_filter),
                      denominator_aggregations=[agg(Agg.Aligner.ALIGN_MEAN, Agg.Reducer.REDUCE_SUM, per_gpu)],
                      comparison=monitoring_v3.ComparisonType.COMPARISON_GT,
                      threshold_value=ops.gpu_memory_alert_pct / 100.0,
                      duration=seconds(ops.memory_alert_minutes * 60),
                      trigger=Cond.Trigger(count=1)))]),
        policy(
            "instance-gone", "GPU instance gone",
            f"No uptime reported by the target instance for {_fmt(ops.absent_minutes)} min: it was stopped, "
            "preempted or deleted ([ops].absent_minutes).",
            AP.Severity.CRITICAL,
            [Cond(display_name=f"No instance uptime for {_fmt(ops.absent_minutes)} min",
                  condition_absent=Cond.MetricAbsence(
                      filter=_filter(UPTIME, *uptime_filter),
                      aggregations=[agg(Agg.Aligner.ALIGN_MEAN)],
                      duration=seconds(ops.absent_minutes * 60),
                      trigger=Cond.Trigger(count=1)))]),
    ]
    if ops.job_process:
        policies.append(policy(
            "job-gone", "training job gone",
            f"No process named `{ops.job_process}` ran on the target for {_fmt(ops.absent_minutes)} min "
            "([ops].job_process).",
            AP.Severity.CRITICAL,
            [Cond(display_name=f"Process {ops.job_process} absent for {_fmt(ops.absent_minutes)} min",
                  condition_absent=Cond.MetricAbsence(
                      filter=_filter(PROC_CPU, f'metric.labels.process = "{ops.job_process}"', *instance_filter),
                      aggregations=[agg(Agg.Aligner.ALIGN_RATE)],
                      duration=seconds(ops.absent_minutes * 60),
                      trigger=Cond.Trigger(count=1)))]))
    if ops.gpu_error_alerts:
        def errors(display: str, metric: str, *extra: str) -> Any:
            return Cond(display_name=display, condition_threshold=Cond.MetricThreshold(
                filter=_filter(metric, *extra, *instance_filter),
                aggregations=[agg(Agg.Aligner.ALIGN_DELTA, Agg.Reducer.REDUCE_SUM, per_gpu)],
                comparison=monitoring_v3.ComparisonType.COMPARISON_GT,
                threshold_value=0.0,
                duration=seconds(0),
                trigger=Cond.Trigger(count=1)))

        policies.append(policy(
            "gpu-errors", "GPU hardware errors",
            "The DCGM receiver of the Ops Agent (receiver_version 2) reported XID errors or double-bit ECC "
            "errors. Drain the job and check `nvidia-smi -q`; repeated errors mean the host needs "
            "replacing. (NVLink error counters are not exported by the Ops Agent; the Prometheus rules "
            "cover them through the DCGM exporter.) Disable with [ops].gpu_error_alerts = false.",
            AP.Severity.CRITICAL,
            [errors("XID errors", DCGM_XID),
             errors("Double-bit ECC errors", DCGM_ECC, 'metric.labels.error_type = "double_bit"')]))
    return policies


def policy_to_dict(policy: "monitoring_v3.AlertPolicy") -> dict[str, Any]:
    """The policy as the API's JSON (camelCase), as shown to people and sent over REST."""
    from google.protobuf import json_format

    return json_format.MessageToDict(type(policy).pb(policy))


def render_alerts_json(profile: "Profile") -> str:
    return json.dumps([policy_to_dict(p) for p in build_alert_policies(profile)], indent=2) + "\n"


# --- applying ---------------------------------------------------------------


@dataclass
class ApplyReport:
    """What an idempotent apply did, by display name (or budget name)."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)
    """display name -> server resource name."""

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)

    def to_dict(self) -> dict[str, Any]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "names": self.names}


def _is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def monitoring_client(endpoint: str | None = None) -> Any:
    """An AlertPolicyServiceClient: Application Default Credentials against the real API, or
    plain-text gRPC to a loopback endpoint (``GPUMIGRATE_MONITORING_ENDPOINT``).

    google-cloud-monitoring ships only gRPC transports, so the local stand-in speaks gRPC.
    """
    from google.cloud import monitoring_v3

    endpoint = endpoint or os.environ.get(ENDPOINT_ENV) or None
    if endpoint:
        host = endpoint.rsplit(":", 1)[0]
        if _is_loopback(host):
            import grpc
            from google.cloud.monitoring_v3.services.alert_policy_service.transports import (
                AlertPolicyServiceGrpcTransport,
            )

            channel = grpc.insecure_channel(endpoint)
            return monitoring_v3.AlertPolicyServiceClient(transport=AlertPolicyServiceGrpcTransport(channel=channel))
    credentials = require_adc("create Cloud Monitoring alert policies")
    options = {"api_endpoint": endpoint} if endpoint else None
    return monitoring_v3.AlertPolicyServiceClient(credentials=credentials, client_options=options)


def require_adc(purpose: str) -> Any:
    """Application Default Credentials, or an EnvironmentProblem that says what to set."""
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    try:
        credentials, _project = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
    except DefaultCredentialsError:
        raise EnvironmentProblem(
            f"no Google Cloud credentials to {purpose}: run `gcloud auth application-default login` or set "
            "GOOGLE_APPLICATION_CREDENTIALS to a service-account key file (the artefacts were still rendered; "
            "`gpumigrate ops PROFILE --out DIR` writes them)") from None
    return credentials


def _comparable(policy_dict: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in MANAGED_FIELDS:
        value = policy_dict.get(key)
        if key == "conditions" and value:
            value = [{k: v for k, v in c.items() if k != "name"} for c in value]
        if value in (None, [], {}, ""):
            continue
        out[key] = value
    return out


def _as_snake_dict(policy: Any) -> dict[str, Any]:
    from google.protobuf import json_format

    return json_format.MessageToDict(type(policy).pb(policy), preserving_proto_field_name=True)


def diff_fields(desired: Any, existing: Any) -> list[str]:
    """The managed fields whose values differ between two messages."""
    want, have = _comparable(_as_snake_dict(desired)), _comparable(_as_snake_dict(existing))
    return [k for k in MANAGED_FIELDS if want.get(k) != have.get(k)]


def apply_alert_policies(profile: "Profile", client: Any = None, *, emit: Emit = discard,
                         step: str = "ops") -> ApplyReport:
    """Create or update this profile's policies in ``[target].project``; idempotent."""
    from google.cloud import monitoring_v3
    from google.protobuf import field_mask_pb2

    project = profile.target.project
    if not project:
        raise BadInputError("[target].project is needed to create alert policies")
    client = client or monitoring_client()
    desired = build_alert_policies(profile)
    existing = list(client.list_alert_policies(name=f"projects/{project}"))
    by_key = {p.user_labels.get(POLICY_KEY): p for p in existing
              if p.user_labels.get(LABEL_KEY) == profile.ops.label and p.user_labels.get(POLICY_KEY)}
    by_name = {p.display_name: p for p in existing}
    report = ApplyReport()
    for want in desired:
        have = by_key.get(want.user_labels[POLICY_KEY]) or by_name.get(want.display_name)
        if have is None:
            made = client.create_alert_policy(name=f"projects/{project}", alert_policy=want)
            report.created.append(want.display_name)
            report.names[want.display_name] = made.name
            emit(ItemDone(step, item=want.display_name, status="created", detail=made.name))
            continue
        fields = diff_fields(want, have)
        report.names[want.display_name] = have.name
        if not fields:
            report.unchanged.append(want.display_name)
            emit(ItemDone(step, item=want.display_name, status="unchanged", detail=have.name))
            continue
        patch = monitoring_v3.AlertPolicy(want)
        patch.name = have.name
        client.update_alert_policy(alert_policy=patch, update_mask=field_mask_pb2.FieldMask(paths=fields))
        report.updated.append(want.display_name)
        emit(ItemDone(step, item=want.display_name, status="updated", detail=f"{have.name} ({', '.join(fields)})"))
    return report
