"""GPU interconnect: the `nvidia-smi topo -m` matrix against the plan.

Against the source baseline: every pair of GPUs joined by NVLink on the
source must be joined by NVLink on the target (more links are fine; with
another GPU count there are no pairs to compare, and the check says so).
Against a documented shape (``expected``): every cell must match, where an
expected ``NV#`` accepts at least # links and ``*`` accepts anything.
"""

from __future__ import annotations

import re
from typing import Any

from engine.verify.checks.base import CheckContext, Skip, Verdict
from engine.verify.checks.nvml_host import host as read_gpus

NAME = "topology"
TITLE = "GPU topology"
MEASURES = "the GPU-to-GPU interconnect matrix (NVLink / PCIe), as `nvidia-smi topo -m` shows it"

_NV = re.compile(r"^NV(\d+)$")


def measure(ctx: CheckContext) -> dict[str, Any]:
    host = read_gpus(ctx)
    topo = host.topology
    unread = [g for g in host.gpus if g.lost or (g.name is None and g.notes)]
    if unread:  # read_host leaves the matrix empty: that is not "0 GPUs" on the target
        raise Skip("the interconnect could not be read: " + "; ".join(
            f"GPU{g.index} " + ("is lost (NVML: GPU is lost)" if g.lost else f"cannot be read ({'; '.join(g.notes)})")
            for g in unread))
    return {"labels": topo.labels, "matrix": topo.matrix, "nvswitch": topo.nvswitch,
            "all_nvlink": topo.all_nvlink, "_output": topo.render()}


def _links(cell: str) -> int:
    match = _NV.match(cell)
    return int(match.group(1)) if match else 0


UNKNOWN_CELLS = {"NV?": "NVLink is unknown under MIG", "?": "the link could not be read"}
"""Cells that say nothing about NVLink: NVML refuses NVLink queries while MIG is on ("NV?"), or the level
between two GPUs could not be read ("?").  Either side holding one makes that pair not comparable."""


def _not_comparable(pairs: list[tuple[str, str]]) -> str:
    """"NVLink is unknown under MIG for 28 pair(s) (GPU0-GPU1: ...); ..." per reason, in first-seen order."""
    by_reason: dict[str, list[str]] = {}
    for reason, pair in pairs:
        by_reason.setdefault(reason, []).append(pair)
    return "; ".join(f"{reason} for {len(found)} pair(s) ({found[0]})" for reason, found in by_reason.items())


def baseline_gap(figures: dict[str, Any]) -> str:
    """Pairs whose NVLink a target cannot be compared on: hidden by MIG, or unreadable, on this source."""
    matrix: list[list[str]] = figures.get("matrix") or []
    pairs = [(UNKNOWN_CELLS[matrix[i][j]], f"GPU{i}-GPU{j}") for i in range(len(matrix))
             for j in range(i + 1, len(matrix)) if matrix[i][j] in UNKNOWN_CELLS]
    if not pairs:
        return ""
    return (f"{_not_comparable(pairs)} (capture with MIG off, or document the shape in [verify.topology] "
            "expected)")


def judge(ctx: CheckContext, measured: dict[str, Any], baseline: dict[str, Any] | None) -> Verdict:
    cfg = ctx.section.topology
    matrix: list[list[str]] = measured["matrix"]
    n = len(matrix)
    problems: list[str] = []
    unknown: list[tuple[str, str]] = []  # (why, which pair): a pair whose NVLink one side could not show
    if cfg.expected is not None:
        want = cfg.expected
        threshold = "the documented matrix ([verify.topology] expected; NV# = at least # links, * = any)"
        if len(want) != n or any(len(row) != n for row in want):
            problems.append(f"{n} GPU(s) on the target, the documented matrix has {len(want)}")
        else:
            for i in range(n):
                for j in range(n):
                    w, got = want[i][j], matrix[i][j]
                    if w == "*" or w == got:
                        continue
                    if _links(w) and _links(got) >= _links(w):
                        continue
                    text = f"GPU{i}-GPU{j}: {got}, expected {w}"
                    if got in UNKNOWN_CELLS:
                        unknown.append((UNKNOWN_CELLS[got], text))
                    else:
                        problems.append(text)
    elif cfg.match_baseline and baseline and baseline.get("matrix"):
        base = baseline["matrix"]
        threshold = "every GPU pair with NVLink on the source has NVLink on the target"
        if len(base) != n:  # another shape (1 x V100 to 8 x A100): no pair to keep; the count is GPU health's
            raise Skip(f"the source had {len(base)} GPU(s), the target {n}: their interconnects are not comparable "
                       "pair by pair (GPU health judges the count); document the target's shape in "
                       "[verify.topology] expected to check it")
        else:
            for i in range(n):
                for j in range(i + 1, n):
                    src, got = base[i][j], matrix[i][j]
                    text = f"GPU{i}-GPU{j}: {got} on the target, {src} on the source"
                    if _links(got):
                        continue  # NVLink here meets the rule whatever the source had
                    if got in UNKNOWN_CELLS and (_links(src) or src in UNKNOWN_CELLS):
                        unknown.append((UNKNOWN_CELLS[got] + " on the target", text))
                    elif _links(src):
                        problems.append(text)
                    elif src in UNKNOWN_CELLS:
                        # a source read under MIG shows no NVLink: "none there" would demand none here
                        unknown.append(({"NV?": "the source's NVLink was unknown (read under MIG)",
                                         "?": "the source's link could not be read"}[src], text))
    else:
        if n <= 1:
            raise Skip(f"{n} GPU: no GPU-to-GPU interconnect to compare")
        raise Skip("no source baseline topology and no documented shape ([verify.topology] expected)")
    links = "NVSwitch all-to-all" if measured.get("nvswitch") else (
        "all pairs NVLink" if measured.get("all_nvlink") else "PCIe / partial NVLink")
    summary = f"{n} GPU(s), {links}: " + ("as planned" if not problems else f"{len(problems)} difference(s)")
    if unknown and not problems:
        raise Skip(f"{summary} where it could be compared, but not comparable: {_not_comparable(unknown)}: "
                   "the interconnect was not verified (NVML reads NVLink only with MIG off; or document the shape "
                   "in [verify.topology] expected)")
    return Verdict(not problems, summary, threshold,
                   problems + [f"not comparable ({why}): {pair}" for why, pair in unknown])
