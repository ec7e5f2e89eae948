"""Alert policies and the budget through the official clients against local stand-ins.

Monitoring: gRPC (google-cloud-monitoring ships no REST transport) on 127.0.0.1.
Budgets: REST (transport="rest", AnonymousCredentials, api_endpoint=http://127.0.0.1:PORT).
Create, then a second apply changes nothing; a profile change patches only what changed.
"""

from __future__ import annotations

import json
from typing import Iterator

import pytest
from google.cloud import monitoring_v3

from engine.ops.alerts import POLICY_KEY, apply_alert_policies, build_alert_policies
from engine.ops.budget import RunRate, apply_budget, display_name, monthly_run_rate
from engine.profile import parse_profile
from tests.ops_support import BudgetsStub, MonitoringStub

TOML = """
[source]
provider = "aws"
instance_type = "p3.2xlarge"
hourly_usd = 3.06
[target]
project = "demo-gpu-project"
zone = "us-central1-a"
machine_type = "a2-highgpu-1g"
gpu_model = "A100 40GB"
hourly_usd = 2.48
[workload]
source_hours_per_run = 8.2
target_hours_per_run = 7.1
runs_per_month = 20
[ops]
label = "resnet"
job_process = "python3"
billing_account = "012345-6789AB-CDEF01"
notification_channels = ["projects/demo-gpu-project/notificationChannels/42"]
budget_email_channels = ["projects/demo-gpu-project/notificationChannels/7"]
"""


@pytest.fixture()
def monitoring() -> Iterator[MonitoringStub]:
    stub = MonitoringStub(page_size=2).start()
    yield stub
    stub.stop()


@pytest.fixture()
def budgets(monkeypatch: pytest.MonkeyPatch) -> Iterator[BudgetsStub]:
    stub = BudgetsStub(page_size=1, channels={"projects/demo-gpu-project/notificationChannels/7": "email",
                                              "projects/demo-gpu-project/notificationChannels/42": "slack"},
                      project_numbers={"demo-gpu-project": "123456789012", "other-gpu-project": "555555555555"}
                      ).start()
    monkeypatch.setenv("GPUMIGRATE_RESOURCEMANAGER_ENDPOINT", stub.url)
    yield stub
    stub.stop()


def test_alert_policies_create_then_nothing_changes(monitoring: MonitoringStub) -> None:
    profile = parse_profile(TOML)
    client = monitoring.client()
    first = apply_alert_policies(profile, client)
    assert len(first.created) == 5 and not first.updated and not first.unchanged
    assert len(monitoring.policies) == 5
    stored = {p.user_labels[POLICY_KEY]: p for p in monitoring.policies.values()}
    assert stored["gpu-memory-high"].conditions[0].condition_threshold.threshold_value == 0.9
    assert all(c.name for p in stored.values() for c in p.conditions)  # named by the server

    before = monitoring.mutations()
    second = apply_alert_policies(profile, client)
    assert not second.changed and len(second.unchanged) == 5
    assert monitoring.mutations() == before  # the second apply sent no create/update
    assert second.names == first.names
    # 5 policies at 2 per page: the list was paged
    assert [c for c in monitoring.calls if c[0] == "list"][-1][1] == "projects/demo-gpu-project"


def test_profile_change_patches_only_that_policy(monitoring: MonitoringStub) -> None:
    client = monitoring.client()
    apply_alert_policies(parse_profile(TOML), client)
    changed = parse_profile(TOML.replace('label = "resnet"', 'label = "resnet"\ngpu_memory_alert_pct = 80'))
    report = apply_alert_policies(changed, client)
    assert report.updated == ["resnet: GPU memory nearly full"] and len(report.unchanged) == 4
    (update,) = [c for c in monitoring.calls if c[0] == "update"]
    assert sorted(update[1][1]) == ["conditions", "documentation"]
    stored = {p.user_labels[POLICY_KEY]: p for p in monitoring.policies.values()}
    assert stored["gpu-memory-high"].conditions[0].condition_threshold.threshold_value == 0.8
    assert not apply_alert_policies(changed, client).changed


def test_existing_policy_with_the_same_display_name_is_adopted(monitoring: MonitoringStub) -> None:
    client = monitoring.client()
    profile = parse_profile(TOML)
    hand_made = monitoring_v3.AlertPolicy(build_alert_policies(profile)[0])
    hand_made.user_labels = {}
    client.create_alert_policy(name="projects/demo-gpu-project", alert_policy=hand_made)
    report = apply_alert_policies(profile, client)
    assert report.updated == [hand_made.display_name] and len(report.created) == 4
    assert len(monitoring.policies) == 5
    assert not apply_alert_policies(profile, client).changed


def test_budget_create_then_nothing_changes(budgets: BudgetsStub) -> None:
    profile = parse_profile(TOML)
    client = budgets.client()
    rate = monthly_run_rate(profile)
    first = apply_budget(profile, rate, client)
    assert len(first.created) == 1
    (stored,) = budgets.budgets.values()
    assert stored["amount"]["specifiedAmount"]["units"] == str(int(-(-rate.monthly // 1)))
    assert [r["thresholdPercent"] for r in stored["thresholdRules"]] == [0.5, 0.8, 1.0]
    assert stored["notificationsRule"]["monitoringNotificationChannels"] == \
        ["projects/demo-gpu-project/notificationChannels/7"]  # the email channel, not the alerts' Slack one
    assert stored["budgetFilter"]["projects"] == ["projects/123456789012"]  # the API stores the number

    before = budgets.mutations()
    second = apply_budget(profile, rate, client)
    assert not second.changed and second.unchanged == first.created
    assert budgets.mutations() == before


def test_budget_change_patches_with_a_mask_and_etag(budgets: BudgetsStub) -> None:
    client = budgets.client()
    profile = parse_profile(TOML)
    apply_budget(profile, RunRate(500, "test"), client)
    # another budget on the account (a second page) is left alone
    other = parse_profile(TOML.replace('label = "resnet"', 'label = "other"'))
    apply_budget(other, RunRate(50, "test"), client)
    changed = parse_profile(TOML.replace('label = "resnet"', 'label = "resnet"\nbudget_thresholds_pct = [75, 100]'))
    report = apply_budget(changed, RunRate(650.2, "test"), client)
    assert report.updated and len(budgets.budgets) == 2
    method, _path, query = [r for r in budgets.requests if r[0] == "PATCH"][-1]
    assert sorted(query["updateMask"][0].split(",")) == ["amount", "thresholdRules"]  # FieldMask JSON is camelCase
    mine = next(b for b in budgets.budgets.values() if b["displayName"].startswith("resnet"))
    assert mine["amount"]["specifiedAmount"]["units"] == "651"
    assert [r["thresholdPercent"] for r in mine["thresholdRules"]] == [0.75, 1.0]
    assert not apply_budget(changed, RunRate(650.2, "test"), client).changed


def test_a_second_migration_never_touches_the_first_ones_budget(budgets: BudgetsStub) -> None:
    """Issue #16: with the old shared default label, the second apply re-pointed the first budget."""
    client = budgets.client()
    base = TOML.replace('label = "resnet"\n', "")
    first = parse_profile('name = "resnet"\n' + base)
    second = parse_profile('name = "bert"\n' + base)
    apply_budget(first, RunRate(500, "test"), client)
    before = json.dumps(budgets.budgets, sort_keys=True)
    report = apply_budget(second, RunRate(80, "test"), client)
    assert report.created and len(budgets.budgets) == 2
    first_stored = [b for b in budgets.budgets.values() if b["displayName"] == display_name(first)]
    assert [b["amount"]["specifiedAmount"]["units"] for b in first_stored] == ["500"]
    assert json.dumps({k: v for k, v in budgets.budgets.items() if k in json.loads(before)}, sort_keys=True) == before
    # and each re-apply is idempotent although the service answers with project numbers
    mutations = budgets.mutations()
    assert not apply_budget(first, RunRate(500, "test"), client).changed
    assert not apply_budget(second, RunRate(80, "test"), client).changed
    assert budgets.mutations() == mutations


def test_budget_with_a_known_project_number_and_a_label_filter(budgets: BudgetsStub) -> None:
    client = budgets.client()
    profile = parse_profile(TOML + 'project_number = "123456789012"\nbudget_label_filter = {team = "ml"}\n')
    apply_budget(profile, RunRate(100, "test"), client)
    (stored,) = budgets.budgets.values()
    assert stored["budgetFilter"]["projects"] == ["projects/123456789012"]
    assert stored["budgetFilter"]["labels"] == {"team": ["ml"]}
    assert not apply_budget(profile, RunRate(100, "test"), client).changed


def test_budget_refuses_a_non_email_channel_like_the_api(budgets: BudgetsStub) -> None:
    from google.api_core import exceptions as gexc

    slack = TOML.replace('budget_email_channels = ["projects/demo-gpu-project/notificationChannels/7"]',
                         'budget_email_channels = ["projects/demo-gpu-project/notificationChannels/42"]')
    with pytest.raises(gexc.BadRequest, match="only email"):
        apply_budget(parse_profile(slack), RunRate(100, "test"), budgets.client())


def test_a_refused_policy_does_not_stop_the_budget(monitoring: MonitoringStub, budgets: BudgetsStub) -> None:
    import grpc

    from engine.ops.step import apply_all

    monitoring.refuse_create("GPU idle", grpc.StatusCode.NOT_FOUND, "Cannot find metric(s)")
    out = apply_all(parse_profile(TOML), RunRate(300, "test"), lambda e: None,
                    monitoring=monitoring.client(), budgets=budgets.client())
    assert list(out["alerts"]["failed"]) == ["resnet: GPU idle (paying for unused GPUs)"]
    assert len(out["alerts"]["created"]) == 4 and len(out["budget"]["created"]) == 1


def test_budgets_stand_in_refuses_what_the_budget_message_does_not_parse(budgets: BudgetsStub) -> None:
    code, body = budgets.dispatch("POST", "/v1/billingAccounts/012345-6789AB-CDEF01/budgets", {},
                                  {"displayNmae": "x", "amount": {"lastPeriodAmount": {}}})
    assert code == 400 and "displayNmae" in body["error"]["message"]


def test_budget_is_compared_on_project_numbers(budgets: BudgetsStub, monkeypatch: pytest.MonkeyPatch) -> None:
    """The API answers projects/NUMBER: a re-apply is idempotent, and a budget moved to another project
    (same explicit label) is re-pointed, which comparing the id with a number could not tell."""
    client = budgets.client()
    profile = parse_profile(TOML)
    apply_budget(profile, RunRate(100, "test"), client)
    assert not apply_budget(profile, RunRate(100, "test"), client).changed
    moved = parse_profile(TOML.replace('project = "demo-gpu-project"', 'project = "other-gpu-project"'))
    report = apply_budget(moved, RunRate(100, "test"), client)
    assert report.updated
    (stored,) = budgets.budgets.values()
    assert stored["budgetFilter"]["projects"] == ["projects/555555555555"]
    # without access to Resource Manager: the stored number is taken to be the project, and it says so
    monkeypatch.setenv("GPUMIGRATE_RESOURCEMANAGER_ENDPOINT", "http://127.0.0.1:9")
    events: list = []
    assert not apply_budget(moved, RunRate(100, "test"), client, emit=events.append).changed
    assert any("could not be read" in getattr(e, "text", "") for e in events)


def test_cli_apply_stopped_by_a_permission_error_is_one_line_exit_4(
        monitoring: MonitoringStub, budgets: BudgetsStub, tmp_path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A 403 is not a per-policy refusal: `ops --apply` stops, exit 4 with one line (was a traceback)."""
    import grpc

    from tui.cli import main

    monitoring.refuse_create("GPU idle", grpc.StatusCode.PERMISSION_DENIED, "caller lacks monitoring.alertPolicies.create")
    monkeypatch.setenv("GPUMIGRATE_MONITORING_ENDPOINT", monitoring.endpoint)
    monkeypatch.setenv("GPUMIGRATE_BUDGETS_ENDPOINT", budgets.url)
    (tmp_path / "p.toml").write_text(TOML)
    assert main(["ops", str(tmp_path / "p.toml"), "--apply", "--json"]) == 4
    err = capsys.readouterr().err
    assert "Traceback" not in err and "403 caller lacks monitoring.alertPolicies.create" in err
    assert not budgets.budgets  # nothing after the stop was tried
