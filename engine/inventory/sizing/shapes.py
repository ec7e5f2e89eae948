"""The model's real shape: a shipped table of common models (source per row), or the workload's own fields.

Layers, width, heads and KV heads decide activation and KV-cache memory; guessing them from the
parameter count suits decoders only (BERT-large would come out 12 × 1536 instead of 24 × 1024), so the
guess is the last resort and says so.
"""

from __future__ import annotations

import csv
import difflib
import math
import re
from functools import lru_cache
from importlib import resources

from engine.inventory.sizing.types import ModelShape, WorkloadSpec


def _key(name: str) -> str:
    """"ResNet-50 (100 epochs)" -> "resnet50"; "meta-llama/Llama-2-70b-hf" -> "llama270bhf"."""
    name = re.sub(r"\(.*?\)", "", name.split("/")[-1])
    return re.sub(r"[^a-z0-9.]", "", name.lower()).replace(".", "")


def _num(text: str, kind: type = float) -> float | int | None:
    return kind(text) if text.strip() else None


@lru_cache(maxsize=1)
def known_models() -> dict[str, ModelShape]:
    """Every table row, by its name."""
    text = resources.files("engine.inventory.sizing").joinpath("data", "models.csv").read_text(encoding="utf-8")
    out: dict[str, ModelShape] = {}
    for row in csv.DictReader(text.splitlines()):
        active = _num(row["active_params_b"])
        out[row["name"]] = ModelShape(
            name=row["name"], kind=row["kind"], params=float(row["params_b"]) * 1e9,  # type: ignore[arg-type]
            active_params=active * 1e9 if active else None, layers=_num(row["layers"], int),  # type: ignore[arg-type]
            hidden=_num(row["hidden"], int), heads=_num(row["heads"], int),  # type: ignore[arg-type]
            kv_heads=_num(row["kv_heads"], int), head_dim=_num(row["head_dim"], int),  # type: ignore[arg-type]
            vocab=_num(row["vocab"], int), act_mib_per_sample=_num(row["act_mib_per_sample"]),  # type: ignore[arg-type]
            act_ref=_num(row["act_ref"], int), optimizer=row["optimizer"] or "adam",  # type: ignore[arg-type]
            tied_embeddings=row.get("tied_embeddings") == "yes", source=row["source"])
    return out


@lru_cache(maxsize=1)
def _aliases() -> dict[str, str]:
    out: dict[str, str] = {}
    for name in known_models():
        out[_key(name)] = name
    text = resources.files("engine.inventory.sizing").joinpath("data", "models.csv").read_text(encoding="utf-8")
    for row in csv.DictReader(text.splitlines()):
        for alias in filter(None, row["aliases"].split(";")):
            out[_key(alias)] = row["name"]
    return out


def find_model(name: str | None) -> ModelShape | None:
    """The table row for a model name or alias ("Llama-2-70B", "meta-llama/Llama-2-70b-hf", "resnet50")."""
    if not name:
        return None
    key = _key(name)
    hit = _aliases().get(key)
    if hit is None and key.endswith("hf"):
        hit = _aliases().get(key[:-2])
    return known_models()[hit] if hit else None


def closest_models(name: str, n: int = 3) -> list[str]:
    """Table names that look like ``name`` (for "not in the table: did you mean ...")."""
    keys = _aliases()
    hits = difflib.get_close_matches(_key(name), list(keys), n=n * 3, cutoff=0.6)
    return list(dict.fromkeys(keys[h] for h in hits))[:n]


def _guess_dims(params: float) -> tuple[int, int]:
    """(layers, hidden) from P ≈ 12·L·h² with the decoder aspect h ≈ 128·L."""
    layers = max(1, round((params / (12 * 128**2)) ** (1 / 3)))
    hidden = max(64, int(math.sqrt(params / (12 * layers))))
    return layers, hidden


def resolve_shape(work: WorkloadSpec) -> ModelShape | None:
    """The shape to size with: the table row for ``work.model``, overridden field by field; None without params."""
    base = find_model(work.model)
    params = work.params_billions * 1e9 if work.params_billions else (base.params if base else None)
    if params is None:
        return None
    shape = base.model_copy() if base else ModelShape(kind="unknown", params=params)
    shape.params = params
    if work.active_params_billions:
        shape.active_params = work.active_params_billions * 1e9
    for attr, field in (("layers", "layers"), ("hidden", "hidden_size"), ("heads", "attention_heads"),
                        ("kv_heads", "kv_heads"), ("head_dim", "head_dim"), ("vocab", "vocab_size")):
        value = getattr(work, field)
        if value is not None:
            setattr(shape, attr, value)
    if work.activation_mib_per_sample is not None:
        shape.act_mib_per_sample = work.activation_mib_per_sample
        shape.act_ref = work.image_size or shape.act_ref
    if work.optimizer:
        shape.optimizer = work.optimizer
    if base is None and (shape.layers or shape.hidden):
        shape.kind = "decoder"  # fields given directly: the transformer formulas apply
    if shape.kind in ("unknown",) and shape.layers is None and shape.act_mib_per_sample is None:
        shape.layers, shape.hidden = _guess_dims(params)
        shape.guessed = True
        shape.kind = "decoder"
    if shape.layers and not shape.hidden:
        shape.hidden = int(math.sqrt(params / (12 * shape.layers)))
    if shape.hidden and shape.layers and not shape.heads:
        shape.heads = max(1, shape.hidden // 128)
    if shape.heads and not shape.kv_heads:
        shape.kv_heads = shape.heads
    if shape.hidden and shape.heads and not shape.head_dim:
        shape.head_dim = shape.hidden // shape.heads
    return shape
