"""The base of every step screen: profile, session and role access, and engine runs.

A step screen composes its own body; the base adds the header, the role
banner and the footer, runs engine steps out of the app's process (a session's
detached worker, else a private worker: :meth:`StepScreen.run_mode`; events
arrive as :class:`~tui.messages.EngineEvent` messages), and keeps
state-changing controls (class ``mutating``) disabled while this process is
only watching.
"""

from __future__ import annotations

import time

from typing import TYPE_CHECKING, Callable, Iterable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Header, Static
from textual.worker import Worker, get_current_worker

from engine.guide import WALK
from tui.messages import EngineEvent, EngineEvents, EventFunnel, ProfileChanged, RoleChanged
from tui.widgets.fit_footer import FitFooter
from tui.widgets.left_line import LeftLine

if TYPE_CHECKING:
    from pathlib import Path

    from engine.profile import Profile
    from tui.private_run import PrivateRun
    from engine.runner import RunSummary
    from engine.session import SessionStore
    from tui.app_api import SessionApp


def _on_disk(path: "Path") -> "Profile | None":
    """The profile a private worker will load from ``path`` (None where it does not load: the run then fails)."""
    from engine.errors import BadInputError
    from engine.profile import load_profile

    try:
        return load_profile(path)
    except (BadInputError, OSError, ValueError):
        return None


class StepScreen(Screen):
    """Base class of the Inventory, Cost, Transfer, Drivers, Verify and Profile screens."""

    BINDINGS = [Binding("e", "edit_choices", "Edit", id="edit-choices", tooltip="Edit this step's choices (a form)")]

    STEP: str = ""
    """The engine step this screen drives (a key of engine.runner.STEP_MODULES), if any."""

    @property
    def gm_app(self) -> "SessionApp":
        return self.app  # type: ignore[return-value]

    @property
    def profile(self) -> "Profile | None":
        return self.gm_app.profile

    @property
    def session(self) -> "SessionStore | None":
        return self.gm_app.session

    @property
    def driving(self) -> bool:
        """False while this process only watches: controls that change state are off (tui/roles.py)."""
        return self.gm_app.authorize("drive", notify=False)

    MODE: str = ""
    """This screen's mode name in the app (set by subclasses; highlights the mode bar)."""

    def compose(self) -> ComposeResult:
        from tui.widgets.mode_bar import ModeBar

        yield Header(show_clock=False, icon="⇄")
        yield ModeBar(self.MODE or self.STEP, self.gm_app.mode_list(), self.gm_app.step_states, WALK)
        yield Static("", id="role-banner", classes="role-banner")
        if (self.MODE or self.STEP) in WALK:
            yield LeftLine(self.profile, self.MODE or self.STEP, self.gm_app.last_run_line, id="left-line",
                           classes="left-line")
        yield from self.compose_body()
        yield FitFooter()

    def compose_body(self) -> Iterable[Widget]:
        """Subclasses yield their widgets here."""
        return []

    def on_mount(self) -> None:
        self._apply_role()
        history = getattr(self.gm_app, "session_history", None)
        if history is not None and self.STEP:  # where this step stands in the session, so far
            for event in history.replay(self.STEP):
                self.post_message(EngineEvent(event))

    # --- profile -----------------------------------------------------------

    def save_profile_change(self, change: Callable[["Profile"], None], what: str) -> bool:
        """Apply ``change`` to a copy of the profile, validate, save, log. False if refused."""
        return self.gm_app.apply_profile_change(change, what)

    def on_profile_changed(self, _message: ProfileChanged) -> None:
        for line in self.query("#left-line").results(LeftLine):
            line.show(self.profile)
        self.profile_changed()

    def profile_changed(self) -> None:
        """Override to re-read the profile after it was loaded or edited."""

    def action_edit_choices(self) -> None:
        """The form for this step's sections (the Transfer screen edits the highlighted entry instead)."""
        from tui.screens.edit import edit_step

        edit_step(self.gm_app, self.MODE or self.STEP)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        from tui.roles import own_action

        if own_action(self, action) and not self.gm_app.authorize(action, notify=False):
            return False  # the one role check (tui/roles.py): watchers' keys do nothing
        if action == "edit_choices":
            from tui.screens.edit import SECTION_FIELDS

            if (self.MODE or self.STEP) not in SECTION_FIELDS:
                return False  # this view has no form: the key is not offered at all
            return True if self.driving and self.profile is not None else None
        return super().check_action(action, parameters)

    # --- role --------------------------------------------------------------

    def on_role_changed(self, _message: RoleChanged) -> None:
        self._apply_role()

    def _apply_role(self) -> None:
        banner = self.query("#role-banner")
        watching = not self.driving
        for widget in self.query(".mutating"):
            widget.disabled = watching
        if banner:
            b = banner.first(Static)
            b.display = watching
            if watching:
                b.update(self.gm_app.role_banner())

    # --- running engine steps ------------------------------------------------

    private_run: "PrivateRun | None" = None
    """The private worker of the run this screen started last (None: a session's, or in this process)."""

    def run_mode(self, options: dict | None = None) -> str:
        """Where a step started here runs: ``session`` (the session's detached worker, which outlives
        the app), ``private`` (a worker process of this app's own, see tui/private_run.py) or
        ``inline`` (a thread of the app: only when there is no profile file for a worker to load,
        or the options hold live objects such as an NVML fake, or the app turned private runs off)."""
        path = self.gm_app.profile_path
        if self.session is not None and path is not None:
            return "session"
        from tui.private_run import json_options

        if path is not None and getattr(self.gm_app, "private_runs", False) and json_options(options):
            return "private"
        return "inline"

    def run_step(self, step: str | None = None, *, dry_run: bool = False,
                 options: dict | None = None) -> Worker | None:
        """Run one engine step out of the UI's process where it can (see :meth:`run_mode`);
        events arrive as EngineEvent messages (in batches, :class:`EventFunnel`)."""
        step = step or self.STEP
        if not self.gm_app.authorize("run_step"):
            return None
        if self.profile is None:
            self.notify("Open a profile first (ctrl+o).", severity="warning")
            return None
        mode = self.run_mode(options)
        self.private_run = None
        if mode == "session":
            # In a session the step runs in a detached worker that outlives this app;
            # its events come back through the session follower (tui/pairing.py).
            from tui.pairing import run_detached

            def body() -> "RunSummary":
                worker = get_current_worker()
                return run_detached(self.gm_app, step, dry_run, options, lambda: worker.is_cancelled)

            return self.run_worker(body, thread=True, exclusive=True, group=f"step-{step}",
                                   exit_on_error=False, name=f"step {step}")
        if mode == "private":
            return self._run_private(step, dry_run, options)
        return self.run_worker(lambda: self._run_step_thread(step, dry_run, options),
                               thread=True, exclusive=True, group=f"step-{step}", exit_on_error=False,
                               name=f"step {step}")

    def _run_private(self, step: str, dry_run: bool, options: dict | None) -> Worker:
        from tui.private_run import PrivateRun

        app = self.gm_app
        assert app.profile_path is not None
        ran_on = _on_disk(app.profile_path) or app.profile  # what the worker loads (an editor may have changed
        # the file while the app stayed open); an edit during the run must not earn its ✓
        run = PrivateRun(app.profile_path, step, dry_run, options)
        self.private_run = run
        app.private_run_started(step, run)
        funnel = EventFunnel(self.post_message)

        def body() -> "RunSummary":
            worker = get_current_worker()
            try:
                summary = run.follow(funnel, lambda: worker.is_cancelled)
            finally:
                app.private_run_ended(step, run)
            if not dry_run:
                try:
                    app.call_from_thread(self._note_states, summary, ran_on)
                except RuntimeError:  # the app is closing: nobody is left to show it
                    pass
            return summary

        return self.run_worker(body, thread=True, exclusive=True, group=f"step-{step}", exit_on_error=False,
                               name=f"step {step}")

    def _run_step_thread(self, step: str, dry_run: bool, options: dict | None) -> "RunSummary":
        from engine.runner import run_steps

        worker = get_current_worker()
        cancel = self.gm_app.cancel_event_for(step)
        profile = self.profile
        assert profile is not None

        session = self.gm_app.open_session_handle()

        funnel = EventFunnel(self.post_message)

        def emit(event: object) -> None:
            # With a session its follower delivers the recorded events (to every attached app).
            if not worker.is_cancelled and session is None:
                funnel(event)  # type: ignore[arg-type]

        try:
            summary = run_steps(profile, [step], emit=emit, profile_path=self.gm_app.profile_path,
                                dry_run=dry_run, session=session, cancel=cancel, options=options)
            if not dry_run and session is None:
                try:
                    self.gm_app.call_from_thread(self._note_states, summary, profile)
                except RuntimeError:  # the app is closing: nobody is left to show it
                    pass
            return summary
        finally:
            if session is not None:
                session.close()

    FUNNEL_INTERVAL_S = 0.05
    """Batches are taken at most this often: while the UI keeps up, every event would otherwise
    wake the loop on its own (10,000 files: some 20,000 wake-ups)."""

    def on_engine_events(self, message: EngineEvents) -> None:
        """A batch from :class:`EventFunnel`: each event handled as its own EngineEvent would be."""
        message.stop()
        wait = getattr(self, "_funnel_next", 0.0) - time.monotonic()
        if wait > 0:  # the funnel's list stays non-empty meanwhile, so nothing else is posted
            self.set_timer(wait, lambda: self._take_events(message.funnel))
        else:
            self._take_events(message.funnel)

    def _take_events(self, funnel: EventFunnel) -> None:
        self._funnel_next = time.monotonic() + self.FUNNEL_INTERVAL_S
        handler = getattr(self, "on_engine_event", None)
        for event in funnel.take():
            if handler is not None:
                handler(EngineEvent(event))
            else:
                self.post_message(EngineEvent(event))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.error is not None and event.state.name == "ERROR":
            self.gm_app.show_error(f"{event.worker.name} failed", str(event.worker.error))
        if event.worker.name.startswith("step ") and event.state.name in ("SUCCESS", "ERROR", "CANCELLED"):
            # the step bar's ● comes from the app's running step workers: redraw it when one ends, not
            # at its next 1 s tick (a screen that had just finished still showed ● for up to a second)
            for bar in self.query("ModeBar, #left-line"):
                bar.refresh()

    def _note_states(self, summary: object, ran_on: object = None) -> None:
        """Without a session the step bar learns a run's outcome here (a session records it itself)."""
        results = getattr(summary, "results", None)
        if not isinstance(results, dict):
            return
        for name, result in results.items():
            interrupted = getattr(summary, "exit_code", 0) == 3 and not result.ok
            self.gm_app.note_step_state(name, "interrupted" if interrupted else result.state or
                                        ("completed" if result.ok else "failed"),
                                        str(getattr(result, "summary", "") or ""), ran_on)
        for bar in self.query("ModeBar, #left-line"):
            bar.refresh()
