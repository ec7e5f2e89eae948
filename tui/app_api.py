"""What the views and the pairing code use of the app, as a Protocol.

``tui/app.py`` imports the views and ``tui/pairing.py`` (lazily, to build its
modes and bind its keys); they in turn need to name the app's type.  Naming
:class:`SessionApp` instead of ``tui.app.GpuMigrateApp`` keeps the imports one
way (an import-linter contract checks it).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol

if TYPE_CHECKING:
    from engine.cutover.pairing import Pairing
    from engine.profile import Profile
    from engine.session import SessionStore


class SessionApp(Protocol):
    """The app as its views and pairing see it (``tui.app.GpuMigrateApp`` is the one implementation)."""

    profile: "Profile | None"
    profile_path: Path | None
    session: "SessionStore | None"
    session_name: str | None
    operator: str | None
    pairing: "Pairing"
    role: str
    driver_name: str | None
    watch_only: bool
    session_history: Any
    _screen_stacks: dict[str, list[Any]]

    def authorize(self, action: str, notify: bool = True) -> bool: ...
    def role_banner(self) -> str: ...
    def apply_profile_change(self, change: Callable[["Profile"], None], what: str) -> bool: ...
    def open_session_handle(self) -> Any: ...
    def cancel_event_for(self, step: str) -> threading.Event: ...
    def show_error(self, title: str, body: str) -> None: ...
    def mode_list(self) -> list[tuple[str, str, str]]: ...
    def step_states(self) -> dict[str, str]: ...
    def note_step_state(self, step: str, state: str) -> None: ...
    def _update_titles(self) -> None: ...
    def refresh_bindings(self) -> None: ...
    def notify(self, message: str, *, title: str = "", severity: Any = "information", timeout: float | None = None,
               markup: bool = True) -> None: ...
    def push_screen(self, screen: Any, callback: Any = None, wait_for_dismiss: bool = False) -> Any: ...
    def post_message(self, message: Any) -> bool: ...
    def call_from_thread(self, callback: Callable[..., Any], *args: Any, **kwargs: Any) -> Any: ...
