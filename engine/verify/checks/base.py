"""What every check is made of: its context, its result, and the runner around it.

A check module exposes ``NAME``, ``TITLE``, ``MEASURES`` and two functions:

* ``measure(ctx) -> dict``: run on this machine and return plain figures
  (JSON-able).  On the source they become the baseline; on the target they
  are judged.  It raises :class:`Skip` when it cannot run here (no GPU, no
  inputs configured, no baseline to judge against): the result is *not run* and :class:`CheckError` when what it ran is unusable
  (a command failed, hung or printed garbage).
* ``judge(ctx, measured, baseline) -> Verdict``: compare figures with the
  thresholds in the profile and the baseline's figures (``None`` when there
  is no baseline).
* optionally ``baseline_gap(figures) -> str``: in a capture, why ``judge`` on
  the target will refuse to compare with these figures ("" = it will not).

:func:`run_check` wraps both so a check never raises: every outcome is a
:class:`CheckResult` with status ``pass``, ``fail``, ``error`` or ``not-run``.
A not-run check the profile expects (see :mod:`engine.verify.expect`) makes the
verdict INCOMPLETE, never PASS.
"""

from __future__ import annotations

import threading
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Literal

from engine.verify.section import VerifySection

Status = Literal["pass", "fail", "error", "not-run"]
STATUSES: tuple[Status, ...] = ("pass", "fail", "error", "not-run")


class Skip(Exception):
    """The check cannot run here; the message says why (its result is *not run*, with that reason)."""


class CheckError(Exception):
    """What the check ran is unusable; ``output`` holds what it printed."""

    def __init__(self, message: str, output: str = ""):
        super().__init__(message)
        self.output = output


@dataclass
class Verdict:
    """A judgement: pass or fail, a one-line summary, the threshold in words, details."""

    passed: bool
    summary: str
    threshold: str = ""
    details: list[str] = field(default_factory=list)


@dataclass
class CheckContext:
    """What a check may use. ``progress(done, total)`` reports how far it is."""

    section: VerifySection
    base_dir: Path
    target_gpu_count: int | None = None
    target_gpu_model: str | None = None
    nvml_api: Any = None
    """The NVML module (or the test fake) passed to ``engine.inventory.nvml.read_host``; None = the real one."""
    cancel: threading.Event = field(default_factory=threading.Event)
    progress: Callable[[float, float | None], None] = lambda done, total: None
    log: Callable[[str], None] = lambda text: None
    driver_plan: Any = None
    """The profile's drivers plan (:class:`engine.drivers.plan.Plan`): GPU health judges the installed driver
    against the CUDA it plans (a driver too old for it fails every CUDA call); None = not judged."""
    last_copy: tuple[float, str] | None = None
    """When the session's last transfer run ended (or began, while it runs) and its state: manifest files written
    before it describe an earlier copy (data integrity does not count them).  None: no session, or no transfer."""
    transfers: list[Any] = field(default_factory=list)
    """The profile's [[transfer]] entries (data integrity can check each source against its destination)."""
    system_root: Path = field(default_factory=lambda: Path("/"))
    """Where sysfs is read from (the PCI probe that tells a GPU with no driver from no GPU); tests point it at a
    folder."""
    _cache: dict[str, Any] = field(default_factory=dict)

    def path(self, value: str) -> Path:
        """A profile path: relative to the profile's folder, ``~`` expanded."""
        p = Path(value.replace("{profile_dir}", str(self.base_dir))).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    def peek(self, key: str) -> Any:
        """A reading an earlier check of this run shared (None: nobody read it)."""
        return self._cache.get(key)

    def cached(self, key: str, factory: Callable[[], Any]) -> Any:
        """Share one expensive reading (the NVML host) between checks of one run."""
        if key not in self._cache:
            self._cache[key] = factory()
        return self._cache[key]


@dataclass
class CheckResult:
    """One check's outcome, with everything a report or screen shows."""

    name: str
    title: str
    measures: str
    status: Status
    summary: str
    threshold: str = ""
    figures: dict[str, Any] = field(default_factory=dict)
    baseline: dict[str, Any] | None = None
    details: list[str] = field(default_factory=list)
    output: str = ""
    duration_s: float = 0.0
    expected: str = ""
    """Why the profile expects this check to run ("" = it does not); see engine.verify.expect."""
    optional: bool = False
    """The profile marks it ``optional = true``: not running it is shown, and leaves the verdict alone."""
    uncomparable: str = ""
    """In a capture: why the target cannot compare with these figures (one run, a P99 of 40 requests, NVLink
    hidden by MIG); "" = usable.  The figures are kept (the target then says why it did not compare)."""
    raw_output: str = field(default="", repr=False, compare=False)
    """Everything the command printed, uncut, for ``<report>-output/<check>.log``; ``output`` keeps only the
    end (reports, the session and JSON stay small). Not serialised: a report read back has the clipped one."""

    @property
    def ok(self) -> bool:
        """Neither failed, errored, nor a gap (an expected check that did not run)."""
        return self.status == "pass" or (self.status == "not-run" and not self.gap)

    @property
    def gap(self) -> bool:
        """An expected, non-optional check that did not run: the verdict cannot be PASS."""
        return self.status == "not-run" and bool(self.expected) and not self.optional

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("raw_output", None)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CheckResult":
        known = {f for f in cls.__dataclass_fields__}
        fields = {k: v for k, v in data.items() if k in known and k != "raw_output"}
        if fields.get("status") == "skipped":  # reports written before not-run had its name
            fields["status"] = "not-run"
        return cls(**fields)


OUTPUT_LIMIT = 4000


def clip(text: str, limit: int = OUTPUT_LIMIT) -> str:
    """Keep the end of long output (the error is usually last)."""
    text = text or ""
    if len(text) <= limit:
        return text
    return f"[... {len(text) - limit} characters cut ...]\n" + text[-limit:]


def run_check(module: ModuleType, ctx: CheckContext, baseline: dict[str, Any] | None,
              capture: bool = False) -> CheckResult:
    """Measure (and, unless capturing a baseline, judge) one check; never raises."""
    started = time.perf_counter()
    base = dict(name=module.NAME, title=module.TITLE, measures=module.MEASURES)
    try:
        figures = module.measure(ctx)
    except Skip as exc:
        return CheckResult(**base, status="not-run", summary=str(exc),
                           duration_s=time.perf_counter() - started)
    except CheckError as exc:
        return CheckResult(**base, status="error", summary=str(exc), output=clip(exc.output),
                           raw_output=exc.output, duration_s=time.perf_counter() - started)
    except Exception as exc:  # noqa: BLE001 - a bug in a check must not hide the others
        return CheckResult(**base, status="error", summary=f"{type(exc).__name__}: {exc}",
                           output=clip(traceback.format_exc()), duration_s=time.perf_counter() - started)
    output = str(figures.pop("_output", "") or "")
    if capture:
        gap = getattr(module, "baseline_gap", lambda _figures: "")(figures)
        return CheckResult(**base, status="pass", summary="baseline captured" + (
            f", but the target cannot compare with it: {gap}" if gap else ""), figures=figures, uncomparable=gap,
                           output=clip(output), raw_output=output, duration_s=time.perf_counter() - started)
    try:
        verdict = module.judge(ctx, figures, baseline)
    except Skip as exc:
        return CheckResult(**base, status="not-run", summary=str(exc), figures=figures, baseline=baseline,
                           output=clip(output), raw_output=output, duration_s=time.perf_counter() - started)
    except CheckError as exc:  # what was measured cannot be judged (e.g. a NaN in the reference curve)
        return CheckResult(**base, status="error", summary=str(exc), figures=figures, baseline=baseline,
                           output=clip(exc.output or output), raw_output=exc.output or output,
                           duration_s=time.perf_counter() - started)
    except Exception as exc:  # noqa: BLE001
        return CheckResult(**base, status="error", summary=f"{type(exc).__name__}: {exc}", figures=figures,
                           baseline=baseline, output=clip(traceback.format_exc()),
                           duration_s=time.perf_counter() - started)
    return CheckResult(**base, status="pass" if verdict.passed else "fail", summary=verdict.summary,
                       threshold=verdict.threshold, figures=figures, baseline=baseline,
                       details=verdict.details, output=clip(output), raw_output=output,
                       duration_s=time.perf_counter() - started)


MIN_RUNS = 3
"""A median of fewer than 3 runs is one noisy sample (or the mean of two): it cannot establish a load time
or a speed.  Too few runs on the target can still FAIL against a limit; they cannot PASS.  A baseline of fewer
is not the old system's figure, so it is not compared with."""


def runs_words(runs: int) -> str:
    """"1 run", "5 runs"; 0 is a figure that does not record its runs (a hand-made baseline)."""
    if runs <= 0:
        return "an unrecorded number of runs"
    return f"{runs} run" + ("" if runs == 1 else "s")


def baseline_runs(base: dict[str, Any], samples_key: str) -> int:
    """How many runs a baseline figure is the median of (0: it does not say)."""
    return int(base.get("runs") or len(base.get(samples_key) or []) or 0)


def median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        raise ValueError("median of nothing")
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (the smallest value with at least q% of values at or below it)."""
    import math

    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of nothing")
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]
