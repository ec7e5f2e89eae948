"""LLM serving speed for ranking: decode tokens per second from memory bandwidth, and the price of a token.

Why a model at all: a serving replica is paid by the hour but bought for the tokens it produces, and two
shapes at the same $/h can differ fourfold in speed.  Decode at the batch sizes a profile states is bound by
memory bandwidth (every step reads all the weights and the whole KV cache once; NVIDIA, "Mastering LLM
Techniques: Inference Optimization"), so one decode step of the replica takes

    step = (weights + KV cache at the full context) / (GPUs in the replica × peak bandwidth × 0.7)
           + 2 × layers × all-reduce latency            (tensor parallelism only: two all-reduces per layer)

and the replica makes ``batch / step`` tokens per second.  The assumptions, stated in the output:
0.7 of the datasheet peak bandwidth is reached; an all-reduce of one decode step's activations costs
10 µs over NVLink, 30 µs over PCIe and 100 µs between hosts (small-message NCCL latency, order of
magnitude).  Prefill (compute-bound) is not modelled; the figure orders shapes, it is not a promise.
"""

from __future__ import annotations

from engine.gpus.names import gpu_spec
from engine.inventory.sizing.types import GIB, MemoryEstimate, WorkloadSpec

BANDWIDTH_EFFICIENCY = 0.7
ALLREDUCE_S = {"nvlink": 10e-6, "pcie": 30e-6, "hosts": 100e-6}

ASSUMPTION = (f"decode speed modelled as memory-bound: step = (weights + KV cache at full context) ÷ (GPUs in the "
              f"replica × datasheet peak bandwidth × {BANDWIDTH_EFFICIENCY:g}) + 2 × layers × all-reduce "
              f"({ALLREDUCE_S['nvlink'] * 1e6:g} µs NVLink, {ALLREDUCE_S['pcie'] * 1e6:g} µs PCIe, "
              f"{ALLREDUCE_S['hosts'] * 1e6:g} µs between hosts) under tensor parallelism; tokens/s = batch ÷ step; "
              "prefill not modelled, so measure before committing")


def decode_tokens_per_s(est: MemoryEstimate, work: WorkloadSpec, gpu_model: str, replica_gpus: int,
                        link: str) -> float | None:
    """Tokens per second one replica decodes, or None when the model is not an LLM or the GPU's bandwidth is
    unknown.  ``replica_gpus``: GPUs the replica is split over (1 unless tensor parallel); ``link``: "nvlink",
    "pcie" or "hosts" (the slowest link the all-reduce crosses)."""
    shape = est.shape
    if work.kind != "inference" or shape is None or shape.kind not in ("decoder", "encdec") or not shape.layers:
        return None
    spec = gpu_spec(gpu_model)
    if spec is None or not spec.memory_bandwidth_gbs:
        return None
    read = (est.components_gib.get("weights", 0.0) + est.components_gib.get("kv_cache", 0.0)) * GIB
    if read <= 0:
        return None
    step = read / (replica_gpus * spec.memory_bandwidth_gbs * 1e9 * BANDWIDTH_EFFICIENCY)
    if replica_gpus > 1:
        step += 2 * shape.layers * ALLREDUCE_S[link]
    return (work.batch_size or 1) / step


def usd_per_million_tokens(hourly_usd: float | None, tokens_per_s: float | None) -> float | None:
    if hourly_usd is None or not tokens_per_s:
        return None
    return hourly_usd / (tokens_per_s * 3600) * 1e6
