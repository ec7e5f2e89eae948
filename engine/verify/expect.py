"""Which checks a profile expects to run, and why.

A check that cannot run is reported *not run* with its reason.  Whether that
leaves the verification INCOMPLETE depends on whether the profile expected it:
a target that must show GPUs expects the GPU checks; a check named in
``[verify] checks`` or given inputs in its sub-table is expected too.  An
expected check that did not run can never be reported as PASS: it is exactly
the broken target the check exists to catch (no driver, no GPU, no file).
``optional = true`` in a check's sub-table lifts that, and reports say so.
"""

from __future__ import annotations

from typing import Any, Callable

from engine.verify.section import SETTINGS_FIELD, VerifySection


def target_gpus(section: VerifySection, target_gpu_count: int | None) -> int:
    """How many GPUs the target must show: ``[verify] expected_gpus``, else ``target.gpu_count``."""
    if section.expected_gpus is not None:
        return section.expected_gpus
    return target_gpu_count or 0


_INPUTS: dict[str, tuple[Callable[[VerifySection], Any], str]] = {
    "gpu_health": (lambda s: (s.gpu.expected_model or s.gpu.min_memory_gib or s.gpu.pcie_gen or s.gpu.pcie_width
                              or s.gpu.mig_profiles or s.gpu.dcgm_level),
                   "[verify.gpu] sets what the GPUs must show"),
    "topology": (lambda s: s.topology.expected, "[verify.topology] expected documents the interconnect"),
    "data_integrity": (lambda s: s.data_integrity.manifests or s.data_integrity.transfers,
                       "[verify.data_integrity] lists what must match"),
    "model_load": (lambda s: s.model_load.command, "[verify.model_load] command is set"),
    "latency": (lambda s: s.latency.url or s.latency.command, "[verify.latency] has an endpoint"),
    "convergence": (lambda s: s.convergence.baseline_file or s.convergence.target_file,
                    "[verify.convergence] names loss curves"),
    "throughput": (lambda s: s.throughput.command, "[verify.throughput] command is set"),
}
"""check name -> (does its sub-table give it something to measure?, the reason shown)."""


def _has_inputs(section: VerifySection, name: str) -> str | None:
    """Why the check's own sub-table says it should run (None: nothing configured)."""
    configured, reason = _INPUTS.get(name, (lambda _s: False, ""))
    return reason if configured(section) else None


def why_expected(section: VerifySection, name: str, target_gpu_count: int | None) -> str:
    """The reason the profile expects ``name`` to run, or "" when it does not."""
    gpus = target_gpus(section, target_gpu_count)
    if name == "gpu_health" and gpus > 0:
        return f"the target must show {gpus} GPU(s)"
    if name == "topology" and gpus > 1:
        return f"the target must show {gpus} GPUs and their interconnect"
    if section.checks is not None and name in section.checks:
        return "named in [verify] checks"
    return _has_inputs(section, name) or ""


def is_optional(section: VerifySection, name: str) -> bool:
    return bool(getattr(getattr(section, SETTINGS_FIELD[name]), "optional", False))
