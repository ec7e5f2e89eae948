"""The verification checks, one small module each, in the order they run."""

from __future__ import annotations

import importlib
from types import ModuleType

from engine.verify.section import CHECK_NAMES


def load(name: str) -> ModuleType:
    """The check module for ``name`` (one of :data:`CHECK_NAMES`)."""
    if name not in CHECK_NAMES:
        raise KeyError(name)
    return importlib.import_module(f"engine.verify.checks.{name}")


def all_checks() -> list[ModuleType]:
    return [load(name) for name in CHECK_NAMES]
