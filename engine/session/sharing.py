"""Sharing a session with a second login, deliberately: ``gpumigrate session share NAME --group G``.

Everything the second login must read or write gets the group and its bits:
the state folder, ``sessions/``, ``logs/`` and the session's own folders
(journals, approval plans, deletion audit files) become ``3770`` (setgid: new files inherit the
group; sticky: a member may add files but remove or rename only their own, so the owner's other,
private sessions and files in the same folders cannot be deleted or swapped for forged ones), and the session file, its WAL, its log, journals and plans become
``0660``.  Files created later in those folders are made ``0660`` explicitly,
whatever the creator's umask (see :mod:`engine.session.paths`).  ``unshare``
puts it all back to user-only.  Folders above the state folder are not
changed; when the group cannot pass through one of them, the result says which.
"""

from __future__ import annotations

import grp
import os
import stat
from pathlib import Path

from engine.errors import BadInputError, EnvironmentProblem
from engine.session.paths import logs_dir, session_path, sessions_dir, state_dir
from engine.session.store import SessionStore

SHARED_DIR = 0o3770
SHARED_FILE = 0o660


def _session_files(name: str) -> tuple[list[Path], list[Path]]:
    """(folders, files) that belong to session ``name``."""
    path = session_path(name)
    folders = [d for d in (Path(f"{path}.journals"), Path(f"{path}.approvals"), Path(f"{path}.audit")) if d.is_dir()]
    artefacts = path.with_suffix(".artefacts")  # the drivers step's files: the second login's run rewrites them
    if artefacts.is_dir() and not artefacts.is_symlink():
        folders += [artefacts, *(d for d in sorted(artefacts.rglob("*")) if d.is_dir() and not d.is_symlink())]
    files = [p for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), logs_dir() / f"{name}.log") if p.exists()]
    for folder in folders:
        files += [p for p in folder.iterdir() if p.is_file() and not p.is_symlink()]
    return folders, files


def share(name: str, group: str) -> list[str]:
    """Share session ``name`` with ``group``; returns warnings (folders the group cannot pass through)."""
    try:
        gid = grp.getgrnam(group).gr_gid
    except KeyError:
        raise BadInputError(f"--group {group}: no such group (see `getent group`)") from None
    if os.getuid() != 0 and gid not in os.getgroups():
        raise BadInputError(f"--group {group}: you are not a member of it, so you cannot give files to it")
    path = session_path(name)
    if not path.exists():
        raise BadInputError(f"no session named {name!r} (see `gpumigrate session list`)")
    if os.getuid() not in (0, path.stat().st_uid):
        raise EnvironmentProblem(f"session {name!r} belongs to uid {path.stat().st_uid}: its owner shares it")
    logs_dir().mkdir(mode=0o700, exist_ok=True)
    folders, files = _session_files(name)
    left: list[Path] = []
    for folder in [state_dir(), sessions_dir(), logs_dir(), *folders]:
        if _owned_by_me(folder, left):
            os.chown(folder, -1, gid)
            os.chmod(folder, SHARED_DIR)
    for file in files:
        if _owned_by_me(file, left):
            os.chown(file, -1, gid)
            os.chmod(file, SHARED_FILE | _exec_bits(file, 0o110))
    with SessionStore.open(name, create=False) as store:
        store.set_meta("shared_group", group)
        store.append("session", "session_shared", {"group": group})
    return _unreachable(state_dir()) + [f"{p} belongs to {_owner(p)}: left as it is (only its owner may change "
                                        "its mode)" for p in left]


def unshare(name: str) -> list[str]:
    """Back to user-only: the session's files, and the common folders once no other session is shared.
    Returns warnings: files of another login's (the second login's journal or plan) cannot be changed by the
    owner, and are named; those in the session's own folders are closed to the group with their folder."""
    path = session_path(name)
    if not path.exists():
        raise BadInputError(f"no session named {name!r} (see `gpumigrate session list`)")
    if os.getuid() not in (0, path.stat().st_uid):
        raise EnvironmentProblem(f"session {name!r} belongs to uid {path.stat().st_uid}: its owner unshares it")
    folders, files = _session_files(name)
    left: list[Path] = []
    for folder in folders:
        if _owned_by_me(folder, left):
            os.chmod(folder, 0o700)
    for file in files:
        if _owned_by_me(file, left):
            os.chmod(file, 0o600 | _exec_bits(file, 0o100))
    others = [p for p in sessions_dir().glob("*.sqlite") if p != path and p.stat().st_mode & 0o060]
    if not others:
        for folder in (state_dir(), sessions_dir(), logs_dir()):
            if folder.is_dir() and _owned_by_me(folder, left):
                os.chmod(folder, 0o700)
    with SessionStore.open(name, create=False) as store:
        store.set_meta("shared_group", "")
        store.append("session", "session_unshared", {})
    # The WAL and shared-memory files may have been re-created by the store just now: user-only too.
    for file in (Path(f"{path}-wal"), Path(f"{path}-shm")):
        if file.exists() and _owned_by_me(file, left):
            os.chmod(file, 0o600)
    closed = set(folders)
    return [f"{p} belongs to {_owner(p)}: left as it is (only its owner may change its mode); "
            + ("only you can enter its folder now" if p.parent in closed else
               "the group can still reach it while the folder it is in is shared: remove it once no process of "
               "theirs uses it")
            for p in dict.fromkeys(left)]


def _owned_by_me(path: Path, left: list[Path]) -> bool:
    """May this login change ``path``'s mode (its owner, or root)?  If not, ``path`` goes on the ``left`` list."""
    if os.getuid() in (0, path.stat().st_uid):
        return True
    left.append(path)
    return False


def _owner(path: Path) -> str:
    import pwd

    uid = path.stat().st_uid
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _exec_bits(file: Path, bits: int) -> int:
    """``bits`` for a file its owner made executable (a drivers artefact's startup script), else 0."""
    return bits if file.stat().st_mode & stat.S_IXUSR else 0


def _unreachable(folder: Path) -> list[str]:
    """Folders above ``folder`` that its group (or others) cannot pass through."""
    warnings = []
    for parent in folder.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & (stat.S_IXGRP | stat.S_IXOTH):
            warnings.append(f"{parent} (mode {stat.S_IMODE(mode):04o}) lets neither its group nor others pass "
                            f"through: the other login cannot reach {folder}; use a GPUMIGRATE_STATE_DIR both can "
                            f"reach (e.g. under /srv) or `chmod g+x {parent}` if they share its group")
    return warnings
