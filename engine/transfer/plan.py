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
from engine.transfer.compare import compare

__all__ = ["Action", "compare", "diff", "is_placeholder", "unsafe_cloud_key", "unsafe_local_key"]

MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 4000


@dataclass(slots=True)
class Action:
    """One decision of the plan."""

    kind: str
    """copy | check | skip | delete | kept | refused | conflict | excluded | error | notcopied

    ``error``: a source (or destination) entry that could not be listed or stat'ed (a failure;
    no deletion runs after one).  ``notcopied``: a source entry deliberately not copied (a
    symlink skipped, a loop, not a regular file); its destination object is kept."""
    path: str
    src: ObjectInfo | None = None
    dst: ObjectInfo | None = None
    reason: str = ""

    @property
    def size(self) -> int:
        return self.src.size if self.src is not None else (self.dst.size if self.dst is not None else 0)


CLOUD_KEY_MAX_BYTES = 1024
"""The longest object name S3 and GCS accept, in UTF-8 bytes."""


def is_placeholder(info: ObjectInfo) -> bool:
    """A "folder" placeholder (``dir/`` of zero bytes, ``dir_$folder$``) written by consoles and
    older tools: never copied, deleted or counted, as gsutil rsync treats them."""
    if info.problem:
        return False
    return (info.path.endswith("/") and info.size == 0) or info.path.endswith("_$folder$")


def unsafe_cloud_key(path: str, scheme: str) -> str | None:
    """Why ``path`` cannot be an object name in an S3 or GCS bucket, or None when it can."""
    try:
        encoded = path.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid UTF-8 (object names are UTF-8)"
    if len(encoded) > CLOUD_KEY_MAX_BYTES:
        return f"is longer than {CLOUD_KEY_MAX_BYTES} bytes"
    if scheme == "gs":
        if "\r" in path or "\n" in path:
            return "contains a carriage return or line feed (GCS refuses them)"
        if path.startswith(".well-known/acme-challenge/"):
            return "starts with .well-known/acme-challenge/ (GCS refuses it)"
    if path in (".", ".."):
        return "is '.' or '..'"
    return None


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


def without_placeholders(listing: Iterable[ObjectInfo]) -> Iterator[ObjectInfo]:
    """The listing without folder placeholders (see :func:`is_placeholder`): they are not
    objects, so they are not counted by the delete guards either."""
    for info in listing:
        if not is_placeholder(info):
            yield info


def diff(src: Iterable[ObjectInfo], dst: Iterable[ObjectInfo], *, checksum: bool = False,
         delete: bool = False, exclude: list[str] | None = None, local_dst: bool = False,
         dst_scheme: str = "", both_cloud: bool = False, keep_below_problems: bool = True) -> Iterator[Action]:
    """Merge two byte-ordered listings into actions (streaming).

    Entries the listings report as problems (``ObjectInfo.problem``) become ``error`` or
    ``notcopied`` actions for their path, so the destination's object there is never deleted,
    nor any object below it: a broken link or a skipped link may stand for a whole folder
    (an unmounted volume) whose earlier copy is ``name/...`` at the destination.
    ``keep_below_problems=False``: those are planned deletions too (what Storage Transfer Service,
    which knows nothing of this rule, would delete: the list a second person approves for it)."""
    local_dst = local_dst or dst_scheme == "file"
    patterns = [re.compile(p) for p in (exclude or [])]
    conflicts = _ConflictTracker() if local_dst else None
    sentinel = None
    si, di = without_placeholders(src), without_placeholders(dst)
    s = next(si, sentinel)
    d = next(di, sentinel)

    def excluded(path: str) -> bool:
        return any(p.match(path) for p in patterns)

    kept: list[str] = []  # "name/" of source entries listed but not copied: what is below them stays

    def below_kept(path: str) -> bool:
        # Both listings are in byte order, so a prefix whose range this path has passed is done.
        kept[:] = [k for k in kept if path[:len(k)] <= k]
        return any(path.startswith(k) for k in kept)

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
        if cur_s is not None and cur_s.problem:
            if keep_below_problems:
                kept.append(path if path.endswith("/") else path + "/")
            yield Action("error" if cur_s.problem_is_error else "notcopied", path, cur_s, cur_d, cur_s.problem)
            continue
        if cur_d is not None and cur_d.problem:
            if cur_d.problem_is_error:
                yield Action("error", path, cur_s, cur_d, f"destination entry: {cur_d.problem}")
                continue
            cur_d = None  # a destination link or special file: a copy replaces it; never deleted
            if cur_s is None:
                continue
        if cur_s is None:
            if delete and not (kept and below_kept(path)):
                link = cur_d.extra.get("via_link") if cur_d.extra else None  # type: ignore[union-attr]
                if link:  # a local destination's folder link: where it leads is not the destination's
                    yield Action("kept", path, None, cur_d, f"not deleted: below the destination's link {link}/")
                else:
                    yield Action("delete", path, None, cur_d, "not in source")
            continue
        if dst_scheme in ("s3", "gs"):
            why = unsafe_cloud_key(path, dst_scheme)
            if why:
                yield Action("refused", path, cur_s, cur_d, f"invalid name: key {why}")
                continue
        if local_dst:
            why = unsafe_local_key(path)
            if why:
                yield Action("refused", path, cur_s, cur_d, f"invalid name: key {why}")
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
        kind, reason = compare(cur_s, cur_d, checksum, both_cloud)
        yield Action(kind, path, cur_s, cur_d, reason)
