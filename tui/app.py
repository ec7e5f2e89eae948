"""The Textual app: one MODE per step, a Profile view, a command palette.

The app owns three pieces of state and nothing else: the profile being edited
(and its path), the session handle, and this process's role (``driving`` or
``watching``).  Screens read them through :class:`~tui.screens.base.StepScreen`
and change the profile only through :meth:`GpuMigrateApp.apply_profile_change`,
which validates, saves and logs every edit.
"""

from __future__ import annotations

import importlib
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from engine.errors import GpumigrateError
from engine.guide import WALK, first_mode, next_step
from engine.profile import (
    Profile,
    ProfileError,
    field_problems,
    load_profile_with_digest,
    save_profile,
    write_profile_text,
)
from engine.profile_file import ProfileChangedOnDisk, file_digest
from engine.recent import remember_profile
from tui.messages import ProfileChanged, ProfileFileLooked, ProfileRead, RoleChanged
from tui.widgets.dialogs import ConfirmDialog, ErrorDialog, MessagesDialog, PromptDialog

# mode name -> (module, class, title, key)
SCREENS: dict[str, tuple[str, str, str, str]] = {
    "inventory": ("tui.screens.inventory", "InventoryScreen", "Inventory", "1"),
    "cost": ("tui.screens.cost", "CostScreen", "Cost", "2"),
    "transfer": ("tui.screens.transfer", "TransferScreen", "Transfer", "3"),
    "drivers": ("tui.screens.drivers", "DriversScreen", "Drivers", "4"),
    "verify": ("tui.screens.verify", "VerifyScreen", "Verify", "5"),
    "profile": ("tui.screens.profile", "ProfileScreen", "Profile", "6"),
    "runbook": ("tui.screens.runbook", "RunbookScreen", "Runbook", "7"),
}

WELCOME = ("tui.screens.welcome", "WelcomeScreen")
"""The view shown when no profile is open: New profile, Open..., the recent profiles."""


def _screen_factory(mode: str) -> Callable[[], Screen]:
    module_name, class_name = SCREENS[mode][:2] if mode in SCREENS else WELCOME

    def make() -> Screen:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:  # one broken screen must not take the app down
            from tui.screens.unavailable import UnavailableScreen

            return UnavailableScreen(mode, f"{type(exc).__name__}: {exc}")
        return getattr(module, class_name)()

    return make


class GpuMigrateApp(App[int]):
    """gpumigrate: move GPU workloads to Google Cloud, one step per screen."""

    TITLE = "gpumigrate"
    CSS_PATH = "screens/base.tcss"
    MODES = {**{name: _screen_factory(name) for name in SCREENS}, "welcome": _screen_factory("welcome")}
    BINDINGS = [
        *[Binding(key, f"switch_mode('{name}')", title, id=f"mode-{name}", show=False)
          for name, (_m, _c, title, key) in SCREENS.items()],
        Binding("ctrl+n", "next_step", "Next", id="next-step"),
        Binding("ctrl+s", "save_profile", "Save", id="save-profile"),
        Binding("ctrl+o", "open_profile", "Open", id="open-profile"),
        Binding("ctrl+q", "quit", "Quit", id="quit", priority=True),
        Binding("ctrl+l", "request_control", "Ask to drive", id="request-control"),
        Binding("ctrl+t", "take_over", "Take over", id="take-over"),
        Binding("ctrl+g", "hand_over", "Hand over", id="hand-over"),
        Binding("f2", "messages", "Messages", id="messages", show=False),
    ]
    MESSAGES_KEPT = 500
    DISK_CHECK_S = 1.0
    """How often the profile file is looked at (its size and time; its content only when they change)."""

    def __init__(self, profile_path: str | Path | None = None, session_name: str | None = None,
                 watch: bool = False, operator: str | None = None, start_mode: str | None = None) -> None:
        super().__init__()
        self.profile_path: Path | None = Path(profile_path).resolve() if profile_path else None
        self.profile: Profile | None = None
        self.session_name = session_name
        self.operator = operator
        self.watch_only = watch
        self.session: Any = None
        self.role = "solo"
        self.driver_name: str | None = None
        self.role_generation = 0
        """Bumped by every role change made on the UI thread: a heartbeat read before it is not applied."""
        self.heartbeat_failing: str | None = None
        """Why the last heartbeat could not be written (None: it was); said once per failing streak."""
        self.start_mode = start_mode
        self._local_states: dict[str, str] = {}
        self._journal_states: dict[str, str] = {}
        """Without a session: a step's state from before this app (a transfer stopped with its app)."""
        self._remembered: dict[str, Any] = {}
        """Without a session: each step's last outcome on this profile (engine.step_memory), this app's
        runs included; a record whose profile sections changed since counts as not run."""
        self._cancel_events: dict[str, threading.Event] = {}
        self._private_runs: dict[str, Any] = {}
        self._load_error: str | None = None
        self._messages: list[str] = []
        self._disk_digest: str | None = None
        """The profile file's content as this app last read or wrote it: a save compares before writing."""
        self._disk_seen: tuple[int, int] | None = None
        self._disk_looking = False
        self._disk_generation = 0
        self._open_seq = 0
        self._open_then: dict[int, Callable[[], None]] = {}
        self._open_done: set[int] = set()
        """Bumped whenever this app reads or writes the profile file itself: a look begun before is dropped."""
        self._disk_asked: str | None = None
        """The outside version already asked about (declined: not asked again until it changes again)."""
        """Every message shown (notify), whole, for the Messages view (F2)."""
        if self.profile_path is not None:
            try:
                self.profile, self._disk_digest = load_profile_with_digest(self.profile_path, pipes=False)
            except ProfileError as exc:
                self._load_error = str(exc)
            else:
                remember_profile(self.profile_path)

    # --- lifecycle ---------------------------------------------------------

    def on_mount(self) -> None:
        if self.session_name:
            self._open_session()
        self._update_titles()
        self._read_journal_states()
        self.switch_mode(self.start_mode or self.opening_mode())
        self.set_interval(self.DISK_CHECK_S, self.check_profile_on_disk)
        if self._load_error:
            self.show_error("The profile could not be loaded", self._load_error)

    def _open_session(self) -> None:
        from engine.cutover.pairing import Pairing
        from engine.session import SessionStore

        try:
            self.session = SessionStore.open(self.session_name, operator=self.operator)  # type: ignore[arg-type]
        except GpumigrateError as exc:
            self.show_error("The session could not be opened", str(exc))
            return
        self.pairing = Pairing(self.session, ttl_s=self.profile.cutover.lease_ttl_s if self.profile else 15.0,
                               kind="tui", watch_only=self.watch_only)
        if self.profile is None and self.session.get_meta("profile_path"):
            path = Path(self.session.get_meta("profile_path") or "")
            from engine.cutover.runbook import readable

            if readable(path):  # the driver's file; a second login often cannot read it (their home)
                self.profile_path = path
                try:
                    self.profile, self._disk_digest = load_profile_with_digest(path, pipes=False)
                    self._disk_generation += 1
                except ProfileError as exc:
                    self._load_error = str(exc)
        self.role = "watching" if self.watch_only or not self.pairing.try_drive() else "driving"
        self.driver_name = self.pairing.driver_operator()
        self._start_heartbeat()
        self._start_following()

    # --- pairing (tui/pairing.py does the work) ------------------------------

    def _start_following(self) -> None:
        """Follow the session's event log live (watchers see progress within 250 ms)."""
        from tui.pairing import History, follow

        if self.profile_path is not None and not self.watch_only and not self.session.get_meta("profile_path"):
            self.session.set_meta("profile_path", str(self.profile_path))
        self.session_history = History()
        self._follow_stop = threading.Event()
        self.run_worker(lambda: follow(self, self.session_name, self.operator, self._follow_stop),  # type: ignore[arg-type]
                        thread=True, group="session-follow", name="follow session", exit_on_error=False)

    def on_session_events(self, message: Any) -> None:
        from tui.pairing import route

        route(self, message.events)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("request_control", "take_over"):
            return self.session is not None and self.role == "watching" and not self.watch_only
        if action == "hand_over":
            return self.session is not None and self.role == "driving"
        from tui.roles import own_action

        if own_action(self, action) and not self.authorize(action, notify=False):
            return False
        if action in ("next_step", "save_profile") and self.profile is None and not self._editor_open():
            return None  # dimmed: no profile yet, nothing to walk or save
        return super().check_action(action, parameters)

    def role_banner(self) -> str:
        """The banner's words: who drives, as the session says now (including nobody)."""
        driver = self.driver_name
        if self.watch_only:
            return f"watch only — {driver + ' is driving' if driver else 'nobody drives'}"
        if driver:
            return f"watching — {driver} is driving (ctrl+l asks for the seat)"
        from tui.pairing import not_responding_words

        stuck = not_responding_words(self.session)  # its lease ran out, but a new run beside it is refused
        if stuck:
            return f"watching — nobody drives; {stuck}"
        return "watching — nobody drives: take the seat with ctrl+t"

    def authorize(self, action: str, notify: bool = True) -> bool:
        """The one check of this process's role before any state-changing action (see tui/roles.py)."""
        from tui.roles import allowed, refusal

        if allowed(self.role, self.watch_only, action):
            return True
        if notify:
            from tui.pairing import not_responding_words

            stuck = not_responding_words(self.session) if self.role == "watching" and not self.driver_name else None
            self.notify(refusal(self.role, self.watch_only, self.driver_name, stuck), severity="warning")
        return False

    def action_request_control(self) -> None:
        from tui.pairing import request_control

        request_control(self)

    def action_take_over(self) -> None:
        from tui.pairing import take_over

        take_over(self)

    def action_hand_over(self) -> None:
        from tui.pairing import hand_over

        hand_over(self)

    def _start_heartbeat(self) -> None:
        """The heartbeat (and the look at who drives) runs in a thread of its own (tui/pairing.py:
        heartbeat): on the UI thread, a write lock held by another process (a CLI, the worker) froze
        the app for up to the store's 30 s busy timeout."""
        from tui.pairing import heartbeat

        self._heartbeat_stop = threading.Event()
        self.run_worker(lambda: heartbeat(self, self._heartbeat_stop),  # type: ignore[arg-type]
                        thread=True, group="session-heartbeat", name="session heartbeat", exit_on_error=False)

    def on_pairing_ticked(self, message: Any) -> None:
        """A heartbeat's outcome, applied on the UI thread in the order the beats were written."""
        from tui.pairing import apply_tick

        apply_tick(self, message)

    def _apply_role(self, role: str, driver: str | None) -> None:
        if role != self.role or driver != self.driver_name:
            self.role, self.driver_name = role, driver
            self._update_titles()
            self.refresh_bindings()
            self._broadcast(RoleChanged(role))

    async def action_quit(self) -> None:
        """Quit (ctrl+q, the palette's Quit); while a step runs, ask first, No by default.

        Quitting during a private run stopped the copy with no word: the worker stops with its app.
        In a session the run lives in the session's worker and goes on, and the question says so."""
        question = self._quit_question()
        if question is None:
            self.exit()
            return
        if isinstance(self.screen, ConfirmDialog) and getattr(self.screen, "asks_quit", False):
            return  # already asking: a second ctrl+q is not a Yes

        def answered(yes: bool | None) -> None:
            if yes:
                self.exit()

        dialog = ConfirmDialog(question, refresh=self._quit_question_now)
        dialog.asks_quit = True  # type: ignore[attr-defined]
        self.push_screen(dialog, answered)

    def running_steps(self) -> list[str]:
        """Steps running now: started from this app (its step workers), or recorded running in the session."""
        names = self._step_workers()
        if self.session is not None:
            names |= {name for name, state in self.step_states().items() if state == "running"}
        return sorted(names, key=lambda n: (n not in WALK, WALK.index(n) if n in WALK else 0, n))

    def _step_workers(self) -> set[str]:
        """Steps this app is running now (its ``step NAME`` workers: private, inline or following a session run)."""
        return {w.name[5:] for w in self.workers if w.name.startswith("step ") and w.is_running}

    def _quit_question_now(self) -> str:
        """The open quit question's words now: a run that ended under it is no longer said to be running."""
        return self._quit_question() or ("Nothing is running any more: the run ended while this question "
                                         "was open.\n\nQuit? (y / N)")

    def _quit_question(self) -> str | None:
        steps = self.running_steps()
        if not steps:
            return None
        what = "A transfer is running" if "transfer" in steps else f"The {steps[0]} step is running"
        if self.session is not None:
            return (f"{what} in session {self.session_name}'s worker; it goes on after you quit "
                    f"(gpumigrate --session {self.session_name} follows it again).\n\nQuit? (y / N)")
        tail = " — it can be resumed with r" if "transfer" in steps else ""
        return f"{what}; quitting stops it{tail}.\n\nQuit anyway? (y / N)"

    def on_unmount(self) -> None:
        # Steps running in this process's threads stop with it (a paused transfer would otherwise
        # hold the exit for ever); detached workers are separate processes and run on.
        for event in self._cancel_events.values():
            event.set()
        for run in list(self._private_runs.values()):  # a private worker stops with its app (resumable)
            run.close()
        if self.session is not None:
            for stop in (getattr(self, "_follow_stop", None), getattr(self, "_heartbeat_stop", None)):
                if stop is not None:
                    stop.set()
            self.pairing.detach()  # gives up the seat if driving; a detached worker runs on
            self.session.close()

    # --- messages ----------------------------------------------------------------

    def notify(self, message: str, *, title: str = "", severity: Any = "information", timeout: float | None = None,
               markup: bool = False) -> None:
        """Every message is kept whole for the Messages view (F2); the toast shows it whole when it fits the
        screen, else its start and where the rest is, and stays long enough to be read.  Plain text by
        default: markup ate bracketed words of messages ("list[str]" read "list")."""
        from tui.widgets.toast_text import toast_lines, toast_text, toast_width

        self._messages.append(f"{time.strftime('%H:%M:%S')} {severity}: {title + ': ' if title else ''}{message}")
        del self._messages[:-self.MESSAGES_KEPT]
        width, height = self.size.width or 80, self.size.height or 24
        text = message if markup else toast_text(message, toast_width(width) - 3, toast_lines(height))
        if timeout is None:
            timeout = self.NOTIFICATION_TIMEOUT
        timeout = max(timeout, min(60.0, len(text.split()) / 4))  # read at about 4 words a second
        if severity in ("error", "warning"):
            timeout = max(timeout, 10.0)
        super().notify(text, title=title, severity=severity, timeout=timeout, markup=markup)

    def on_notify(self, event: Any) -> None:
        """A new toast: older toasts go (they are in Messages, whole) until the rest fit
        the screen; stacked taller than the screen, the oldest lost their first lines."""
        from tui.widgets.toast_text import toast_height, toast_width

        width = toast_width(self.size.width or 80) - 3
        room = (self.size.height or 24) - 3  # the footer, the rack's margin, a spare row
        shown = list(self._notifications)
        if event.notification not in shown:  # Textual adds it before or after this handler, by version
            shown.append(event.notification)
        used = sum(toast_height(n.message, width) for n in shown)
        for old in shown:  # oldest first; the newest always stays
            if used <= room or old is event.notification:
                break
            used -= toast_height(old.message, width)
            self._unnotify(old)

    def messages(self) -> list[str]:
        """Every message shown so far (at most MESSAGES_KEPT), oldest first, whole."""
        return list(self._messages)

    def action_messages(self) -> None:
        if isinstance(self.screen, MessagesDialog):
            return
        self.clear_notifications()  # the toasts are in the view, whole; they would cover it
        self.push_screen(MessagesDialog(self.messages()))

    # --- state shared with screens ------------------------------------------

    def _editor_open(self) -> bool:
        """The screen saves its own text (the Profile view), profile loaded or not."""
        try:
            return getattr(self.screen, "save_from_editor", None) is not None
        except Exception:  # noqa: BLE001 - no screen yet (starting): nothing of its own to save
            return False

    def _update_titles(self) -> None:
        profile = self.profile_path.name if self.profile_path else "no profile (ctrl+o to open)"
        parts = [profile]
        if self.session_name:
            parts.append(f"session {self.session_name}")
            parts.append(self.role if self.role != "watching" else f"watching {self.driver_name or ''}".strip())
        self.sub_title = " · ".join(parts)
        self.refresh_bindings()  # Next and Save are dimmed until a profile is open

    def _broadcast(self, message: Any) -> None:
        for stack in self._screen_stacks.values():
            for screen in stack:
                screen.post_message(message)

    def mode_list(self) -> list[tuple[str, str, str]]:
        """(mode, title, key) for the mode bar."""
        return [(name, title, key) for name, (_m, _c, title, key) in SCREENS.items()]

    # --- where am I ----------------------------------------------------------

    def step_states(self) -> dict[str, str]:
        """Each step's state: the session's record when there is a session, else this app's own runs."""
        states = {**self._journal_states, **self._fresh_remembered(), **self._local_states}
        if self.session is None:  # a private run showed ○ while it copied
            states.update({name: "running" for name in self._step_workers()})
        if self.session is not None:
            try:
                states.update({name: rec.state for name, rec in self.session.steps().items()})
                for run in self.session.silent_runs():  # recorded running, but its process sends no heartbeat
                    states.update({name: "not responding" for name in run.steps if states.get(name) == "running"})
            except Exception:  # noqa: BLE001 - a busy or closed store must not break drawing the bar
                pass
        return states

    def _read_journal_states(self) -> None:
        """Without a session the step bar knew only this app's runs: a copy interrupted when the last
        app closed showed ○.  A transfer whose last run stopped is ! (interrupted) or ✗ (failed); a
        finished one stays ○, since the source may have changed since (never a ✓ not earned here)."""
        self._journal_states = {}
        self._remembered = {}
        if self.session is not None or self.profile is None:
            return
        if self.profile_path is not None:
            from engine.step_memory import outcomes

            self._remembered = outcomes(self.profile_path)
        if not self.profile.transfer:
            return
        from engine.transfer.api import last_runs

        base = self.profile_path.parent if self.profile_path else None
        states = {run[0] for run in last_runs(list(self.profile.transfer), base) if run is not None}
        if states & {"interrupted", "running"}:
            self._journal_states["transfer"] = "interrupted"
        elif "failed" in states:
            self._journal_states["transfer"] = "failed"

    def _fresh_remembered(self) -> dict[str, str]:
        from engine.step_memory import why_stale

        return {step: rec.state for step, rec in self._remembered.items()
                if why_stale(rec, self.profile, step) is None}

    def last_run_line(self, step: str) -> str | None:
        """Without a session: how ``step``'s last remembered run ended, or that the profile changed since."""
        from engine.step_memory import describe, why_stale

        rec = self._remembered.get(step) if self.session is None else None
        if rec is None:
            return None
        return describe(rec, stale=why_stale(rec, self.profile, step))

    def note_step_state(self, step: str, state: str, summary: str = "", ran_on: Any = None) -> None:
        """Record a step run in this process (no session): the step bar shows it, and a finished run of
        a remembered step is kept for the next app on this profile (engine.step_memory), fingerprinted
        with ``ran_on`` (the profile the run started with; default: the current one)."""
        self._local_states[step] = state
        if self.session is not None or self.profile_path is None or state == "running":
            return
        from engine.step_memory import remember

        rec = remember(self.profile_path, ran_on if ran_on is not None else self.profile, step, state, summary)
        if rec is not None:
            self._remembered[step] = rec
            del self._local_states[step]  # the record (fingerprinted) speaks for it from now on

    def opening_mode(self) -> str:
        """The welcome view without a profile; else the running step, or the first one not done."""
        if self.profile is None and self._load_error is None:
            return "welcome"
        return first_mode(self.step_states())

    def action_next_step(self) -> None:
        """Go to the next step that is not done or still has something to decide."""
        if self.profile is None:
            self.switch_mode("welcome")
            return
        target = next_step(self.current_mode or "", self.step_states(), self.profile)
        if target is None:
            self.notify("Every step is done and nothing is left to decide.")
            return
        self.switch_mode(target)

    def open_session_handle(self) -> Any:
        """A fresh session handle for a worker thread (SQLite handles are per thread)."""
        if not self.session_name or self.session is None:
            return None
        from engine.session import SessionStore

        return SessionStore.open(self.session_name, operator=self.operator)

    def cancel_event_for(self, step: str) -> threading.Event:
        event = threading.Event()
        self._cancel_events[step] = event
        return event

    private_runs: bool = True
    """Steps started without a session run in a worker process of this app's own (tui/private_run.py);
    False runs them in a thread of the app, as before (benchmarks compare the two)."""

    def private_run_started(self, step: str, run: Any) -> None:
        self._private_runs[step] = run

    def private_run_ended(self, step: str, run: Any) -> None:
        if self._private_runs.get(step) is run:
            del self._private_runs[step]

    def cancel_step(self, step: str) -> None:
        if not self.authorize("cancel_step"):
            return
        if step in self._cancel_events:
            self._cancel_events[step].set()
        if step in self._private_runs:
            self._private_runs[step].cancel()
        if self.session is not None and self.role == "driving":
            self.session.request_cancel()  # a detached worker stops at its next check

    def pause_step(self, step: str, paused: bool) -> bool:
        """Pause (or let go on) the session's running worker; True when the request was written."""
        if not self.authorize("pause_step"):
            return False
        if self.session is None or self.role != "driving":
            self.notify("Only the driver of a session can pause its worker.", severity="warning")
            return False
        if self.session.request_pause(paused) is None:
            self.notify("Nothing is running in this session.", severity="warning")
            return False
        return True

    def show_error(self, title: str, body: str) -> None:
        self.push_screen(ErrorDialog(title, body))

    def apply_profile_change(self, change: Callable[[Profile], None], what: str) -> bool:
        """Validate and save an edit; every edit is an audit event in the session."""
        if not self.authorize("edit_profile"):
            return False
        if self.profile is None:
            self.notify("Open a profile first (ctrl+o).", severity="warning")
            return False
        from pydantic import ValidationError

        draft = self.profile.model_copy(deep=True)
        change(draft)
        try:
            validated = Profile.model_validate(draft.model_dump(exclude_unset=True))
        except ValidationError as exc:  # the CLI's words (field: what is wrong), not pydantic's text
            self.show_error("That change is not valid", "\n".join(field_problems(exc)))
            return False
        return self.replace_profile(validated, what)

    def replace_profile(self, profile: Profile, what: str, text: str | None = None) -> bool:
        """Save ``profile`` (``text``: exactly this TOML, as typed in the Profile view) and show it everywhere.
        Refused, with the reload question, when the file changed on disk since this app read it."""
        if not self.authorize("edit_profile"):
            return False
        if self.profile_path is not None and not self._write_profile(profile, text):
            return False
        self.profile = profile
        if self.session is not None:
            self.session.append("profile", "profile_edited", {"what": what, "path": str(self.profile_path)})
        self._update_titles()
        self._broadcast(ProfileChanged())
        return True

    def load_profile_from(self, path: Path) -> bool:
        if not self.authorize("open_profile"):
            return False
        try:
            profile, digest = load_profile_with_digest(path, pipes=False)
        except ProfileError as exc:
            self.show_error("The profile could not be loaded", str(exc))
            return False
        self._adopt_profile(path, profile, digest)
        return True

    def open_profile_file(self, path: Path, then: Callable[[], None] | None = None) -> None:
        """Open or reload ``path`` as a person asked (Open..., a recent profile, Reload): read in a thread, then
        shown here, then ``then``.  On the UI thread a profile on a hung network mount froze the app.  The
        last asked-for open wins: one asked for before it and read after is dropped, never shown over it."""
        if not self.authorize("open_profile"):
            return
        self._open_seq += 1
        seq = self._open_seq
        if then is not None:
            self._open_then[seq] = then

        def read() -> None:
            try:
                loaded: tuple[Any, str] | None = load_profile_with_digest(path, pipes=False)
                error = None
            except Exception as exc:  # noqa: BLE001 - ProfileError's words; anything else said, never lost
                loaded, error = None, (str(exc) if isinstance(exc, ProfileError) else f"{path}: {exc}")
            self.post_message(ProfileRead(path, seq, loaded, error))

        self.run_worker(read, thread=True, group="profile-open", name=f"read profile {path.name}",
                        exit_on_error=False)

        def slow() -> None:
            if self._open_seq == seq and seq not in self._open_done:
                self.notify(f"Still reading {path} (a slow or hung mount?); the app goes on meanwhile.",
                            severity="warning")

        self.set_timer(1.0, slow)

    def on_profile_read(self, message: ProfileRead) -> None:
        then = self._open_then.pop(message.seq, None)
        self._open_done.add(message.seq)
        if message.seq != self._open_seq:
            return  # another open was asked for since: it is the one shown
        if message.error is not None or message.loaded is None:
            self.show_error("The profile could not be loaded", message.error or "")
            return
        profile, digest = message.loaded
        self._adopt_profile(Path(message.path), profile, digest)  # type: ignore[arg-type]
        if then is not None:
            then()

    def _adopt_profile(self, path: Path, profile: Profile, digest: str) -> None:
        """Show a profile just read everywhere: the app's copy, its file's digest, the step states."""
        self.profile_path = path.resolve()
        self.profile = profile
        self._disk_digest = digest
        self._disk_seen = None
        self._disk_generation += 1
        remember_profile(self.profile_path)
        self._read_journal_states()
        if self.session is not None:
            self.session.append("profile", "profile_opened", {"path": str(self.profile_path)})
        self._update_titles()
        self._broadcast(ProfileChanged())

    # --- the profile file, and edits made outside the app ------------------------------

    def _write_profile(self, profile: Profile, text: str | None) -> bool:
        """Write the file only if it is still what this app read (engine.profile_file compares)."""
        assert self.profile_path is not None
        self._disk_generation += 1  # a look begun before this write would call it an outside edit
        try:
            if text is not None:
                self._disk_digest = write_profile_text(self.profile_path, text, expect=self._disk_digest)
            else:
                self._disk_digest = save_profile(profile, self.profile_path, expect=self._disk_digest)
        except ProfileChangedOnDisk as exc:
            self.notify(str(exc), severity="error")
            self._ask_reload(file_digest(self.profile_path), force=True)
            return False
        except ProfileError as exc:  # a credential typed into a field: refused, the file left as it was
            self.show_error("That change was not saved", str(exc))
            return False
        return True

    def on_app_focus(self, _event: Any) -> None:
        self.check_profile_on_disk()  # back from another window (an editor): look at once

    def check_profile_on_disk(self) -> None:
        """Notice a profile changed outside the app (another editor, `gpumigrate init` again): ask to reload.

        The look (stat, and a read when the size or time changed) runs in a thread: on the UI thread a
        profile on a hung network mount froze the app at every look.  One look at a time; a look still
        waiting on its file is not doubled by the next second's."""
        path = self.profile_path
        if path is None or self.profile is None or self._exit or not self.is_running or self._disk_looking:
            return
        self._disk_looking = True
        known, seen_before = self._disk_generation, self._disk_seen

        def look() -> None:
            try:  # an error reading it (EIO) ends this look only; the next second looks again
                seen, digest = _look_at_profile(path, seen_before)
                self.post_message(ProfileFileLooked(path, known, seen, digest))
            finally:
                self._disk_looking = False

        self.run_worker(look, thread=True, group="profile-disk-look", name="look at the profile file",
                        exit_on_error=False)

    def on_profile_file_looked(self, message: ProfileFileLooked) -> None:
        """On the UI thread: what a look found.  A look that started before this app read or wrote the file
        itself is older than what the app knows, and dropped (it would call the app's own save an outside
        edit)."""
        path, known, seen, digest = message.path, message.known, message.seen, message.digest
        if path != self.profile_path or known != self._disk_generation or digest is False:
            return  # another profile opened, the file saved or reloaded here meanwhile; or unchanged
        self._disk_seen = seen
        if digest != self._disk_digest:
            self._ask_reload(digest)  # type: ignore[arg-type]

    def _ask_reload(self, digest: str | None, force: bool = False) -> None:
        if (digest == self._disk_asked and not force) or self.profile_path is None:
            return
        if isinstance(self.screen, ConfirmDialog) and getattr(self.screen, "asks_reload", False):
            return
        self._disk_asked = digest
        name = self.profile_path.name
        if digest is None:
            self.notify(f"{self.profile_path} was removed on disk; saving is refused (ctrl+o opens another).",
                        severity="warning")
            return

        def answered(yes: bool | None) -> None:
            if yes and self.profile_path is not None:
                self.open_profile_file(self.profile_path, lambda: self.notify(f"Reloaded {name} from disk."))

        dialog = ConfirmDialog(
            f"{name} changed on disk since this app read it (another editor, or gpumigrate init again?).\n\n"
            "Reload it? y shows the file as it is now; n keeps this app's copy on the screen, and saving "
            "stays refused until you reload (the palette's Reload profile), so the outside change is never "
            "written over. (y / N)")
        dialog.asks_reload = True  # type: ignore[attr-defined]
        self.push_screen(dialog, answered)

    def action_reload_profile(self) -> None:
        if self.profile_path is not None:
            name = self.profile_path.name
            self.open_profile_file(self.profile_path, lambda: self.notify(f"Reloaded {name} from disk."))

    # --- actions -----------------------------------------------------------

    last_inventory: Any = None
    """The Inventory screen's last scan (its buckets and directories are offered as transfer sources)."""

    nvml_api: Any = None
    """An NVML seam implementation for New profile's discovery (tests, demos); None = the real library."""

    def action_new_profile(self) -> None:
        from tui.screens.new_profile import start_new_profile

        if not self.authorize("new_profile"):
            return
        start_new_profile(self)

    def action_open_profile(self) -> None:
        if not self.authorize("open_profile"):
            return

        def shown() -> None:
            if self.current_mode == "welcome":
                self.switch_mode(self.opening_mode())

        def opened(answer: str | None) -> None:
            if answer:
                self.open_profile_file(Path(answer).expanduser(), shown)

        self.push_screen(PromptDialog("Open profile (path to a .toml file):",
                                      str(self.profile_path or "profiles/")), opened)

    def action_save_profile(self) -> None:
        if not self.authorize("save_profile"):
            return
        screen = self.screen
        hook = getattr(screen, "save_from_editor", None)
        if hook is not None:  # the Profile view saves what is in its editor
            hook()
            return
        if self.profile is None or self.profile_path is None:
            self.notify("Nothing to save: open a profile first.", severity="warning")
            return
        if self._write_profile(self.profile, None):
            self.notify(f"Saved {self.profile_path.name}")

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for name, (_m, _c, title, key) in SCREENS.items():
            yield SystemCommand(f"Go to {title}", f"Show the {title} step ({key})",
                                lambda name=name: self.switch_mode(name))
        yield SystemCommand("Next step", "Go to the next step that needs you (ctrl+n)", self.action_next_step)
        yield SystemCommand("Welcome", "New profile, open a profile, recent profiles",
                            lambda: self.switch_mode("welcome"))
        from engine.runner import STEP_MODULES

        for name, (_m, _c, title, _k) in SCREENS.items():
            if name not in STEP_MODULES:  # the Profile and Runbook views run no engine step
                continue
            yield SystemCommand(f"Run {title} step", f"Run the {name} step on the current profile",
                                lambda name=name: self._run_step_command(name))
        yield from self._screen_commands(screen)
        yield SystemCommand("New profile", "Discover GPUs, AWS and data, write a starting profile, walk the steps",
                            self.action_new_profile)
        yield SystemCommand("Open profile", "Load a TOML profile", self.action_open_profile)
        yield SystemCommand("Save profile", "Write the profile to its file", self.action_save_profile)
        yield SystemCommand("Messages", "Every message shown so far, whole (F2)", self.action_messages)
        yield SystemCommand("Reload profile", "Read the profile file again (after an edit made outside the app)",
                            self.action_reload_profile)

    def _screen_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Every key the current screen offers in its footer as a palette command too (keyboard first, palette
        always); not its widgets' hidden navigation keys ("Cursor Up", "Scroll Left": 15-20 a screen)."""
        seen: set[str] = set()
        try:
            active = screen.active_bindings
        except Exception:  # noqa: BLE001 - a screen being torn down has no bindings to offer
            return
        for key, bound in active.items():
            binding = bound.binding
            if (not bound.enabled or not binding.show or not binding.description or binding.system
                    or bound.node is self or binding.description in seen):
                continue
            seen.add(binding.description)
            yield SystemCommand(binding.description, f"{binding.tooltip or binding.description} (key {key})",
                                lambda action=binding.action, node=bound.node: self.call_later(
                                    self.run_action, action, node))

    def _run_step_command(self, name: str) -> None:
        def go(_: object = None) -> None:
            screen = self.screen
            runner = getattr(screen, "run_step", None)
            if runner is not None:
                runner(name)

        self.switch_mode(name)
        self.call_after_refresh(go)


def _look_at_profile(path: Path, seen_before: tuple[int, int] | None) -> tuple[tuple[int, int] | None, str | None | bool]:
    """Thread body: the file's (mtime, size), and its digest when they changed since ``seen_before`` (False:
    unchanged, not read again)."""
    import os

    try:
        st = os.stat(path)
        seen: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
    except OSError:
        seen = None
    if seen is not None and seen == seen_before:
        return seen, False
    return seen, (file_digest(path) if seen is not None else None)


def run_app(profile: str | None = None, session: str | None = None, watch: bool = False) -> int:
    app = GpuMigrateApp(profile_path=profile, session_name=session, watch=watch)
    result = app.run()
    return int(result or 0)
