"""Can a program built with CUDA X run on driver Y: natively, through minor-version compatibility, or not."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from engine.drivers.tables import max_native_cuda, tables, toolkit_min_driver
from engine.drivers.versions import fmt_driver as _v
from engine.drivers.versions import mm_str, vtuple

LTSB_DEFAULT = 580
"""The long-term-support branch assumed when nothing else decides."""

@dataclass(frozen=True)
class DriverVerdict:
    ok: bool
    mode: Literal["native", "minor-version", "forward-compat", "too-old"]
    reason: str


def driver_runs_cuda(driver: str, cuda: tuple[int, int]) -> DriverVerdict:
    """Can an application built with CUDA ``cuda`` run on ``driver``?"""
    version = vtuple(driver)
    need = toolkit_min_driver(cuda)
    native = max_native_cuda(version)
    if need is not None and version >= need:
        return DriverVerdict(True, "native", f"driver {driver} supports CUDA {mm_str(cuda)} natively "
                                             f"(needs >= {_v(need)})")
    if need is None and native is not None and cuda < native:
        # not a toolkit the table lists (its own minimum is unknown), but older than what the driver runs natively
        return DriverVerdict(True, "native", f"driver {driver} supports CUDA up to {mm_str(native)} natively; CUDA "
                                             f"{mm_str(cuda)} is not in the shipped toolkit table (an older release "
                                             "runs natively, if it exists)")
    baseline = tables().mvc_baseline.get(cuda[0])
    if baseline and version >= baseline and native and native[0] == cuda[0]:
        return DriverVerdict(True, "minor-version",
                             f"driver {driver} (CUDA {mm_str(native)}) runs CUDA {mm_str(cuda)} builds through "
                             f"minor-version compatibility (CUDA {cuda[0]}.x needs >= {_v(baseline)}); "
                             "PTX JIT of newer PTX and a few new APIs are not available")
    need_text = _v(need) if need else (_v(baseline) if baseline else "a newer driver")
    return DriverVerdict(False, "too-old",
                         f"driver {driver} supports CUDA up to {mm_str(native)}; CUDA {mm_str(cuda)} needs "
                         f">= {need_text}" + (f" (or >= {_v(baseline)} through minor-version compatibility)"
                                                if baseline and need and baseline < need else "")
                         + "; the cuda-compat forward-compatibility package can bridge this on data-centre "
                           "GPUs only")



def min_branch_for(cuda: tuple[int, int]) -> int:
    """The lowest driver branch that runs CUDA ``cuda`` natively."""
    need = toolkit_min_driver(cuda)
    return need[0] if need else LTSB_DEFAULT
