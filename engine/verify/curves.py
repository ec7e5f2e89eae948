"""Loss curves from CSV (step,loss), JSON lines, TensorBoard event files or run directories.

Each reader returns ``[(step, value), ...]`` sorted by step; a step logged
twice keeps its last value (a resumed run rewrites steps).  NaN and infinity
are kept: a diverged run is data, not a parse error.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from engine.errors import BadInputError
from engine.verify import tfevents

Curve = list[tuple[int, float]]


def read_curve(path: Path, tag: str = "loss") -> Curve:
    """Read any supported format (chosen by content, not by name); a directory is a TensorBoard run."""
    if path.is_dir():
        try:
            scalars = tfevents.read_run(path)
        except tfevents.EventFileError as exc:
            raise BadInputError(f"loss curve {path}: {exc}") from None
        return _tagged(path, scalars, tag)
    if not path.is_file():
        raise BadInputError(f"loss curve {path}: no such file or directory")
    fmt = detect_format(path)
    if fmt == "tensorboard":
        try:
            scalars = tfevents.merge_run([tfevents.read_scalars(path)])
        except tfevents.EventFileError as exc:
            raise BadInputError(f"loss curve {path}: {exc}") from None
        return _tagged(path, scalars, tag)
    if fmt == "jsonl":
        return _tidy(_read_jsonl(path, tag))
    return _tidy(_read_csv(path, tag))


def _tagged(path: Path, scalars: list[tfevents.Scalar], tag: str) -> Curve:
    tags = sorted({s.tag for s in scalars})
    points = [(s.step, s.value) for s in scalars if s.tag == tag]
    if not points:
        raise BadInputError(f"loss curve {path}: no scalar tagged {tag!r} (tags: {', '.join(tags) or 'none'})")
    return _tidy(points)


def detect_format(path: Path) -> str:
    if tfevents.looks_like_event_file(path):
        return "tensorboard"
    with open(path, "rb") as stream:
        head = stream.read(4096)
    if b"\x00" in head:
        raise BadInputError(f"loss curve {path}: binary data that is not a TensorBoard event file")
    text = head.decode("utf-8", "replace").lstrip("\ufeff").lstrip()
    return "jsonl" if text.startswith("{") else "csv"


def _read_jsonl(path: Path, tag: str) -> Curve:
    points: Curve = []
    with open(path, encoding="utf-8") as stream:
        for number, line in enumerate(stream, start=1):
            line = line.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BadInputError(f"{path}:{number}: not JSON ({exc.msg})") from None
            if not isinstance(row, dict) or tag not in row:
                continue  # other records (eval, lr) share the file
            step = row.get("step", row.get("iteration", row.get("global_step")))
            points.append((_step(step, path, number), _value(row[tag], path, number)))
    if not points:
        raise BadInputError(f"{path}: no record with a {tag!r} key")
    return points


def _read_csv(path: Path, tag: str) -> Curve:
    points: Curve = []
    with open(path, encoding="utf-8", newline="") as stream:
        rows = [r for r in csv.reader(stream) if r and any(c.strip() for c in r)]
    if not rows:
        raise BadInputError(f"{path}: empty file")
    header = [c.strip().lower() for c in rows[0]]
    if _is_number(rows[0][0]):
        step_col, value_col, body, first = 0, 1, rows, 1
    else:
        step_col = next((header.index(k) for k in ("step", "iteration", "global_step", "epoch") if k in header), 0)
        if tag.lower() in header:
            value_col = header.index(tag.lower())
        elif len(header) == 2:
            value_col = 1 - step_col
        else:
            raise BadInputError(f"{path}: no {tag!r} column (columns: {', '.join(rows[0])})")
        body, first = rows[1:], 2
    for number, row in enumerate(body, start=first):
        if len(row) <= max(step_col, value_col):
            raise BadInputError(f"{path}:{number}: expected at least {max(step_col, value_col) + 1} columns")
        points.append((_step(row[step_col], path, number), _value(row[value_col], path, number)))
    if not points:
        raise BadInputError(f"{path}: a header but no rows")
    return points


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _step(raw: object, path: Path, line: int) -> int:
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise BadInputError(f"{path}:{line}: step {raw!r} is not a number") from None
    if not math.isfinite(value) or value != int(value):
        raise BadInputError(f"{path}:{line}: step {raw!r} is not a whole number")
    return int(value)


def _value(raw: object, path: Path, line: int) -> float:
    if isinstance(raw, bool) or raw is None:
        raise BadInputError(f"{path}:{line}: value {raw!r} is not a number")
    try:
        return float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise BadInputError(f"{path}:{line}: value {raw!r} is not a number") from None


def _tidy(points: Curve) -> Curve:
    by_step: dict[int, float] = {}
    for step, value in points:
        by_step[step] = value
    return sorted(by_step.items())


def interpolate(curve: Curve, step: int) -> float | None:
    """The curve's value at ``step`` (linear between logged steps); None outside its range."""
    import bisect

    steps = [s for s, _ in curve]
    i = bisect.bisect_left(steps, step)
    if i < len(steps) and steps[i] == step:
        return curve[i][1]
    if i == 0 or i == len(steps):
        return None
    (s0, v0), (s1, v1) = curve[i - 1], curve[i]
    return v0 + (v1 - v0) * (step - s0) / (s1 - s0)


def smooth(curve: Curve, window: int) -> Curve:
    """Centered moving average over ``window`` points (NaN propagates, on purpose)."""
    if window <= 1:
        return list(curve)
    half = window // 2
    values = [v for _, v in curve]
    out: Curve = []
    for i, (step, _) in enumerate(curve):
        chunk = values[max(0, i - half): i + half + 1]
        out.append((step, sum(chunk) / len(chunk)))
    return out


def downsample(curve: Curve, limit: int = 400) -> Curve:
    """At most ``limit`` points, evenly spaced, keeping the first and last."""
    if len(curve) <= limit:
        return list(curve)
    stride = (len(curve) - 1) / (limit - 1)
    return [curve[round(i * stride)] for i in range(limit)]
