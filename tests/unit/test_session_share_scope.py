"""`session share NAME` shares that session, not every session created after it in the same state dir."""

from __future__ import annotations

import grp
import os
from pathlib import Path

from engine.session import SessionStore, logs_dir, private_file, sessions_dir
from engine.session.sharing import share, unshare


def _mode(path: Path) -> str:
    return oct(path.stat().st_mode & 0o7777)


def test_sessions_created_after_a_share_stay_private_and_the_shared_one_keeps_sharing() -> None:
    """Sharing one session made the sessions/ and logs/ folders group rwx + setgid, and every file created
    there later got 0660: sessions started afterwards (never shared) were readable, writable and approvable
    by the group, their logs too, and unsharing the first one no longer closed the folders."""
    group = grp.getgrgid(os.getgid()).gr_name
    SessionStore.open("first").close()
    share("first", group)
    with SessionStore.open("later") as later:
        later_plan = later.approval(later.request_approval("transfer-delete", "delete 3 objects",
                                                           plan=["a", "b", "c"])).plan_path
    later_file = sessions_dir() / "later.sqlite"
    later_log = private_file(logs_dir() / "later.log")
    assert _mode(later_file) == "0o600" and _mode(later_log) == "0o600"
    assert _mode(Path(f"{later_file}.approvals")) == "0o700"
    assert Path(later_plan).parent == Path(f"{later_file}.approvals") and _mode(Path(later_plan)) == "0o600"
    # the shared session's own new files are still the group's
    first_log = private_file(logs_dir() / "first.log")
    assert _mode(first_log) == "0o660"
    with SessionStore.open("first") as first:
        first_plan = first.approval(first.request_approval("transfer-delete", "delete 1 object", plan=["x"])).plan_path
    assert Path(first_plan).parent == sessions_dir() / "first.sqlite.approvals" and _mode(Path(first_plan)) == "0o660"
    unshare("first")
    assert _mode(sessions_dir()) == "0o700"  # no other session is shared: the folders close again


def test_a_folder_shared_before_the_sticky_bit_gets_it_when_its_owner_opens_a_session() -> None:
    """Folders shared by an earlier gpumigrate are 2770: a group member could delete or swap the owner's private
    sessions there (review s8). The owner's next command closes that (3770) without asking for a new share."""
    group = grp.getgrgid(os.getgid()).gr_name
    SessionStore.open("old").close()
    share("old", group)
    state = sessions_dir().parent
    for folder in (state, sessions_dir(), logs_dir()):
        folder.mkdir(exist_ok=True)
        os.chmod(folder, 0o2770)  # as `session share` left them before
    SessionStore.open("old").close()
    assert [_mode(f) for f in (state, sessions_dir(), logs_dir())] == ["0o3770"] * 3
