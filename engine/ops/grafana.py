"""A Grafana dashboard (JSON model) over the DCGM exporter, with the profile's thresholds drawn in."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from engine.ops.prometheus import ECC_DBE, FB_FREE, FB_USED, GPU_UTIL, JOB, NVLINK_CRC, XID
from engine.ops.section import migration_label

if TYPE_CHECKING:  # pragma: no cover
    from engine.profile import Profile

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


def _thresholds(*steps: tuple[str, float | None]) -> dict[str, Any]:
    return {"mode": "absolute", "steps": [{"color": color, "value": value} for color, value in steps]}


def _panel(pid: int, title: str, expr: str, legend: str, unit: str, thresholds: dict[str, Any],
           x: int, y: int, kind: str = "timeseries", w: int = 12, h: int = 8) -> dict[str, Any]:
    panel: dict[str, Any] = {
        "id": pid,
        "type": kind,
        "title": title,
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "targets": [{"refId": "A", "datasource": DATASOURCE, "expr": expr, "legendFormat": legend}],
        "fieldConfig": {"defaults": {"unit": unit, "thresholds": thresholds}, "overrides": []},
        "options": {},
    }
    if kind == "timeseries":
        panel["fieldConfig"]["defaults"]["custom"] = {"thresholdsStyle": {"mode": "line+area"}}
    return panel


def dashboard(profile: "Profile") -> dict[str, Any]:
    ops = profile.ops
    sel = f'job=~"{JOB}.*", Hostname=~"$host"'
    mem = f"100 * {FB_USED}{{{sel}}} / ({FB_USED}{{{sel}}} + {FB_FREE}{{{sel}}})"
    legend = "{{Hostname}} GPU {{gpu}}"
    panels = [
        _panel(1, f"GPU utilisation (idle below {ops.idle_gpu_util_pct:g}%)", f"{GPU_UTIL}{{{sel}}}", legend,
               "percent", _thresholds(("red", None), ("green", float(ops.idle_gpu_util_pct))), 0, 0),
        _panel(2, f"GPU memory used (alert above {ops.gpu_memory_alert_pct:g}%)", mem, legend, "percent",
               _thresholds(("green", None), ("red", float(ops.gpu_memory_alert_pct))), 12, 0),
        _panel(3, "XID errors (last value)", f"max by (Hostname, gpu) ({XID}{{{sel}}})", legend, "none",
               _thresholds(("green", None), ("red", 1.0)), 0, 8, kind="stat", w=8),
        _panel(4, "Double-bit ECC errors (10 min)", f"increase({ECC_DBE}{{{sel}}}[10m])", legend, "none",
               _thresholds(("green", None), ("red", 1.0)), 8, 8, kind="stat", w=8),
        _panel(5, "NVLink CRC errors (10 min)", f"increase({NVLINK_CRC}{{{sel}}}[10m])", legend, "none",
               _thresholds(("green", None), ("orange", 1.0)), 16, 8, kind="stat", w=8),
        _panel(6, "GPU temperature", f"DCGM_FI_DEV_GPU_TEMP{{{sel}}}", legend, "celsius",
               _thresholds(("green", None), ("orange", 80.0), ("red", 90.0)), 0, 16),
        _panel(7, "Power draw", f"DCGM_FI_DEV_POWER_USAGE{{{sel}}}", legend, "watt",
               _thresholds(("green", None)), 12, 16),
    ]
    return {
        "uid": f"gpumigrate-{migration_label(profile)}"[:40],
        "title": f"{profile.name or 'GPU migration'}: GPUs on Google Cloud"[:200],
        "tags": ["gpumigrate", "dcgm", "gpu"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-24h", "to": "now"},
        "templating": {"list": [
            {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus"},
            {"name": "host", "type": "query", "datasource": DATASOURCE, "label": "Host",
             "query": {"query": f'label_values({GPU_UTIL}{{job=~"{JOB}.*"}}, Hostname)', "refId": "host"},
             "includeAll": True, "multi": True, "current": {"text": "All", "value": "$__all"}, "refresh": 2},
        ]},
        "panels": panels,
        "annotations": {"list": []},
    }


def render_dashboard(profile: "Profile") -> str:
    return json.dumps(dashboard(profile), indent=2) + "\n"
