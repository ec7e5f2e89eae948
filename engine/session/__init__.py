"""Cutover sessions: the store (one SQLite file per session) and what lives in it.

Split along its jobs: :mod:`.store` (the file, its connections and writes),
:mod:`.schema` (tables, version, migrations), :mod:`.identity` (who acts, as the
OS says), :mod:`.paths` (where files live, their modes), :mod:`.events` (the
audit log, steps, aggregated recording), :mod:`.runs` (the run lease, death),
:mod:`.approvals` (two-person approval), :mod:`.clients` (attached clients, the
driver's seat, runbook ticks).  Import from here.

Names load on first use (PEP 562): a resume journal needs only :func:`state_dir`, and loading the
whole store with it cost a transfer ~12 ms of CPU before its first request on the 2-core VM.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.session.approvals import Approval
    from engine.session.clients import Client, ControlRequest, Lease, Tick, new_holder_id
    from engine.session.events import STEP_STATES, StepRecord, StoredEvent
    from engine.session.identity import OPERATOR_ENV, SAME_ACCOUNT, Identity, operator_name, os_identity
    from engine.session.paths import (
        list_sessions,
        logs_dir,
        private_file,
        session_path,
        sessions_dir,
        state_dir,
    )
    from engine.session.runs import RUN_STATES, Run, SessionBusy, pid_alive
    from engine.session.store import SessionStore, WatchOnly

_WHERE = {
    "Approval": "approvals",
    **dict.fromkeys(("Client", "ControlRequest", "Lease", "Tick", "new_holder_id"), "clients"),
    **dict.fromkeys(("STEP_STATES", "StepRecord", "StoredEvent"), "events"),
    **dict.fromkeys(("OPERATOR_ENV", "SAME_ACCOUNT", "Identity", "operator_name", "os_identity"), "identity"),
    **dict.fromkeys(("list_sessions", "logs_dir", "private_file", "session_path", "sessions_dir", "state_dir"),
                    "paths"),
    **dict.fromkeys(("RUN_STATES", "Run", "SessionBusy", "pid_alive"), "runs"),
    **dict.fromkeys(("SessionStore", "WatchOnly"), "store"),
}
"""Each public name and the submodule that defines it."""

__all__ = [
    "OPERATOR_ENV", "RUN_STATES", "SAME_ACCOUNT", "STEP_STATES", "Approval", "Client", "ControlRequest", "Identity",
    "Lease", "Run", "SessionBusy", "SessionStore", "StepRecord", "StoredEvent", "Tick", "list_sessions", "logs_dir",
    "new_holder_id", "operator_name", "os_identity", "pid_alive", "private_file", "session_path", "sessions_dir",
    "state_dir", "WatchOnly",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # found directly from now on
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
