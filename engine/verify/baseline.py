"""Baselines: each check's figures as measured on the source, saved as JSON and read back on the target."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from engine.errors import BadInputError
from engine.verify.outcome import VerifyReport, json_safe

BASELINE_FORMAT = "gpumigrate-verify-baseline"
BASELINE_VERSION = 1


def load_baseline(path: Path) -> dict[str, Any]:
    """Read a baseline file; BadInputError with the reason when it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BadInputError(f"baseline {path}: cannot read: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise BadInputError(f"baseline {path}:{exc.lineno}: not JSON ({exc.msg})") from None
    if not isinstance(data, dict) or data.get("format") != BASELINE_FORMAT:
        raise BadInputError(f"baseline {path}: not a gpumigrate baseline (capture one with "
                            "`gpumigrate verify PROFILE --capture-baseline FILE` on the source)")
    if data.get("version") != BASELINE_VERSION:
        raise BadInputError(f"baseline {path}: version {data.get('version')!r} is not supported "
                            f"(this gpumigrate reads version {BASELINE_VERSION})")
    if not isinstance(data.get("checks"), dict):
        raise BadInputError(f"baseline {path}: no checks")
    return data


def baseline_from_report(report: VerifyReport) -> dict[str, Any]:
    return json_safe({
        "format": BASELINE_FORMAT, "version": BASELINE_VERSION,
        "captured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(report.finished_at or time.time())),
        "host": report.host, "profile_name": report.profile_name,
        "checks": {r.name: r.figures for r in report.results if r.status == "pass"},
        "not_run": {r.name: r.summary if r.status == "not-run" else f"error on the source: {r.summary}"
                    for r in report.results if r.status in ("not-run", "error")},
    })


def save_baseline(report: VerifyReport, path: Path) -> None:
    data = baseline_from_report(report)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def other_gpu_note(baseline: dict[str, Any] | None, source_gpu_model: str | None) -> str:
    """"" unless the baseline's own GPU reading names GPUs that are not the profile's source GPU.

    A baseline captured on another machine (a dev box with a T4 for a V100 source) still compared load time
    and latency as "the old system"; say so next to every figure judged against it."""
    if not baseline or not source_gpu_model:
        return ""
    from engine.gpus.names import same_gpu

    gpus = ((baseline.get("checks") or {}).get("gpu_health") or {}).get("gpus") or []
    names = sorted({g.get("name") for g in gpus if isinstance(g, dict) and g.get("name")})
    unread = (baseline.get("not_run") or {}).get("gpu_health")
    if not names and unread:  # captured where no driver answered: a laptop's figures read as the old system's
        return (f"the baseline holds no GPU reading of the machine it was captured on (gpu_health: {unread}): "
                f"whether its figures are the source {source_gpu_model}'s is not known")
    if not names or all(same_gpu(n, source_gpu_model) for n in names):
        return ""
    return (f"the baseline was captured on {', '.join(names)}, not the profile's source GPU {source_gpu_model}: "
            "its figures are not the old system's")

