"""GPU memory for a workload: each term with its formula and inputs, and how it divides across GPUs.

Rules (each shown beside the figure it produces):

* Weights at their precision: fp32 4 B, fp16/bf16 2 B, fp8/int8 1 B, int4 4.125 bits (4-bit values
  plus an fp16 scale per group of 128, the GPTQ/AWQ default), QLoRA NF4 4.127 bits with double
  quantisation (QLoRA paper: 8-bit scales per 64 weights + an fp32 scale per 256 scales), 4.5 bits
  without (an fp32 scale per 64 weights).
* Full training with Adam: weights + gradients + optimizer = 16 B/parameter (mixed precision 2 + 2 +
  12 for the fp32 master copy and two moments; fp32 4 + 4 + 8), ZeRO paper (Rajbhandari et al. 2020).
  SGD with momentum: 12 B/parameter.  ZeRO-1/2/3 (FSDP) shard optimizer / + gradients / + weights.
* LoRA / QLoRA: frozen weights at 16 / 4 bits, no gradients for them; adapters r·(d_in + d_out) on
  q, k, v, o in every layer, trained in fp32 with Adam (16 B/parameter).  QLoRA also keeps the input of
  every 4-bit linear layer for the backward pass (bitsandbytes' MatMul4Bit saves its input even though
  the weight is frozen, where a frozen 16-bit nn.Linear does not): 2 B × s × b × (3h + ffn) per layer,
  ffn from the parameter count for a gated (SwiGLU) MLP; one layer's worth under checkpointing.  Fitted
  nothing: checked against LitGPT's measured Llama 2 7B/13B LoRA and QLoRA peaks.
* Transformer activations per layer, 16-bit (Korthikanti et al. 2022): s·b·h·(34 + 5·a·s/h); the
  5·a·s/h attention-score term disappears with flash attention; fp32 doubles it; with activation
  checkpointing only each layer's input (2·s·b·h) is kept plus one layer's working set.  Decoders add
  the logits: 16-bit logits, the fp32 copy Hugging Face models take for the loss, and its gradient,
  10·s·b·V bytes (8 in fp32).
* 4-bit and 8-bit weights: the embedding and output matrices stay 16-bit (bitsandbytes skips lm_head
  and embeddings; GPTQ/AWQ quantise the transformer blocks' linear layers only).
* KV cache (NVIDIA, "Mastering LLM Techniques: Inference Optimization"): 2 × layers × KV heads ×
  head dim × context × batch × bytes.  Grouped-query models have fewer KV heads than query heads.
* Inference runtime buffers (activations, sampling, CUDA graphs): 10% of the weights, an assumption.
* Per GPU: + 0.5 GiB CUDA context; training also + 10% for allocator fragmentation.
"""

from __future__ import annotations

from engine.inventory.sizing.shapes import closest_models, find_model, resolve_shape
from engine.inventory.sizing.types import GIB, MemoryEstimate, ModelShape, Term, WorkloadSpec

WEIGHT_BYTES = {"fp32": 4.0, "tf32": 4.0, "fp16": 2.0, "bf16": 2.0, "fp8": 1.0, "int8": 1.0,
                "int4": 0.5 + 2 / 128}
NF4_BITS = {True: 4.127, False: 4.5}
CONTEXT_GIB = 0.5
FRAGMENTATION = 0.10
INFERENCE_BUFFERS = 0.10


def _g(n: float) -> str:
    return f"{n / GIB:,.2f} GiB"


def _p(n: float) -> str:
    return f"{n / 1e9:,.2f}B" if n >= 1e9 else f"{n / 1e6:,.1f}M"


def _kv_bytes(work: WorkloadSpec) -> float:
    if work.kv_cache_precision in ("fp8", "int8"):
        return 1.0
    if work.kv_cache_precision is None and work.precision == "fp8":
        return 1.0
    return 4.0 if work.precision in ("fp32", "tf32") and work.kv_cache_precision is None else 2.0


def _seq(work: WorkloadSpec, shape: ModelShape) -> int | None:
    if work.seq_len:
        return work.seq_len
    if shape.kind == "vit":
        return (((work.image_size or 224) // 16) ** 2) + 1
    return None


def _image_scale(work: WorkloadSpec, shape: ModelShape) -> tuple[float, str]:
    if work.image_size and shape.act_ref:
        f = (work.image_size / shape.act_ref) ** 2
        return f, f" × ({work.image_size}/{shape.act_ref})²"
    return 1.0, ""


def _activation_terms(work: WorkloadSpec, shape: ModelShape) -> tuple[list[Term], bool, list[str]]:
    """Training activations (+ logits); (terms, known, notes)."""
    fp32 = work.precision in ("fp32", "tf32")
    b = work.batch_size
    if shape.act_mib_per_sample is not None and shape.kind in ("cnn", "diffusion"):
        if not b:
            return [], False, ["activations: set workload.batch_size"]
        scale, scale_text = _image_scale(work, shape)
        half = 1.0 if fp32 else 0.5
        per = shape.act_mib_per_sample * 2**20 * scale * half
        return [Term(name="activations", gib=b * per / GIB, formula=(
            f"b {b} × {shape.act_mib_per_sample:g} MiB/sample at {shape.act_ref} px{scale_text}"
            f"{'' if fp32 else ' × 0.5 (16-bit)'} = {_g(b * per)}"))], True, []
    seq = _seq(work, shape)
    if shape.kind in ("cnn", "diffusion") or not (shape.layers and shape.hidden):
        return [], False, [f"activations: not known for {shape.name or 'this model'} "
                           "(set workload.activation_mib_per_sample, measured at workload.image_size)"]
    if not (seq and b):
        return [], False, ["activations: not estimated (set workload.seq_len and batch_size)"]
    h, layers, a = shape.hidden, shape.layers, shape.heads or max(1, shape.hidden // 128)
    factor = 2 if fp32 else 1
    score = 0.0 if work.flash_attention else 5 * a * seq / h
    per_layer = seq * b * h * (34 + score) * factor
    score_text = "" if work.flash_attention else f" + 5·a {a}·s/h = {score:.1f}"
    terms: list[Term] = []
    if work.gradient_checkpointing:
        kept = 2 * seq * b * h * layers * factor
        terms.append(Term(name="activations", gib=(kept + per_layer) / GIB, formula=(
            f"checkpointed: 2 × s {seq} × b {b} × h {h} × L {layers}{' × 2 (fp32)' if fp32 else ''} "
            f"+ one layer s·b·h·(34{score_text}) = {_g(kept + per_layer)}")))
    else:
        terms.append(Term(name="activations", gib=per_layer * layers / GIB, formula=(
            f"s {seq} × b {b} × h {h} × (34{score_text}) × L {layers}{' × 2 (fp32)' if fp32 else ''}"
            f" = {_g(per_layer * layers)}"
            + ("" if work.flash_attention else " (no flash attention: attention scores stored)"))))
    if shape.kind in ("decoder", "encdec") and shape.vocab:
        per = 8 if fp32 else 10
        logits = per * seq * b * shape.vocab
        what = ("fp32 logits + their gradient" if fp32 else
                "16-bit logits + the fp32 copy taken for the loss + its gradient")
        terms.append(Term(name="logits", gib=logits / GIB,
                          formula=f"{per} B ({what}) × s {seq} × b {b} × V {shape.vocab:,} = {_g(logits)}"))
    return terms, True, []


def _ffn(shape: ModelShape) -> float:
    """MLP width from the parameter count, for a gated MLP (3 matrices of h × ffn per layer)."""
    h, layers = shape.hidden or 0, shape.layers or 1
    kv = (shape.kv_heads or shape.heads or 1) * (shape.head_dim or 128)
    per_layer = (shape.params - shape.embedding_params) / layers
    attn = h * (2 * h + 2 * kv)
    return max(0.0, (per_layer - attn) / (3 * h)) if h else 0.0


def _qlora_saved_inputs(work: WorkloadSpec, shape: ModelShape) -> Term | None:
    if work.method != "qlora" or not (work.seq_len and work.batch_size and shape.hidden and shape.layers):
        return None
    s, b, h, ffn = work.seq_len, work.batch_size, shape.hidden, _ffn(shape)
    layers = 1 if work.gradient_checkpointing else shape.layers
    gib = 2 * s * b * (3 * h + ffn) * layers / GIB
    return Term(name="4-bit matmul inputs", gib=gib, formula=(
        f"2 B × s {s} × b {b} × (3·h {h} + ffn {ffn:,.0f}) × L {layers}"
        + (" (checkpointed: one layer)" if work.gradient_checkpointing else "")
        + f" = {_g(gib * GIB)} (bitsandbytes keeps each 4-bit linear's input for backward)"))


def _adapter_params(work: WorkloadSpec, shape: ModelShape) -> float:
    h = shape.hidden or 0
    kv = (shape.kv_heads or shape.heads or 1) * (shape.head_dim or 128)
    per_layer = work.lora_rank * ((h + h) + (h + kv) + (h + kv) + (h + h))
    return per_layer * (shape.layers or 0)


def _training_terms(work: WorkloadSpec, shape: ModelShape) -> tuple[list[Term], str]:
    p = shape.params
    fp32 = work.precision in ("fp32", "tf32")
    if work.method == "full":
        if shape.optimizer == "sgd":
            w, g, o = (4.0, 4.0, 4.0) if fp32 else (2.0, 2.0, 8.0)
            opt = "SGD with momentum" + ("" if fp32 else " (fp32 master copy + momentum)")
        else:
            w, g, o = (4.0, 4.0, 8.0) if fp32 else (2.0, 2.0, 12.0)
            opt = "Adam" + ("" if fp32 else " (fp32 master copy + two moments)")
        rule = (f"full training, {opt}: {w + g + o:g} B/parameter ({w:g} weights + {g:g} gradients + {o:g} "
                f"optimizer{'; mixed precision' if not fp32 else ''})")
        terms = [Term(name="weights", gib=p * w / GIB, formula=f"{_p(p)} params × {w:g} B = {_g(p * w)}", split="zero3"),
                 Term(name="gradients", gib=p * g / GIB, formula=f"{_p(p)} params × {g:g} B = {_g(p * g)}", split="zero2"),
                 Term(name="optimizer", gib=p * o / GIB, formula=f"{_p(p)} params × {o:g} B = {_g(p * o)}", split="zero1")]
        return terms, rule
    bits = NF4_BITS[work.double_quant]
    frozen_b = bits / 8 if work.method == "qlora" else (4.0 if fp32 else 2.0)
    what = (f"NF4 {bits:g} bits ({'with' if work.double_quant else 'without'} double quantisation)"
            if work.method == "qlora" else f"{frozen_b:g} B")
    emb = shape.embedding_params if work.method == "qlora" else 0.0
    frozen = (p - emb) * frozen_b + emb * 2
    frozen_formula = (f"{_p(p - emb)} params × {frozen_b:.4g} B + {_p(emb)} embedding/output params × 2 B (kept "
                      f"16-bit) = {_g(frozen)}" if emb else f"{_p(p)} params × {frozen_b:.4g} B = {_g(frozen)}")
    ad = _adapter_params(work, shape)
    rule = (f"{'QLoRA' if work.method == 'qlora' else 'LoRA'}: frozen weights at {what}/parameter, no gradients "
            f"or optimizer for them; adapters r={work.lora_rank} on q,k,v,o at 16 B/parameter (fp32 + Adam)")
    terms = [Term(name="frozen weights", gib=frozen / GIB, formula=frozen_formula, split="zero3"),
             Term(name="adapters", gib=ad * 16 / GIB, formula=(
                 f"r {work.lora_rank} × (d_in + d_out) over q,k,v,o × L {shape.layers} = {_p(ad)} params × 16 B "
                 f"= {_g(ad * 16)}"))]
    return terms, rule


def _inference_terms(work: WorkloadSpec, shape: ModelShape) -> tuple[list[Term], bool, str, list[str]]:
    p = shape.params
    wb = WEIGHT_BYTES[work.precision]
    prec = "int4 (4.125 bits with group-128 scales)" if work.precision == "int4" else work.precision
    emb = shape.embedding_params if wb < 2 else 0.0
    weights = (p - emb) * wb + emb * 2
    formula = (f"{_p(p - emb)} params × {wb:.4g} B ({prec}) + {_p(emb)} embedding/output params × 2 B (kept 16-bit) "
               f"= {_g(weights)}" if emb else f"{_p(p)} params × {wb:.4g} B ({prec}) = {_g(weights)}")
    terms = [Term(name="weights", gib=weights / GIB, formula=formula, split="tensor")]
    notes: list[str] = []
    if shape.active_params:
        notes.append(f"mixture of experts: all {_p(p)} parameters are held in memory; {_p(shape.active_params)} "
                     "are used per token (speed, not memory)")
    known = True
    b = work.batch_size
    seq = _seq(work, shape)
    if shape.kind in ("decoder", "encdec") and shape.layers:
        if seq and b:
            kvh, hd, kvb = shape.kv_heads or shape.heads or 1, shape.head_dim or 128, _kv_bytes(work)
            kv = 2 * shape.layers * kvh * hd * seq * b * kvb
            terms.append(Term(name="kv_cache", gib=kv / GIB, split="kv", formula=(
                f"2 × L {shape.layers} × KV heads {kvh} × head dim {hd} × context {seq:,} × batch {b} × "
                f"{kvb:g} B = {_g(kv)}")))
        else:
            known = False
            notes.append("KV cache: not estimated (set workload.seq_len as the context and batch_size)")
    elif shape.act_mib_per_sample is not None and shape.kind in ("cnn", "diffusion"):
        if b:
            scale, scale_text = _image_scale(work, shape)
            fp32 = work.precision in ("fp32", "tf32")
            per = shape.act_mib_per_sample * 2**20 * scale * (2.0 if fp32 and shape.kind == "diffusion" else 1.0)
            if shape.kind == "cnn":
                per = per / 3 * (1.0 if fp32 else 0.5)
            terms.append(Term(name="activations", gib=b * per / GIB, formula=(
                f"b {b} × {shape.act_mib_per_sample:g} MiB/sample at {shape.act_ref} px{scale_text}"
                + (" ÷ 3 (forward only, nothing kept for a backward pass; an assumption)" if shape.kind == "cnn"
                   else (" × 2 (fp32)" if per > shape.act_mib_per_sample * 2**20 * scale else ""))
                + f" = {_g(b * per)}")))
        else:
            known = False
            notes.append("activations: set workload.batch_size")
    buffers = INFERENCE_BUFFERS * weights
    terms.append(Term(name="runtime buffers", gib=buffers / GIB, split="tensor",
                      formula=f"{INFERENCE_BUFFERS:.0%} × weights (activations, sampling, CUDA graphs) = {_g(buffers)}"))
    rule = (f"inference at {prec}: weights + KV cache from the KV heads + {INFERENCE_BUFFERS:.0%} runtime buffers; "
            "weights and KV cache split across GPUs by tensor parallelism")
    return terms, known, rule, notes


def estimate_memory(work: WorkloadSpec, source_memory_gib: float | None = None) -> MemoryEstimate:
    """Every term for one replica, with the arithmetic; the single-GPU need in ``required_per_gpu_gib``."""
    shape = resolve_shape(work)
    if shape is None:
        lines = ["set workload.model (a known model) or workload.params_billions for an estimate"]
        if work.model and find_model(work.model) is None:
            near = closest_models(work.model)
            lines.append(f"workload.model {work.model!r} is not in the shipped model table"
                         + (f" (closest: {', '.join(near)})" if near else "")
                         + "; give its params_billions, layers, hidden_size, attention_heads and kv_heads")
        if source_memory_gib:
            lines.append(f"the job fits today in {source_memory_gib:g} GiB per GPU on the source; "
                         "a target GPU with at least that much keeps the same batch size")
        return MemoryEstimate(rule="no estimate: the model is not known and params_billions is not set",
                              lines=lines, required_per_gpu_gib=source_memory_gib)
    lines: list[str] = []
    if shape.name:
        lines.append(f"model {shape.name}: {_p(shape.params)} params"
                     + (f", L {shape.layers}, h {shape.hidden}, heads {shape.heads}, KV heads {shape.kv_heads}"
                        if shape.layers else "") + f" ({shape.source})")
    elif shape.guessed:
        lines.append(f"shape guessed from the parameter count: L {shape.layers}, h {shape.hidden} (P ≈ 12·L·h², "
                     "h ≈ 128·L suits decoders only; set workload.model or layers / hidden_size / kv_heads)")
    if work.kind == "training":
        terms, rule = _training_terms(work, shape)
        acts, known, notes = _activation_terms(work, shape)
        terms += acts
        saved = _qlora_saved_inputs(work, shape) if known else None
        if saved is not None:
            terms.append(saved)
        if shape.kind in ("cnn", "diffusion"):  # no transformer formula: a per-sample figure, or nothing
            if shape.act_mib_per_sample is not None:
                rule += ("; activations = batch × MiB per sample at a reference image size, scaled by image area "
                         "(checkpointing and flash attention not modelled)")
        elif shape.layers and shape.hidden:
            rule += "; activations per Korthikanti et al. 2022" + (" with flash attention" if work.flash_attention
                                                                    else "")
            if work.gradient_checkpointing:
                rule += " and activation checkpointing"
    else:
        terms, known, rule, notes = _inference_terms(work, shape)
    for t in terms:
        lines.append(f"{t.name:<15}= {t.formula}")
    lines.extend(notes)
    single = per_gpu_gib(terms, work.kind, 1, "none")
    lines.append(f"on one GPU      = {single:,.2f} GiB (terms + {CONTEXT_GIB:g} GiB CUDA context"
                 + (f", + {FRAGMENTATION:.0%} allocator fragmentation)" if work.kind == "training" else ")"))
    required = single
    if not known and work.kind == "training" and source_memory_gib and source_memory_gib > required:
        lines.append(f"required per GPU = max({required:,.2f}, {source_memory_gib:g} GiB the job fits in today) = "
                     f"{source_memory_gib:g} GiB (activations unknown: keep at least the source's memory)")
        required = source_memory_gib
    comps: dict[str, float] = {}
    for t in terms:
        comps[t.name] = round(comps.get(t.name, 0.0) + t.gib, 3)
    return MemoryEstimate(rule=rule, lines=lines, terms=terms, components_gib=comps, total_gib=round(single, 3),
                          activations_known=known, required_per_gpu_gib=round(required, 3), shape=shape)


ZERO_SPLITS = {"none": set(), "zero1": {"zero1"}, "zero2": {"zero1", "zero2"}, "zero3": {"zero1", "zero2", "zero3"}}


def per_gpu_gib(terms: list[Term], kind: str, gpus: int, layout: str, kv_heads: int | None = None) -> float:
    """GiB one GPU holds when the replica is spread over ``gpus`` (tensor parallel or a ZeRO stage)."""
    total = 0.0
    for t in terms:
        share = t.gib
        if gpus > 1:
            if kind == "inference" and t.split == "tensor":
                share = t.gib / gpus
            elif kind == "inference" and t.split == "kv":
                share = t.gib / min(gpus, kv_heads or gpus)
            elif kind == "training" and t.split in ZERO_SPLITS.get(layout, set()):
                share = t.gib / gpus
        total += share
    if kind == "training":
        total *= 1 + FRAGMENTATION
    return total + CONTEXT_GIB


def layouts(est: MemoryEstimate, kind: str, gpus: int, shard: bool = True) -> list[tuple[str, str, float]]:
    """(layout key, words, GiB per GPU) in order of preference for ``gpus`` GPUs; ``shard`` allows splitting."""
    kvh = est.shape.kv_heads if est.shape else None
    if gpus == 1:
        return [("none", "one GPU", per_gpu_gib(est.terms, kind, 1, "none"))]
    if kind == "inference":
        out = [("none", f"a full copy on each of {gpus} GPUs (data parallel)", per_gpu_gib(est.terms, kind, 1, "none"))]
        if shard:
            out.append(("tensor", f"tensor parallel over {gpus} GPUs (weights and KV cache split)",
                        per_gpu_gib(est.terms, kind, gpus, "tensor", kvh)))
        return out
    out = [("none", f"data parallel on {gpus} GPUs (a full copy each)", per_gpu_gib(est.terms, kind, gpus, "none"))]
    if shard:
        out += [("zero1", f"ZeRO-1 over {gpus} GPUs (optimizer state sharded)",
                 per_gpu_gib(est.terms, kind, gpus, "zero1")),
                ("zero2", f"ZeRO-2 over {gpus} GPUs (optimizer + gradients sharded)",
                 per_gpu_gib(est.terms, kind, gpus, "zero2")),
                ("zero3", f"ZeRO-3 / FSDP over {gpus} GPUs (weights, gradients, optimizer sharded)",
                 per_gpu_gib(est.terms, kind, gpus, "zero3"))]
    return out


def largest_term(est: MemoryEstimate) -> Term | None:
    return max(est.terms, key=lambda t: t.gib) if est.terms else None
