"""Where sessions, their logs and journals live, and who may open them.

A session is private to the login that made it (files 0600, folders 0700).
Sharing it with a second login is a deliberate act (``gpumigrate session share
NAME --group G``, see :mod:`engine.session.sharing`): the folders then carry the
group, its write bit and the setgid bit, and every file created in such a folder
is made 0660 explicitly (``fchmod`` after creation, so the creator's umask cannot
quietly leave it 0640).
"""

from __future__ import annotations

import contextlib
import errno
import os
import pwd
import stat
import re
from pathlib import Path

from engine.errors import BadInputError, EnvironmentProblem
from engine.model_base import NAME_PATTERN


def state_dir() -> Path:
    """Where sessions live: ``$GPUMIGRATE_STATE_DIR`` or the platform's user state dir."""
    override = os.environ.get("GPUMIGRATE_STATE_DIR")
    if override:
        return Path(override)
    from platformdirs import user_state_dir

    return Path(user_state_dir("gpumigrate"))


def sessions_dir() -> Path:
    return state_dir() / "sessions"


def logs_dir() -> Path:
    return state_dir() / "logs"


def session_path(name: str) -> Path:
    if not re.match(NAME_PATTERN, name):
        raise BadInputError(
            f"session name {name!r} is not allowed: use letters, digits, '.', '_' and '-' (at most 128)"
        )
    return sessions_dir() / f"{name}.sqlite"


def list_sessions() -> list[str]:
    folder = sessions_dir()
    try:
        if not folder.is_dir():
            return []
        return sorted(p.stem for p in folder.glob("*.sqlite"))
    except PermissionError:
        raise EnvironmentProblem(not_shared_message(None, folder)) from None


def _owner(path: Path) -> str:
    try:
        uid = path.stat().st_uid
    except OSError:
        return "its owner"
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def _nearest_visible(path: Path) -> Path:
    """``path`` or the nearest folder above it that this login can see (it tells whose it is)."""
    probe = path
    while probe != probe.parent:
        try:
            probe.stat()
            return probe
        except OSError:
            probe = probe.parent
    return probe


def not_shared_message(name: str | None, path: Path, why: str = "permission denied") -> str:
    """One line that names the fix when another login's session (or state dir) cannot be opened."""
    from engine.session.identity import login_name

    target = f"session {name!r} at {path}" if name else str(path)
    owner = _owner(_nearest_visible(path))
    share = f"gpumigrate session share {name} --group GROUP" if name else "gpumigrate session share NAME --group GROUP"
    return (f"{target} cannot be opened by {login_name()} ({why}): it belongs to {owner} and is not shared with "
            f"you. Ask them to run `{share}` (a group you both belong to) and use the same "
            f"GPUMIGRATE_STATE_DIR={state_dir()}")


SHARED_DIR_BITS = 0o2070
"""setgid + group rwx: what ``session share`` sets on a folder (a g+w folder alone is not a deliberate share)."""


def shared_folder(folder: Path) -> bool:
    """Was this folder deliberately shared with a group (``session share``: setgid and group rwx)?"""
    try:
        return folder.stat().st_mode & SHARED_DIR_BITS == SHARED_DIR_BITS
    except OSError:
        return False


def close_shared_folders() -> None:
    """Folders this login shared with an earlier gpumigrate are ``2770``, without the sticky bit: a member of the
    group could delete or rename the owner's private sessions there (and put forged ones in their place).  The
    owner's next command adds the bit; nobody else's can (only a folder's owner may change its mode)."""
    for folder in (state_dir(), sessions_dir(), logs_dir(), state_dir() / "serve"):
        try:
            st = os.lstat(folder)
            if (stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and st.st_mode & SHARED_DIR_BITS == SHARED_DIR_BITS
                    and not st.st_mode & stat.S_ISVTX):
                os.chmod(folder, stat.S_IMODE(st.st_mode) | stat.S_ISVTX)
        except OSError:
            continue


def _session_of(path: Path) -> str | None:
    """The session a path directly under sessions/ or logs/ belongs to ("" for none there, e.g. the private
    runs' log); None for any other path (its folder alone decides)."""
    for top, logs in ((sessions_dir(), False), (logs_dir(), True)):
        try:
            rel = path.relative_to(top)
        except ValueError:
            continue
        if not rel.parts:
            return None
        first = rel.parts[0]
        if not logs:
            return first.split(".sqlite")[0]
        for suffix in (".log",):
            if first.endswith(suffix):
                return first[: -len(suffix)]
        return first.split(".follow-")[0] if ".follow-" in first else ""
    return None


def session_shared(name: str) -> bool:
    """Was session ``name`` shared with `session share` (its file group read-write in a shared folder)?"""
    path = sessions_dir() / f"{name}.sqlite"
    try:
        return shared_folder(path.parent) and bool(path.stat().st_mode & 0o060)
    except OSError:
        return False


GROUP_FOLDERS = ("sessions", "logs", "serve")
"""The state folder's own folders a group member needs once a session is shared: the sessions and their logs,
and ``serve`` (where each login's serve link is kept, owner-only).  Anything else there (``journals/`` of the
owner's own transfers, ``tmp/``...) stays the owner's."""


def _group_may(path: Path) -> bool:
    """Does a new file or folder at ``path`` belong to the group? In a shared folder, yes, except where
    it belongs to a session that was not itself shared: `session share A` shares A, not every session
    (and log) created after it in the same state dir, nor the journals of the owner's later private transfers."""
    if not shared_folder(path.parent):
        return False
    name = _session_of(path)
    if name is None:
        return path.parent == state_dir() and path.name in GROUP_FOLDERS or path.parent.name == "serve"
    return bool(name) and session_shared(name)


def read_only_fs(path: Path) -> bool:
    """Is ``path`` (or the nearest folder above it that exists) on a file system mounted read-only?"""
    probe = _nearest_visible(path)
    try:
        return bool(os.statvfs(probe).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def unusable_state_message(path: Path, exc: OSError) -> str:
    """One line for a state folder or file that cannot be created for a reason no other login can fix
    (a read-only file system, a file where a folder should be, a full disk): what, and where to point
    GPUMIGRATE_STATE_DIR instead. These were tracebacks, or "not shared with you" on a read-only mount."""
    why = exc.strerror or type(exc).__name__
    return (f"cannot write gpumigrate's state at {path} ({why}): sessions, logs and transfer journals are "
            f"kept under {state_dir()}; set GPUMIGRATE_STATE_DIR to a writable folder")


def make_private_dir(folder: Path) -> None:
    """Create a folder user-only (or group-shared when its parent was shared), whatever the umask."""
    if folder.is_dir():
        return
    parent = folder.parent
    if parent != folder and not parent.is_dir():
        make_private_dir(parent)
    try:
        folder.mkdir(mode=0o700)
    except FileExistsError:
        if folder.is_dir():
            return
        raise EnvironmentProblem(unusable_state_message(folder, NotADirectoryError(20, "not a folder"))) from None
    except PermissionError as exc:
        if read_only_fs(folder):
            raise EnvironmentProblem(unusable_state_message(folder, exc)) from None
        raise EnvironmentProblem(not_shared_message(None, folder)) from None
    except OSError as exc:
        raise EnvironmentProblem(unusable_state_message(folder, exc)) from None
    os.chmod(folder, 0o3770 if _group_may(folder) else 0o700)  # shared: setgid and sticky (see sharing.py)


class LinkRefused(BadInputError):
    """A symbolic link where gpumigrate keeps its own state (exit 2, one line, no traceback)."""


def link_message(path: Path | str) -> str:
    path = Path(path)
    return (f"{path} is a symbolic link (made by {_owner_of_link(path)}): gpumigrate never writes through a "
            "link in its state directory (in a shared folder another login could point it at your own "
            "files); remove it and run again")


def refuse_link(path: Path) -> None:
    """Refuse to use ``path`` when it is a symbolic link.

    In a folder shared with ``session share`` every member of the group may add a file (the sticky bit
    keeps them from removing or renaming another login's, but a name not yet there is anyone's), so a
    link there could point this login's writes at any file it owns (``~/.bashrc``). Nothing of gpumigrate's
    state is ever a link.  This check comes before the open; the open itself (:func:`no_follow`)
    refuses a link planted after it, with the same words."""
    if os.path.islink(path):
        raise LinkRefused(link_message(path))


def _owner_of_link(path: Path) -> str:
    try:
        uid = os.lstat(path).st_uid
    except OSError:
        return "someone"
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def no_follow(path: str, flags: int) -> int:
    """An ``opener`` for :func:`open` that never follows a link (see :func:`refuse_link`).

    Under the state directory every folder on the way is opened relative to the one above it
    (``openat``) with ``O_NOFOLLOW``, so a folder swapped for a link (``logs`` -> another login's
    choice) is refused too, not only the file itself.  A link met here, however late it was planted,
    is the one-line :class:`LinkRefused`, never an ``OSError`` traceback."""
    return open_no_follow(Path(path), flags, 0o600)


def _walk_from_state_dir(path: Path) -> tuple[int | None, str]:
    """(fd of ``path``'s folder, opened component by component below the state dir without following
    a link; None when ``path`` is not under the state dir) and the file's name."""
    root = state_dir()
    try:
        rel = path.parent.relative_to(root)
    except ValueError:
        return None, str(path)
    fd = os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    walked = root
    try:
        for part in rel.parts:
            walked = walked / part
            try:
                nxt = os.open(part, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _NOFOLLOW, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR) and os.path.islink(walked):
                    raise LinkRefused(link_message(walked)) from None
                raise
            os.close(fd)
            fd = nxt
    except BaseException:
        os.close(fd)
        raise
    return fd, path.name


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def open_no_follow(path: Path, flags: int, mode: int) -> int:
    """``os.open(path, flags | O_NOFOLLOW, mode)``, openat-style under the state dir (see :func:`no_follow`)."""
    use_dir_fd = os.open in os.supports_dir_fd
    folder, name = _walk_from_state_dir(path) if use_dir_fd else (None, str(path))
    try:
        return os.open(name, flags | _NOFOLLOW, mode, dir_fd=folder)
    except OSError as exc:
        if exc.errno == errno.ELOOP or (exc.errno == errno.EEXIST and os.path.islink(path)):
            raise LinkRefused(link_message(path)) from None
        raise
    finally:
        if folder is not None:
            os.close(folder)


def open_fds() -> set[int] | None:
    """This process's open file descriptors (Linux /proc); None where that cannot be read."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return None
    fds = set()
    for name in names:  # the listing's own descriptor is among them, closed by now
        try:
            os.fstat(int(name))
        except (OSError, ValueError):
            continue
        fds.add(int(name))
    return fds


def check_opened(path: Path, before: set[int] | None) -> None:
    """After SQLite opened ``path`` (it follows a link, and has no way to be told not to): refuse unless the
    file it opened is the one at ``path`` itself, not a link's target.

    ``refuse_link`` looks before the open; a link planted in the moment between would have SQLite read and
    write another file of this login's (an empty one becomes a session).  The file at ``path`` is opened
    here without following a link (``lstat``, folders opened ``openat``-style) and compared (device, inode)
    with this process's descriptors, the new ones first (SQLite may reuse one of its own, and other threads
    open and close theirs meanwhile)."""
    if before is None:
        return
    # Never open (and close) the database file itself here: closing any descriptor of a file drops every
    # POSIX lock this process holds on it, SQLite's included ("disk I/O error" in the other threads).
    folder, name = _walk_from_state_dir(path) if os.stat in os.supports_dir_fd else (None, str(path))
    try:
        want = os.stat(name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        raise LinkRefused(f"{path} was removed or replaced while gpumigrate opened it: run again") from None
    finally:
        if folder is not None:
            os.close(folder)
    if stat.S_ISLNK(want.st_mode):
        raise LinkRefused(link_message(path))
    after = open_fds() or set()
    for other in sorted(after - before) + sorted(after & before):  # new ones first; SQLite may reuse its own
        try:
            st = os.fstat(other)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == (want.st_dev, want.st_ino):
            return
    raise LinkRefused(f"{path} was a symbolic link while gpumigrate opened it (replaced in the moment after its "
                      "check): nothing was read or written through it; look at who can write "
                      f"{path.parent} and run again")


def create_private_file(path: Path) -> None:
    """Create ``path`` if missing with a session file's mode, set explicitly (the umask cannot widen
    or narrow it); a link found there is refused (:func:`refuse_link`)."""
    mode = 0o660 if _group_may(path) else 0o600
    try:
        fd = open_no_follow(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, mode)
    except FileExistsError:
        refuse_link(path)
        return
    except PermissionError as exc:
        if read_only_fs(path):
            raise EnvironmentProblem(unusable_state_message(path, exc)) from None
        raise EnvironmentProblem(not_shared_message(None, path)) from None
    except OSError as exc:  # EROFS, ENOTDIR, ENOSPC: nobody's sharing fixes these
        raise EnvironmentProblem(unusable_state_message(path, exc)) from None
    try:
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


def private_file(path: Path, make_dir: bool = True) -> Path:
    """Create (if needed) a file with the same permissions as a session file (logs, exports, plans).

    ``make_dir`` creates its folder user-only (for folders under the state dir).
    """
    if make_dir:
        make_private_dir(path.parent)
    create_private_file(path)
    return path


def owner_only_file(path: Path, text: str) -> Path:
    """Write ``text`` to a new file only this login can read (0600), even in a group-shared folder.

    For secrets (the serve link): ``session share`` makes new files there 0660, and a group member
    may write the folder, so a file already at ``path`` is removed, never reused, and the new one is
    created exclusively and written through its own descriptor.
    """
    make_private_dir(path.parent)
    try:
        path.unlink(missing_ok=True)
    except PermissionError:  # another login's, in a shared (sticky) folder: only they may remove it
        raise EnvironmentProblem(f"{path} belongs to {_owner_of_link(path)}, who may be using it now: only they can "
                                 "remove it (or wait until their command ends) before this one runs") from None
    try:
        fd = open_no_follow(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except PermissionError:
        raise EnvironmentProblem(not_shared_message(None, path)) from None
    except FileExistsError:  # made between the unlink and the open: by someone else, so not reused
        raise EnvironmentProblem(f"{path} was created by {_owner_of_link(path)} while gpumigrate was writing it: "
                                 "remove it and run again") from None
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)
    return path


def read_own_file(path: Path) -> str | None:
    """The text of a state file of this login's (the app's step outcomes, the recent profiles), or None.

    In a state folder shared with ``session share`` a group member can create entries: a link (to be read
    through) or a file of their own put there before this login wrote one (forged step outcomes).  Neither is
    read: the open does not follow a link, and a file owned by another uid is left alone."""
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid():
            return None
        with os.fdopen(fd, "r", encoding="utf-8") as fh:
            fd = -1
            return fh.read()
    except (OSError, ValueError):
        return None
    finally:
        if fd >= 0:
            os.close(fd)


def replace_own_file(path: Path, text: str) -> None:
    """Write ``path`` whole (0600) through a new file of a name nobody could plant (``mkstemp``: created
    exclusively, never through a link), then renamed over ``path`` (a rename replaces a link, never follows it).
    A fixed temporary name (``.NAME.tmp``) let a group member of a shared state folder plant a link there, and
    the owner's write went through it into a file of the owner's choosing (``~/.bashrc``)."""
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            os.fchmod(fh.fileno(), 0o600)
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_session_file(path: Path, text: str, executable: bool = False) -> Path:
    """Write a file that belongs to a session (its drivers artefacts), whoever of the logins sharing it runs.

    Its folders are made as a session's (``3770`` in a shared session), the file ``0660`` there (``0600``
    otherwise), never written through a link, and rewritten in place by another login of the group (only its
    owner may change its mode: an executable keeps the bits it was given).  The artefacts were written with the
    umask's ``2755`` folders and ``0644`` files, so the second login's run of the step failed on them."""
    make_private_dir(path.parent)
    create_private_file(path)
    fd = open_no_follow(path, os.O_WRONLY | os.O_TRUNC, 0o600)
    try:
        st = os.fstat(fd)
        if executable and st.st_uid == os.getuid():
            os.fchmod(fd, stat.S_IMODE(st.st_mode) | 0o100 | (0o010 if st.st_mode & 0o060 else 0))
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)
    return path
