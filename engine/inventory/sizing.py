"""GPU memory estimate and Google Cloud target recommendation: pure functions, no I/O.

:func:`estimate_memory` applies a stated rule of thumb and keeps the arithmetic as text lines;
:func:`recommend` ranks candidate GCP shapes (rows of the catalog, turned into :class:`Candidate`
by the step) against the source's GPUs and topology.  Rules of thumb used:

* Training with Adam: **16 bytes per parameter** — weights + gradients + optimizer state
  (mixed precision: 2 + 2 + 12 for the fp32 master copy and the two Adam moments; fp32:
  4 + 4 + 8), as in the ZeRO paper (Rajbhandari et al., 2020).
* Transformer activations: **34·s·b·h·L bytes** in 16-bit without recomputation and with
  flash attention (Korthikanti et al., 2022, without the a·s/h attention-score term), doubled for
  fp32; hidden size h and layers L come from P ≈ 12·L·h² with the usual aspect h ≈ 128·L.
* Inference: weights at their precision, plus the KV cache 2·L·h·s·b·(2 bytes) when the
  sequence length is known, plus 20% of the weights for activations and runtime buffers.
* Always: +10% for the CUDA context and allocator fragmentation.
"""

from __future__ import annotations

import math
import re
from typing import Iterable, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.gpus import names as gpu_names

GIB = 2**30

BYTES_PER_PARAM = {"fp32": 4.0, "tf32": 4.0, "fp16": 2.0, "bf16": 2.0, "fp8": 1.0, "int8": 1.0, "int4": 0.5}

# Peak dense FP16/BF16 tensor-core TFLOPS from NVIDIA's datasheets (sparsity figures halved; SXM parts):
# T4 65, V100 SXM2 125, L4 121, A100 312, L40S 362, H100 SXM 989, H200 989, B200 2250.  Only the ratio
# of two peaks is shown to people, and it says so: real speed-ups are lower and must be measured.
# A10G is left out: NVIDIA publishes no datasheet figure for it.
PEAK_DENSE_FP16_TFLOPS = {"T4": 65.0, "V100": 125.0, "V100 32GB": 125.0, "L4": 121.0, "A100 40GB": 312.0,
                          "A100 80GB": 312.0, "L40S": 362.0, "H100": 989.0, "H200": 989.0, "B200": 2250.0}
RELATIVE_SPEED = {name: tflops / PEAK_DENSE_FP16_TFLOPS["V100"] for name, tflops in PEAK_DENSE_FP16_TFLOPS.items()}

# Source GPU -> GCP GPU models to consider, best first, per workload kind.
SUCCESSORS: dict[str, dict[str, list[str]]] = {
    "K80": {"training": ["T4", "L4", "A100 40GB"], "inference": ["T4", "L4"]},
    "P100": {"training": ["A100 40GB", "L4", "T4"], "inference": ["L4", "T4"]},
    "V100": {"training": ["A100 40GB", "L4", "T4"], "inference": ["L4", "T4", "A100 40GB"]},
    "V100 32GB": {"training": ["A100 40GB", "A100 80GB", "L4"], "inference": ["L4", "A100 40GB"]},
    "T4": {"training": ["T4", "L4", "A100 40GB"], "inference": ["T4", "L4"]},
    "A10G": {"training": ["L4", "A100 40GB"], "inference": ["L4", "A100 40GB"]},
    "L4": {"training": ["L4", "A100 40GB"], "inference": ["L4"]},
    "L40S": {"training": ["A100 40GB", "H100", "L4"], "inference": ["L4", "A100 40GB", "A100 80GB"]},
    "A100 40GB": {"training": ["A100 40GB", "H100", "A100 80GB"], "inference": ["A100 40GB", "H100", "L4"]},
    "A100 80GB": {"training": ["A100 80GB", "H100", "H200"], "inference": ["A100 80GB", "H100"]},
    "H100": {"training": ["H100", "H200", "B200"], "inference": ["H100", "H200"]},
    "H200": {"training": ["H200", "B200"], "inference": ["H200", "H100"]},
    "B200": {"training": ["B200"], "inference": ["B200", "H200"]},
}
DEFAULT_SUCCESSORS = {"training": ["A100 40GB", "H100", "L4"], "inference": ["L4", "A100 40GB", "T4"]}

MIG_CAPABLE = {"A100 40GB", "A100 80GB", "H100", "H200", "B200"}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class WorkloadSpec(_Model):
    """What the GPUs do (the [workload] section's sizing fields)."""

    kind: Literal["training", "inference"] = "training"
    """Training or inference."""
    params_billions: float | None = None
    """Model parameters, in billions."""
    precision: str = "fp32"
    """fp32, tf32, fp16, bf16, fp8, int8 or int4."""
    batch_size: int | None = None
    """Per-GPU batch size."""
    seq_len: int | None = None
    """Sequence length (transformers)."""


class SourceShape(_Model):
    """The GPUs the workload uses today."""

    gpu_model: str | None = None
    """Normalised model, e.g. "V100", "A100 40GB", "H100"."""
    gpu_count: int = 1
    """GPUs per host."""
    gpu_memory_gib: float | None = None
    """Memory per GPU, GiB (nominal)."""
    all_nvlink: bool = False
    """Every pair of GPUs is on NVLink."""
    nvswitch: bool = False
    """Through NVSwitch (all-to-all at full bandwidth)."""
    topology_label: str | None = None
    """The weakest GPU-GPU link label seen, e.g. "NV12" or "SYS"."""
    mig_profiles: list[str] = Field(default_factory=list)
    """MIG profiles in use on the source."""
    origin: str = "profile"
    """Where this came from: "nvml", "aws" or "profile"."""


class Candidate(_Model):
    """A Google Cloud GPU machine shape (one catalog row)."""

    machine_type: str
    """e.g. "a2-highgpu-1g"."""
    gpu_model: str
    """e.g. "A100 40GB"."""
    gpu_count: int
    """GPUs per machine."""
    gpu_memory_gib: float
    """Memory per GPU (nominal GB, as Google lists it)."""
    region: str | None = None
    """The region the row applies to."""
    hourly_usd: float | None = None
    """On-demand $/h for the whole machine, when known."""
    nvlink: bool | None = None
    """GPUs interconnected by NVLink; None = derive from the machine family."""
    catalog_gpu_model: str | None = None
    """The catalog's own GPU name (e.g. "H100 80GB"), written to the profile on accept."""


class MemoryEstimate(_Model):
    """How much GPU memory the workload needs, and how that was worked out."""

    rule: str
    """The rule of thumb used, in words."""
    lines: list[str] = Field(default_factory=list)
    """The arithmetic, one step a line."""
    components_gib: dict[str, float] = Field(default_factory=dict)
    """weights / gradients / optimizer / activations / kv_cache / overhead, GiB."""
    total_gib: float | None = None
    """The estimate for one replica (unsharded), GiB; None when params are unknown."""
    static_gib: float | None = None
    """The part that sharding (FSDP / ZeRO-3) divides across GPUs."""
    activations_known: bool = False
    """False when activations could not be estimated (no sequence length)."""
    required_per_gpu_gib: float | None = None
    """What a target GPU must hold without sharding (includes the "fits today" bound)."""


class Recommendation(_Model):
    """One recommended target, with its reason."""

    rank: int
    """1 = the best fit."""
    machine_type: str
    """e.g. "a2-highgpu-1g"."""
    gpu_model: str
    """e.g. "A100 40GB"."""
    catalog_gpu_model: str | None = None
    """The catalog's name for the GPU (what target.gpu_model gets)."""
    gpu_count: int
    """GPUs per machine."""
    gpu_memory_gib: float
    """Per GPU."""
    region: str | None = None
    """The catalog row's region."""
    hourly_usd: float | None = None
    """On-demand $/h, when known."""
    sharded: bool = False
    """Fits only when the model state is sharded across the GPUs (FSDP / ZeRO-3)."""
    reason: str
    """Why this shape."""
    warnings: list[str] = Field(default_factory=list)
    """What it cannot match (topology, memory headroom, MIG)."""


class SizingResult(_Model):
    """The estimate and the ranked recommendations."""

    workload: WorkloadSpec
    """The workload as sized."""
    source: SourceShape
    """The source GPUs."""
    estimate: MemoryEstimate
    """The memory estimate."""
    recommendations: list[Recommendation] = Field(default_factory=list)
    """Best first."""
    warnings: list[str] = Field(default_factory=list)
    """Problems that apply to every target."""

    @property
    def best(self) -> Recommendation | None:
        return self.recommendations[0] if self.recommendations else None


# --- GPU names ----------------------------------------------------------------------------------


def normalize_gpu_model(name: str | None, memory_gib: float | None = None) -> str | None:
    """"Tesla V100-SXM2-16GB" / AWS "A100" + 40 GiB / "NVIDIA H100 80GB HBM3" -> the shared matcher's key."""
    return gpu_names.normalize_gpu_model(name, memory_gib * 1024 if memory_gib else None)


def gcp_nvlink(machine_type: str, gpu_count: int) -> bool:
    """Whether a GCP shape's GPUs are on NVLink (a2/a3/a4 families with more than one GPU)."""
    return gpu_count > 1 and machine_type.split("-")[0] in ("a2", "a3", "a4", "a4x")


# --- the estimate -------------------------------------------------------------------------------


def _dims(params: float) -> tuple[int, int]:
    """(layers, hidden) from P ≈ 12·L·h² with h = 128·L."""
    layers = max(1, round((params / (12 * 128**2)) ** (1 / 3)))
    hidden = max(64, int(math.sqrt(params / (12 * layers))))
    return layers, hidden


def _g(n: float) -> str:
    return f"{n / GIB:,.2f} GiB"


def estimate_memory(work: WorkloadSpec, source_memory_gib: float | None = None) -> MemoryEstimate:
    """GPU memory for one replica of the workload, with the arithmetic spelled out."""
    precision = work.precision
    if work.params_billions is None:
        lines = ["set workload.params_billions (and seq_len, batch_size) for an estimate"]
        if source_memory_gib:
            lines.append(f"the job fits today in {source_memory_gib:g} GiB per GPU on the source; "
                         "a target GPU with at least that much keeps the same batch size")
        return MemoryEstimate(rule="no estimate: workload.params_billions is not set", lines=lines,
                              required_per_gpu_gib=source_memory_gib)
    p = work.params_billions * 1e9
    lines: list[str] = []
    comp: dict[str, float] = {}
    wbytes = BYTES_PER_PARAM.get(precision, 4.0)
    layers, hidden = _dims(p)
    if work.kind == "training":
        if precision in ("fp32", "tf32"):
            w, g, o = 4.0, 4.0, 8.0
            rule = "training with Adam in fp32: 16 bytes/parameter (4 weights + 4 gradients + 8 Adam moments)"
        else:
            w, g, o = 2.0, 2.0, 12.0
            rule = ("mixed-precision training with Adam: 16 bytes/parameter (2 weights + 2 gradients + 12 for the "
                    "fp32 master copy and Adam moments; ZeRO paper)")
            if precision in ("fp8", "int8", "int4"):
                rule += f"; {precision} training still keeps 16-bit weights and fp32 optimizer state"
        comp["weights"], comp["gradients"], comp["optimizer"] = p * w, p * g, p * o
        lines.append(f"weights    = {p:,.0f} params × {w:g} B = {_g(comp['weights'])}")
        lines.append(f"gradients  = {p:,.0f} params × {g:g} B = {_g(comp['gradients'])}")
        lines.append(f"optimizer  = {p:,.0f} params × {o:g} B = {_g(comp['optimizer'])}")
        static = comp["weights"] + comp["gradients"] + comp["optimizer"]
        act_known = bool(work.seq_len and work.batch_size)
        if act_known:
            assert work.seq_len and work.batch_size
            factor = 2 if precision in ("fp32", "tf32") else 1
            act = 34 * work.seq_len * work.batch_size * hidden * layers * factor
            comp["activations"] = act
            lines.append(f"model dims ≈ L={layers} layers, h={hidden} (from P ≈ 12·L·h², h ≈ 128·L)")
            lines.append(f"activations = 34 × s {work.seq_len} × b {work.batch_size} × h {hidden} × L {layers}"
                         f"{' × 2 (fp32)' if factor == 2 else ''} = {_g(act)}")
            rule += "; activations 34·s·b·h·L bytes (Korthikanti et al. 2022, flash attention, no recompute)"
        else:
            lines.append("activations: not estimated (set workload.seq_len and batch_size for transformers; "
                         "for CNNs they depend on image size and batch)")
    else:
        comp["weights"] = p * wbytes
        rule = (f"inference: weights at {precision} ({wbytes:g} B/parameter) + KV cache + 20% of the weights "
                "for activations and runtime buffers")
        lines.append(f"weights    = {p:,.0f} params × {wbytes:g} B = {_g(comp['weights'])}")
        static = comp["weights"]
        act_known = bool(work.seq_len and work.batch_size)
        if act_known:
            assert work.seq_len and work.batch_size
            kv_b = 4 if precision in ("fp32", "tf32") else 2
            kv = 2 * layers * hidden * work.seq_len * work.batch_size * kv_b
            comp["kv_cache"] = kv
            lines.append(f"model dims ≈ L={layers} layers, h={hidden} (from P ≈ 12·L·h², h ≈ 128·L)")
            lines.append(f"KV cache   = 2 × L {layers} × h {hidden} × s {work.seq_len} × b {work.batch_size} × "
                         f"{kv_b} B = {_g(kv)}")
        else:
            lines.append("KV cache: not estimated (set workload.seq_len and batch_size)")
        comp["activations"] = 0.2 * comp["weights"]
        lines.append(f"activations/buffers = 20% × weights = {_g(comp['activations'])}")
    subtotal = sum(comp.values())
    comp["overhead"] = 0.1 * subtotal
    lines.append(f"overhead   = 10% × {_g(subtotal)} (CUDA context, fragmentation) = {_g(comp['overhead'])}")
    total = subtotal + comp["overhead"]
    lines.append(f"total      = {_g(total)} per replica")
    required = total / GIB
    if not act_known and work.kind == "training" and source_memory_gib and source_memory_gib > required:
        lines.append(f"required per GPU = max({required:,.2f}, {source_memory_gib:g} GiB the job fits in today) "
                     f"= {source_memory_gib:g} GiB (activations unknown: keep at least the source's memory)")
        required = source_memory_gib
    est = MemoryEstimate(rule=rule, lines=lines, components_gib={k: round(v / GIB, 3) for k, v in comp.items()},
                         total_gib=round(total / GIB, 3), static_gib=round(static / GIB, 3),
                         activations_known=act_known, required_per_gpu_gib=round(required, 3))
    return est


# --- recommendation --------------------------------------------------------------------------------


def _speed_note(src: str | None, dst: str) -> str:
    a, b = RELATIVE_SPEED.get(src or ""), RELATIVE_SPEED.get(dst)
    if a and b:
        ratio = b / a
        return f"{ratio:.1f}× the {src}'s peak dense FP16 tensor TFLOPS (datasheets; measure the real speed-up)" \
            if abs(ratio - 1) > 0.05 else f"the {src}'s peak dense FP16 tensor TFLOPS (datasheets)"
    return ""


def recommend(work: WorkloadSpec, source: SourceShape, candidates: Iterable[Candidate], *,
              region: str | None = None, limit: int = 4) -> SizingResult:
    """Rank candidate shapes: successor GPU models in preference order, memory fit, same GPU count."""
    cands = list(candidates)
    warnings: list[str] = []
    if region:
        in_region = [c for c in cands if c.region in (None, region)]
        if in_region:
            cands = in_region
        elif cands:
            warnings.append(f"the catalog has no GPU shapes listed for {region}; showing other regions")
    estimate = estimate_memory(work, source.gpu_memory_gib)
    prefs = (SUCCESSORS.get(source.gpu_model or "") or DEFAULT_SUCCESSORS)[work.kind]
    if source.gpu_model and source.gpu_model not in SUCCESSORS:
        warnings.append(f"no migration rule for source GPU {source.gpu_model!r}; using the general preferences")
    if source.gpu_model is None:
        warnings.append("source GPU model unknown (no NVML, no AWS instance, no source.gpu_model): "
                        "recommendations use the workload only")
    need = estimate.required_per_gpu_gib
    count = max(1, source.gpu_count)
    recs: list[Recommendation] = []
    short: list[str] = []
    picks: list[tuple[Candidate, bool]] = []
    for model in prefs:
        shapes = sorted((c for c in cands if c.gpu_model == model),
                        key=lambda c: (c.gpu_count, c.hourly_usd if c.hourly_usd is not None else math.inf))
        if not shapes:
            continue
        chosen: Candidate | None = None
        sharded = False
        for shape in shapes:
            if shape.gpu_count < count:
                continue
            if need is None or need <= shape.gpu_memory_gib:
                chosen = shape
                break
            if estimate.static_gib is not None and estimate.total_gib is not None and shape.gpu_count > 1:
                per_gpu = estimate.static_gib / shape.gpu_count + (estimate.total_gib - estimate.static_gib)
                if per_gpu <= shape.gpu_memory_gib:
                    chosen, sharded = shape, True
                    break
        if chosen is None:
            if max(s.gpu_count for s in shapes) < count:
                short.append(f"{model} (at most {max(s.gpu_count for s in shapes)} per machine)")
            continue
        picks.append((chosen, sharded))
    # a shape that holds the job as the source runs it (no sharding, no extra GPUs) beats one that needs either
    picks.sort(key=lambda cs: cs[1] or cs[0].gpu_count > count)
    for chosen, sharded in picks[:limit]:
        recs.append(_explain(len(recs) + 1, chosen, sharded, work, source, estimate))
    if not recs:
        warnings.append("no catalog shape fits: the workload needs more memory than any single machine offers, "
                        "or the catalog has none of the successor GPUs; consider several hosts with sharding")
    if short:
        warnings.append(f"the source has {count} GPUs in one host{' on NVLink' if source.all_nvlink else ''}; "
                        f"no single machine matches that for {', '.join(short)}: splitting across hosts "
                        "replaces NVLink with the network")
    if count > 1 and source.all_nvlink and recs and not any(_has_nvlink(r) for r in recs):
        warnings.append(f"the source's {count} GPUs are all on NVLink ({source.topology_label}); no recommended "
                        "shape matches that")
    return SizingResult(workload=work, source=source, estimate=estimate, recommendations=recs, warnings=warnings)


def _has_nvlink(rec: Recommendation) -> bool:
    return gcp_nvlink(rec.machine_type, rec.gpu_count)


def _explain(rank: int, c: Candidate, sharded: bool, work: WorkloadSpec, source: SourceShape,
             est: MemoryEstimate) -> Recommendation:
    parts: list[str] = []
    src = source.gpu_model or "the source"
    if source.gpu_model == c.gpu_model:
        parts.append(f"same GPU as the source ({c.gpu_model}): no code or numerics change")
    else:
        speed = _speed_note(source.gpu_model, c.gpu_model)
        parts.append(f"{src} → {c.gpu_model} for {work.kind}" + (f", {speed}" if speed else ""))
    need = est.required_per_gpu_gib
    if need is not None:
        if sharded:
            per = (est.static_gib or 0) / c.gpu_count + ((est.total_gib or 0) - (est.static_gib or 0))
            parts.append(f"{c.gpu_memory_gib:g} GB per GPU holds {per:,.1f} GiB with the model state sharded over "
                         f"{c.gpu_count} GPUs (FSDP / ZeRO-3)")
        else:
            parts.append(f"{c.gpu_memory_gib:g} GB per GPU ≥ {need:,.1f} GiB needed")
    parts.append(f"{c.gpu_count} GPU{'s' if c.gpu_count > 1 else ''}"
                 + (" like the source" if c.gpu_count == source.gpu_count else f" (source has {source.gpu_count})"))
    if c.hourly_usd is not None:
        parts.append(f"${c.hourly_usd:,.2f}/h on demand")
    warnings: list[str] = []
    nvlink = c.nvlink if c.nvlink is not None else gcp_nvlink(c.machine_type, c.gpu_count)
    if source.gpu_count > 1 and source.all_nvlink:
        if nvlink:
            parts.append("NVLink between all GPUs, like the source")
        else:
            warnings.append(f"the source's {source.gpu_count} GPUs talk over NVLink ({source.topology_label}); "
                            f"{c.machine_type} has no NVLink, so all-reduce runs over PCIe and multi-GPU training "
                            "scales worse")
    elif source.gpu_count > 1 and not source.all_nvlink and nvlink:
        parts.append("NVLink between GPUs (the source had none)")
    if c.gpu_count > source.gpu_count:
        warnings.append(f"{c.gpu_count} GPUs where the source has {source.gpu_count}: scale the job out or pay "
                        "for idle GPUs")
    if need is not None and not sharded and need > 0.9 * c.gpu_memory_gib:
        warnings.append(f"little headroom: {need:,.1f} GiB of {c.gpu_memory_gib:g} GB")
    if source.mig_profiles:
        if c.gpu_model in MIG_CAPABLE:
            warnings.append(f"the source is partitioned with MIG ({', '.join(source.mig_profiles)}); re-create the "
                            f"profiles on the {c.gpu_model} (profile names differ between GPU models)")
        else:
            warnings.append(f"the source uses MIG ({', '.join(source.mig_profiles)}); {c.gpu_model} has no MIG")
    if source.gpu_model in ("V100", "V100 32GB") and c.gpu_model not in ("V100", "V100 32GB") \
            and work.precision in ("fp32",):
        parts.append("fp32 on Ampere and later: PyTorch (since 1.12) runs matmuls in full FP32 unless you opt in to "
                     "TF32 (torch.set_float32_matmul_precision('high')), while cuDNN convolutions and TensorFlow "
                     "use TF32 by default: check the numerics and which one your speed-up assumes")
    if c.gpu_model == "T4" and work.kind == "training":
        warnings.append("T4 is an inference GPU: training will be several times slower than on the source")
    return Recommendation(rank=rank, machine_type=c.machine_type, gpu_model=c.gpu_model,
                          catalog_gpu_model=c.catalog_gpu_model or c.gpu_model, gpu_count=c.gpu_count,
                          gpu_memory_gib=c.gpu_memory_gib, region=c.region, hourly_usd=c.hourly_usd,
                          sharded=sharded, reason="; ".join(parts), warnings=warnings)
