"""Render every ops artefact of a profile, by kind.

``render_all`` is what the CLI and the ``ops`` step call; ``screen_artefacts``
gives the TUI ``(title, language, text)`` tuples for the kinds a screen shows
(Drivers/environment: alerts, prometheus, grafana, spot-watcher; Cost: budget;
runbook: rollback).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from engine.errors import BadInputError, GpumigrateError
from engine.ops.artefacts import KINDS, Rendered

if TYPE_CHECKING:  # pragma: no cover
    from engine.profile import Profile

SCREEN_KINDS: dict[str, tuple[str, ...]] = {
    "drivers": ("alerts", "prometheus", "grafana", "spot-watcher"),
    "cost": ("budget",),
    "runbook": ("rollback",),
}
"""Which artefacts each screen shows."""


@dataclass
class RenderResult:
    items: list[Rendered] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    """kind -> why it was not rendered (e.g. no spot target, no run-rate)."""
    run_rate: Any = None


def _kinds(kinds: Iterable[str] | None) -> list[str]:
    wanted = list(kinds) if kinds else list(KINDS)
    unknown = [k for k in wanted if k not in KINDS]
    if unknown:
        raise BadInputError(f"unknown artefact kind(s) {', '.join(unknown)} (known: {', '.join(KINDS)})")
    return [k for k in KINDS if k in wanted]


def render_kind(profile: "Profile", kind: str, *, profile_path: Path | None = None,
                cost_data: dict[str, Any] | None = None, result: RenderResult | None = None) -> list[Rendered]:
    """The files of one kind (may raise a GpumigrateError saying what is missing)."""
    if kind == "alerts":
        from engine.ops.alerts import OPS_AGENT_CONFIG, render_alerts_json, render_ops_agent_config

        return [Rendered(kind, "alert-policies.json", "Cloud Monitoring alert policies", "json",
                         render_alerts_json(profile)),
                Rendered(kind, OPS_AGENT_CONFIG, "Ops Agent configuration (DCGM receiver for the ECC policy)",
                         "yaml", render_ops_agent_config(profile))]
    if kind == "prometheus":
        from engine.ops import prometheus as prom

        return [Rendered(kind, prom.RULES_FILE, "Prometheus alert rules", "yaml", prom.render_rules(profile)),
                Rendered(kind, prom.SCRAPE_FILE, "Prometheus config, hosts (DCGM exporter)", "yaml",
                         prom.render_scrape_config(profile)),
                Rendered(kind, prom.SCRAPE_GKE_FILE, "Prometheus config, GKE (DCGM exporter pods)", "yaml",
                         prom.render_scrape_config_gke(profile)),
                Rendered(kind, prom.COUNTERS_FILE, "dcgm-exporter counters (defaults + what the rules need)", "csv",
                         prom.render_counters(profile))]
    if kind == "grafana":
        from engine.ops.grafana import render_dashboard

        return [Rendered(kind, "grafana-gpu-dashboard.json", "Grafana dashboard (DCGM)", "json",
                         render_dashboard(profile))]
    if kind == "budget":
        from engine.ops.budget import budget_units, monthly_run_rate, render_budget_json

        rate = monthly_run_rate(profile, cost_data)
        if result is not None:
            result.run_rate = rate
        return [Rendered(kind, "billing-budget.json", f"Cloud Billing budget ({budget_units(rate):,} "
                         f"{profile.ops.budget_currency}/month)", "json", render_budget_json(profile, rate))]
    if kind == "spot-watcher":
        from engine.ops import spot_watcher

        if not spot_watcher.wanted(profile):
            raise _NotWanted(f"the target is {profile.target.pricing}, not spot "
                             "(set [ops].spot_watcher = \"always\" to generate it anyway)")
        return [Rendered(kind, spot_watcher.SCRIPT_NAME, "Spot preemption watcher (script)", "bash",
                         spot_watcher.render_script(profile)),
                Rendered(kind, spot_watcher.UNIT_NAME, "Spot preemption watcher (systemd unit)", "ini",
                         spot_watcher.render_unit(profile))]
    if kind == "rollback":
        from engine.ops.rollback import render_markdown

        return [Rendered(kind, "rollback-plan.md", "Rollback plan", "markdown", render_markdown(profile, profile_path))]
    raise BadInputError(f"unknown artefact kind {kind!r}")


class _NotWanted(GpumigrateError):
    pass


def render_all(profile: "Profile", kinds: Iterable[str] | None = None, *, profile_path: Path | None = None,
               cost_data: dict[str, Any] | None = None, strict: bool = False) -> RenderResult:
    """Render the chosen kinds; with ``strict`` a kind that cannot be rendered raises, else it is skipped."""
    result = RenderResult()
    for kind in _kinds(kinds):
        try:
            result.items.extend(render_kind(profile, kind, profile_path=profile_path, cost_data=cost_data,
                                            result=result))
        except _NotWanted as exc:
            if strict:
                raise BadInputError(f"no spot watcher: {exc}") from None
            result.skipped[kind] = str(exc)
        except GpumigrateError as exc:
            if strict:
                raise
            result.skipped[kind] = str(exc)
    return result


def screen_artefacts(profile: "Profile", screen: str, profile_path: Path | None = None) -> list[tuple[str, str, str]]:
    """``(title, language, text)`` tuples for one screen (see :data:`SCREEN_KINDS`); a kind that cannot be
    rendered appears as a short text saying why."""
    kinds = SCREEN_KINDS[screen]
    result = render_all(profile, kinds, profile_path=profile_path)
    out = [item.as_tuple() for item in result.items]
    out += [(f"{kind}: not generated", "text", why) for kind, why in result.skipped.items()]
    return out
