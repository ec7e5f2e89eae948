"""A Cloud Billing budget sized from the cost model's monthly run-rate.

The amount is the target's monthly run-rate (``engine.cost.model.compute_costs``)
rounded up to a whole currency unit, or ``[ops].budget_monthly`` (in
``[ops].budget_currency``; ``budget_monthly_usd`` is its old name) when the user sets it; threshold rules sit at ``[ops].budget_thresholds_pct`` of it;
notifications go to ``[ops].budget_email_channels`` (the API takes only email
channels) and the Pub/Sub topic, if named.  The budget is this migration's
own: its display name carries the migration's label (a hash of the profile's
name and target project unless ``[ops].label`` is set), so a second migration
on the same billing account never matches it.  ``apply_budget`` creates or
patches it idempotently; the project filter is compared on project numbers,
which is what the API stores.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.errors import BadInputError
from engine.events import Emit, ItemDone, Message, discard
from engine.ops.alerts import ApplyReport, _is_loopback, require_adc
from engine.ops.section import migration_label

if TYPE_CHECKING:  # pragma: no cover
    from google.cloud.billing import budgets_v1

    from engine.profile import Profile

ENDPOINT_ENV = "GPUMIGRATE_BUDGETS_ENDPOINT"
"""URL of a Billing Budgets API endpoint to use instead of billingbudgets.googleapis.com
(anonymous credentials when it is a loopback address, e.g. a local stand-in)."""

MANAGED_FIELDS = ("display_name", "budget_filter", "amount", "threshold_rules", "notifications_rule")


@dataclass(frozen=True)
class RunRate:
    """The monthly amount a budget is sized from, and where it came from."""

    monthly: float
    source: str
    currency: str = "USD"
    """The amount's currency: the cost model's figures are US dollars; an amount from the profile is in
    ``[ops].budget_currency``."""


def amount_text(run_rate: RunRate) -> str:
    """The amount for people, in its own currency ("$1,830.40", "270,000.00 JPY"): a yen budget shown with a dollar
    sign reads 150 times its size."""
    from engine.cost.money import usd

    if run_rate.currency == "USD":
        return usd(run_rate.monthly)
    return f"{run_rate.monthly:,.2f} {run_rate.currency}"


def budget_units(run_rate: RunRate) -> int:
    """The whole currency units the budget holds: the run-rate rounded up, so a normal month stays under 100%
    (every title and message names this amount, not the run-rate rounded to nearest)."""
    return max(1, math.ceil(run_rate.monthly - 1e-9))


def threshold_amounts(profile: "Profile", run_rate: RunRate) -> list[tuple[float, float]]:
    """(percent, amount) of each alert threshold: what the budget's rules fire at."""
    return [(pct, run_rate.monthly * pct / 100) for pct in profile.ops.budget_thresholds_pct]


def monthly_run_rate(profile: "Profile", cost_data: dict[str, Any] | None = None) -> RunRate:
    """The target's monthly run-rate: the profile's amount (in its budget currency), else the cost model's figure
    (US dollars)."""
    ops = profile.ops
    currency = ops.budget_currency
    if ops.budget_monthly is not None:
        return RunRate(ops.budget_monthly, "[ops].budget_monthly", currency)
    if ops.budget_monthly_usd is not None:
        # the old name: the amount has always been sent in budget_currency (s7 told people to put yen there)
        how = ("(the old name of budget_monthly)" if currency == "USD" else
               f", read as {currency} (the budget_currency), not US dollars: the field's old name; rename it "
               "budget_monthly")
        return RunRate(ops.budget_monthly_usd, f"[ops].budget_monthly_usd{' ' if currency == 'USD' else ''}{how}",
                       currency)
    if currency != "USD":
        # The cost model's figures are US dollars and nothing is converted: $1,831 sent as 1,831 EUR (or JPY) is a
        # budget of another size altogether, and its alerts fire at the wrong spend.
        raise BadInputError(f"ops.budget_currency: {currency} budget, but the cost model's run-rate is in US dollars "
                            f"(no currency conversion); set [ops].budget_monthly to the amount in {currency}, or "
                            'budget_currency = "USD"')
    try:
        from engine.cost.model import compute_costs  # the cost engineer's model
    except ImportError:
        compute_costs = None
    if cost_data:
        value = _target_monthly(cost_data)
        if value is not None:
            return RunRate(value, "the cost step's target monthly bill (compute and storage)")
    if compute_costs is not None:
        report = compute_costs(profile, with_sensitivity=False)
        value = _target_monthly(report)
        if value is not None:
            return RunRate(value, f"cost model: target {profile.target.pricing} monthly bill (compute and storage)")
    raise BadInputError("no monthly run-rate for the budget: the cost model gave none for the target; "
                        "set [ops].budget_monthly")


def _target_monthly(report: Any) -> float | None:
    """The primary target's whole monthly bill (compute, storage at rest and boot disk: what the budget's project
    filter is billed) from a CostReport or its ``to_dict()`` form; compute alone (``monthly_usd``) where a
    document has no bill. Sized from compute alone, a budget sat below the bill the Cost screen shows beside it
    ($1,810.40 against $1,830.40), so its 100% alert fired in a normal month."""
    if isinstance(report, dict):
        value = (report.get("bill_monthly_usd") or {}).get("target")
        if value is None:
            value = (report.get("monthly_usd") or {}).get("target")
        if value is None:
            value = next((o.get("monthly_usd") for o in report.get("options", []) if o.get("side") == "target"), None)
    else:
        value = report.primary.bill_monthly_usd if report.primary.bill_monthly_usd is not None \
            else report.monthly_target_usd
    return float(value) if value is not None and value > 0 else None


def display_name(profile: "Profile") -> str:
    return f"{migration_label(profile)}: GPU target monthly budget"[:60]


def build_budget(profile: "Profile", run_rate: RunRate) -> "budgets_v1.Budget":
    """The Budget message (valid by construction)."""
    from google.cloud.billing import budgets_v1
    from google.type import money_pb2

    ops = profile.ops
    if not profile.target.project:
        raise BadInputError("[target].project is needed for a budget (it filters the spend)")
    amount = budget_units(run_rate)
    notifications = budgets_v1.NotificationsRule(
        monitoring_notification_channels=list(ops.budget_email_channels))
    if ops.budget_pubsub_topic:
        notifications.pubsub_topic = ops.budget_pubsub_topic
        notifications.schema_version = "1.0"
    from google.protobuf import struct_pb2

    project = ops.project_number or profile.target.project
    budget_filter = budgets_v1.Filter(projects=[f"projects/{project}"])
    for key, value in ops.budget_label_filter.items():
        budget_filter.labels[key] = struct_pb2.ListValue(values=[struct_pb2.Value(string_value=value)])
    return budgets_v1.Budget(
        display_name=display_name(profile),
        budget_filter=budget_filter,
        amount=budgets_v1.BudgetAmount(
            specified_amount=money_pb2.Money(currency_code=ops.budget_currency, units=amount)),
        threshold_rules=[budgets_v1.ThresholdRule(threshold_percent=pct / 100.0,
                                                  spend_basis=budgets_v1.ThresholdRule.Basis.CURRENT_SPEND)
                         for pct in ops.budget_thresholds_pct],
        notifications_rule=notifications,
    )


def budget_to_dict(budget: Any) -> dict[str, Any]:
    from google.protobuf import json_format

    return json_format.MessageToDict(type(budget).pb(budget))


def render_budget_json(profile: "Profile", run_rate: RunRate) -> str:
    doc = {
        "billingAccount": f"billingAccounts/{profile.ops.billing_account or 'BILLING_ACCOUNT_ID'}",
        "sizedFrom": {"monthly": round(run_rate.monthly, 2), "currency": run_rate.currency,
                      "source": run_rate.source},
        "budget": budget_to_dict(build_budget(profile, run_rate)),
    }
    return json.dumps(doc, indent=2) + "\n"


# --- applying ---------------------------------------------------------------


def budgets_client(endpoint: str | None = None) -> Any:
    """A BudgetServiceClient over REST: ADC against the real API, or anonymous to a loopback stand-in."""
    from urllib.parse import urlsplit

    from google.cloud.billing import budgets_v1

    endpoint = endpoint or os.environ.get(ENDPOINT_ENV) or None
    if endpoint and _is_loopback(urlsplit(endpoint if "//" in endpoint else f"//{endpoint}").hostname or ""):
        from google.auth.credentials import AnonymousCredentials

        return budgets_v1.BudgetServiceClient(credentials=AnonymousCredentials(), transport="rest",
                                              client_options={"api_endpoint": endpoint})
    credentials = require_adc("create the Cloud Billing budget")
    options = {"api_endpoint": endpoint} if endpoint else None
    return budgets_v1.BudgetServiceClient(credentials=credentials, transport="rest", client_options=options)


def _snake(msg: Any) -> dict[str, Any]:
    from google.protobuf import json_format

    return json_format.MessageToDict(type(msg).pb(msg), preserving_proto_field_name=True)


def _comparable(d: dict[str, Any]) -> dict[str, Any]:
    out = {k: d.get(k) for k in MANAGED_FIELDS}
    flt = dict(out.get("budget_filter") or {})
    # Server-side defaults that the budget did not set are not differences.
    if flt.get("credit_types_treatment") == "INCLUDE_ALL_CREDITS":
        flt.pop("credit_types_treatment")
    if flt.get("calendar_period") == "MONTH":
        flt.pop("calendar_period")
    out["budget_filter"] = flt
    rules = out.get("threshold_rules") or []
    out["threshold_rules"] = sorted(
        ({"threshold_percent": round(float(r.get("threshold_percent", 0)), 6),
          "spend_basis": r.get("spend_basis", "CURRENT_SPEND")} for r in rules),
        key=lambda r: (r["threshold_percent"], r["spend_basis"]))
    note = dict(out.get("notifications_rule") or {})
    for key in ("disable_default_iam_recipients", "enable_project_level_recipients"):
        if note.get(key) is False:
            note.pop(key)
    if not note.get("pubsub_topic"):
        note.pop("schema_version", None)
    out["notifications_rule"] = note
    return out


def budget_diff(desired: Any, existing: Any, project_numbers: dict[str, str] | None = None) -> list[str]:
    """Managed fields that differ.  The real API may store ``projects/NUMBER`` for the project id
    it was given; ``project_numbers`` (id -> number) lets the comparison treat those as equal."""
    want, have = _comparable(_snake(desired)), _comparable(_snake(existing))
    if project_numbers:
        wanted = want["budget_filter"].get("projects", [])
        stored = have["budget_filter"].get("projects", [])
        numbered = [f"projects/{project_numbers.get(p.split('/', 1)[1], p.split('/', 1)[1])}" for p in wanted]
        # "*": the number is not known; one stored projects/NUMBER stands for the one project asked for.
        same = stored == numbered or (
            len(wanted) == len(stored) == 1 and numbered[0] == "projects/*" and stored[0].split("/", 1)[1].isdigit())
        if same:
            have["budget_filter"]["projects"] = wanted
    return [k for k in MANAGED_FIELDS if want.get(k) != have.get(k)]


def apply_budget(profile: "Profile", run_rate: RunRate, client: Any = None, *, emit: Emit = discard,
                 step: str = "ops") -> ApplyReport:
    """Create or update the budget on ``[ops].billing_account``; a second apply changes nothing."""
    from google.cloud.billing import budgets_v1
    from google.protobuf import field_mask_pb2

    account = profile.ops.billing_account
    if not account:
        raise BadInputError("[ops].billing_account is needed to create the budget (e.g. 01A2B3-C4D5E6-F7A8B9; see `gcloud billing accounts list`)")
    client = client or budgets_client()
    want = build_budget(profile, run_rate)
    parent = f"billingAccounts/{account}"
    existing = [b for b in client.list_budgets(parent=parent) if b.display_name == want.display_name]
    report = ApplyReport()
    if not existing:
        made = client.create_budget(parent=parent, budget=want)
        report.created.append(want.display_name)
        report.names[want.display_name] = made.name
        emit(ItemDone(step, item=want.display_name, status="created", detail=made.name))
        return report
    have = existing[0]
    report.names[want.display_name] = have.name
    numbers = None
    if not profile.ops.project_number:
        from engine.ops.projects import project_number

        number = project_number(profile.target.project or "")
        if number is None:
            numbers = {profile.target.project: "*"}
            emit(Message(step, level="warning", text=(
                f"the number of project {profile.target.project} could not be read (Cloud Resource Manager); "
                "the budget's stored projects/NUMBER is taken to be it (set [ops].project_number to compare "
                "exactly)")))
        else:
            numbers = {profile.target.project: number}
    fields = budget_diff(want, have, numbers)
    if not fields:
        report.unchanged.append(want.display_name)
        emit(ItemDone(step, item=want.display_name, status="unchanged", detail=have.name))
        return report
    patch = budgets_v1.Budget(want)
    patch.name = have.name
    patch.etag = have.etag
    client.update_budget(budget=patch, update_mask=field_mask_pb2.FieldMask(paths=fields))
    report.updated.append(want.display_name)
    emit(ItemDone(step, item=want.display_name, status="updated", detail=f"{have.name} ({', '.join(fields)})"))
    return report
