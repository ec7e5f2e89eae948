"""The sizing data at its boundaries: what the workload is, what the source has, what a target offers, what comes out."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

GIB = 2**30

Precision = Literal["fp32", "tf32", "fp16", "bf16", "fp8", "int8", "int4"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class WorkloadSpec(_Model):
    """What the GPUs do (the [workload] section's sizing fields); shape fields override the known model's."""

    kind: Literal["training", "inference"] = "training"
    """Training or inference."""
    model: str | None = None
    """A known model name (see engine/inventory/sizing/data/models.csv) or a free label."""
    params_billions: float | None = None
    """Model parameters, in billions (all experts for a mixture of experts)."""
    active_params_billions: float | None = None
    """Parameters used per token (mixture of experts); None = all."""
    layers: int | None = None
    """Transformer layers (encoder + decoder for encoder-decoder models)."""
    hidden_size: int | None = None
    """Model width (d_model)."""
    attention_heads: int | None = None
    """Query heads."""
    kv_heads: int | None = None
    """Key/value heads (fewer than query heads with grouped-query or multi-query attention)."""
    head_dim: int | None = None
    """Per-head width; hidden_size / attention_heads when not set."""
    vocab_size: int | None = None
    """Vocabulary (the logits term)."""
    precision: Precision = "fp32"
    """Training: compute precision (fp16/bf16 = mixed precision). Inference: the serving precision of the weights."""
    batch_size: int | None = None
    """Per-GPU batch (training) or concurrent sequences / images (inference)."""
    seq_len: int | None = None
    """Sequence length (training) or context length, prompt + output (inference)."""
    method: Literal["full", "lora", "qlora"] = "full"
    """Training: every weight, LoRA adapters on frozen weights, or LoRA on 4-bit frozen weights."""
    lora_rank: int = 16
    """LoRA rank r (adapters on the q, k, v and o projections)."""
    double_quant: bool = True
    """QLoRA: the NF4 block scales quantised too (QLoRA paper's double quantisation): 4.127 bits/weight, else 4.5."""
    gradient_checkpointing: bool = False
    """Recompute activations in the backward pass (keeps only each layer's input)."""
    flash_attention: bool = True
    """Attention scores are not stored (FlashAttention / SDPA)."""
    optimizer: Literal["adam", "sgd"] | None = None
    """Adam(W) or SGD with momentum; the known model's usual one when not set."""
    kv_cache_precision: Literal["fp16", "bf16", "fp8", "int8"] | None = None
    """KV cache precision; fp16 (fp8 when serving in fp8) when not set."""
    image_size: int | None = None
    """Image side in pixels (CNN, ViT, diffusion); the model's reference size when not set."""
    activation_mib_per_sample: float | None = None
    """Measured activation memory per sample at the reference size, MiB (overrides the table)."""


class ModelShape(_Model):
    """The model's real shape, from the shipped table and/or the workload's own fields."""

    name: str | None = None
    """The table row used, if any."""
    kind: Literal["decoder", "encoder", "encdec", "cnn", "vit", "diffusion", "unknown"] = "unknown"
    """Architecture family (what the activation and KV formulas apply to)."""
    params: float = 0.0
    """Total parameters."""
    active_params: float | None = None
    """Parameters active per token (mixture of experts)."""
    layers: int | None = None
    hidden: int | None = None
    heads: int | None = None
    kv_heads: int | None = None
    head_dim: int | None = None
    vocab: int | None = None
    act_mib_per_sample: float | None = None
    """Activation MiB per sample at ``act_ref`` pixels (CNN / diffusion)."""
    act_ref: int | None = None
    optimizer: str = "adam"
    tied_embeddings: bool = False
    """Input embedding and output layer share one matrix."""
    source: str = ""
    """Where the row's figures come from."""
    guessed: bool = False
    """Layers and width guessed from the parameter count (no table row, no fields)."""

    @property
    def embedding_params(self) -> float:
        """Parameters in the embedding and output matrices (V × h, twice when untied): quantisers keep these
        in 16 bits (bitsandbytes skips lm_head and nn.Embedding; GPTQ/AWQ quantise only the blocks' linears)."""
        if not (self.vocab and self.hidden) or self.kind not in ("decoder", "encdec", "encoder"):
            return 0.0
        return min(self.params, self.vocab * self.hidden * (1 if self.tied_embeddings else 2))


class SourceShape(_Model):
    """The GPUs the workload uses today."""

    gpu_model: str | None = None
    """Canonical key from the shared matcher, e.g. "V100", "A100 40GB", "H100"."""
    gpu_count: int = 1
    """GPUs per host (1 for a job in one MIG instance)."""
    gpu_memory_gib: float | None = None
    """Memory a job can use per GPU (or per MIG instance), GiB."""
    all_nvlink: bool | None = False
    """Every pair of GPUs is on NVLink; None = unknown (NVML refuses NVLink queries under MIG)."""
    nvswitch: bool = False
    """Through NVSwitch (all-to-all at full bandwidth)."""
    topology_label: str | None = None
    """The weakest GPU-GPU link label seen, e.g. "NV12" or "SYS"."""
    mig_profiles: list[str] = Field(default_factory=list)
    """MIG profiles in use on the source."""
    mig_instance: str | None = None
    """The MIG profile the job is sized against (its memory is gpu_memory_gib)."""
    origin: str = "profile"
    """Where this came from: "nvml", "aws", "catalog" or "profile"."""
    runs_today: bool = False
    """The source demonstrably runs the workload (a scanned host or a named instance)."""


class Candidate(_Model):
    """A Google Cloud GPU machine shape (one catalog row)."""

    machine_type: str
    gpu_model: str
    """Canonical key, e.g. "A100 40GB"."""
    gpu_count: int
    gpu_memory_gib: float
    """Usable memory per GPU, GiB (the recorded NVML total where known)."""
    region: str | None = None
    hourly_usd: float | None = None
    """On-demand $/h for the whole machine, when known."""
    price_as_of: str | None = None
    """That price's date (the catalog row's: embedded as-of or refresh date), said beside it."""
    nvlink: bool | None = None
    """GPUs interconnected by NVLink; None = derive from the machine family."""
    catalog_gpu_model: str | None = None
    """The catalog's own GPU name (e.g. "H100 80GB"), written to the profile on accept."""


class Term(_Model):
    """One part of the memory estimate, with its formula."""

    name: str
    gib: float
    """For one replica on one GPU."""
    formula: str
    split: Literal["replicated", "tensor", "kv", "zero1", "zero2", "zero3"] = "replicated"
    """How it divides across GPUs: tensor parallelism (inference), ZeRO stage that shards it (training)."""


class MemoryEstimate(_Model):
    """How much GPU memory the workload needs, and how that was worked out."""

    rule: str
    """The rules used, in words."""
    lines: list[str] = Field(default_factory=list)
    """The arithmetic, one step a line."""
    terms: list[Term] = Field(default_factory=list)
    components_gib: dict[str, float] = Field(default_factory=dict)
    total_gib: float | None = None
    """Everything on one GPU (no sharding), GiB; None when parameters are unknown."""
    activations_known: bool = False
    required_per_gpu_gib: float | None = None
    """What one GPU must hold without sharding (or the source's memory when nothing better is known)."""
    shape: ModelShape | None = None


class Recommendation(_Model):
    """One recommended target, with its reason."""

    rank: int
    machine_type: str
    gpu_model: str
    catalog_gpu_model: str | None = None
    gpu_count: int
    """GPUs per machine."""
    hosts: int = 1
    """Machines (more than one when nothing fits on one host)."""
    gpu_memory_gib: float
    """Usable per GPU."""
    region: str | None = None
    hourly_usd: float | None = None
    """On-demand $/h for all hosts."""
    cost_per_run_usd: float | None = None
    """hourly × the assumed hours of one run (None when the source hours are unknown)."""
    decode_tokens_per_s: float | None = None
    """LLM serving: decode tokens per second of one replica (memory-bandwidth model, stated in the ranking)."""
    usd_per_million_tokens: float | None = None
    """LLM serving: on-demand $/h ÷ decode tokens per hour × 10⁶ (what the serving shapes are ranked by)."""
    layout: str = "one GPU"
    """e.g. "tensor parallel over 4 GPUs", "ZeRO-3 / FSDP over 8 GPUs"."""
    per_gpu_gib: float | None = None
    """The estimate per GPU in that layout."""
    sharded: bool = False
    """Needs the model state or weights split across GPUs."""
    like_for_like: bool = False
    """Same GPU class and count as the source."""
    reason: str
    warnings: list[str] = Field(default_factory=list)


class SizingResult(_Model):
    """The estimate and the ranked recommendations."""

    workload: WorkloadSpec
    source: SourceShape
    estimate: MemoryEstimate
    recommendations: list[Recommendation] = Field(default_factory=list)
    """Cheapest first, like-for-like appended when it fits and is not among them."""
    warnings: list[str] = Field(default_factory=list)
    ranking: str = ""
    """How the candidates were ranked (and the speed assumption)."""

    @property
    def best(self) -> Recommendation | None:
        return self.recommendations[0] if self.recommendations else None
