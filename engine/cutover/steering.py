"""Who may steer a session's run from the command line (pause, go on, cancel, resume).

Steering is the driver's: the caller must be the identity that holds the
driver's seat (the same uid, and on a ``shared_account`` session the same
declared name).  When nobody drives, the run's own uid may steer it.  Anyone
else (another login, a plain ``tail``) is refused with who drives and how to
ask.  Ticking runbook items and deciding approvals are a second person's part
and are not steering: :func:`check_approver` lets anyone do them except a person
whose only clients attached to the session are ``--watch`` observers (they chose
to be read-only; attaching without ``--watch`` or detaching makes them an approver).
"""

from __future__ import annotations

from engine.errors import BadInputError
from engine.session import SessionStore


class NotTheDriver(BadInputError):
    """The caller does not drive this session (exit 2): the message says who does."""


class WatchingOnly(BadInputError):
    """The caller is attached to this session only as ``--watch`` observer(s) (exit 2, like the store's
    ``WatchOnly``): the message says how to act as approver."""


def check_approver(store: SessionStore, what: str) -> None:
    """Refuse a second person's part (approve, decline, tick) to someone watching with ``--watch`` only.

    A person is a uid (and on a ``shared_account`` session the declared name); one with no client
    attached is the documented approver and passes."""
    mine = [c for c in store.clients() if _same_person(store, c.uid, c.operator)]
    if not mine or not all(c.watch_only for c in mine):
        return
    watchers = ", ".join(f"pid {c.pid} on {c.host}" for c in mine)
    raise WatchingOnly(
        f"{what}: you ({store.operator}, uid {store.uid}) are attached to session {store.name!r} only with --watch "
        f"({watchers}), which is read-only; to act as approver attach without --watch "
        f"(`gpumigrate session attach {store.name}`) or detach the watcher")


def check_steer(store: SessionStore, what: str) -> None:
    lease = store.lease()
    if lease is not None and lease.live():
        if _same_person(store, lease.uid, lease.operator):
            return
        raise NotTheDriver(
            f"{what} is for whoever drives session {store.name!r}: that is {lease.operator} (pid {lease.pid} on "
            f"{lease.host}), not you ({store.operator}, uid {store.uid}); ask them, or ask for the seat in the "
            f"app (`gpumigrate session attach {store.name}`, then ctrl+l)")
    run = store.active_run()
    if run is not None and not _same_person(store, run.uid, run.operator):
        raise NotTheDriver(f"{what}: nobody drives session {store.name!r} and its run belongs to {run.operator} "
                           f"(uid {run.uid}); take the seat first (`gpumigrate session attach {store.name}`)")


def _same_person(store: SessionStore, uid: int | None, operator: str) -> bool:
    if uid is None:  # written before uids were recorded
        return operator.casefold() == store.operator.casefold()
    if uid != store.uid:
        return False
    return not store.shared_account or operator.casefold() == store.operator.casefold()
