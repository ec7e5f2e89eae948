"""Who is acting: the identity the operating system vouches for, and the name a person declares.

The audit trail's "who" is the real uid's login (``pwd.getpwuid(os.getuid())``):
``LOGNAME``, ``USER`` and ``$GPUMIGRATE_OPERATOR`` are environment variables any
process can set, so they never decide anything.  Two-person approval compares
uids.  A team that shares one account on a jump host opts in with ``[cutover]
shared_account = true``; then the name in ``$GPUMIGRATE_OPERATOR`` is recorded as
*declared* and every approval between two declared names says "same account,
name declared".  That opt-in cannot prove two people were involved: one account
can always edit its own files (the session included).  Reports say so.

``tty`` and ``ssh`` (the client address from ``SSH_CONNECTION``) are recorded to
help a person reconstruct what happened; the latter comes from the environment
and is informational only.
"""

from __future__ import annotations

import os
import pwd
import re
import socket
from dataclasses import dataclass

from engine.errors import BadInputError
from engine.model_base import NAME_PATTERN

OPERATOR_ENV = "GPUMIGRATE_OPERATOR"
"""A declared name: recorded, and trusted only in a session whose profile says ``shared_account``."""

SAME_ACCOUNT = "same account, name declared"


@dataclass(frozen=True)
class Identity:
    """The acting process as the OS sees it."""

    login: str
    uid: int
    pid: int
    host: str
    tty: str | None
    ssh: str | None

    def where(self) -> str:
        """'uid 1000, pid 42 on host, tty /dev/pts/3, from 10.0.0.5:51234' (for messages)."""
        parts = [f"uid {self.uid}", f"pid {self.pid} on {self.host}"]
        if self.tty:
            parts.append(f"tty {self.tty}")
        if self.ssh:
            parts.append(f"from {self.ssh}")
        return ", ".join(parts)


def login_name(uid: int | None = None) -> str:
    """The login of ``uid`` (default: the real uid) from the password database."""
    uid = os.getuid() if uid is None else uid
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # no passwd entry (some containers)
        return f"uid{uid}"


def _tty() -> str | None:
    for fd in (0, 1, 2):
        try:
            if os.isatty(fd):
                return os.ttyname(fd)
        except OSError:
            continue
    return None


def _ssh_client() -> str | None:
    parts = os.environ.get("SSH_CONNECTION", "").split()
    return f"{parts[0]}:{parts[1]}" if len(parts) >= 2 else None


def os_identity() -> Identity:
    uid = os.getuid()
    return Identity(login_name(uid), uid, os.getpid(), socket.gethostname(), _tty(), _ssh_client())


def declared_name(explicit: str | None = None) -> str | None:
    """The name a person declared (``explicit`` or ``$GPUMIGRATE_OPERATOR``), validated; None if none."""
    name = (explicit if explicit is not None else os.environ.get(OPERATOR_ENV, "")).strip()
    if not name:
        return None
    if not re.match(NAME_PATTERN, name):
        raise BadInputError(f"{OPERATOR_ENV}={name!r}: use letters, digits, '.', '_' and '-'")
    return name


def operator_name() -> str:
    """The login recorded as 'who' outside a shared-account session: the real uid's login."""
    declared_name()  # a malformed declaration is still an error, wherever it is read
    return login_name()
