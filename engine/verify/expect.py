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

from engine.verify.section import SETTINGS_FIELD, VerifySection


def target_gpus(section: VerifySection, target_gpu_count: int | None) -> int:
    """How many GPUs the target must show: ``[verify] expected_gpus``, else ``target.gpu_count``."""
    if section.expected_gpus is not None:
        return section.expected_gpus
    return target_gpu_count or 0


def _has_inputs(section: VerifySection, name: str) -> str | None:
    """Why the check's own sub-table says it should run (None: nothing configured)."""
    if name == "gpu_health":
        g = section.gpu
        if g.expected_model or g.min_memory_gib or g.pcie_gen or g.pcie_width or g.mig_profiles or g.dcgm_level:
            return "[verify.gpu] sets what the GPUs must show"
    elif name == "topology":
        if section.topology.expected:
            return "[verify.topology] expected documents the interconnect"
    elif name == "data_integrity":
        if section.data_integrity.manifests or section.data_integrity.transfers:
            return "[verify.data_integrity] lists what must match"
    elif name == "model_load":
        if section.model_load.command:
            return "[verify.model_load] command is set"
    elif name == "latency":
        if section.latency.url or section.latency.command:
            return "[verify.latency] has an endpoint"
    elif name == "convergence":
        if section.convergence.baseline_file or section.convergence.target_file:
            return "[verify.convergence] names loss curves"
    elif name == "throughput":
        if section.throughput.command:
            return "[verify.throughput] command is set"
    return None


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
