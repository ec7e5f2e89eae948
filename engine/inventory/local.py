"""Local directories: file count, total bytes, largest files (symlinks are not followed)."""

from __future__ import annotations

import heapq
import os
import threading
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from engine.errors import Interrupted
from engine.events import Emit, Progress, discard


class DirSize(BaseModel):
    """What one directory holds."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    path: str
    """The directory as the profile names it."""
    resolved: str
    """Its absolute path."""
    exists: bool = True
    """False when the directory is missing."""
    files: int = 0
    """Regular files under it (recursively)."""
    bytes: int = 0
    """Their total size."""
    dirs: int = 0
    """Subdirectories."""
    largest: list[tuple[str, int]] = Field(default_factory=list)
    """The largest files (relative path, bytes), biggest first."""
    skipped: list[str] = Field(default_factory=list)
    """Entries that could not be read (permission denied ...)."""


def size_dir(path: str, base: Path | None = None, *, keep_largest: int = 10, emit: Emit = discard,
             step: str = "inventory", cancel: threading.Event | None = None, progress_every: int = 2000) -> DirSize:
    """Walk ``path`` (relative to ``base``) with os.scandir; never follows symlinks."""
    root = Path(path).expanduser()
    if not root.is_absolute() and base is not None:
        root = base / root
    result = DirSize(path=path, resolved=str(root.resolve()))
    if not root.is_dir():
        result.exists = False
        return result
    heap: list[tuple[int, str]] = []
    stack = [root]
    while stack:
        if cancel is not None and cancel.is_set():
            raise Interrupted("inventory interrupted; run it again")
        current = stack.pop()
        try:
            entries = list(os.scandir(current))
        except OSError as exc:
            result.skipped.append(f"{current}: {exc.strerror or exc}")
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    result.dirs += 1
                    stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    size = entry.stat(follow_symlinks=False).st_size
                    result.files += 1
                    result.bytes += size
                    rel = os.path.relpath(entry.path, root)
                    if len(heap) < keep_largest:
                        heapq.heappush(heap, (size, rel))
                    elif size > heap[0][0]:
                        heapq.heapreplace(heap, (size, rel))
                    if result.files % progress_every == 0:
                        emit(Progress(step, done=result.files, unit="files", label=f"files in {path}",
                                      extra={"bytes": result.bytes}))
            except OSError as exc:
                result.skipped.append(f"{entry.path}: {exc.strerror or exc}")
    result.largest = [(rel, size) for size, rel in sorted(heap, key=lambda t: (-t[0], t[1]))]
    return result
