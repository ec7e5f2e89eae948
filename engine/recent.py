"""The profiles opened lately, newest first, for the app's welcome view.

A small JSON list of absolute paths in the state directory (next to the sessions); only paths,
never a profile's content.  A missing or unreadable file is an empty list: this is a convenience,
and it must never stop the app from starting.
"""

from __future__ import annotations

import json
from pathlib import Path

KEEP = 8


def _file() -> Path:
    from engine.session import state_dir

    return state_dir() / "recent-profiles.json"


def recent_profiles(existing_only: bool = True) -> list[Path]:
    from engine.session.paths import read_own_file

    try:
        raw = json.loads(read_own_file(_file()) or "[]")  # never through a link, never another login's file
    except ValueError:
        return []
    paths = [Path(p) for p in raw if isinstance(p, str)] if isinstance(raw, list) else []
    return [p for p in paths if p.is_file()] if existing_only else paths


def remember_profile(path: str | Path) -> None:
    """Put ``path`` first in the list (best effort: a read-only state directory is not an error)."""
    path = Path(path).resolve()
    paths = [path] + [p for p in recent_profiles(existing_only=False) if p != path]
    from engine.session.paths import replace_own_file

    try:  # 0600 through a name nobody could plant: a state folder shared with `session share` is group-writable
        replace_own_file(_file(), json.dumps([str(p) for p in paths[:KEEP]], indent=0))
    except OSError:
        pass
