"""What a practitioner would warn about: per target (NVLink, TF32, fp8, MIG names) and against the source.

Facts used: TF32 exists on Ampere and later; fp8 tensor cores on Ada (L4, L40S) and Hopper and later;
MIG profile names carry the memory of the slice, so they differ between GPU models (NVIDIA MIG user
guide, "Supported MIG Profiles"); NVML refuses NVLink queries while MIG is enabled.
"""

from __future__ import annotations

from engine.gpus.mig import parse_mig_profile
from engine.gpus.names import gpu_spec
from engine.inventory.sizing.estimate import largest_term, layouts
from engine.inventory.sizing.types import MemoryEstimate, SourceShape, WorkloadSpec

# GPU-instance profiles per GPU, smallest first (NVIDIA MIG user guide, "Supported MIG Profiles";
# B200 as listed for AWS p6-b200 in sagemaker-hyperpod-cli).
MIG_PROFILES: dict[str, list[str]] = {
    "A100 40GB": ["1g.5gb", "1g.10gb", "2g.10gb", "3g.20gb", "4g.20gb", "7g.40gb"],
    "A100 80GB": ["1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"],
    "A30": ["1g.6gb", "2g.12gb", "4g.24gb"],
    "H100": ["1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"],
    "H100 NVL": ["1g.12gb", "1g.24gb", "2g.24gb", "3g.47gb", "4g.47gb", "7g.94gb"],
    "H200": ["1g.18gb", "1g.35gb", "2g.35gb", "3g.71gb", "4g.71gb", "7g.141gb"],
    "B200": ["1g.23gb", "1g.45gb", "2g.45gb", "3g.90gb", "4g.90gb", "7g.180gb"],
    "RTX PRO 6000": ["1g.24gb", "2g.48gb", "4g.96gb"],
}

HEADROOM = 0.90
"""A layout fits when the estimate is at most this share of the GPU's usable memory."""


def matching_mig_profile(profile: str, target: str) -> str | None:
    """The target GPU's smallest profile with at least the source profile's slices and memory."""
    src = parse_mig_profile(profile)
    if src is None:
        return None
    for name in MIG_PROFILES.get(target, []):
        cand = parse_mig_profile(name)
        if cand and cand.gpu_slices >= src.gpu_slices and cand.memory_gb >= src.memory_gb:
            return name
    return None


def target_warnings(work: WorkloadSpec, source: SourceShape, gpu: str, nvlink: bool, layout: str,
                    gpus: int) -> list[str]:
    out: list[str] = []
    spec = gpu_spec(gpu)
    if work.kind == "inference" and layout == "tensor" and not nvlink:
        out.append(f"tensor parallelism over {gpus} GPUs without NVLink: every layer all-reduces over PCIe, so "
                   "token latency and throughput suffer; prefer an NVLink shape or a GPU that holds the model alone")
    if work.precision == "tf32" and spec is not None and not spec.at_least("Ampere"):
        out.append(f"TF32 needs Ampere or later: the {gpu} ({spec.family}) runs the maths in full fp32")
    fp8 = work.precision == "fp8" or work.kv_cache_precision == "fp8"
    if fp8 and spec is not None and not (spec.family == "Ada" or spec.at_least("Hopper")):
        out.append(f"fp8 needs Ada (L4, L40S) or Hopper and later: the {gpu} ({spec.family}) has no fp8 tensor cores")
    if source.mig_profiles:
        if spec is not None and spec.mig:
            pairs = []
            for profile in dict.fromkeys(source.mig_profiles):
                match = matching_mig_profile(profile, gpu)
                pairs.append(f"{profile} -> {match}" if match else f"{profile} -> (no {gpu} profile that large)")
            out.append(f"the source is partitioned with MIG; profile names differ by GPU (they carry the slice's "
                       f"memory). On the {gpu}: {', '.join(pairs)}")
        else:
            out.append(f"the source uses MIG ({', '.join(dict.fromkeys(source.mig_profiles))}); the {gpu} has no "
                       "MIG, so each job gets a whole GPU")
    return out


def source_sanity(work: WorkloadSpec, source: SourceShape, est: MemoryEstimate) -> list[str]:
    """Loud warning when the source runs the job today but the estimate says it cannot."""
    if not (source.runs_today and source.gpu_memory_gib and est.terms):
        return []
    cap = source.gpu_memory_gib
    fits = [(k, words, g) for k, words, g in layouts(est, work.kind, max(1, source.gpu_count)) if g <= cap]
    if fits:
        return []
    best = min(g for _, _, g in layouts(est, work.kind, max(1, source.gpu_count)))
    top = largest_term(est)
    where = (f"{source.gpu_count} × {source.gpu_model}" + (f" (MIG {source.mig_instance})" if source.mig_instance
                                                          else ""))
    return [f"CHECK THE INPUTS: the source ({where}, {cap:,.1f} GiB each) runs this workload today, but the estimate "
            f"needs {best:,.1f} GiB per GPU there even in the best layout; the inputs are probably wrong. The "
            f"largest term is {top.name} ({top.gib:,.1f} GiB: {top.formula})" if top else ""]
