"""Timing helpers shared by the transfer benchmarks: fair, repeated, interleaved runs.

A shared 2-core VM swings by 2x or more from minute to minute (other tenants, the page cache
writing back the previous run's files), so one run per tool says little.  Each round runs every
tool once, in a rotating order, after ``os.sync()`` (no tool pays for the last one's dirty
pages); the report gives each tool's median and best, and the ratio of medians.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from pathlib import Path
from typing import Callable, Sequence

REPO = Path(__file__).resolve().parent.parent


def tool_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a tool runs in: as the caller's, but Python may cache bytecode, as it does
    for any installed tool (this sandbox sets PYTHONDONTWRITEBYTECODE, which recompiles every
    module on every start)."""
    env = dict(os.environ if base is None else base)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def stand_in_env(s3_url: str, gcs_url: str, state_dir: Path) -> dict[str, str]:
    """The environment gpumigrate and rclone run in against moto and fake-gcs-server: no real cloud
    setting leaks in (``clear_cloud_env`` drops every ``AWS_*``, ``AWS_CA_BUNDLE`` included), both
    tools point at the same stand-ins, and gpumigrate keeps its state under ``state_dir``."""
    from tests import stand_ins

    env = tool_env(stand_ins.clear_cloud_env())
    env.update(stand_ins.aws_env(s3_url), **stand_ins.gcs_env(gcs_url), **stand_ins.rclone_env(s3_url, gcs_url),
               GPUMIGRATE_STATE_DIR=str(state_dir))
    return env


def timed(cmd: Sequence[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> float:
    """Seconds ``cmd`` takes (run in ``cwd``, default this checkout), after flushing dirty pages;
    exits with its output when it fails."""
    os.sync()
    t0 = time.perf_counter()
    r = subprocess.run(list(cmd), cwd=cwd or REPO, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"{cmd[0]} {' '.join(cmd[1:3])} failed ({r.returncode}): {r.stderr[-800:]} {r.stdout[-400:]}")
    return elapsed


def rounds(tools: dict[str, Callable[[int], float]], repeat: int) -> dict[str, list[float]]:
    """Run ``tools[name](round)`` once per round for every tool, rotating who goes first."""
    names = list(tools)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeat):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            times[name].append(tools[name](r))
    return times


def spread(values: list[float]) -> str:
    """``median s (best b, n runs)``."""
    return f"{statistics.median(values):6.2f} s (best {min(values):.2f}, {len(values)} runs)"


def ratio(ours: list[float], theirs: list[float]) -> float:
    """Median over median: below 1 means ours is faster."""
    return statistics.median(ours) / statistics.median(theirs)
