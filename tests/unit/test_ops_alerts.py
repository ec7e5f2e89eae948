"""Alert policies: the library's own messages, thresholds from the profile, JSON round trip."""

from __future__ import annotations

import json

from google.cloud import monitoring_v3
from google.protobuf import json_format

from engine.ops.alerts import (DCGM_ECC, DCGM_XID, GPU_MEM, GPU_UTIL, LABEL_KEY, POLICY_KEY, build_alert_policies,
                               diff_fields, render_alerts_json)
from engine.profile import parse_profile

TOML = """
[source]
provider = "aws"
[target]
project = "demo-gpu-project"
zone = "us-central1-a"
[ops]
gpu_memory_alert_pct = 85
idle_gpu_util_pct = 7.5
idle_hours = 4
memory_alert_minutes = 20
absent_minutes = 12
label = "resnet"
notification_channels = ["projects/demo-gpu-project/notificationChannels/42"]
"""


def by_key(policies):
    return {p.user_labels[POLICY_KEY]: p for p in policies}


def test_thresholds_come_from_the_profile() -> None:
    policies = by_key(build_alert_policies(parse_profile(TOML)))
    assert set(policies) == {"idle-gpu", "gpu-memory-high", "instance-gone", "gpu-errors"}
    idle = policies["idle-gpu"].conditions[0].condition_threshold
    assert GPU_UTIL in idle.filter and 'resource.labels.zone = "us-central1-a"' in idle.filter
    assert idle.threshold_value == 7.5
    assert idle.comparison == monitoring_v3.ComparisonType.COMPARISON_LT
    assert idle.duration.total_seconds() == 4 * 3600
    mem = policies["gpu-memory-high"].conditions[0].condition_threshold
    assert mem.threshold_value == 0.85 and mem.comparison == monitoring_v3.ComparisonType.COMPARISON_GT
    assert GPU_MEM in mem.filter and 'metric.labels.memory_state = "used"' in mem.filter
    assert GPU_MEM in mem.denominator_filter
    assert mem.duration.total_seconds() == 20 * 60
    gone = policies["instance-gone"].conditions[0].condition_absent
    assert gone.duration.total_seconds() == 12 * 60
    errs = [c.condition_threshold.filter for c in policies["gpu-errors"].conditions]
    # the Ops Agent never writes xid_errors; ECC values are sbe / dbe
    assert not any(DCGM_XID in f for f in errs) and any(DCGM_ECC in f and '"dbe"' in f for f in errs)
    for p in policies.values():
        assert p.user_labels[LABEL_KEY] == "resnet"
        assert list(p.notification_channels) == ["projects/demo-gpu-project/notificationChannels/42"]
        assert p.display_name.startswith("resnet: ")


def test_changing_the_profile_changes_the_policies() -> None:
    a = by_key(build_alert_policies(parse_profile(TOML)))
    b = by_key(build_alert_policies(parse_profile(TOML.replace("idle_hours = 4", "idle_hours = 9"))))
    assert b["idle-gpu"].conditions[0].condition_threshold.duration.total_seconds() == 9 * 3600
    assert "conditions" in diff_fields(b["idle-gpu"], a["idle-gpu"])
    assert diff_fields(a["gpu-memory-high"], b["gpu-memory-high"]) == []


def test_optional_policies() -> None:
    with_job = TOML + 'job_process = "python3"\ngpu_error_alerts = false\n'
    policies = by_key(build_alert_policies(parse_profile(with_job)))
    assert "gpu-errors" not in policies
    absent = policies["job-gone"].conditions[0].condition_absent
    assert 'metric.labels.command = "python3"' in absent.filter  # `process` is always "all"


def test_json_round_trips_through_the_library_types() -> None:
    profile = parse_profile(TOML)
    rendered = json.loads(render_alerts_json(profile))
    built = build_alert_policies(profile)
    assert len(rendered) == len(built)
    for doc, policy in zip(rendered, built):
        parsed = monitoring_v3.AlertPolicy()
        json_format.ParseDict(doc, monitoring_v3.AlertPolicy.pb(parsed))
        assert parsed == policy
        assert diff_fields(parsed, policy) == []


def test_server_added_fields_are_not_differences() -> None:
    want = build_alert_policies(parse_profile(TOML))[0]
    have = monitoring_v3.AlertPolicy(want)
    have.name = "projects/demo-gpu-project/alertPolicies/1"
    have.conditions[0].name = have.name + "/conditions/9"
    have.creation_record = monitoring_v3.MutationRecord(mutated_by="someone")
    assert diff_fields(want, have) == []
    have.severity = monitoring_v3.AlertPolicy.Severity.CRITICAL
    assert diff_fields(want, have) == ["severity"]
