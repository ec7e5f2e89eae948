"""Driver / CUDA / framework compatibility: one import for the answers built on the shipped facts.

The work is split by job: :mod:`~engine.drivers.versions` (version strings),
:mod:`~engine.drivers.tables` (the CSV facts with their sources, and lookups),
:mod:`~engine.drivers.arch` (which GPU a build's kernels run on),
:mod:`~engine.drivers.runtime` (which CUDA a driver runs),
:mod:`~engine.drivers.plan` (:func:`recommend`: the plan for a target),
:mod:`~engine.drivers.diagnose` (:func:`diagnose`: what is wrong with an installed stack) and
:mod:`~engine.drivers.runtime_errors` (:func:`explain_error`).  Callers keep importing from here.
"""

from __future__ import annotations

from engine.drivers.arch import BuildArch, build_arch, runs_on, toolkit_max_sm
from engine.drivers.diagnose import diagnose
from engine.drivers.findings import STATUS_ORDER, Finding, Status, machine_word, worst
from engine.drivers.plan import Plan, plan_driver, recommend
from engine.drivers.runtime import DriverVerdict, driver_runs_cuda, min_branch_for
from engine.drivers.runtime_errors import explain_error
from engine.drivers.tables import (Branch, FrameworkRelease, Gpu, Source, Tables, Toolkit, Wheel, branch_eol,
                                   framework_release, gpu_info, gpu_supports_branch, gpu_supports_cuda,
                                   known_toolkits, max_native_cuda, tables, toolkit_min_driver, toolkit_patch,
                                   wheel_supports_gpu)
from engine.drivers.versions import branch_of, major_minor, mm_str, vtuple, wheel_cuda, wheel_name

__all__ = [
    "STATUS_ORDER", "Branch", "BuildArch", "DriverVerdict", "Finding", "FrameworkRelease", "Gpu", "Plan", "Source",
    "Status", "Tables", "Toolkit", "Wheel", "branch_eol", "branch_of", "build_arch", "diagnose", "driver_runs_cuda",
    "explain_error", "framework_release", "gpu_info", "gpu_supports_branch", "gpu_supports_cuda", "known_toolkits",
    "machine_word", "major_minor", "max_native_cuda", "min_branch_for", "mm_str", "plan_driver", "recommend", "runs_on", "tables",
    "toolkit_max_sm", "toolkit_min_driver", "toolkit_patch", "vtuple", "wheel_cuda", "wheel_name", "worst",
]
