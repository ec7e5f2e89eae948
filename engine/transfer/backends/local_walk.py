"""The listing of a local tree: a byte-ordered walk that reports what it cannot list.

Rules (README "semantics"):

* A folder that cannot be read, or an entry that cannot be stat'ed, is listed as a
  *problem entry* (``ObjectInfo.problem``, an error): the transfer reports it as a failure
  and runs no deletion (rclone's rule: no deletes after any listing error).  Nothing is
  swallowed: a listing that silently shrinks is how ``-d`` deletes data.
* Symbolic links are followed, to files and to folders (``gcloud storage rsync
  --no-ignore-symlinks``); a folder link that leads back to one of its own ancestors (same
  device and inode) is a loop, reported and not entered.  With ``follow_symlinks=False``
  links are not copied and each is reported ("symlink skipped").
* A broken link (its target is gone: an unmounted volume) is an error, or with
  ``skip_broken_symlinks`` a notice; either way its path is listed, so the destination's
  object of that name is never deleted.
* A folder that is the destination itself (a local destination reached through a link: to
  it, or to a folder above it) is reported and not entered: copied, each run would nest
  the destination once more inside itself.
* Sockets, FIFOs and devices are reported as "not a regular file" (notices).
* Without ``recursive`` each sub-folder is a notice ("folder not copied"), as gsutil copies only
  the top level then, but a user must see that the tree was not copied whole.

Folders sort as ``name/`` so the walk yields keys in the same global byte order as an
S3 or GCS listing (the planner merges the two as streams).
"""

from __future__ import annotations

import os
import stat as st
from dataclasses import dataclass
from typing import Callable, Iterator

from engine.transfer.backends.base import NOT_RECURSIVE, TMP_MARK, ObjectInfo


@dataclass(frozen=True)
class WalkRules:
    """How the walk treats links (from the transfer's options)."""

    follow_symlinks: bool = True
    skip_broken_symlinks: bool = False
    avoid: str | None = None
    """A local destination's root: never entered, wherever a link leads into it."""


def copy_rules(follow_symlinks: bool, skip_broken_symlinks: bool,
               local_dst: str | None) -> tuple[WalkRules, WalkRules]:
    """The walk rules of a transfer's source and destination (``local_dst``: a local
    destination's root, never entered from the source). One place, so that ``--verify-only``
    walks exactly the trees a copy walks: with other rules it called a link the copy skips
    "missing" (exit 1), or followed a link into the destination."""
    src = WalkRules(follow_symlinks=follow_symlinks, skip_broken_symlinks=skip_broken_symlinks, avoid=local_dst)
    # A destination's links are followed where they lead; a broken one is replaced by a copy
    # and never deleted (a notice there, not a failure).
    return src, WalkRules(follow_symlinks=True, skip_broken_symlinks=True)


def _problem(path: str, why: str, error: bool) -> ObjectInfo:
    return ObjectInfo(path=path, size=0, mtime=0.0, problem=why, problem_is_error=error)


def _why(exc: OSError) -> str:
    return f"{type(exc).__name__}: {exc.strerror or exc}"


def walk(root: str, *, recursive: bool, rules: WalkRules, info: Callable[[str, os.stat_result], ObjectInfo],
         start_after: str | None = None, end_before: str | None = None,
         on_temp: Callable[[str], None] | None = None) -> Iterator[ObjectInfo]:
    """Every entry under ``root`` in byte order of its relative path (problems included);
    the engine's own temporary files are not listed, only passed to ``on_temp``."""
    try:
        top = os.stat(root)
    except OSError:
        return
    yield from _walk(root, "", recursive, rules, info, start_after, end_before, ((top.st_dev, top.st_ino),),
                     on_temp, _destination_test(rules.avoid))


def _destination_test(avoid: str | None) -> Callable[[os.stat_result], bool] | None:
    """Whether a folder is the destination's root (its device and inode); a destination that
    does not exist yet is looked for again at each folder (the run itself may create it)."""
    if avoid is None:
        return None
    known: list[tuple[int, int]] = []

    def test(s: os.stat_result) -> bool:
        if not known:
            try:
                d = os.stat(avoid)
            except OSError:
                return False
            known.append((d.st_dev, d.st_ino))
        return (s.st_dev, s.st_ino) == known[0]

    return test


def _walk(folder: str, rel: str, recursive: bool, rules: WalkRules, info: Callable[[str, os.stat_result], ObjectInfo],
          start_after: str | None, end_before: str | None, ancestors: tuple[tuple[int, int], ...],
          on_temp: Callable[[str], None] | None,
          is_destination: Callable[[os.stat_result], bool] | None = None, via: str = "") -> Iterator[ObjectInfo]:
    """``via``: the nearest folder link above ``folder`` ("" for none); files below one carry it
    in ``extra["via_link"]`` (a -d never deletes where a destination's link leads)."""
    # (sort name, entry, stat result or None, problem, problem is an error)
    entries: list[tuple[str, str, os.stat_result | None, str, bool]] = []
    try:
        with os.scandir(folder) as it:
            for entry in it:
                if TMP_MARK in entry.name:
                    if on_temp is not None:
                        on_temp(entry.path)
                    continue  # our own temporary files (see engine.transfer.temps)
                entries.append(_classify(entry, rules))
    except OSError as exc:
        # The folder itself: its name is what the caller listed, so the problem stands for it.
        if rel:
            yield _problem(rel, f"folder cannot be listed ({_why(exc)})", True)
            return
        raise
    entries.sort(key=lambda e: e[0])
    for sort_name, full, s, problem, is_error in entries:
        path = rel + sort_name
        if end_before is not None and path >= end_before:
            return
        is_dir = sort_name.endswith("/")
        if start_after is not None and not (path > start_after or (is_dir and start_after.startswith(path))):
            continue
        if problem:
            yield _problem(path, problem, is_error)
            continue
        assert s is not None
        if is_dir:
            if not recursive:  # said, not silently dropped: "copied 3, verified 3" read as the whole tree
                yield _problem(path, NOT_RECURSIVE, False)
                continue
            ident = (s.st_dev, s.st_ino)
            if ident in ancestors:
                yield _problem(path, "symlink loop (leads back to a folder above it); not entered", False)
                continue
            if is_destination is not None and is_destination(s):
                yield _problem(path, "leads into the destination (a link to it or to a folder above it); "
                               "not entered", False)
                continue
            yield from _walk(full, path, recursive, rules, info, start_after, end_before, ancestors + (ident,),
                             on_temp, is_destination, path.rstrip("/") if os.path.islink(full) else via)
            continue
        obj = info(path, s)
        if via:
            obj.extra["via_link"] = via
        yield obj


def _classify(entry: os.DirEntry[str], rules: WalkRules) -> tuple[str, str, os.stat_result | None, str, bool]:
    """One folder entry: its sort name ("name/" for a folder), and its stat or its problem."""
    name = entry.name
    try:
        link = entry.is_symlink()
    except OSError as exc:
        return name, entry.path, None, f"cannot be stat'ed ({_why(exc)})", True
    if link and not rules.follow_symlinks:
        target = _readlink(entry.path)
        return name, entry.path, None, f"symlink skipped (--no-follow-symlinks) -> {target}", False
    try:
        s = entry.stat(follow_symlinks=True)
    except OSError as exc:
        if link:
            target = _readlink(entry.path)
            if rules.skip_broken_symlinks:
                return name, entry.path, None, f"broken symlink skipped (--skip-broken-symlinks) -> {target}", False
            return name, entry.path, None, f"broken symlink -> {target} ({_why(exc)})", True
        return name, entry.path, None, f"cannot be stat'ed ({_why(exc)})", True
    if st.S_ISDIR(s.st_mode):
        return name + "/", entry.path, s, "", False
    if not st.S_ISREG(s.st_mode):
        return name, entry.path, None, "not a regular file (socket, FIFO or device)", False
    return name, entry.path, s, "", False


def _readlink(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return "?"
