"""Reading one number out of a command's output, strictly.

A command that prints nothing usable is an error, never a zero.  Accepted:
a JSON object (on any line, the last one wins) holding the key, or a regular
expression with one group, or a bare number on the last non-empty line.
"""

from __future__ import annotations

import json
import math
import re

from engine.verify.checks.base import CheckError


def number_from_output(stdout: str, key: str | None = None, pattern: str | None = None,
                       transcript: str = "") -> float:
    value: float | None = None
    lines = [line.strip() for line in stdout.splitlines() if line.strip()]
    if pattern:
        matches = re.findall(pattern, stdout)
        if matches:
            value = _to_float(matches[-1])
    else:
        for position, line in enumerate(reversed(lines)):
            if key and line.startswith("{"):
                try:
                    data = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(data, dict) and key in data:
                    value = _to_float(data[key])
                    break
            elif position == 0:
                value = _to_float(line)
                if value is not None:
                    break
    if value is None or not math.isfinite(value) or value < 0:
        want = f"/{pattern}/" if pattern else (f'JSON with "{key}"' if key else "a number")
        raise CheckError(f"the command printed nothing usable (expected {want})", transcript or stdout)
    return value


def _to_float(raw: object) -> float | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, (int, float)):
        return float(raw)
    if isinstance(raw, str):
        try:
            return float(raw.strip())
        except ValueError:
            return None
    return None
