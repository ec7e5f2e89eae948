"""Who may do what in the app: the one check every state-changing action goes through.

Three roles in a session, plus ``solo`` (no session: the app is yours):

* ``driving``: everything;
* ``watching`` (attached without ``--watch``): the second person's part only —
  tick runbook items, approve or decline what waits for a second person, ask
  for the seat, accept an offered seat, take a seat nobody holds;
* watch-only (``--watch``, also every tab of ``serve --watch``): nothing that
  changes anything, whatever the keys, buttons or commands — not even approve
  or tick.  The store enforces it too: a ``--watch`` client's session handle
  refuses every write but its own attach/detach
  (:meth:`engine.session.SessionStore.become_watch_only`).

The check is default-deny for the app's own actions: an action defined in
``tui`` that is not listed as read-only here is state-changing.  Bindings are
filtered by it (``check_action``) and the methods behind buttons and commands
call :func:`allowed` through ``GpuMigrateApp.authorize`` before they act.
"""

from __future__ import annotations

from typing import Any

READ_ONLY = frozenset({"next_step", "reload", "cancel_scan", "switch_mode"})
"""The app's own actions that change nothing (navigation, re-reading a file into the editor)."""

SECOND_PERSON = frozenset({"tick", "untick", "decide", "request_control", "take_over", "answer_offer"})
"""What an attached watcher (not ``--watch``) may do: a second person's part in the cutover."""


def allowed(role: str, watch_only: bool, action: str) -> bool:
    if action in READ_ONLY:
        return True
    if watch_only:
        return False
    if role in ("driving", "solo"):
        return True
    return action in SECOND_PERSON


def refusal(role: str, watch_only: bool, driver: str | None, stuck: str | None = None) -> str:
    """Why a key did nothing.  ``stuck``: a stopped or hung run holds the session (its lease ran out, yet new
    runs are refused), so the seat is of no use and "take the seat" would send the person nowhere."""
    if watch_only:
        return "Watch only (--watch): this app cannot change anything."
    if role == "watching":
        who = (f"{driver} is driving" if driver else f"nobody drives, but {stuck}" if stuck
               else "nobody drives: take the seat with ctrl+t")
        return f"Watching ({who}): only the driver can do that."
    return "Not allowed."


def own_action(node: Any, action: str) -> bool:
    """Is ``action`` defined by the app's own code (not Textual's built-ins) on ``node``?"""
    name = f"action_{action}"
    for cls in type(node).__mro__:
        if name in cls.__dict__:
            return cls.__module__.startswith("tui.")
    return False
