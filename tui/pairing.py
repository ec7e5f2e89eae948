"""Pairing in the app: follow the session live, route its events, steer the driver's seat.

The app starts :func:`follow` in a thread worker when it opens a session.  It
polls the session's event log every 50 ms with its own SQLite handle and posts
batches to the app as :class:`SessionEvents`.  :func:`route` (on the app's
thread) turns step events back into :class:`~tui.messages.EngineEvent` for the
screen of that step (so a watcher's screens show the same progress as the
driver's), keeps a short per-step history for screens opened later, and reacts
at once to pairing events (a request for control, a hand-over).

The actions (request control, hand over, take over) are plain functions on the
app so that ``tui/app.py`` only binds keys to them.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Label, OptionList, Static

from engine.events import from_dict
from engine.session import StoredEvent
from tui.messages import EngineEvent, RoleChanged

if TYPE_CHECKING:
    from tui.app_api import SessionApp

ENGINE_KINDS = frozenset({"step_started", "progress", "item_done", "message", "step_finished"})
PAIRING_KINDS = frozenset({"lease_acquired", "lease_released", "lease_handed_over", "control_requested",
                           "control_accepted", "control_declined", "control_offered", "offer_accepted",
                           "offer_declined", "offer_withdrawn"})
POLL_S = 0.05
RECONCILE_S = 1.0
"""How often an attached app looks for runs whose process died (a cheap read; a write only on a death)."""


class SessionEvents(Message, bubble=False):
    """New rows of the session's event log (posted from the follower thread)."""

    def __init__(self, events: list[StoredEvent]) -> None:
        super().__init__()
        self.events = events


def follow(app: "SessionApp", name: str, operator: str | None, stop: threading.Event) -> None:
    """Thread body: post every new event of session ``name`` to the app, coalescing progress.

    Stops when ``stop`` is set or the worker running it is cancelled (app exit).
    """
    from textual.worker import get_current_worker

    from engine.session import SessionStore

    worker = get_current_worker()
    store = SessionStore.open(name, create=False, operator=operator)
    seq = 0
    next_check = 0.0
    try:
        while not (stop.is_set() or worker.is_cancelled):
            if time.monotonic() >= next_check:
                # A run killed while only apps are attached writes nothing more: look for dead runs
                # here, so that its step shows interrupted (and its request withdrawn) in every app
                # within about a second, not "running" until someone types a command.
                next_check = time.monotonic() + RECONCILE_S
                try:
                    store.reconcile()
                except Exception:  # noqa: BLE001 - a busy store: look again at the next check
                    pass
            batch = store.events_after(seq)
            if batch:
                seq = batch[-1].seq
                app.post_message(SessionEvents(coalesce(batch)))
                continue
            stop.wait(POLL_S)
    finally:
        store.close()


class PairingTicked(Message, bubble=False):
    """One heartbeat's outcome (posted from the heartbeat thread): the role and driver it read, or the error
    that kept it from being written.  ``generation`` is :attr:`role_generation` when the beat started."""

    def __init__(self, role: str | None, driver: str | None, error: str | None, generation: int) -> None:
        super().__init__()
        self.role, self.driver, self.error, self.generation = role, driver, error, generation


def heartbeat(app: "SessionApp", stop: threading.Event) -> None:
    """Thread body: keep the driver's lease alive and read who drives, every ``heartbeat_every_s``.

    Off the UI thread: the write waits up to the store's busy timeout for a lock another process holds
    (a CLI, the worker), and the app froze for that long.  One beat at a time, in order, from this one
    thread (its own SQLite handle); a beat still waiting is never doubled by the next.  A beat that fails
    is posted as such, never dropped: :func:`apply_tick` says so.
    """
    from textual.worker import get_current_worker

    worker = get_current_worker()
    pairing = app.pairing
    while not (stop.wait(pairing.heartbeat_every_s) or worker.is_cancelled):
        generation = app.role_generation
        try:
            role, driver = pairing.tick()
        except Exception as exc:  # noqa: BLE001 - a locked, full or closed store: said in the app, next beat retries
            if stop.is_set():
                return
            app.post_message(PairingTicked(None, None, f"{type(exc).__name__}: {exc}", generation))
            continue
        app.post_message(PairingTicked(role, driver, None, generation))


def apply_tick(app: "SessionApp", ticked: PairingTicked) -> None:
    """On the app's thread: a heartbeat's role and driver, or that it could not be written."""
    failing = app.heartbeat_failing
    if ticked.error is not None:
        if failing is None:  # once per streak (a beat every few seconds would bury every other message)
            seat = (f"the driver's seat is lost if this lasts {app.pairing.ttl_s:.0f}s"
                    if app.role == "driving" else "who drives may be out of date")
            app.notify(f"The session heartbeat could not be written ({ticked.error}); {seat}. "
                       "It is tried again every few seconds.", severity="warning")
        app.heartbeat_failing = ticked.error
        return
    if failing is not None:
        app.heartbeat_failing = None
        app.notify("The session heartbeat is written again.")
    if ticked.generation != app.role_generation:
        return  # read before a change made here (take over, hand over): that one is newer
    app._apply_role(ticked.role or "watching", ticked.driver)  # noqa: SLF001


def coalesce(batch: list[StoredEvent]) -> list[StoredEvent]:
    """Drop progress rows superseded by a later one of the same step and label in the batch."""
    last: dict[tuple[str, str], int] = {}
    for index, ev in enumerate(batch):
        if ev.kind == "progress":
            last[(ev.step, str(ev.payload.get("label", "")))] = index
    keep = set(last.values())
    return [ev for i, ev in enumerate(batch) if ev.kind != "progress" or i in keep]


class History:
    """What a screen opened later needs to show where its step stands."""

    def __init__(self, per_step: int = 300) -> None:
        self.events: dict[str, deque[Any]] = {}
        self.progress: dict[str, dict[str, Any]] = {}
        self.log: deque[StoredEvent] = deque(maxlen=500)
        self._per_step = per_step

    def add(self, stored: StoredEvent, event: Any | None) -> None:
        if stored.kind != "progress":
            self.log.append(stored)
        if event is None:
            return
        if stored.kind == "step_started":
            self.events[stored.step] = deque(maxlen=self._per_step)
            self.progress[stored.step] = {}
        if stored.kind == "progress":
            self.progress.setdefault(stored.step, {})[str(stored.payload.get("label", ""))] = event
        else:
            self.events.setdefault(stored.step, deque(maxlen=self._per_step)).append(event)

    def replay(self, step: str) -> list[Any]:
        """The step's events in order, with only its latest progress per label, last."""
        return [*self.events.get(step, ()), *self.progress.get(step, {}).values()]


def to_engine_event(ev: StoredEvent) -> Any | None:
    if ev.kind == "step_interrupted":
        # Written when the run died (its process gone: kill -9, a crash): no step_finished will ever come, so
        # the step's screen hears the end here. It showed "Copying … ETA 8s" and "running…" for ever.
        from engine.events import StepFinished

        reason = str(ev.payload.get("reason") or "its run died")
        return StepFinished(ev.step, ok=False, summary=f"interrupted: {reason}",
                            result={"interrupted": True, "died": reason})
    if ev.kind not in ENGINE_KINDS:
        return None
    try:
        return from_dict({**ev.payload, "step": ev.step, "event": ev.kind})
    except (TypeError, KeyError):
        return None


def route(app: "SessionApp", events: list[StoredEvent]) -> None:
    """On the app's thread: feed step screens, the event log, and pairing."""
    history: History = app.session_history
    pairing_changed = False
    for stored in events:
        event = to_engine_event(stored)
        history.add(stored, event)
        if event is not None:
            for screen in _screens(app):
                if getattr(screen, "STEP", "") == stored.step:
                    screen.post_message(EngineEvent(event))
        if stored.kind in ("run_not_responding", "run_responding"):
            words = stored.payload.get("words") if stored.kind == "run_not_responding" else None
            for screen in _screens(app):
                if getattr(screen, "STEP", "") in (stored.payload.get("steps") or ()) \
                        and hasattr(screen, "step_not_responding"):
                    screen.step_not_responding(words)
        if stored.kind in PAIRING_KINDS:
            pairing_changed = True
        if stored.kind == "control_requested" and app.role == "driving":
            _ask_driver(app, stored)
        if stored.kind == "control_offered" and stored.payload.get("holder") == app.pairing.holder:
            _offer_to_me(app, stored)
    for screen in _screens(app):
        screen.post_message(SessionEvents(events))
    if pairing_changed:
        refresh_role(app)


def _screens(app: "SessionApp") -> list[Any]:
    return [screen for stack in app._screen_stacks.values() for screen in stack]  # noqa: SLF001


def refresh_role(app: "SessionApp") -> None:
    """Re-read the lease now (not at the next heartbeat) and tell the screens if the role changed."""
    pairing = getattr(app, "pairing", None)
    if pairing is None:
        return
    app.role_generation = app.role_generation + 1  # a heartbeat read before this is older
    role, driver = pairing.tick()
    if role != app.role or driver != app.driver_name:
        app.role, app.driver_name = role, driver
        app._update_titles()  # noqa: SLF001
        app.refresh_bindings()
        for screen in _screens(app):
            screen.post_message(RoleChanged(role))


# --- the driver's seat ---------------------------------------------------------


def request_control(app: "SessionApp") -> None:
    if app.session is None:
        app.notify("No session: there is nobody to ask.", severity="warning")
        return
    if app.role == "driving":
        app.notify("You are already driving.")
        return
    if not app.authorize("request_control"):
        return
    lease = app.session.lease()
    if lease is None or not lease.live():
        stuck = not_responding_words(app.session)
        app.notify(f"Nobody drives, but {stuck}." if stuck else "Nobody drives right now: take over with ctrl+t.",
                   severity="warning" if stuck else "information")
        return
    request_id = app.session.request_control(app.pairing.holder)
    app.notify(f"Asked {lease.operator} for control (request #{request_id}).")


def take_over(app: "SessionApp") -> None:
    if app.session is None or app.role == "driving" or not app.authorize("take_over"):
        return
    lease = app.session.lease()
    if lease is not None and lease.live():
        left = lease.seconds_left()
        app.notify(f"{lease.operator} is driving (lease alive, {left:.0f}s left without a heartbeat); "
                   "ask with ctrl+l instead.", severity="warning")
        return
    if app.pairing.try_drive():
        refresh_role(app)
        stuck = not_responding_words(app.session)
        app.notify(f"You are driving now, but {stuck}." if stuck else "You are driving now.",
                   severity="warning" if stuck else "information")


def not_responding_words(session: Any) -> str | None:
    """A run whose process is stopped or hung: its lease ran out, yet a new run beside it is refused, so the
    seat is of no use until it goes on or ends. None when there is none (or the store cannot say now)."""
    try:
        silent = session.silent_runs() if session is not None else []
    except Exception:  # noqa: BLE001 - a busy or closed store must not break drawing or a key
        return None
    if not silent:
        return None
    run = silent[0]
    if run.pulse is not None and run.pulse.process == "stopped":
        return (f"run #{run.id} (pid {run.pid}) is not responding and new runs are refused: "
                f"`kill -CONT {run.pid}` lets it go on, `kill -9 {run.pid}` ends it (then resume)")
    where = f" (its steps wait in {run.pulse.stuck_in})" if run.pulse is not None and run.pulse.stuck_in else ""
    return (f"run #{run.id} (pid {run.pid}) is not responding{where} and new runs are refused: "
            f"wait for it, or `kill -9 {run.pid}` ends it (then resume)")


def hand_over(app: "SessionApp") -> None:
    """Offer the seat to an attached person (never a --watch client); it moves when they accept."""
    if app.session is None or app.role != "driving" or not app.authorize("hand_over"):
        app.notify("Only the driver can hand over.", severity="warning")
        return
    mine = app.pairing.holder
    others = [c for c in app.session.clients() if c.holder != mine and not c.watch_only]
    if not others:
        app.notify("Nobody who may drive is attached (--watch clients cannot be handed the seat).",
                   severity="warning")
        return

    def chosen(holder: str | None) -> None:
        if not holder:
            return
        client = next((c for c in others if c.holder == holder), None)
        if client is None:
            return
        try:
            offer = app.session.offer_control(mine, client.holder)
        except Exception as exc:  # noqa: BLE001 - shown to the person, never a crash
            app.notify(str(exc), severity="error")
            return
        app.notify(f"Offered the seat to {client.operator} (offer #{offer}); it moves when they accept.")

    app.push_screen(HandOverDialog([(c.holder, f"{c.operator} ({c.kind}, pid {c.pid} on {c.host})")
                                    for c in others]), chosen)


def _offer_to_me(app: "SessionApp", stored: StoredEvent) -> None:
    """The driver offers this app the seat: ask the person here."""
    offer_id = int(stored.payload.get("id", 0))

    def answered(accept: bool | None) -> None:
        try:
            app.session.answer_offer(offer_id, bool(accept), app.pairing.holder)
        except Exception as exc:  # noqa: BLE001 - shown to the person, never a crash
            app.notify(str(exc), severity="error")
        refresh_role(app)

    if app.watch_only:  # the store refuses offers to --watch clients (and every write of this one)
        return
    app.push_screen(OfferDialog(stored.operator, offer_id), answered)


def _ask_driver(app: "SessionApp", stored: StoredEvent) -> None:
    request_id = int(stored.payload.get("id", 0))
    request = app.session.control_request(request_id) if app.session is not None else None
    if request is None or request.state != "pending" or request.holder == app.pairing.holder:
        return

    def decided(accept: bool | None) -> None:
        current = app.session.control_request(request_id)
        if current is None or current.state != "pending" or app.role != "driving":
            return
        try:
            app.session.decide_control(request_id, bool(accept), app.pairing.holder)
        except Exception as exc:  # noqa: BLE001 - shown to the person, never a crash
            app.notify(str(exc), severity="error")
            return
        if accept:
            app.pairing.driving = False
        refresh_role(app)

    app.push_screen(ControlRequestDialog(request.operator, request_id), decided)


class ControlRequestDialog(ModalScreen[bool]):
    """The driver is asked: hand the driver's seat to this watcher?"""

    BINDINGS = [Binding("y", "answer(True)", "Hand over"), Binding("n,escape", "answer(False)", "Decline")]
    DEFAULT_CSS = """
    ControlRequestDialog { align: center middle; }
    ControlRequestDialog > Vertical { width: 70; height: auto; border: thick $warning; background: $surface;
        padding: 1 2; }
    ControlRequestDialog Horizontal { height: auto; margin-top: 1; }
    """

    def __init__(self, operator: str, request_id: int) -> None:
        super().__init__()
        self.operator = operator
        self.request_id = request_id

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"{self.operator} asks to drive this session (request #{self.request_id}).\n"
                         "Hand over the driver's seat? You will watch from then on.", markup=False)
            with Horizontal():
                yield Button("Hand over (y)", variant="warning", id="accept")
                yield Button("Decline (n)", id="decline")

    def on_mount(self) -> None:
        self.query_one("#decline", Button).focus()  # an Enter typed as this appears keeps the seat

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "accept")

    def action_answer(self, accept: bool) -> None:
        self.dismiss(accept)


class OfferDialog(ModalScreen[bool]):
    """This person is offered the driver's seat."""

    BINDINGS = [Binding("y", "answer(True)", "Take the seat"), Binding("n,escape", "answer(False)", "No thanks")]
    DEFAULT_CSS = """
    OfferDialog { align: center middle; }
    OfferDialog > Vertical { width: 70; height: auto; border: thick $warning; background: $surface; padding: 1 2; }
    OfferDialog Horizontal { height: auto; margin-top: 1; }
    """

    def __init__(self, operator: str, offer_id: int) -> None:
        super().__init__()
        self.operator = operator
        self.offer_id = offer_id

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"{self.operator} offers you the driver's seat (offer #{self.offer_id}).\n"
                         "Take it? You will drive from then on.", markup=False)
            with Horizontal():
                yield Button("Take the seat (y)", variant="warning", id="accept")
                yield Button("No thanks (n)", id="decline")

    def on_mount(self) -> None:
        self.query_one("#decline", Button).focus()  # taking the seat is a choice, never a stray Enter

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "accept")

    def action_answer(self, accept: bool) -> None:
        self.dismiss(accept)


class HandOverDialog(ModalScreen[str | None]):
    """The driver picks who gets the driver's seat."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    HandOverDialog { align: center middle; }
    HandOverDialog > Vertical { width: 80; height: auto; max-height: 80%; border: thick $primary;
        background: $surface; padding: 1 2; }
    """

    def __init__(self, choices: list[tuple[str, str]]) -> None:
        super().__init__()
        self.choices = choices

    def compose(self) -> ComposeResult:
        from textual.widgets.option_list import Option

        with Vertical():
            yield Label("Offer the driver's seat to (↑/↓ choose, Enter offers, escape cancels):")
            yield OptionList(*[Option(label, id=holder) for holder, label in self.choices], id="watchers")

    def on_mount(self) -> None:
        self.call_after_refresh(self._choose_nobody)

    def _choose_nobody(self) -> None:
        """Nobody is highlighted at first: an Enter typed as the list appears offers the seat to no one."""
        for options in self.query("#watchers").results(OptionList):
            options.highlighted = None

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


# --- running a step from the app -------------------------------------------------


def run_detached(app: "SessionApp", step: str, dry_run: bool, options: dict | None,
                 is_cancelled: Any) -> Any:
    """Thread body: start ``step`` in a detached worker and wait until it ends.

    The worker outlives this app (quit, SIGHUP, kill -9: it runs on); its events
    reach every attached app through the session follower, this one included.
    Returns a :class:`~engine.runner.RunSummary` built from the session.
    """
    from engine.cutover.worker import launch_detached
    from engine.session import SessionStore, pid_alive

    assert app.session_name and app.profile_path
    with SessionStore.open(app.session_name, create=False, operator=app.operator) as store:
        start = store.last_seq()
        pid = launch_detached(app.session_name, app.profile_path, [step], dry_run=dry_run,
                              operator=store.operator, options=options)
        while pid_alive(pid) and not is_cancelled():
            time.sleep(0.1)
        return detached_outcome(store, start, step, pid)


def detached_outcome(store: Any, start: int, step: str, pid: int) -> Any:
    """How the worker's run of ``step`` (started after event ``start``) ended, from the session: the whole log
    is read (a long transfer writes more than one read's 10,000 events, and its end is the last of them)."""
    from engine.errors import ExitCode
    from engine.runner import RunSummary, StepResult

    finished = store.events_of("step_finished", after=start, step=step)
    runs = [r for r in store.runs() if r.pid == pid]
    record = store.step(step)
    if not finished:
        if record is not None and record.state == "completed":  # already done in this session: skipped
            return RunSummary(results={}, skipped=[step], exit_code=ExitCode.OK)
        return RunSummary(results={}, skipped=[], exit_code=ExitCode.INTERRUPTED)
    last = finished[-1].payload
    result = StepResult(ok=bool(last.get("ok")), summary=str(last.get("summary", "")),
                        data=dict(last.get("result") or {}))
    code = ExitCode(runs[-1].exit_code) if runs and runs[-1].exit_code is not None else (
        ExitCode.OK if result.ok else ExitCode.FAILED)
    return RunSummary(results={step: result}, skipped=[], exit_code=code)
