"""Planning as a streaming merge of two byte-ordered listings (flat memory at any size).

:func:`diff` walks the source and destination listings side by side and yields one
:class:`Action` per path as soon as it is decided, so copying starts before listing
ends.  The rules follow ``gsutil rsync``: ``-x`` regexes (``re.match`` on the relative
path, as gsutil does) exclude a path from copying *and* deleting; by default an object
is copied when sizes differ or modification times differ; with ``checksum`` when the
checksums differ (``check`` actions are resolved by a worker that may have to read).
Keys that are unsafe to write under a local destination, and keys that collide with a
"directory" of the same name there, are refused and reported, never written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Iterator

from engine.transfer.backends.base import ObjectInfo

MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 4000


@dataclass(slots=True)
class Action:
    """One decision of the plan."""

    kind: str
    """copy | check | skip | delete | refused | conflict | excluded"""
    path: str
    src: ObjectInfo | None = None
    dst: ObjectInfo | None = None
    reason: str = ""

    @property
    def size(self) -> int:
        return self.src.size if self.src is not None else (self.dst.size if self.dst is not None else 0)


def unsafe_local_key(path: str) -> str | None:
    """Why ``path`` must not be written under a local directory, or None when it is safe."""
    if "\x00" in path:
        return "contains a NUL byte"
    if path.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", path):
        return "is an absolute path"
    if "\\" in path:
        return "contains a backslash (a path separator on some systems)"
    try:
        encoded = path.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid UTF-8"
    if len(encoded) > MAX_PATH_BYTES:
        return f"is longer than {MAX_PATH_BYTES} bytes"
    for part in path.split("/"):
        if part in ("", ".", ".."):
            return "has an empty, '.' or '..' path component (it would escape or alias the destination)"
        if len(part.encode("utf-8")) > MAX_NAME_BYTES:
            return f"has a name longer than {MAX_NAME_BYTES} bytes"
    return None


def compare(src: ObjectInfo, dst: ObjectInfo, checksum: bool) -> tuple[str, str]:
    """("copy"|"skip"|"check", reason) for a path both sides have."""
    if src.size != dst.size:
        return "copy", f"size {dst.size} -> {src.size}"
    if checksum:
        if src.crc32c and dst.crc32c:
            return ("skip", "same crc32c") if src.crc32c == dst.crc32c else ("copy", "crc32c differs")
        if src.md5 and dst.md5:
            return ("skip", "same md5") if src.md5 == dst.md5 else ("copy", "md5 differs")
        return "check", "checksums to compute"
    if dst.mtime_preserved:
        if int(src.mtime) == int(dst.mtime):
            return "skip", "same size and mtime"
        return "copy", "mtime differs"
    # the destination only knows when it was written: up to date if written after the source changed
    if dst.mtime >= int(src.mtime):
        return "skip", "same size, destination newer"
    return "copy", "source newer"


class _ConflictTracker:
    """Finds keys that sit inside a "directory" named like an earlier key ("a" then "a/b")."""

    def __init__(self) -> None:
        self._stack: list[str] = []

    def check(self, path: str) -> str | None:
        while self._stack and not path.startswith(self._stack[-1]):
            self._stack.pop()
        hit = None
        for earlier in self._stack:
            if len(path) > len(earlier) and path[len(earlier)] == "/":
                hit = earlier
                break
        self._stack.append(path)
        return hit


def diff(src: Iterable[ObjectInfo], dst: Iterable[ObjectInfo], *, checksum: bool = False,
         delete: bool = False, exclude: list[str] | None = None, local_dst: bool = False) -> Iterator[Action]:
    """Merge two byte-ordered listings into actions (streaming)."""
    patterns = [re.compile(p) for p in (exclude or [])]
    conflicts = _ConflictTracker() if local_dst else None
    sentinel = None
    si, di = iter(src), iter(dst)
    s = next(si, sentinel)
    d = next(di, sentinel)

    def excluded(path: str) -> bool:
        return any(p.match(path) for p in patterns)

    while s is not None or d is not None:
        if d is None or (s is not None and s.path < d.path):
            cur_s, cur_d = s, None
            s = next(si, sentinel)
        elif s is None or d.path < s.path:
            cur_s, cur_d = None, d
            d = next(di, sentinel)
        else:
            cur_s, cur_d = s, d
            s = next(si, sentinel)
            d = next(di, sentinel)
        path = (cur_s or cur_d).path  # type: ignore[union-attr]
        if patterns and excluded(path):
            yield Action("excluded", path, cur_s, cur_d, "matches -x")
            continue
        if cur_s is None:
            if delete:
                yield Action("delete", path, None, cur_d, "not in source")
            continue
        if local_dst:
            if path.endswith("/") and cur_s.size == 0:
                yield Action("skip", path, cur_s, cur_d, "directory marker")
                continue
            why = unsafe_local_key(path)
            if why:
                yield Action("refused", path, cur_s, cur_d, f"key {why}")
                continue
            assert conflicts is not None
            other = conflicts.check(path)
            if other is not None:
                yield Action("conflict", path, cur_s, cur_d,
                             f"object {other!r} and a directory of the same name ({path!r}) both exist in the source")
                continue
        if cur_d is None:
            yield Action("copy", path, cur_s, None, "new")
            continue
        kind, reason = compare(cur_s, cur_d, checksum)
        yield Action(kind, path, cur_s, cur_d, reason)
