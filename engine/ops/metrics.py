"""The metric descriptors the Ops Agent and Compute Engine really write, and checks against them.

``data/metric_descriptors.json`` is recorded from the agents' published
metadata (each entry names its origin).  A Cloud Monitoring condition on a
metric that no agent writes never fires, and creating it is refused (404)
because the project has no such descriptor; a filter on a label the metric
does not have is refused (400), and one on a label value the agent never
writes never matches.  :func:`filter_problems` finds all three before
anything is sent.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from typing import Any

_CLAUSE = re.compile(r'^\s*(metric|resource)\.(?:labels?)\.([a-z_][a-z0-9_]*)\s*=\s*"([^"]*)"\s*$')
_TYPE = re.compile(r'^\s*(metric|resource)\.type\s*=\s*"([^"]*)"\s*$')


@lru_cache(maxsize=1)
def descriptors() -> dict[str, Any]:
    """The recorded descriptors (``metrics`` by type, ``resource_labels`` by resource type)."""
    text = resources.files("engine.ops").joinpath("data", "metric_descriptors.json").read_text(encoding="utf-8")
    return json.loads(text)


def written(metric_type: str) -> bool:
    """Does the Ops Agent (or Compute Engine) write this metric with its default settings?"""
    entry = descriptors()["metrics"].get(metric_type)
    return bool(entry and entry["written_by_default"])


def parse_filter(text: str) -> dict[str, Any]:
    """``{"metric.type": ..., "resource.type": ..., "metric": {k: v}, "resource": {k: v}}`` for the
    ``A = "x" AND B = "y"`` filters this tool writes; ValueError for anything else."""
    out: dict[str, Any] = {"metric": {}, "resource": {}}
    for clause in re.split(r"\s+AND\s+", text.strip()):
        kind = _TYPE.match(clause)
        if kind:
            out[f"{kind.group(1)}.type"] = kind.group(2)
            continue
        label = _CLAUSE.match(clause)
        if not label:
            raise ValueError(f"cannot read the filter clause {clause!r}")
        out[label.group(1)][label.group(2)] = label.group(3)
    return out


def filter_problems(text: str) -> list[str]:
    """Why a condition with this filter would be refused or never match (empty: fine)."""
    try:
        parsed = parse_filter(text)
    except ValueError as exc:
        return [str(exc)]
    metric = parsed.get("metric.type")
    entry = descriptors()["metrics"].get(metric or "")
    if entry is None:
        return [f"{metric!r} is not a metric the Ops Agent or Compute Engine writes"]
    problems = []
    if not entry["written_by_default"]:
        problems.append(f"{metric} is never written with the agent's settings: {entry.get('not_written_because', '')}")
    for key, value in parsed["metric"].items():
        if key not in entry["labels"]:
            problems.append(f"{metric} has no label {key!r} (its labels: {', '.join(sorted(entry['labels']))})")
        elif entry["labels"][key] is not None and value not in entry["labels"][key]:
            problems.append(f"{metric} label {key} is never {value!r} (written values: "
                            f"{', '.join(entry['labels'][key])})")
    resource_type = parsed.get("resource.type", "gce_instance")
    resource_labels = descriptors()["resource_labels"].get(resource_type, {})
    for key in parsed["resource"]:
        if key not in resource_labels or key.startswith("_"):
            problems.append(f"resource {resource_type} has no label {key!r}")
    return problems
