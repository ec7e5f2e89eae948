"""Regenerate the demo's verification inputs (deterministic; run from the repository root).

    .venv/bin/python profiles/demo/verify/make_demo_files.py

Writes, beside this file:
- loss_source.csv: the source (V100) run's loss curve, step,loss every 10 steps;
- loss_target.tfevents: the target (A100) run of the same training, as a TensorBoard event file;
- manifest_source.jsonl / manifest_target.jsonl: the demo data set's manifests in the
  `gpumigrate transfer --verify-only` format (the target side, like a GCS listing, has crc32c only).
"""
import hashlib
import json
import math
import random
import sys
from pathlib import Path

import google_crc32c

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent.parent))
from engine.verify.tfevents import write_scalars  # noqa: E402


def curve(seed: int) -> list[tuple[int, float]]:
    rng = random.Random(seed)
    return [(step, round(0.3 + 2.2 * math.exp(-step / 300) + rng.gauss(0, 0.004), 5)) for step in range(0, 1001, 10)]


def manifest(root: Path, target_side: bool) -> str:
    lines = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        entry = {"path": path.relative_to(root).as_posix(), "size": len(data),
                 "crc32c": f"{google_crc32c.value(data):08x}",
                 "md5": None if target_side else hashlib.md5(data).hexdigest(),
                 "sha256": None if target_side else hashlib.sha256(data).hexdigest()}
        lines.append(json.dumps(entry, ensure_ascii=False))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    (HERE / "loss_source.csv").write_text("step,loss\n" + "".join(f"{s},{v}\n" for s, v in curve(1)))
    write_scalars(HERE / "loss_target.tfevents", curve(2), tag="loss")
    data = HERE.parent / "data"
    (HERE / "manifest_source.jsonl").write_text(manifest(data, False), encoding="utf-8")
    (HERE / "manifest_target.jsonl").write_text(manifest(data, True), encoding="utf-8")
