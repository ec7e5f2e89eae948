"""The serve link is the owner's secret: 0600 even in a state dir shared with a group."""

from __future__ import annotations

import os
from pathlib import Path

from engine.session.paths import SHARED_DIR_BITS, owner_only_file


def test_the_serve_link_is_owner_only_in_a_shared_folder_and_replaces_a_planted_file(tmp_path: Path) -> None:
    """`session share` makes the state dir group rwx + setgid, and new files there are 0660: the one-time
    serve link (it makes whoever opens it first the driver, with the owner's credentials) was readable by
    the group. A file planted there beforehand (a group member may write the folder) is not reused."""
    shared = tmp_path / "state"
    shared.mkdir()
    os.chmod(shared, 0o700 | SHARED_DIR_BITS)
    planted = shared / "serve" / "web.url"
    planted.parent.mkdir()
    os.chmod(planted.parent, 0o700 | SHARED_DIR_BITS)
    planted.write_text("old\n")
    os.chmod(planted, 0o666)
    link = owner_only_file(planted, "http://127.0.0.1:1/?token=secret\n")
    assert link.read_text() == "http://127.0.0.1:1/?token=secret\n"
    assert oct(link.stat().st_mode & 0o777) == "0o600"
    fresh = owner_only_file(shared / "new" / "web.url", "x\n")
    assert oct(fresh.stat().st_mode & 0o777) == "0o600"
