"""What every ops renderer hands back: a file name, a title, a language and the text.

Screens show ``(title, language, text)`` tuples (``Rendered.as_tuple()``); the
CLI writes ``filename`` under ``--out``; the ``ops`` step lists them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

KINDS: tuple[str, ...] = ("alerts", "prometheus", "grafana", "budget", "spot-watcher", "rollback")
"""The artefact families ``gpumigrate ops --emit`` knows, in display order."""


@dataclass(frozen=True)
class Rendered:
    """One generated file."""

    kind: str
    """Which family (one of :data:`KINDS`)."""
    filename: str
    """A plain relative file name (no folders), used by ``--out``."""
    title: str
    """What a screen shows above it."""
    language: str
    """Syntax for highlighting: json, yaml, bash, ini, markdown."""
    text: str

    def as_tuple(self) -> tuple[str, str, str]:
        return (self.title, self.language, self.text)

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "filename": self.filename, "title": self.title,
                "language": self.language, "text": self.text}


_SAFE_FILENAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def write_all(items: list[Rendered], out_dir: Path) -> list[Path]:
    """Write each artefact under ``out_dir`` (created); scripts get the executable bit."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for item in items:
        if not _SAFE_FILENAME.match(item.filename):
            raise ValueError(f"unsafe artefact file name {item.filename!r}")
        path = out_dir / item.filename
        path.write_text(item.text, encoding="utf-8")
        if item.language == "bash":
            os.chmod(path, 0o755)
        written.append(path)
    return written
