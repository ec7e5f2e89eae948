"""Version strings as the driver tables use them: driver versions, CUDA major.minor, wheel tags."""

from __future__ import annotations

import re
from functools import lru_cache

@lru_cache(maxsize=4096)
def vtuple(text: str | None) -> tuple[int, ...]:
    """``"535.104.05"`` -> ``(535, 104, 5)``; the leading number run of any string."""
    if not text:
        return ()
    match = re.search(r"\d+(?:\.\d+)*", str(text))
    return tuple(int(p) for p in match.group(0).split(".")) if match else ()


def major_minor(text: str | None) -> tuple[int, int] | None:
    parts = vtuple(text)
    if not parts:
        return None
    return (parts[0], parts[1] if len(parts) > 1 else 0)


def mm_str(mm: tuple[int, int] | None) -> str:
    return f"{mm[0]}.{mm[1]}" if mm else "?"


def branch_of(driver: str | None) -> int | None:
    """The driver branch (``"535.104.05"`` -> 535; ``"R580"`` -> 580)."""
    parts = vtuple(driver)
    return parts[0] if parts else None


def wheel_cuda(wheel: str) -> tuple[int, int] | None:
    """``"cu126"`` -> ``(12, 6)``; ``"cu118"`` -> ``(11, 8)``."""
    match = re.fullmatch(r"cu(\d{2,3})", wheel or "")
    if not match:
        return None
    digits = match.group(1)
    return (int(digits[:-1]), int(digits[-1]))


def wheel_name(cuda: tuple[int, int]) -> str:
    return f"cu{cuda[0]}{cuda[1]}"


def fmt_driver(version: tuple[int, ...]) -> str:
    return ".".join(str(p) for p in version[:1]) + "".join(f".{p:02d}" if i == 2 else f".{p}"
                                                           for i, p in enumerate(version[1:], start=1))

