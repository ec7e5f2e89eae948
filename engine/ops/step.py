"""The ``ops`` step of ``replay``: render every day-two artefact; apply only when ``[ops].apply``.

Rendering needs nothing outside this machine.  Applying creates or updates the
Cloud Monitoring alert policies and the Cloud Billing budget idempotently;
without Application Default Credentials it fails with exit code 4 and says
what to set (the artefacts are still in the result).  The rollback plan goes
into the session (meta ``ops.rollback_markdown`` / ``ops.rollback_items``) so
the runbook can show it.
"""

from __future__ import annotations

import json
from typing import Any

from engine.errors import EnvironmentProblem, ExitCode, GpumigrateError, Interrupted
from engine.events import Emit, ItemDone, Message
from engine.runner import StepContext, StepResult


def apply_all(profile: Any, run_rate: Any, emit: Emit, step: str = "ops",
              monitoring: Any = None, budgets: Any = None) -> dict[str, Any]:
    """Apply the alert policies and (when a billing account is set) the budget; returns what changed."""
    from engine.ops.alerts import apply_alert_policies
    from engine.ops.budget import apply_budget

    out: dict[str, Any] = {"alerts": apply_alert_policies(profile, monitoring, emit=emit, step=step).to_dict()}
    if profile.ops.billing_account and run_rate is not None:
        out["budget"] = apply_budget(profile, run_rate, budgets, emit=emit, step=step).to_dict()
    else:
        emit(Message(step, text="budget not applied: set [ops].billing_account (and a run-rate) to create it",
                     level="warning"))
    return out


def api_failure(exc: BaseException) -> GpumigrateError | None:
    """An API error that stopped the apply, as the error the CLI and the step report (None: not one).

    Exit 4 when the environment is at fault (no permission, not authenticated, service down), else 1.
    """
    from google.api_core import exceptions as gexc

    if not isinstance(exc, gexc.GoogleAPIError):
        return None
    environment = isinstance(exc, (gexc.ServiceUnavailable, gexc.PermissionDenied, gexc.Unauthenticated))
    error = (EnvironmentProblem if environment else GpumigrateError)(
        f"apply stopped: {exc} (what came before it was applied; nothing after it was tried)")
    return error


def run(ctx: StepContext) -> StepResult:
    from engine.ops.render import render_all
    from engine.ops.rollback import rollback_items

    profile = ctx.profile
    cost = ctx.results.get("cost")
    cost_data = cost.data if cost is not None and cost.ok else None
    result = render_all(profile, profile_path=ctx.profile_path, cost_data=cost_data)
    for item in result.items:
        if ctx.cancel.is_set():
            raise Interrupted("ops: interrupted while rendering; the files are rendered again when resumed")
        ctx.emit(ItemDone(ctx.step, item=item.filename, status="rendered", detail=item.title))
    for kind, why in result.skipped.items():
        ctx.message(f"{kind} not generated: {why}", level="info" if kind == "spot-watcher" else "warning")
    items = [i.to_dict() for i in rollback_items(profile, ctx.profile_path)]
    rollback_md = next((i.text for i in result.items if i.kind == "rollback"), "")
    if ctx.session is not None and not ctx.dry_run:
        ctx.session.set_meta("ops.rollback_markdown", rollback_md)
        ctx.session.set_meta("ops.rollback_items", json.dumps(items))
    data: dict[str, Any] = {
        "artefacts": [i.to_dict() for i in result.items],
        "skipped": result.skipped,
        "rollback_items": items,
        "thresholds": {"gpu_memory_alert_pct": profile.ops.gpu_memory_alert_pct,
                       "idle_gpu_util_pct": profile.ops.idle_gpu_util_pct, "idle_hours": profile.ops.idle_hours,
                       "budget_thresholds_pct": profile.ops.budget_thresholds_pct},
    }
    if result.run_rate is not None:
        data["budget_monthly"] = {"amount": round(result.run_rate.monthly, 2), "source": result.run_rate.source,
                                  "currency": result.run_rate.currency}
    summary = f"rendered {len(result.items)} artefacts ({', '.join(sorted({i.kind for i in result.items}))})"
    apply = bool(ctx.options.get("ops_apply", profile.ops.apply))
    if not apply:
        return StepResult(ok=True, summary=summary + "; not applied (ops.apply is false)", data=data)
    if ctx.dry_run:
        return StepResult(ok=True, summary=summary + "; dry run: nothing applied", data=data)
    try:
        data["applied"] = apply_all(profile, result.run_rate, ctx.emit, ctx.step)
    except EnvironmentProblem as exc:
        return StepResult(ok=False, summary=f"{summary}; not applied: {exc}", data=data,
                          exit_code=ExitCode.ENVIRONMENT)
    except GpumigrateError as exc:
        return StepResult(ok=False, summary=f"{summary}; not applied: {exc}", data=data, exit_code=exc.exit_code)
    except Exception as exc:  # an API error (google.api_core) names the call that failed
        failure = api_failure(exc)
        if failure is None:
            raise
        return StepResult(ok=False, summary=f"{summary}; apply failed: {exc}", data=data,
                          exit_code=failure.exit_code)
    changed = sum(len(v["created"]) + len(v["updated"]) for v in data["applied"].values())
    failed = {name: why for v in data["applied"].values() for name, why in v.get("failed", {}).items()}
    if failed:
        return StepResult(ok=False, summary=f"{summary}; applied ({changed} changed), {len(failed)} refused: "
                          + "; ".join(f"{n}: {why}" for n, why in failed.items()), data=data,
                          exit_code=ExitCode.FAILED)
    return StepResult(ok=True, summary=f"{summary}; applied ({changed} changed)", data=data)
