"""Alert policies against a Cloud Monitoring stand-in as strict as the service (issue #16).

The stand-in knows only the metrics the Ops Agent and Compute Engine write (recorded from their published
metadata in engine/ops/data/metric_descriptors.json) and refuses what the API refuses: a metric with no
descriptor (NOT_FOUND), an unknown label (INVALID_ARGUMENT), durations that are not whole minutes, absence
under 120 s, anything over 23.5 h.  The old policies' defects are reproduced first; then every condition the
tool renders is created and its filter is matched against the time-series shapes the agent writes.
"""

from __future__ import annotations

from typing import Iterator

import grpc
import pytest
from google.api_core import exceptions as gexc
from google.cloud import monitoring_v3
from google.protobuf import duration_pb2

from engine.ops.alerts import DCGM_ECC, DCGM_XID, GPU_MEM, PROC_CPU, apply_alert_policies, build_alert_policies
from engine.ops.metrics import filter_problems
from engine.ops.section import migration_label
from engine.profile import ProfileError, parse_profile
from tests.ops_support import MonitoringStub, agent_series, recorded_descriptors, series_matches

BASE = """
[source]
provider = "aws"
[target]
project = "demo-gpu-project"
zone = "us-central1-a"
[ops]
job_process = "python3"
"""
ZONE = 'resource.type = "gce_instance" AND resource.labels.zone = "us-central1-a"'


@pytest.fixture()
def monitoring() -> Iterator[MonitoringStub]:
    stub = MonitoringStub(page_size=5).start()
    yield stub
    stub.stop()


def _policy(flt: str, *, absent: bool = False, seconds: int = 300) -> monitoring_v3.AlertPolicy:
    Cond = monitoring_v3.AlertPolicy.Condition
    cond = Cond(display_name="c")
    if absent:
        cond.condition_absent = Cond.MetricAbsence(filter=flt, duration=duration_pb2.Duration(seconds=seconds))
    else:
        cond.condition_threshold = Cond.MetricThreshold(
            filter=flt, comparison=monitoring_v3.ComparisonType.COMPARISON_GT, threshold_value=0,
            duration=duration_pb2.Duration(seconds=seconds))
    return monitoring_v3.AlertPolicy(display_name="old", conditions=[cond],
                                     combiner=monitoring_v3.AlertPolicy.ConditionCombinerType.OR)


def _create(stub: MonitoringStub, policy: monitoring_v3.AlertPolicy) -> None:
    stub.client().create_alert_policy(name="projects/demo-gpu-project", alert_policy=policy)


def test_the_old_policies_are_refused_or_never_match(monitoring: MonitoringStub) -> None:
    # XID: the agent never writes it, so the project has no descriptor -> 404 (this aborted `ops --apply`)
    with pytest.raises(gexc.NotFound, match="xid_errors"):
        _create(monitoring, _policy(f'metric.type = "{DCGM_XID}" AND {ZONE}'))
    # GPU memory filtered on `state`: the NVML metric's label is memory_state -> 400
    with pytest.raises(gexc.InvalidArgument, match="state"):
        _create(monitoring, _policy(f'metric.type = "{GPU_MEM}" AND metric.labels.state = "used" AND {ZONE}'))
    # job gone on `process`: accepted, but the agent writes process = "all", so it never matches python3
    old_job = f'metric.type = "{PROC_CPU}" AND metric.labels.process = "python3" AND {ZONE}'
    _create(monitoring, _policy(old_job, absent=True))
    assert not any(series_matches(old_job, s) for s in agent_series(PROC_CPU, command="python3"))
    # ECC on double_bit: accepted, never matches (values are sbe / dbe)
    old_ecc = f'metric.type = "{DCGM_ECC}" AND metric.labels.error_type = "double_bit" AND {ZONE}'
    _create(monitoring, _policy(old_ecc))
    assert not any(series_matches(old_ecc, s) for s in agent_series(DCGM_ECC))
    # durations: fractions of a minute, absence under 120 s, over 23.5 h
    ok = f'metric.type = "{GPU_MEM}" AND {ZONE}'
    for policy in (_policy(ok, seconds=90), _policy(ok, absent=True, seconds=60),
                   _policy(ok, seconds=24 * 3600)):
        with pytest.raises(gexc.InvalidArgument, match="duration"):
            _create(monitoring, policy)
    # and the renderer's own check names the same problems before anything is sent
    assert filter_problems(f'metric.type = "{DCGM_XID}"') and filter_problems(old_ecc)


def test_every_rendered_condition_is_accepted_and_matches_what_the_agent_writes(monitoring: MonitoringStub) -> None:
    profile = parse_profile(BASE)
    report = apply_alert_policies(profile, monitoring.client())
    assert report.ok and len(report.created) == 5
    for policy in build_alert_policies(profile):
        for cond in policy.conditions:
            body = cond.condition_threshold if "condition_threshold" in cond else cond.condition_absent
            metric = next(m for m in recorded_descriptors()["metrics"] if f'"{m}"' in body.filter)
            shapes = agent_series(metric, command="python3")
            assert any(series_matches(body.filter, s) for s in shapes), (policy.display_name, body.filter)
    filters = " ".join(c.condition_threshold.filter + c.condition_absent.filter
                       for p in build_alert_policies(profile) for c in p.conditions)
    assert DCGM_XID not in filters


def test_one_refused_policy_does_not_stop_the_others(monitoring: MonitoringStub) -> None:
    profile = parse_profile(BASE)
    monitoring.refuse_create("GPU idle", grpc.StatusCode.INVALID_ARGUMENT, "notification channel is not verified")
    report = apply_alert_policies(profile, monitoring.client())
    assert list(report.failed) == [f"{migration_label(profile)}: GPU idle (paying for unused GPUs)"]
    assert "not verified" in next(iter(report.failed.values()))
    assert len(report.created) == 4
    assert report.results()[next(iter(report.failed))].startswith("failed: ")


@pytest.mark.parametrize(("line", "field"), [
    ("memory_alert_minutes = 1.5", "memory_alert_minutes"),
    ("absent_minutes = 1", "absent_minutes"),
    ("absent_minutes = 1500", "absent_minutes"),
    ("idle_hours = 0.01", "idle_hours"),
    ("idle_hours = 24", "idle_hours"),
])
def test_durations_are_whole_minutes_in_range_at_load(line: str, field: str) -> None:
    with pytest.raises(ProfileError, match=field):
        parse_profile(BASE + line + "\n")


def test_two_migrations_get_their_own_label() -> None:
    a = parse_profile('name = "resnet"\n' + BASE)
    b = parse_profile('name = "bert"\n' + BASE)
    assert migration_label(a) != migration_label(b)
    assert migration_label(a).startswith("gpumigrate-") and migration_label(a) == migration_label(
        parse_profile('name = "resnet"\n' + BASE))
    assert migration_label(parse_profile(BASE + 'label = "mine"\n')) == "mine"


def test_the_ops_agent_config_turns_on_the_dcgm_receiver_the_ecc_policy_reads() -> None:
    import yaml

    from engine.ops.alerts import render_ops_agent_config

    doc = yaml.safe_load(render_ops_agent_config(parse_profile(BASE)))
    assert doc["metrics"]["receivers"]["dcgm"] == {"type": "dcgm", "receiver_version": 2}
    assert doc["metrics"]["service"]["pipelines"]["dcgm"]["receivers"] == ["dcgm"]
    assert recorded_descriptors()["metrics"][DCGM_ECC]["labels"]["error_type"] == ["sbe", "dbe"]
