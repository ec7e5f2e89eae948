"""Candidates from need: every Google Cloud shape that holds the estimate, cheapest first, like-for-like kept.

Every catalog shape (GPU model × count per machine) is tried in each layout (one GPU; data parallel;
tensor parallel for inference; ZeRO-1/2/3 for training) against its GPUs' usable memory with
:data:`~engine.inventory.sizing.advice.HEADROOM`.  Those that fit are ranked by price per run
(training: hourly price × the source's hours scaled by a stated relative-speed assumption) or, for LLM
serving, per million decode tokens (:mod:`~engine.inventory.sizing.throughput`'s memory-bandwidth model; other
inference by the hour).  When no single machine holds the job, the
largest shape of each GPU model is tried over 2..16 hosts and the interconnect named.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable

from engine.gpus.names import gpu_spec
from engine.inventory.sizing.advice import HEADROOM, source_sanity, target_warnings
from engine.inventory.sizing.estimate import estimate_memory, layouts, per_gpu_gib
from engine.inventory.sizing.throughput import ASSUMPTION, decode_tokens_per_s, usd_per_million_tokens
from engine.inventory.sizing.types import (
    Candidate,
    MemoryEstimate,
    Recommendation,
    SizingResult,
    SourceShape,
    WorkloadSpec,
)

# Peak dense FP16/BF16 tensor-core TFLOPS from NVIDIA's datasheets (sparsity figures halved; SXM parts):
# T4 65, V100 SXM2 125, L4 121, A100 312, L40S 362, H100 SXM 989, H200 989, B200 2250; P100 PCIe 18.7 (FP16,
# no tensor cores).  Only ratios of two peaks are used (ordering by price per run) and shown, said to be
# peaks: real speed-ups are lower and must be measured.  GPUs without a datasheet figure (A10G, P4) are
# left out: no made-up ratio.
PEAK_DENSE_FP16_TFLOPS = {"T4": 65.0, "V100": 125.0, "V100 32GB": 125.0, "L4": 121.0, "A100 40GB": 312.0,
                          "A100 80GB": 312.0, "L40S": 362.0, "H100": 989.0, "H200": 989.0, "B200": 2250.0,
                          "P100": 18.7}
RELATIVE_SPEED = {name: tflops / PEAK_DENSE_FP16_TFLOPS["V100"] for name, tflops in PEAK_DENSE_FP16_TFLOPS.items()}
MAX_HOSTS = 16

# Host-to-host networking per machine family (Google Cloud accelerator-optimized machine docs; approximate).
INTERCONNECT = {
    "a4": "3,200 Gbps GPUDirect RDMA between hosts",
    "a3-ultragpu": "3,200 Gbps GPUDirect RDMA between hosts",
    "a3-megagpu": "1,600 Gbps GPUDirect-TCPXO between hosts (A3 Mega)",
    "a3-highgpu": "up to 1,000 Gbps GPUDirect-TCPX between hosts (A3 High)",
    "a3-edgegpu": "up to 800 Gbps between hosts",
    "a2": "up to 100 Gbps between hosts (no GPUDirect)",
}


def gcp_nvlink(machine_type: str, gpu_count: int) -> bool:
    """Whether a GCP shape's GPUs are on NVLink (a2/a3/a4 families with more than one GPU)."""
    return gpu_count > 1 and machine_type.split("-")[0] in ("a2", "a3", "a4", "a4x")


def interconnect(machine_type: str) -> str:
    family = machine_type.split("-")[0]
    sub = "-".join(machine_type.split("-")[:2])
    return INTERCONNECT.get(sub) or INTERCONNECT.get(family) or "standard VPC networking between hosts (no GPUDirect)"


Pricer = Callable[[Candidate, float], float | None]
"""(shape, hours of one run) -> the price of one run on one host, from the cost model; None = cannot price."""

MAX_PCIE_TENSOR_PARALLEL = 2
"""Tensor parallelism over PCIe (no NVLink) beyond this many GPUs is not offered: two all-reduces per layer
cross PCIe on every decode step (TensorRT-LLM performance guide, "Deciding Model Sharding Strategy"; vLLM's
parallelism docs send GPUs without NVLink to pipeline parallelism).  Exception: the source already runs the
job split that wide over PCIe, and the target GPU is of at least its memory class (see :func:`_pcie_tp_limit`)."""

# Throughput kept through the interconnect, by layout (for the ordering only; stated in the ranking text).
EFFICIENCY = {"zero3-pcie": 0.5, "tensor-pcie": 0.7, "multi-gpu-pcie": 0.85, "hosts-gpudirect": 0.9,
              "hosts-tcpx": 0.8, "hosts-plain": 0.4}


@dataclass
class _Fit:
    cand: Candidate
    hosts: int
    layout: str
    words: str
    per_gpu: float
    hourly: float | None
    hours: float | None
    kind: str = "training"
    llm: bool = False
    """LLM serving (ranked by the price of a token)."""
    run_price: float | None = None
    """The cost model's price of one run (all hosts), when a pricer was given."""
    tokens_per_s: float | None = None
    """LLM serving: decode tokens per second of one replica (throughput model)."""

    @property
    def usd_per_mtok(self) -> float | None:
        return usd_per_million_tokens(self.hourly, self.tokens_per_s)

    @property
    def gpus(self) -> int:
        return self.cand.gpu_count * self.hosts

    @property
    def cost(self) -> float | None:
        if self.run_price is not None:
            return self.run_price
        if self.hourly is None:
            return None
        return self.hourly * self.hours if self.hours is not None else self.hourly


def _nvlink(c: Candidate) -> bool:
    return c.nvlink if c.nvlink is not None else gcp_nvlink(c.machine_type, c.gpu_count)


def _pcie_tp_limit(source: SourceShape, cand: Candidate) -> int:
    """How wide tensor parallelism may go over PCIe on ``cand``: :data:`MAX_PCIE_TENSOR_PARALLEL`, or the source's
    GPU count when the source runs the job today on that many GPUs without NVLink (g5.12xlarge's 4 × A10G) and the
    target GPU has at least the source's memory class (within 15%, as like-for-like): the same split, known to work."""
    src = gpu_spec(source.gpu_model)
    if (source.runs_today and source.all_nvlink is False and source.gpu_count > MAX_PCIE_TENSOR_PARALLEL
            and src is not None and cand.gpu_memory_gib >= 0.85 * src.usable_gib):
        return source.gpu_count
    return MAX_PCIE_TENSOR_PARALLEL


def _fit(est: MemoryEstimate, kind: str, cand: Candidate, hosts: int, shard: bool,
         pcie_tp: int = MAX_PCIE_TENSOR_PARALLEL, headroom: float = HEADROOM) -> tuple[str, str, float] | None:
    cap = cand.gpu_memory_gib * headroom
    if not est.terms:  # no estimate: what runs today in the source's memory runs in as much memory
        need = est.required_per_gpu_gib
        return ("none", "one job per GPU", need or 0.0) if need is None or need <= cand.gpu_memory_gib else None
    for key, words, gib in layouts(est, kind, cand.gpu_count * hosts, shard):
        if key == "tensor" and not _nvlink(cand) and cand.gpu_count * hosts > pcie_tp:
            continue
        if gib <= cap:
            return key, words, gib
    return None


def _efficiency(layout: str, c: Candidate, hosts: int) -> float:
    eff = 1.0
    if hosts > 1:
        family = _family(c.machine_type)
        eff = (EFFICIENCY["hosts-gpudirect"] if family in ("a3-megagpu", "a3-ultragpu", "a4-highgpu")
               else EFFICIENCY["hosts-tcpx"] if family == "a3-highgpu" else EFFICIENCY["hosts-plain"])
    if c.gpu_count > 1 and not _nvlink(c):
        eff *= {"zero3": EFFICIENCY["zero3-pcie"], "tensor": EFFICIENCY["tensor-pcie"]}.get(
            layout, EFFICIENCY["multi-gpu-pcie"])
    return eff


def _throughput(gpu: str | None, gpus: int, eff: float = 1.0) -> float | None:
    speed = RELATIVE_SPEED.get(gpu or "")
    return speed * gpus * eff if speed else None


def _hours(work: WorkloadSpec, source: SourceShape, f_layout: str, c: Candidate, hosts: int,
           source_hours: float | None, measured: tuple[str, float] | None = None) -> float | None:
    """Hours of one run on the candidate: the profile's own figure for its target GPU, else scaled by throughput."""
    if work.kind != "training" or source_hours is None:
        return None
    if measured is not None and measured[0] == c.gpu_model and c.gpu_count * hosts == max(1, source.gpu_count):
        return measured[1]
    a = _throughput(source.gpu_model, max(1, source.gpu_count))
    b = _throughput(c.gpu_model, c.gpu_count * hosts, _efficiency(f_layout, c, hosts))
    return source_hours * a / b if a and b else None


def _rank_key(f: "_Fit", source: SourceShape) -> tuple[bool, bool, float, int]:
    """Idle copies last; priced shapes with a datasheet peak before those without; then price per run
    (or $/h per unit of peak throughput, the same order); then fewer GPUs."""
    excess = f.layout == "none" and f.gpus > max(1, source.gpu_count)
    tp = _throughput(f.cand.gpu_model, f.gpus, _efficiency(f.layout, f.cand, f.hosts))
    if f.hourly is None:
        return excess, True, math.inf, f.gpus
    if f.kind == "inference" and f.tokens_per_s:
        return excess, False, f.usd_per_mtok or math.inf, f.gpus  # price of a decoded token
    if f.hours is not None:
        return excess, False, f.cost if f.cost is not None else math.inf, f.gpus
    if f.kind == "inference":  # not an LLM (or no bandwidth figure): a serving replica is paid by the hour
        return excess, f.tokens_per_s is None and _is_llm(f), f.hourly, f.gpus
    if tp:
        return excess, False, f.hourly / tp, f.gpus
    return excess, True, f.hourly, f.gpus



def _is_llm(f: "_Fit") -> bool:
    return f.llm


def _tokens(est: MemoryEstimate, work: WorkloadSpec, c: Candidate, hosts: int, layout: str) -> float | None:
    """Decode tokens/s of the stated workload (one replica at its batch) on this shape: split over all its GPUs when
    tensor parallel, else on one GPU; further full copies only add capacity the workload does not ask for, so a
    shape is priced for the workload as stated (the idle GPUs included)."""
    ways = c.gpu_count * hosts if layout == "tensor" else 1
    link = "hosts" if hosts > 1 else ("nvlink" if _nvlink(c) else "pcie")
    return decode_tokens_per_s(est, work, c.gpu_model, ways, link)


def _source_tokens(est: MemoryEstimate, work: WorkloadSpec, source: SourceShape) -> float | None:
    """Decode tokens/s of the stated workload on the source today: one GPU when the model fits one, else split over
    all the host's GPUs (how a multi-GPU host serves a model that needs sharding: vLLM / TGI with the tensor-parallel
    size = the GPU count, as AWS's g5.12xlarge and p4d examples run it)."""
    if not (source.gpu_model and source.gpu_memory_gib and source.runs_today and est.terms) or source.mig_instance:
        return None
    one_gpu = per_gpu_gib(est.terms, "inference", 1, "none") <= source.gpu_memory_gib
    ways = 1 if one_gpu else max(1, source.gpu_count)
    return decode_tokens_per_s(est, work, source.gpu_model, ways, "nvlink" if source.all_nvlink else "pcie")


TOKEN_PRICE_TIE = 0.10
"""Token prices within 10% are a tie (the throughput model is not that precise): the cheaper $/h goes first."""


def _ties_by_hour(ranked: list["_Fit"]) -> list["_Fit"]:
    """Group runs of shapes whose $ per million tokens lie within :data:`TOKEN_PRICE_TIE` of the group's cheapest,
    and order each group by $/h: at the same token price, less capacity paid for and left idle."""
    out: list[_Fit] = []
    group: list[_Fit] = []
    for f in ranked + [None]:  # type: ignore[list-item]
        p = f.usd_per_mtok if f is not None else None
        if group and (p is None or p > group[0].usd_per_mtok * (1 + TOKEN_PRICE_TIE)):  # type: ignore[operator]
            out += sorted(group, key=lambda g: (g.hourly, g.gpus))
            group = []
        if f is None:
            break
        if p is None:
            out.append(f)
        else:
            group.append(f)
    return out


def _like_for_like(source: SourceShape, c: Candidate, exact_offered: bool) -> bool:
    """Same GPU and count as the source; where Google Cloud has no such GPU, the same memory class (A10G -> L4)."""
    if not source.gpu_model or c.gpu_count != max(1, source.gpu_count) or source.mig_instance:
        return False
    if c.gpu_model == source.gpu_model:
        return True
    if exact_offered:
        return False
    src, dst = gpu_spec(source.gpu_model), gpu_spec(c.gpu_model)
    if src is None or dst is None:
        return False
    return abs(src.usable_gib - dst.usable_gib) <= 0.15 * src.usable_gib  # same memory class (A10G -> L4)


def _cheapest_per_shape(fits: list[_Fit]) -> list[_Fit]:
    """One machine type per (GPU, count, hosts): the cheapest (g2-standard-4/8/12 all carry one L4); across
    hosts the machine family stays apart (its network is part of the answer)."""
    best: dict[tuple[str, int, int, str], _Fit] = {}
    for f in fits:
        key = (f.cand.gpu_model, f.cand.gpu_count, f.hosts, _family(f.cand.machine_type) if f.hosts > 1 else "")
        cur = best.get(key)
        if cur is None or (f.hourly if f.hourly is not None else math.inf) < \
                (cur.hourly if cur.hourly is not None else math.inf):
            best[key] = f
    return list(best.values())


def _fewest_gpus(fits: list[_Fit], want: int) -> list[_Fit]:
    """Per GPU model, the fewest GPUs that hold the job and give it at least ``want`` GPUs (the source's count
    for training: the job is spread that wide today); fewer when the model's shapes stop short of that."""
    best: dict[str, _Fit] = {}
    for f in fits:
        cur = best.get(f.cand.gpu_model)
        if cur is None:
            best[f.cand.gpu_model] = f
            continue
        f_ok, cur_ok = f.gpus >= want, cur.gpus >= want
        if (f_ok and not cur_ok) or (f_ok == cur_ok and (f.gpus < cur.gpus if f_ok else f.gpus > cur.gpus)):
            best[f.cand.gpu_model] = f
    return list(best.values())


def _enumerate(est: MemoryEstimate, work: WorkloadSpec, source: SourceShape, cands: list[Candidate],
               source_hours: float | None, shard: bool, measured: tuple[str, float] | None) -> list[_Fit]:
    fits: list[_Fit] = []
    llm = _llm(est, work)
    for c in cands:
        got = _fit(est, work.kind, c, 1, shard, _pcie_tp_limit(source, c))
        if got:
            fits.append(_Fit(c, 1, *got, hourly=c.hourly_usd, kind=work.kind, llm=llm,
                             tokens_per_s=_tokens(est, work, c, 1, got[0]),
                             hours=_hours(work, source, got[0], c, 1, source_hours, measured)))
    return fits


def _llm(est: MemoryEstimate, work: WorkloadSpec) -> bool:
    return work.kind == "inference" and est.shape is not None and est.shape.kind in ("decoder", "encdec")


def _family(machine_type: str) -> str:
    return "-".join(machine_type.split("-")[:2])


def _enumerate_hosts(est: MemoryEstimate, work: WorkloadSpec, source: SourceShape, cands: list[Candidate],
                     source_hours: float | None, skip: set[str]) -> list[_Fit]:
    """The largest shape of each GPU model and machine family (A3 High and A3 Mega differ in networking)."""
    largest: dict[tuple[str, str], Candidate] = {}
    for c in cands:
        if c.gpu_model in skip:
            continue
        key = (c.gpu_model, _family(c.machine_type))
        cur = largest.get(key)
        if cur is None or c.gpu_count > cur.gpu_count or (
                c.gpu_count == cur.gpu_count and (c.hourly_usd or math.inf) < (cur.hourly_usd or math.inf)):
            largest[key] = c
    fits: list[_Fit] = []
    for c in largest.values():
        for hosts in range(2, MAX_HOSTS + 1):
            got = _fit(est, work.kind, c, hosts, True, _pcie_tp_limit(source, c))
            if got:
                fits.append(_Fit(c, hosts, *got, hourly=c.hourly_usd * hosts if c.hourly_usd is not None else None,
                                 kind=work.kind, llm=_llm(est, work), tokens_per_s=_tokens(est, work, c, hosts, got[0]),
                                 hours=_hours(work, source, got[0], c, hosts, source_hours)))
                break
    return fits


def _tight_fits(est: MemoryEstimate, work: WorkloadSpec, source: SourceShape, cands: list[Candidate],
                fits: list[_Fit], max_hosts: int, limit: int = 2) -> list[str]:
    """Shapes that hold the estimate only above the headroom (90-100% of usable memory) on fewer GPUs than their GPU
    model needs with headroom and on no more hosts than the first recommendation, when the answer already spans
    hosts: a whole host saved if the job measures smaller than estimated, so they are named, not recommended."""
    fewest: dict[str, int] = {}
    for f in fits:
        fewest[f.cand.gpu_model] = min(fewest.get(f.cand.gpu_model, 10**9), f.gpus)
    largest: dict[tuple[str, str], Candidate] = {}
    for c in cands:
        key = (c.gpu_model, _family(c.machine_type))
        cur = largest.get(key)
        if cur is None or c.gpu_count > cur.gpu_count or (
                c.gpu_count == cur.gpu_count and (c.hourly_usd or math.inf) < (cur.hourly_usd or math.inf)):
            largest[key] = c
    found: list[tuple[float, str]] = []
    for c in largest.values():
        for hosts in range(1, max_hosts + 1):
            got = _fit(est, work.kind, c, hosts, True, _pcie_tp_limit(source, c), headroom=1.0)
            if got is None:
                continue
            if c.gpu_count * hosts < fewest.get(c.gpu_model, 10**9) and \
                    _fit(est, work.kind, c, hosts, True, _pcie_tp_limit(source, c)) is None:
                price = (c.hourly_usd or math.inf) * hosts
                where = f"{hosts} hosts of {c.machine_type}" if hosts > 1 else c.machine_type
                found.append((price, (
                    f"tight fit, not recommended: {where} ({c.gpu_count * hosts} × {c.gpu_model}) would hold "
                    f"{got[2]:,.1f} GiB per GPU as {got[1]}, {got[2] / c.gpu_memory_gib:.0%} of usable, above the "
                    f"{HEADROOM:.0%} this tool keeps free for allocator spikes and other processes"
                    + (f" (${price:,.2f}/h)" if price != math.inf else "")
                    + "; workable only if a trial run measures below the usable memory")))
            break
    return [w for _, w in sorted(found, key=lambda t: t[0])[:limit]]


def recommend(work: WorkloadSpec, source: SourceShape, candidates: Iterable[Candidate], *,
              region: str | None = None, limit: int = 3, source_hours: float | None = None,
              target_hours: tuple[str, float] | None = None, current: str | None = None,
              pricer: Pricer | None = None) -> SizingResult:
    """The estimate, then every shape that holds it, cheapest first, like-for-like always shown when it fits.

    ``target_hours`` = (GPU key, hours per run) the profile states for its own target: candidates with that
    GPU and the source's GPU count use it instead of the throughput assumption.  ``current`` = the machine
    type the profile targets now: shown too when it holds the job, so the two can be compared.  ``pricer``
    = the cost model's price of one run (engine.cost.pricing.price_per_run through the caller).
    """
    cands = list(candidates)
    warnings: list[str] = []
    if region:
        in_region = [c for c in cands if c.region in (None, region)]
        if in_region:
            cands = in_region
        elif cands:
            warnings.append(f"the catalog has no GPU shapes listed for {region}; showing other regions")
    est = estimate_memory(work, source.gpu_memory_gib)
    if source.gpu_model is None:
        warnings.append("source GPU model unknown (no NVML, no AWS instance, no source.gpu_model): "
                        "recommendations use the workload only")
    if source.all_nvlink is None and source.gpu_count > 1:
        warnings.append("the source's NVLink could not be read (NVML refuses NVLink queries while MIG is enabled): "
                        "unknown, not none")
    warnings += [w for w in source_sanity(work, source, est) if w]
    shape = est.shape
    if shape is not None and shape.active_params and shape.active_params > shape.params:
        warnings.append(f"CHECK THE INPUTS: {shape.active_params / 1e9:,.2f}B active parameters per token is more than "
                        f"the model's {shape.params / 1e9:,.2f}B in total (workload.active_params_billions / "
                        "params_billions); a mixture of experts uses a part of its parameters per token")
    # LLM serving engines need compute capability 7.0 or later (vLLM's installation docs: "compute capability
    # 7.0 or higher (e.g., V100, T4, RTX20xx, A100, L4, H100)"): Pascal and older are not offered for them.
    dropped: set[str] = set()
    if work.kind == "inference" and est.shape is not None and est.shape.kind in ("decoder", "encdec"):
        keep = []
        for c in cands:
            spec = gpu_spec(c.gpu_model)
            if spec is not None and float(spec.compute_capability) < 7.0:
                dropped.add(c.gpu_model)
            else:
                keep.append(c)
        cands = keep
    # LoRA / QLoRA run unsharded unless nothing holds them that way; full training and inference may split.
    shard_first = not (work.kind == "training" and work.method != "full")
    fits = _enumerate(est, work, source, cands, source_hours, shard_first, target_hours)
    if not fits and not shard_first:
        fits = _enumerate(est, work, source, cands, source_hours, True, target_hours)
    multi = False
    if est.terms and not any(f.hourly is not None for f in fits):
        more = _enumerate_hosts(est, work, source, cands, source_hours, {f.cand.gpu_model for f in fits})
        multi = bool(more)
        fits += more
    if pricer is not None:
        for f in fits:
            if f.hours is not None:
                one = pricer(f.cand, f.hours)
                f.run_price = one * f.hosts if one is not None else None
    fits = _cheapest_per_shape(fits)
    exact = any(c.gpu_model == source.gpu_model for c in cands)
    lfl = sorted((f for f in fits if f.hosts == 1 and _like_for_like(source, f.cand, exact)),
                 key=lambda f: (f.cand.gpu_model != source.gpu_model, _rank_key(f, source)))
    # Training is spread over the source's GPUs today; so may be a job whose size is not known (a sharded
    # server): fewer GPUs are offered only when the estimate says they hold it.
    want = max(1, source.gpu_count) if work.kind == "training" or not est.terms else 1
    fits.sort(key=lambda f: _rank_key(f, source))  # so that ties below keep the better-ranked shape
    ranked = _ties_by_hour(sorted(_fewest_gpus(fits, want), key=lambda f: _rank_key(f, source)))
    chosen = ranked[:limit]
    src_spec = gpu_spec(source.gpu_model)
    if lfl and not est.terms and src_spec is not None and src_spec.at_least("Ampere"):
        # nothing known about the job and the source GPU is current: the same GPUs first
        chosen = [lfl[0]] + [f for f in chosen if f is not lfl[0]][: limit - 1]
    elif lfl and lfl[0] not in chosen:
        chosen.append(lfl[0])
    mine = [f for f in fits if f.hosts == 1 and f.cand.machine_type == current]
    if mine and not any(f.cand.machine_type == current for f in chosen):
        chosen.append(mine[0])
    src_tps = _source_tokens(est, work, source) if _llm(est, work) else None
    need_known = bool(est.terms) or est.required_per_gpu_gib is not None
    recs = [_explain(i + 1, f, work, source, exact, current, src_tps, need_known) for i, f in enumerate(chosen)]
    if not recs:
        top = max(est.terms, key=lambda t: t.gib) if est.terms else None
        warnings.append(f"no Google Cloud shape in the catalog holds this estimate, even over {MAX_HOSTS} hosts"
                        + (f" (largest term: {top.name}, {top.gib:,.1f} GiB)" if top else ""))
    elif multi and recs[0].hosts > 1:
        warnings.append(f"no single priced machine holds this estimate: {recs[0].hosts} hosts of "
                        f"{recs[0].machine_type} ({interconnect(recs[0].machine_type)})")
        warnings += _tight_fits(est, work, source, cands, fits, recs[0].hosts)
    if source.gpu_count > 1 and source.all_nvlink and recs and not any(
            gcp_nvlink(r.machine_type, r.gpu_count) for r in recs):
        warnings.append(f"the source's {source.gpu_count} GPUs are all on NVLink ({source.topology_label}); no "
                        "recommended shape matches that")
    models = {f.cand.gpu_model for f in chosen} | {source.gpu_model or ""}
    if work.kind == "inference" and _llm(est, work):
        ranking = (f"ranked by on-demand $ per million decode tokens at batch {work.batch_size or 1}: {ASSUMPTION}; "
                   f"token prices within {TOKEN_PRICE_TIE:.0%} of each other are a tie, the cheaper $/h first; "
                   f"tensor parallelism without NVLink offered up to {MAX_PCIE_TENSOR_PARALLEL} GPUs (two all-reduces "
                   "per layer cross PCIe on every step: TensorRT-LLM's 'Deciding Model Sharding Strategy'), or as many "
                   "as the source already runs that way on GPUs of at least its memory class")
    elif work.kind == "inference":
        ranking = "ranked by on-demand $/h: a serving replica is paid by the hour"
    else:
        ranking = ("ranked by price per run: on-demand $/h × the source's hours per run × source ÷ target throughput"
                   if source_hours else "ranked by on-demand $/h per unit of throughput (set "
                   "workload.source_hours_per_run for a price per run)")
        ranking += ("; throughput = the ratio of NVIDIA datasheet peak dense FP16 tensor TFLOPS (V100 = 1: "
                    + ", ".join(f"{k} {v:.2f}" for k, v in RELATIVE_SPEED.items() if k in models)
                    + "; peaks, so real speed-ups are lower and must be measured) × GPUs; assumed losses: × 0.85 for "
                    "several GPUs without NVLink, 0.5 for ZeRO-3 over PCIe; across hosts × 0.9 with GPUDirect RDMA or "
                    "TCPXO (A3 Mega, A3 Ultra, A4), 0.8 with TCPX (A3 High), 0.4 without GPUDirect; the profile's own target hours where it gives them")
        if work.precision in ("fp32", "tf32"):
            # FP16 peaks are the one comparable datasheet figure; an fp32 job's ratio can be far off either way
            ranking += ("; the workload is fp32, which no FP16 tensor path runs: a V100, T4 or P100 runs it on CUDA "
                        "cores, Ampere and later run PyTorch's matmuls in FP32 and its convolutions in TF32 by "
                        "default, so for this job these ratios are an ordering, not its speed-up: measure it")
    if dropped:
        ranking += (f"; not offered for LLM serving (compute capability below 7.0, which vLLM requires): "
                    f"{', '.join(sorted(dropped))}")
    ranking += ("; per GPU model the fewest GPUs that hold the job (training, or a job of unknown size: at least the source's count); full "
                "copies on more GPUs than the source, and shapes without a catalog price, last")
    return SizingResult(workload=work, source=source, estimate=est, recommendations=recs, warnings=warnings,
                        ranking=ranking)


def _price_date(c: Candidate, warnings: list[str]) -> str:
    """" (price as of D)" beside a recommended shape's price, ", STALE" and a warning past the cost model's age limit
    (engine.cost.freshness): the shapes are ranked by these prices, and a year-old one read like today's."""
    from engine.cost.freshness import PRICE_STALE_DAYS, price_age

    if not c.price_as_of:
        return " (price undated)"
    days, stale = price_age(c.price_as_of, "on-demand", None)
    if stale:
        warnings.append(f"the on-demand price is {days if days is not None else 'of unknown'} days old (stale after "
                        f"{PRICE_STALE_DAYS}): `gpumigrate catalog refresh`, or a quoted price, before trusting the "
                        "ranking")
    return f" (price as of {c.price_as_of}{', STALE' if stale else ''})"


def _explain(rank: int, f: _Fit, work: WorkloadSpec, source: SourceShape, exact: bool,
             current: str | None = None, source_tps: float | None = None, need_known: bool = True) -> Recommendation:
    c = f.cand
    gpus = f.gpus
    nvlink = _nvlink(c)
    like = f.hosts == 1 and _like_for_like(source, c, exact)
    price_warnings: list[str] = []
    if need_known:
        parts = [f"{gpus} × {c.gpu_model} ({c.gpu_memory_gib:,.1f} GiB usable each) hold {f.per_gpu:,.1f} GiB per GPU "
                 f"as {f.words} ({f.per_gpu / c.gpu_memory_gib:.0%} of usable)"]
    else:  # "hold 0.0 GiB (0% of usable)" would say it fits; nothing was checked
        parts = [f"{gpus} × {c.gpu_model} ({c.gpu_memory_gib:,.1f} GiB usable each); whether the job fits is not "
                 "known (no model, params_billions or source GPU memory to size it from)"]
    if f.hosts > 1:
        parts.append(f"{f.hosts} hosts of {c.machine_type}, {interconnect(c.machine_type)}")
    if f.hourly is not None:
        parts.append(f"${f.hourly:,.2f}/h on demand{_price_date(c, price_warnings)}")
    else:
        parts.append("no on-demand price in the catalog")
    if f.tokens_per_s:
        per = f.usd_per_mtok
        copies = f.gpus if f.layout == "none" and f.gpus > 1 else 1
        parts.append(f"≈ {f.tokens_per_s:,.0f} decode tokens/s at batch {work.batch_size or 1} (bandwidth model"
                     + (f"; one copy at the stated batch, the other {copies - 1} GPUs idle unless traffic grows"
                        if copies > 1 else "") + ")"
                     + (f" → ${per:,.2f} per million tokens" if per is not None else "")
                     + (f", {f.tokens_per_s / source_tps:.1f}× the source's {source.gpu_count} × {source.gpu_model} "
                        f"(≈ {source_tps:,.0f} tokens/s)" if source_tps else ""))
    if f.hours is not None and f.cost is not None:
        parts.append(f"≈ {f.hours:,.2f} h per run → ${f.cost:,.2f} per run"
                     + (" (cost model)" if f.run_price is not None else ""))
    if like:
        parts.append("like-for-like: same GPU and count as the source" if c.gpu_model == source.gpu_model else
                     f"like-for-like: no {source.gpu_model} among the catalog shapes searched; the {c.gpu_model} is "
                     "within 15% of its usable memory, same GPU count")
    if current and c.machine_type == current:
        parts.append("the profile's current target")
    elif work.kind == "training" and source.gpu_model and source.gpu_model != c.gpu_model:
        a, b = RELATIVE_SPEED.get(source.gpu_model), RELATIVE_SPEED.get(c.gpu_model)
        if a and b:
            ratio = b / a
            parts.append(f"{ratio:.1f}× the {source.gpu_model}'s peak dense FP16 tensor TFLOPS (datasheets; measure "
                         "the real speed-up)" if abs(ratio - 1) > 0.05
                         else f"about the {source.gpu_model}'s peak dense FP16 tensor TFLOPS ({ratio:.2f}×, "
                              "datasheets)")
    if work.precision == "fp32" and source.gpu_model and c.gpu_model != source.gpu_model:
        src_spec, dst_spec = gpu_spec(source.gpu_model), gpu_spec(c.gpu_model)
        if src_spec and dst_spec and not src_spec.at_least("Ampere") and dst_spec.at_least("Ampere"):
            parts.append("fp32 on Ampere and later: PyTorch (since 1.12) runs matmuls in full FP32 unless you opt in "
                         "to TF32 (torch.set_float32_matmul_precision('high')), while cuDNN convolutions and "
                         "TensorFlow use TF32 by default: check the numerics and which one your speed-up assumes")
    if gpus > 1 and nvlink:
        parts.append("NVLink between the GPUs in a host")
    warnings = target_warnings(work, source, c.gpu_model, nvlink, f.layout, gpus) + price_warnings
    if f.tokens_per_s and source_tps and f.tokens_per_s < 0.8 * source_tps:
        need = math.ceil(source_tps / f.tokens_per_s)
        warnings.append(f"decodes at {f.tokens_per_s / source_tps:.1f}× the source's speed: the same traffic needs ≈ "
                        f"{need} of these" + (f" (${f.hourly * need:,.2f}/h)" if f.hourly is not None else ""))
    if work.kind == "training" and f.layout == "none" and gpus > max(1, source.gpu_count) \
            and not source.mig_instance:
        warnings.append(f"{gpus} GPUs where the source has {source.gpu_count}: the price per run assumes the job "
                        "scales out; otherwise you pay for idle GPUs")
    if f.layout in ("zero1", "zero2", "zero3") and source.gpu_count > 1 and source.all_nvlink and not nvlink:
        warnings.append(f"the source's {source.gpu_count} GPUs talk over NVLink; {c.machine_type} has none, so "
                        "gradient all-reduce runs over PCIe")
    if f.hosts > 1 and "GPUDirect" not in interconnect(c.machine_type).replace("no GPUDirect", ""):
        warnings.append(f"{f.hosts} hosts over {interconnect(c.machine_type)}: sharded training across hosts is "
                        "bound by the network; A3 Mega / A3 Ultra / A4 have GPUDirect between hosts")
    if f.per_gpu > 0.85 * c.gpu_memory_gib:
        warnings.append(f"little headroom: {f.per_gpu:,.1f} GiB of {c.gpu_memory_gib:,.1f} GiB usable")
    if c.gpu_model == "T4" and work.kind == "training":
        warnings.append("T4 is an inference GPU: training will be several times slower than on the source"
                        if source.gpu_model and source.gpu_model != "T4" else
                        "T4 is an inference GPU: training on it is several times slower than on a training GPU")
    return Recommendation(rank=rank, machine_type=c.machine_type, gpu_model=c.gpu_model,
                          catalog_gpu_model=c.catalog_gpu_model or c.gpu_model, gpu_count=c.gpu_count, hosts=f.hosts,
                          gpu_memory_gib=c.gpu_memory_gib, region=c.region, hourly_usd=f.hourly,
                          cost_per_run_usd=f.cost if f.hours is not None else None,
                          decode_tokens_per_s=round(f.tokens_per_s, 1) if f.tokens_per_s else None,
                          usd_per_million_tokens=round(f.usd_per_mtok, 4) if f.usd_per_mtok is not None else None,
                          layout=f.words, per_gpu_gib=round(f.per_gpu, 3),
                          sharded=f.layout not in ("none",), like_for_like=like, reason="; ".join(parts),
                          warnings=warnings)
