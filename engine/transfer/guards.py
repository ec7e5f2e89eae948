"""The ``-d`` guards: when planned deletions must not run.

Two kinds of stop, both before anything is deleted:

* :func:`delete_guard`, checked on the whole plan before anything changes: an empty source,
  or more deletions than the limit (refusal, exit 2).
* :func:`deletions_blocked`, checked after the copies: any listing, read or copy error in
  the run skips every deletion (rclone's rule: a listing that failed may have listed too
  little, and what it missed would be deleted).  Exit 1, "deletions skipped: N errors".
"""

from __future__ import annotations

from typing import Any

from engine.errors import BadInputError


class DeleteRefused(BadInputError):
    """A ``-d`` guard refused the run after planning and before anything was copied or deleted (exit 2)."""

    summary: Any = None
    """The run's summary (``delete_refused`` set; nothing copied or deleted), when a run raised it."""


def delete_guard(planned: int, src_count: int, dst_count: int, max_delete: int | None,
                 allow_empty_source: bool) -> str:
    """Why ``-d`` must not run ("" when it may): an empty source, or more deletions than the limit.

    ``allow_empty_source`` is the explicit permission to empty the destination: the default
    limit (10%) then does not refuse it again; an explicit ``max_delete`` still does."""
    if planned == 0:
        return ""
    if src_count == 0 and not allow_empty_source:
        return (f"the source lists empty; -d would delete all {planned} destination objects "
                "(pass --allow-empty-source, or allow_empty_source = true in the profile entry, "
                "if that is really intended)")
    if src_count == 0 and max_delete is None:
        return ""
    limit = max_delete if max_delete is not None else max(1, min(dst_count // 10, 1000))
    if planned > limit:
        basis = ("--max-delete" if max_delete is not None
                 else f"default: 10% of the destination's {dst_count:,} objects or 1,000, whichever is smaller")
        return (f"{planned} deletions planned, more than the limit of {limit} ({basis}); "
                f"pass --max-delete {planned} (max_delete = {planned} in the profile entry) to allow it")
    return ""


def deletions_blocked(errors: int) -> str:
    """Why the deletions of a run with ``errors`` failures do not run ("" when they may)."""
    if errors:
        return f"{errors} error{'s' if errors != 1 else ''}"
    return ""
