"""Prometheus for self-managed hosts and GKE: DCGM-exporter scrape config and alert rules.

The rules carry the same thresholds as the Cloud Monitoring policies (from
``[ops]``).  Metric names are the DCGM exporter's default counters
(``DCGM_FI_DEV_*``).  ``validate_rules`` checks a rules document structurally
(what ``promtool check rules`` checks first: groups, unique names, a parseable
``for``, an expression with balanced brackets, string labels/annotations);
tests also run ``promtool`` when it is installed.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from engine.ops.section import migration_label

if TYPE_CHECKING:  # pragma: no cover
    from engine.profile import Profile

JOB = "dcgm-exporter"
GPU_UTIL = "DCGM_FI_DEV_GPU_UTIL"
FB_USED = "DCGM_FI_DEV_FB_USED"
FB_FREE = "DCGM_FI_DEV_FB_FREE"
XID = "DCGM_FI_DEV_XID_ERRORS"
ECC_DBE = "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL"
NVLINK_CRC = "DCGM_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL"
KNOWN_METRICS = (GPU_UTIL, FB_USED, FB_FREE, XID, ECC_DBE, NVLINK_CRC, "up")

_DURATION = re.compile(r"^(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def prom_duration(seconds: float) -> str:
    """A Prometheus duration ("6h", "15m", "90s") for a number of seconds (rounded to a second)."""
    total = max(0, int(round(seconds)))
    if total == 0:
        return "0s"
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if total >= size:
            out += f"{total // size}{unit}"
            total %= size
    return out


def _num(value: float) -> str:
    return f"{value:g}"


def scrape_config(profile: "Profile") -> dict[str, Any]:
    """A prometheus.yml fragment: a static job for hosts and a Kubernetes job for GKE."""
    ops = profile.ops
    return {
        "global": {"scrape_interval": prom_duration(ops.scrape_interval_s),
                   "evaluation_interval": prom_duration(ops.scrape_interval_s)},
        "rule_files": ["gpumigrate-gpu-rules.yml"],
        "scrape_configs": [
            {
                "job_name": JOB,
                "scrape_interval": prom_duration(ops.scrape_interval_s),
                "metrics_path": "/metrics",
                "static_configs": [{"targets": list(ops.dcgm_targets),
                                    "labels": {"migration": migration_label(profile)}}],
            },
            {
                # GKE: the NVIDIA GPU operator / dcgm-exporter DaemonSet pods.
                "job_name": f"{JOB}-gke",
                "scrape_interval": prom_duration(ops.scrape_interval_s),
                "kubernetes_sd_configs": [{"role": "pod"}],
                "relabel_configs": [
                    {"source_labels": ["__meta_kubernetes_pod_label_app_kubernetes_io_name"],
                     "regex": "dcgm-exporter|nvidia-dcgm-exporter", "action": "keep"},
                    {"source_labels": ["__meta_kubernetes_pod_container_port_number"],
                     "regex": "9400", "action": "keep"},
                    {"source_labels": ["__meta_kubernetes_pod_node_name"], "target_label": "node"},
                    {"target_label": "migration", "replacement": migration_label(profile)},
                ],
            },
        ],
    }


def alert_rules(profile: "Profile") -> dict[str, Any]:
    """The rules file (``groups:``) with thresholds from ``[ops]``."""
    ops = profile.ops
    jobs = f'job=~"{JOB}|{JOB}-gke"'
    mem_ratio = f"100 * {FB_USED}{{{jobs}}} / ({FB_USED}{{{jobs}}} + {FB_FREE}{{{jobs}}})"
    idle_window = prom_duration(min(ops.idle_hours * 3600, 3600))
    rules: list[dict[str, Any]] = [
        {
            "alert": "GpuIdle",
            "expr": f"max by (Hostname) (avg_over_time({GPU_UTIL}{{{jobs}}}[{idle_window}])) "
                    f"< {_num(ops.idle_gpu_util_pct)}",
            "for": prom_duration(ops.idle_hours * 3600),
            "labels": {"severity": "warning", "migration": migration_label(profile)},
            "annotations": {
                "summary": f"GPUs on {{{{ $labels.Hostname }}}} idle below {_num(ops.idle_gpu_util_pct)}% "
                           f"for {_num(ops.idle_hours)} h",
                "description": "Paying for unused GPUs: stop or shrink the host if the work is done.",
            },
        },
        {
            "alert": "GpuMemoryHigh",
            "expr": f"{mem_ratio} > {_num(ops.gpu_memory_alert_pct)}",
            "for": prom_duration(ops.memory_alert_minutes * 60),
            "labels": {"severity": "error", "migration": migration_label(profile)},
            "annotations": {
                "summary": f"GPU {{{{ $labels.gpu }}}} on {{{{ $labels.Hostname }}}} memory above "
                           f"{_num(ops.gpu_memory_alert_pct)}%",
                "description": "GPU memory is {{ $value | humanize }}% used; the next batch may run out of memory.",
            },
        },
        {
            "alert": "GpuExporterDown",
            "expr": f'up{{{jobs}}} == 0 or absent(up{{job="{JOB}"}})',
            "for": prom_duration(ops.absent_minutes * 60),
            "labels": {"severity": "critical", "migration": migration_label(profile)},
            "annotations": {
                "summary": "The GPU host or its DCGM exporter is gone",
                "description": f"No DCGM metrics for {_num(ops.absent_minutes)} min: the instance was stopped, "
                               "preempted or deleted, or the exporter died.",
            },
        },
    ]
    if ops.gpu_error_alerts:
        rules += [
            {
                "alert": "GpuXidError",
                "expr": f"{XID}{{{jobs}}} > 0",
                "for": "0s",
                "labels": {"severity": "critical", "migration": migration_label(profile)},
                "annotations": {"summary": "XID {{ $value }} on GPU {{ $labels.gpu }} of {{ $labels.Hostname }}",
                                "description": "An XID error: check `nvidia-smi -q` and the kernel log."},
            },
            {
                "alert": "GpuEccDoubleBitErrors",
                "expr": f"increase({ECC_DBE}{{{jobs}}}[10m]) > 0",
                "for": "0s",
                "labels": {"severity": "critical", "migration": migration_label(profile)},
                "annotations": {"summary": "Double-bit ECC errors on GPU {{ $labels.gpu }} of {{ $labels.Hostname }}",
                                "description": "Uncorrectable memory errors: drain the job; the GPU may need replacing."},
            },
            {
                "alert": "GpuNvlinkErrors",
                "expr": f"increase({NVLINK_CRC}{{{jobs}}}[10m]) > 0",
                "for": "0s",
                "labels": {"severity": "warning", "migration": migration_label(profile)},
                "annotations": {"summary": "NVLink CRC errors on GPU {{ $labels.gpu }} of {{ $labels.Hostname }}",
                                "description": "NVLink flit CRC errors are rising; multi-GPU jobs may slow or fail. "
                                               "(DCGM exporter: enable the NVLink counters in its CSV.)"},
            },
        ]
    return {"groups": [{"name": f"gpumigrate-{migration_label(profile)}-gpu", "rules": rules}]}


def _dump(doc: dict[str, Any], header: str) -> str:
    import yaml

    return header + yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, width=120)


def render_scrape_config(profile: "Profile") -> str:
    return _dump(scrape_config(profile), "# Generated by gpumigrate: Prometheus scrape config for the DCGM exporter.\n")


def render_rules(profile: "Profile") -> str:
    return _dump(alert_rules(profile), "# Generated by gpumigrate: GPU alert rules (thresholds from [ops]).\n")


def _balanced(expr: str) -> bool:
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    in_string = False
    for ch in expr:
        if ch == '"':
            in_string = not in_string
        if in_string:
            continue
        if ch in "([{":
            stack.append(ch)
        elif ch in pairs:
            if not stack or stack.pop() != pairs[ch]:
                return False
    return not stack and not in_string


def validate_rules(doc: Any) -> list[str]:
    """Structural problems in a Prometheus rules document (empty when it is fine)."""
    problems: list[str] = []
    if not isinstance(doc, dict) or not isinstance(doc.get("groups"), list) or not doc["groups"]:
        return ["the document needs a non-empty `groups` list"]
    if set(doc) - {"groups"}:
        problems.append(f"unknown top-level keys: {sorted(set(doc) - {'groups'})}")
    seen_groups: set[str] = set()
    for gi, group in enumerate(doc["groups"]):
        where = f"groups[{gi}]"
        if not isinstance(group, dict) or not isinstance(group.get("name"), str) or not group.get("name"):
            problems.append(f"{where}: needs a name")
            continue
        if group["name"] in seen_groups:
            problems.append(f"{where}: duplicate group name {group['name']!r}")
        seen_groups.add(group["name"])
        rules = group.get("rules")
        if not isinstance(rules, list) or not rules:
            problems.append(f"{where}: needs a non-empty rules list")
            continue
        for ri, rule in enumerate(rules):
            here = f"{where}.rules[{ri}]"
            if not isinstance(rule, dict):
                problems.append(f"{here}: must be a mapping")
                continue
            extra = set(rule) - {"alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"}
            if extra:
                problems.append(f"{here}: unknown keys {sorted(extra)}")
            name = rule.get("alert") or rule.get("record")
            if not isinstance(name, str) or not _NAME.match(name) or ("alert" in rule) == ("record" in rule):
                problems.append(f"{here}: needs exactly one of alert/record with a valid name")
            expr = rule.get("expr")
            if not isinstance(expr, str) or not expr.strip():
                problems.append(f"{here}: needs an expr")
            elif not _balanced(expr):
                problems.append(f"{here}: unbalanced brackets or quotes in expr")
            elif not any(re.search(rf"\b{m}\b", expr) for m in KNOWN_METRICS):
                problems.append(f"{here}: expr uses no known DCGM metric")
            if "alert" in rule:
                dur = rule.get("for")
                if not isinstance(dur, str) or not dur or not _DURATION.match(dur):
                    problems.append(f"{here}: `for` must be a Prometheus duration (got {dur!r})")
                for key in ("labels", "annotations"):
                    val = rule.get(key)
                    if not isinstance(val, dict) or not all(isinstance(k, str) and _NAME.match(k) and
                                                            isinstance(v, str) for k, v in val.items()):
                        problems.append(f"{here}: {key} must map names to strings")
                if not isinstance(rule.get("labels"), dict) or "severity" not in rule["labels"]:
                    problems.append(f"{here}: labels need a severity")
                if not isinstance(rule.get("annotations"), dict) or "summary" not in rule["annotations"]:
                    problems.append(f"{here}: annotations need a summary")
    return problems
