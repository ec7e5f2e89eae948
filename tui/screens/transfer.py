"""The Transfer screen: the profile's [[transfer]] entries, run / dry-run / pause / cancel, live progress.

Thin by design: the copying is the engine's ``transfer`` step, run through
:meth:`StepScreen.run_step` outside the app's process (a session's detached worker, or
without a session a private worker whose :class:`~tui.private_run.PrivateRun` is the
pause / resume / cancel control; only with no profile file does it run in a thread
here, with a :class:`~engine.transfer.control.TransferControl`).  Engine events arrive as ``EngineEvent`` messages at
whatever rate the engine emits them; the screen only *records* them (the latest
``Progress`` per label, the latest per object in flight, ItemDone rows in a buffer)
and a timer redraws the widgets about four times a second, so a flood of events
never freezes the UI.

Keys: ``r`` run, ``n`` dry run (the plan table shows exactly what would be copied
and deleted), ``p`` pause / resume, ``c`` cancel (asks first).
"""

from __future__ import annotations

import json
import time
from typing import Any, Iterable

from rich.text import Text
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Button, DataTable, Label, Log, ProgressBar, Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from engine.events import ItemDone, Message, Progress, StepFinished, StepStarted
from tui.messages import EngineEvent
from tui.screens.base import StepScreen
from tui.widgets.dialogs import ConfirmDialog
from tui.widgets.format import (DASH, bytes_of, count_of, human_bytes, human_eta, human_rate, plural,
                                transfer_options)
from tui.widgets.in_flight import InFlightTable
from tui.widgets.throughput import Throughput

REFRESH_S = 0.25
"""How often buffered events are drawn (events themselves may arrive much faster)."""
MAX_PLAN_ROWS = 10_000
"""Dry-run rows shown in the plan table; the counts above it stay exact beyond that."""
MAX_FAILURE_ROWS = 5_000
FOLLOWER_GRACE_S = 3.0
"""In a session, how long to wait for the follower to deliver the step's last events after its worker ended."""
PLAN_ACTIONS = {"would_copy": "copy", "would_delete": "delete"}
NARROW_WIDTH = 120
"""Below this many columns the throughput chart gives its room to the bars' figures (bytes and files done / total)."""
SHORT_HEIGHT = 32
"""Below this many rows the chrome shrinks (compact buttons, no border round the progress box) so the tables keep rows."""


def _listed_so_far(done: str, planned: Any, fmt: Any) -> str:
    """While the listing runs the total is not known yet: say what is planned so far, as a lower bound."""
    if not planned:
        return f"{done} / …"
    return f"{done} / ≥{fmt(planned)} so far"


def _calm(bar: ProgressBar) -> None:
    """An indeterminate bar (total not known yet) pulses with the screen's own redraws, about four a
    second, instead of Textual's 15 frames a second per bar: two bars pulsing through a listing were
    most of the UI's redraws (the pulse follows a clock, so it still moves at each redraw)."""
    from textual.widgets._progress_bar import Bar

    for inner in bar.query(Bar):
        if inner.auto_refresh is not None:
            inner.auto_refresh = None
        if bar.total is None:
            inner.refresh()


class TransferScreen(StepScreen):
    """[[transfer]] entries on top; bars, rate, ETA and throughput; in flight / plan / failures / notes below."""

    STEP = "transfer"
    MODE = "transfer"
    CSS_PATH = "transfer.tcss"
    BINDINGS = [
        Binding("r", "run", "Run", id="transfer-run"),
        Binding("n", "dry_run", "Dry run", id="transfer-dry-run"),
        Binding("p", "pause", "Pause/resume", id="transfer-pause"),
        Binding("c", "cancel", "Cancel", id="transfer-cancel"),
        Binding("a", "add_entry", "Add entry", id="transfer-add"),
        Binding("e", "edit_choices", "Edit entry", id="edit-choices"),
        Binding("d", "remove_entry", "Remove entry", id="transfer-remove"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.control: Any = None
        """The TransferControl of the run in progress (None in a session: its worker is another process)."""
        self.running = False
        self.dry_run = False
        self.state = "idle"
        self.entry = 0
        """0-based index of the [[transfer]] entry being run."""
        self.finished: StepFinished | None = None
        """The last run's StepFinished event (None while running or before any run)."""
        self.summary_data: dict[str, Any] = {}
        """The finished step's result (totals and one dict per entry), for the summary line."""
        self.plan_counts = {"copy": 0, "copy_bytes": 0, "delete": 0, "delete_bytes": 0}
        self.failures: list[tuple[str, str]] = []
        """(path, last error) of the last run's first MAX_FAILURE_ROWS failed objects (what the table shows): every
        one was kept, gigabytes for a destination that refuses ten million objects; ``failure_count`` counts all."""
        self.failure_count = 0
        self._labels: list[str] = []
        self._latest: dict[str, Progress] = {}
        self._latest_seen: dict[str, int] = {}
        self._progress_serial = 0
        self._objects: dict[str, Progress] = {}
        self._rows: list[ItemDone] = []
        self._notes: list[str] = []
        self._entry_status: dict[int, str] = {}
        self._started_at: float | None = None
        self._plan_rows = 0
        self._sort_plan = False
        self._bars_used = False
        self._drawn_serial = 0
        self._drawn_text: dict[str, str] = {}
        self._stuck: str | None = None
        """The session's run of this step does not respond (its words), so no rate or ETA is current."""
        self._plan_fed = False
        """True once a private worker's ``plan`` progress carries the counts (rows then only fill the table)."""
        self._plan_file: str | None = None
        """In a session: the file listing the step's first planned actions (the session keeps only counts)."""
        self._plan_marks: list[tuple[int, int]] = []
        """(lines listed in the plan file, entry index) as each ``plan`` row arrived: which entry a line is of."""
        self._plan_read = (0, 0)
        """(lines, bytes) of the plan file already in the table."""
        self._plan_dirty = False

    # --- layout ------------------------------------------------------------------

    def compose_body(self) -> Iterable[Widget]:
        yield DataTable(id="transfer-entries", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="transfer-controls"):
            yield Button("Run (r)", id="transfer-run-button", variant="primary", classes="mutating")
            yield Button("Dry run (n)", id="transfer-dry-run-button", classes="mutating")
            yield Button("Pause (p)", id="transfer-pause-button", classes="mutating")
            yield Button("Cancel (c)", id="transfer-cancel-button", variant="error", classes="mutating")
            yield Static("", id="transfer-status", markup=False)
        with Horizontal(id="transfer-progress"):
            with Vertical(id="transfer-bars"):
                yield Static("No run yet: r copies, n shows what would change.", id="transfer-current",
                             markup=False)
                with Horizontal(classes="transfer-bar-row"):
                    yield Label("bytes", classes="transfer-bar-label")
                    yield ProgressBar(total=None, show_eta=False, id="transfer-bytes-bar")
                    yield Static(DASH, id="transfer-bytes-text", classes="transfer-bar-text", markup=False)
                with Horizontal(classes="transfer-bar-row"):
                    yield Label("files", classes="transfer-bar-label")
                    yield ProgressBar(total=None, show_eta=False, id="transfer-files-bar")
                    yield Static(DASH, id="transfer-files-text", classes="transfer-bar-text", markup=False)
                yield Static(self._rate_line(None), id="transfer-rate", markup=False)
            yield Throughput(window=60, id="transfer-throughput")
        yield Static("", id="transfer-summary")
        with TabbedContent(id="transfer-tabs", initial="transfer-tab-flight"):
            with TabPane("In flight", id="transfer-tab-flight"):
                yield InFlightTable(id="transfer-in-flight")
            with TabPane("Dry-run plan", id="transfer-tab-plan"):
                yield Static("Press n for a dry run: every object that would be copied or deleted is listed here.",
                             id="transfer-plan-counts", markup=False)
                yield DataTable(id="transfer-plan", cursor_type="row", zebra_stripes=True)
            with TabPane("Failures", id="transfer-tab-failures"):
                yield DataTable(id="transfer-failures", cursor_type="row", zebra_stripes=True)
            with TabPane("Notes", id="transfer-tab-notes"):
                yield Log(id="transfer-notes", max_lines=2000)

    def on_mount(self) -> None:
        # Fixed widths for the columns whose content arrives later: a table filled while its tab is
        # hidden would otherwise keep header-sized columns until something else redraws it.
        entries = self.query_one("#transfer-entries", DataTable)
        for label, key, width in (("#", "n", None), ("source", "src", None), ("destination", "dst", None),
                                  ("options", "opts", None), ("engine", "engine", None), ("status", "status", 72)):
            entries.add_column(label, key=key, width=width)
        plan = self.query_one("#transfer-plan", DataTable)
        for label, key, width in (("#", "entry", 3), ("action", "action", 7), ("path", "path", 48),
                                  ("size", "size", 10), ("reason", "reason", 40)):
            plan.add_column(label, key=key, width=width)
        failures = self.query_one("#transfer-failures", DataTable)
        for label, key, width in (("#", "entry", 3), ("path", "path", 48), ("action", "action", 7),
                                  ("attempts", "attempts", 8), ("last error", "error", 60)):
            failures.add_column(label, key=key, width=width)
        self._fill_entries(journals=True)
        self._show_bars(False)
        self._sync_controls()
        self._fit(self.app.size.width, self.app.size.height)
        self.set_interval(REFRESH_S, self.refresh_view)
        # StepScreen.on_mount runs next (Textual calls every class's handler): it applies the
        # role (through _apply_role below) and replays a session's history for this step.

    def on_resize(self, event: Any) -> None:
        self._fit(event.size.width, event.size.height)

    def _fit(self, width: int, height: int) -> None:
        """80x24 first: the figures before the chart; below SHORT_HEIGHT rows the buttons go compact (one
        row, no border) so the tables keep rows and every action stays a button as well as a key."""
        self.set_class(width < NARROW_WIDTH, "-narrow")
        short = height < SHORT_HEIGHT
        self.set_class(short, "-short")
        for button in self.query("#transfer-controls Button").results(Button):
            button.compact = short

    def profile_changed(self) -> None:
        if not self.running:
            self._entry_status.clear()
        self._fill_entries(journals=not self.running)
        self._sync_controls()

    def _apply_role(self) -> None:
        """The base enables every ``mutating`` control for a driver; pause/cancel also need a run."""
        super()._apply_role()
        self._sync_controls()

    # --- entries -------------------------------------------------------------------

    @property
    def entries(self) -> list[Any]:
        return list(self.profile.transfer) if self.profile is not None else []

    def _fill_entries(self, journals: bool = False) -> None:
        """``journals``: also show each entry's last run from its resume journal (on opening, on a new profile)."""
        table = self.query_one("#transfer-entries", DataTable)
        table.clear()
        entries = self.entries
        self._labels = [f"[[transfer]] #{i + 1} {spec.src} -> {spec.dst}" for i, spec in enumerate(entries)]
        if journals and not self.running and self.session is None:
            self._read_last_runs(entries)
        for i, spec in enumerate(entries):
            table.add_row(str(i + 1), spec.src, spec.dst, transfer_options(spec) or DASH, spec.engine,
                          self._entry_status.get(i, "not run"),
                          key=str(i))
        if not entries:
            self.query_one("#transfer-current", Static).update(
                "No [[transfer]] entries in this profile." if self.profile is not None
                else "No profile open (ctrl+o opens one).")

    def _read_last_runs(self, entries: list[Any]) -> None:
        """Without a session, an entry this app has not run yet shows its journal's last run: a copy
        stopped with the app (or a killed CLI) is half done and resumable, not "not run"."""
        from engine.errors import GpumigrateError
        from engine.transfer.api import journal_path_for
        from engine.transfer.journal import last_run

        base = self.gm_app.profile_path.parent if self.gm_app.profile_path else None
        stopped = []
        for i, spec in enumerate(entries):
            if i in self._entry_status or spec.engine == "sts":
                continue
            try:
                last = last_run(journal_path_for(spec, base))
            except (GpumigrateError, OSError, ValueError):
                continue
            if last is None:
                continue
            state, summary, when = last
            if state == "running":  # nothing runs it now: it was killed before it could say so
                state = "interrupted"
            day = time.strftime("%Y-%m-%d %H:%M", time.localtime(when))
            if state in ("interrupted", "failed"):
                stopped.append((i + 1, state))
                self._entry_status[i] = f"last run {state} ({day}): r resumes"
            else:
                self._entry_status[i] = f"last run {state} ({day}): {summary or ''}".rstrip(": ")
        if stopped and self.finished is None:
            which = ", ".join(str(n) for n, _ in stopped)
            states = "/".join(sorted({st for _, st in stopped}))
            self.query_one("#transfer-current", Static).update(
                f"{'Entry' if len(stopped) == 1 else 'Entries'} {which}: last run {states}; r resumes "
                "(finished objects are skipped).")

    def _set_entry_status(self, index: int, text: str) -> None:
        self._entry_status[index] = text
        table = self.query_one("#transfer-entries", DataTable)
        if str(index) in table.rows:
            table.update_cell(str(index), "status", text)

    # --- controls --------------------------------------------------------------------

    def _sync_controls(self) -> None:
        driving = self.driving
        has_entries = bool(self.entries)
        self.query_one("#transfer-run-button", Button).disabled = not driving or self.running or not has_entries
        self.query_one("#transfer-dry-run-button", Button).disabled = (
            not driving or self.running or not has_entries)
        pause = self.query_one("#transfer-pause-button", Button)
        pause.disabled = not driving or not self.running or self.dry_run or (
            self.control is None and self.session is None)
        pause.label = "Resume (p)" if self.state == "paused" else "Pause (p)"
        self.query_one("#transfer-cancel-button", Button).disabled = not driving or not self.running
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("run", "dry_run"):
            return True if self.driving and not self.running and self.entries else None
        if action == "pause":
            can = self.control is not None or self.session is not None
            return True if self.driving and self.running and not self.dry_run and can else None
        if action == "cancel":
            return True if self.driving and self.running else None
        if action in ("add_entry", "edit_choices", "remove_entry"):
            editable = self.driving and not self.running and self.profile is not None
            return True if editable and (action == "add_entry" or self.entries) else None
        return True

    # --- [[transfer]] entries: add, edit, remove (tui/screens/edit.py) ----------------------

    def _highlighted_entry(self) -> int:
        return self.query_one("#transfer-entries", DataTable).cursor_row

    def action_add_entry(self) -> None:
        from tui.screens.edit import edit_transfer

        edit_transfer(self.gm_app, None)

    def action_edit_choices(self) -> None:
        from tui.screens.edit import edit_transfer

        edit_transfer(self.gm_app, self._highlighted_entry() if self.entries else None)

    def action_remove_entry(self) -> None:
        from tui.screens.edit import remove_transfer

        remove_transfer(self.gm_app, self._highlighted_entry())

    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {"transfer-run-button": self.action_run, "transfer-dry-run-button": self.action_dry_run,
                   "transfer-pause-button": self.action_pause, "transfer-cancel-button": self.action_cancel}
        handler = actions.get(event.button.id or "")
        if handler is not None:
            handler()

    def action_run(self) -> None:
        self._start(dry_run=False)

    def action_dry_run(self) -> None:
        self._start(dry_run=True)

    def _start(self, dry_run: bool) -> None:
        if self.running:
            self.notify("A transfer is already running.", severity="warning")
            return
        if not self.entries:
            self.notify("This profile has no [[transfer]] entries.", severity="warning")
            return
        from engine.transfer.control import TransferControl

        # Out of this process the options must be JSON, so no live control object crosses: a
        # session's worker is paused and cancelled through the session (app.pause_step,
        # app.cancel_step), a private one through its PrivateRun (the same calls as a control).
        control = TransferControl() if self.run_mode() == "inline" else None
        options = {"control": control} if control is not None else None
        self._reset_run(dry_run)
        self.control = control
        worker = self.run_step(self.STEP, dry_run=dry_run, options=options)
        if worker is None:
            self.control = None
            self.state = "idle"
            return
        if control is None and self.private_run is not None:
            self.control = self.private_run
            self._note("runs in a worker process of this app: closing the app stops it (run again to resume); "
                       "a run that must outlive the app belongs in a session (gpumigrate --session NAME)")
        self.running = True
        self.state = "planning" if dry_run else "listing"
        self._sync_controls()
        self.refresh_view()

    def action_pause(self) -> None:
        if not self.running or self.dry_run:
            return
        if self.control is None:  # a session's detached worker: the request goes through the session
            paused = self.state != "paused"
            if not self.gm_app.pause_step(self.STEP, paused):
                return
            self.state = "paused" if paused else "copying"
            self._note("pause requested: the worker holds at its next chunk" if paused else "resume requested")
        elif self.control.paused:
            self.control.resume()
            self.state = "copying"
            self._note("resumed")
        else:
            self.control.pause()
            self.state = "paused"
            self._note("paused: no new objects start; objects in flight hold at their next chunk")
        self._sync_controls()
        self.refresh_view()

    def action_cancel(self) -> None:
        if not self.running:
            return

        def answered(yes: bool | None) -> None:
            if yes and self.running:
                self.cancel_now()

        self.app.push_screen(ConfirmDialog(
            "Cancel the transfer? Objects already copied stay; running it again resumes where it stopped "
            "(half-copied large objects included)."), answered)

    def cancel_now(self) -> None:
        """Stop the running transfer at its next chunk boundary (no question asked)."""
        if not self.running:
            return
        if self.control is not None:
            self.control.cancel()
        self.gm_app.cancel_step(self.STEP)
        self.state = "cancelling"
        self._note("cancel requested")
        self._sync_controls()
        self.refresh_view()

    # --- events in: record only (drawn by refresh_view) ------------------------------

    def on_engine_event(self, message: EngineEvent) -> None:
        event = message.event
        if getattr(event, "step", None) != self.STEP:
            return
        if isinstance(event, Progress):
            if event.label == "plan":  # a private worker's exact plan counts (it sends only the first rows)
                self._plan_fed = True
                self.plan_counts = {k: int(event.extra.get(k, 0)) for k in self.plan_counts}
                self._plan_dirty = True
                if event.extra.get("file"):  # a session's: the rows are lines of a file beside it
                    self._plan_file = str(event.extra["file"])
                    self._plan_marks.append((int(event.extra.get("listed", 0)), self.entry))
            elif event.label == "object":
                path = str(event.extra.get("path", ""))
                if path:
                    self._objects[path] = event
            else:
                self._progress_serial += 1
                self._latest[event.label] = event
                self._latest_seen[event.label] = self._progress_serial
        elif isinstance(event, ItemDone):
            self._rows.append(event)
        elif isinstance(event, Message):
            self._engine_message(event)
        elif isinstance(event, StepStarted):
            if not self.running:  # a run started elsewhere (a watcher, or a replay in a session)
                self._reset_run("dry run" in event.description)
                self.running = True
                self.state = "planning" if self.dry_run else "listing"
                self._sync_controls()
        elif isinstance(event, StepFinished):
            self._step_finished(event)

    def _engine_message(self, event: Message) -> None:
        text = event.text
        for index, label in enumerate(self._labels):
            if text in (label, f"{label} (dry run)"):
                self._begin_entry(index)
                return
            if text.startswith(f"{label}: "):
                self._set_entry_status(index, text[len(label) + 2:])
                self._note(text, event.level)
                return
        self._note(text, event.level)
        if event.level == "error":
            self.notify(text, severity="error", markup=False)

    def _begin_entry(self, index: int) -> None:
        self.refresh_view()  # draw what the previous entry left before its counters restart
        self.entry = index
        self._latest.clear()
        self._objects.clear()
        self.query_one(InFlightTable).clear_rows()
        self._set_entry_status(index, "dry run…" if self.dry_run else "running…")
        spec = self.entries[index] if index < len(self.entries) else None
        where = f"{spec.src} -> {spec.dst}" if spec is not None else ""
        self.query_one("#transfer-current", Static).update(
            f"{'Dry run of' if self.dry_run else 'Copying'} entry {index + 1} of {len(self._labels)}: {where}")

    def _step_finished(self, event: StepFinished) -> None:
        self.finished = event
        self.summary_data = dict(event.result or {})
        self.refresh_view()
        interrupted = bool(self.summary_data.get("interrupted"))
        unfinished = self._entry_status.get(self.entry, "…").endswith("…")
        died = self.summary_data.get("died")
        self._stuck = None
        if died:
            self.query_one(Throughput).add_sample(None)  # nothing moves now: "throughput now —", not its last rate
        if interrupted:
            self.state = f"interrupted: {died}" if died else "cancelled"
            if unfinished:
                self._set_entry_status(self.entry, "interrupted: its worker died; a resume goes on from here" if died
                                       else "interrupted: run again to resume")
        else:
            if unfinished and not event.ok:  # the step stopped on an error inside this entry
                self._set_entry_status(self.entry, f"failed: {event.summary}")
            self.state = "dry run finished" if self.dry_run else ("finished" if event.ok else "finished with errors")
        self._show_summary(event)
        self._done()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # (StepScreen's handler runs too, after this one: it reports a worker that raised)
        if event.worker.group != f"step-{self.STEP}":
            return
        if event.state not in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED) or not self.running:
            return
        result = event.worker.result
        step_result = getattr(result, "results", {}).get(self.STEP)
        if event.state == WorkerState.SUCCESS and self.finished is None and step_result is not None:
            # In a session the events come back through the session follower (polling), so the
            # last ones may land after the worker ended: wait for them, finish from the result if not.
            self.set_timer(FOLLOWER_GRACE_S, lambda: self._finish_from(step_result))
            return
        if event.state == WorkerState.ERROR:
            self.state = "failed"
        elif self.finished is None:
            skipped = getattr(result, "skipped", None)
            self.state = "already completed in this session" if skipped else (
                "cancelled" if self.state == "cancelling" else "stopped")
        self._done()

    def _finish_from(self, step_result: Any) -> None:
        if self.running and self.finished is None:
            self._step_finished(StepFinished(self.STEP, ok=step_result.ok, summary=step_result.summary,
                                             result=dict(step_result.data or {})))

    def _done(self) -> None:
        self.running = False
        self.control = None
        self._objects.clear()
        self.refresh_view()
        self.query_one(InFlightTable).clear_rows()
        tabs = self.query_one("#transfer-tabs", TabbedContent)
        tabs.get_tab("transfer-tab-flight").label = "In flight"
        self.query_one("#transfer-current", Static).update(
            f"Last run: {self.state} ({plural(len(self._labels), 'entry', 'entries')})")
        if self._sort_plan:
            self.query_one("#transfer-plan", DataTable).sort("entry", "action", "path")
            self._sort_plan = False
        if self.failures:
            tabs.active = "transfer-tab-failures"
        elif self.dry_run:
            tabs.active = "transfer-tab-plan"
        self._sync_controls()

    # --- drawing (timer, ~4/s) ------------------------------------------------------------

    def refresh_view(self) -> None:
        """Draw everything recorded since the last call (cheap when nothing changed)."""
        self._flush_rows()
        self._flush_objects()
        self._flush_notes()
        bytes_ev = self._latest.get("bytes")
        files_ev = self._latest.get("files")
        fresh = bytes_ev is not None and self._latest_seen.get("bytes", 0) > self._drawn_serial
        if fresh:
            self._drawn_serial = self._latest_seen["bytes"]
        if not self.dry_run and (bytes_ev is not None or files_ev is not None):
            self._show_bars(True)
            if bytes_ev is not None:
                bar = self.query_one("#transfer-bytes-bar", ProgressBar)
                bar.update(total=bytes_ev.total, progress=bytes_ev.done)
                _calm(bar)
                self._text("#transfer-bytes-text",
                    bytes_of(bytes_ev.done, bytes_ev.total) if bytes_ev.total is not None
                    else _listed_so_far(human_bytes(bytes_ev.done), bytes_ev.extra.get("bytes_total"), human_bytes))
            if files_ev is not None:
                bar = self.query_one("#transfer-files-bar", ProgressBar)
                bar.update(total=files_ev.total, progress=files_ev.done)
                _calm(bar)
                self._text("#transfer-files-text",
                    count_of(files_ev.done, files_ev.total) if files_ev.total is not None
                    else _listed_so_far(f"{files_ev.done:,}", files_ev.extra.get("files_total"), lambda n: f"{n:,}"))
            if fresh and self.running:
                assert bytes_ev is not None
                self.query_one(Throughput).add_sample(bytes_ev.rate)
                # our own control is the truth; a watcher only has the engine's word
                paused = self.control.paused if self.control is not None else bool(bytes_ev.extra.get("paused"))
                if self.state in ("listing", "copying", "paused"):
                    if paused:
                        self.state = "paused"
                    elif self.state == "paused" or bytes_ev.extra.get("listing_done"):
                        self.state = "copying"
        self._text("#transfer-rate", self._rate_line(bytes_ev if not self.dry_run else None))
        self._text("#transfer-status", self._status_line(bytes_ev))

    def _text(self, selector: str, text: str) -> None:
        """Redraw one of the fixed-size text lines of the progress panel, only when it changed.

        These lines have a set width (1fr) and height, so their text never moves other widgets:
        ``layout=False`` saves a reflow of the whole screen four times a second (in a profile of
        a 10,000-file run the reflows were the UI's largest cost)."""
        if self._drawn_text.get(selector) == text:
            return
        self._drawn_text[selector] = text
        self.query_one(selector, Static).update(text, layout=False)

    def _show_bars(self, show: bool) -> None:
        """The bars appear with the first real run (a dry run copies nothing, so it has none)."""
        if show == self._bars_used and show:
            return
        self._bars_used = show
        for row in self.query(".transfer-bar-row"):
            row.display = show
        self.query_one("#transfer-rate", Static).display = show

    def _rate_line(self, ev: Progress | None) -> str:
        """Two lines: rate, ETA and objects in flight; then the running counts."""
        if ev is None:
            return f"rate {DASH} · ETA {DASH}\n"
        x = ev.extra
        if not self.running or self._stuck:  # a finished or silent run has no current rate
            first = f"rate {DASH} · ETA {DASH}" + (" · not responding" if self.running else "")
        else:
            eta = human_eta(ev.eta_s) if x.get("listing_done") else "listing…"
            if x.get("paused"):
                eta = "paused"
            first = f"rate {human_rate(ev.rate)} · ETA {eta} · in flight {x.get('in_flight', 0)}"
        return (f"{first}\n"
                f"copied {x.get('copied', 0):,} · skipped {x.get('skipped', 0):,} · "
                f"deleted {x.get('deleted', 0):,} · failed {x.get('failed', 0):,} · "
                f"verified {x.get('verified', 0):,}")

    def step_not_responding(self, words: str | None) -> None:
        """The session's run of this step stopped responding (``words``: since when, what its process does), or
        responds again (None): the view must not go on saying "copying" with the last rate and ETA."""
        self._stuck = words
        if words:
            self.query_one(Throughput).add_sample(None)  # not measured: "now —" rather than the last rate
        self._drawn_text.clear()
        self.refresh_view()

    def _status_line(self, ev: Progress | None) -> str:
        if self.running and self._stuck:
            return self._stuck
        state = self.state
        if self.running and self.dry_run and ev is not None:
            planned = ev.extra.get("files_total", 0)
            return f"{state}: {planned:,} objects to copy so far ({human_bytes(ev.extra.get('bytes_total', 0))})"
        return state

    def _read_plan_file(self) -> list[tuple[Any, ...]]:
        """The plan file's lines not yet shown, up to the last ``plan`` row's count, as table rows."""
        if self._plan_file is None or not self._plan_marks:
            return []
        lines, offset = self._plan_read
        upto = min(self._plan_marks[-1][0], MAX_PLAN_ROWS)
        if lines >= upto:
            return []
        rows: list[tuple[Any, ...]] = []
        try:
            with open(self._plan_file, "rb") as fh:
                fh.seek(offset)
                while lines < upto:
                    raw = fh.readline()
                    if not raw.endswith(b"\n"):
                        break  # not written whole yet
                    item = json.loads(raw)
                    entry = item.get("entry") or 1 + next((e for n, e in self._plan_marks if lines < n),
                                                          self._plan_marks[-1][1])
                    size = int(item.get("size") or 0)
                    rows.append((str(entry), str(item.get("action", "")), str(item.get("path", "")),
                                 human_bytes(size), item.get("detail") or DASH))
                    lines, offset = lines + 1, offset + len(raw)
        except (OSError, ValueError) as exc:
            self._note(f"the plan's list cannot be read ({exc}); its counts are exact", "warning")
            self._plan_file = None
        self._plan_read = (lines, offset)
        return rows

    def _flush_rows(self) -> None:
        from_file = self._read_plan_file()
        if from_file:
            self._plan_rows += len(from_file)
            self.query_one("#transfer-plan", DataTable).add_rows(from_file)
            self._sort_plan = True
            self._plan_dirty = True
        if self._plan_dirty and not self._rows:
            self._plan_dirty = False
            self._show_plan_counts()
        if not self._rows:
            return
        rows, self._rows = self._rows, []
        plan = self.query_one("#transfer-plan", DataTable)
        failures = self.query_one("#transfer-failures", DataTable)
        entry = str(self.entry + 1)
        plan_batch: list[tuple[Any, ...]] = []
        for ev in rows:
            size = int(ev.data.get("size", 0) or 0)
            if ev.status in PLAN_ACTIONS:
                action = PLAN_ACTIONS[ev.status]
                if not self._plan_fed:
                    self.plan_counts[action] += 1
                    self.plan_counts[f"{action}_bytes"] += size
                if self._plan_rows < MAX_PLAN_ROWS:
                    self._plan_rows += 1
                    plan_batch.append((str(ev.data.get("entry") or entry), action, ev.item, human_bytes(size),
                                       ev.detail or DASH))
            elif ev.status == "failed":
                self.failure_count += 1
                if len(self.failures) < MAX_FAILURE_ROWS:
                    self.failures.append((ev.item, ev.detail))
                if failures.row_count < MAX_FAILURE_ROWS:
                    failures.add_row(entry, ev.item, str(ev.data.get("action", "")),
                                     str(ev.data.get("attempts", "")), Text(ev.detail, style="red"))
        if plan_batch:
            plan.add_rows(plan_batch)
            self._sort_plan = True
        if any(ev.status in PLAN_ACTIONS for ev in rows):
            self._plan_dirty = True
        if self._plan_dirty:
            self._plan_dirty = False
            self._show_plan_counts()
        if self.failures:
            tabs = self.query_one("#transfer-tabs", TabbedContent)
            tabs.get_tab("transfer-tab-failures").label = f"Failures ({self.failure_count:,})"

    def _show_plan_counts(self) -> None:
        c = self.plan_counts
        text = (f"would copy {plural(c['copy'], 'object')} ({human_bytes(c['copy_bytes'])}) · "
                f"would delete {plural(c['delete'], 'object')} ({human_bytes(c['delete_bytes'])})")
        shown = self.query_one("#transfer-plan", DataTable).row_count
        if shown < c["copy"] + c["delete"]:
            text += f" · showing the first {shown:,} (gpumigrate transfer -n --json lists all)"
        self.query_one("#transfer-plan-counts", Static).update(text)
        self.query_one("#transfer-tabs", TabbedContent).get_tab("transfer-tab-plan").label = (
            f"Dry-run plan ({c['copy'] + c['delete']:,})")

    def _flush_objects(self) -> None:
        if not self._objects:
            return
        objects, self._objects = self._objects, {}
        table = self.query_one(InFlightTable)
        for path, ev in objects.items():
            table.show(path, ev.done, ev.total, str(ev.extra.get("phase", "")))
        self.query_one("#transfer-tabs", TabbedContent).get_tab("transfer-tab-flight").label = (
            f"In flight ({table.row_count})")

    def _note(self, text: str, level: str = "info") -> None:
        self._notes.append(text if level == "info" else f"{level}: {text}")

    def _flush_notes(self) -> None:
        if not self._notes:
            return
        notes, self._notes = self._notes, []
        log = self.query_one("#transfer-notes", Log)
        for line in notes:
            log.write_line(line)

    def _reset_run(self, dry_run: bool) -> None:
        self.dry_run = dry_run
        self.entry = 0
        self.finished = None
        self.summary_data = {}
        self.plan_counts = {"copy": 0, "copy_bytes": 0, "delete": 0, "delete_bytes": 0}
        self._plan_fed = False
        self._plan_dirty = False
        self._plan_file = None
        self._plan_marks = []
        self._plan_read = (0, 0)
        self.failures = []
        self.failure_count = 0
        self._latest.clear()
        self._latest_seen.clear()
        self._drawn_serial = 0
        self._drawn_text.clear()
        self._progress_serial = 0
        self._objects.clear()
        self._rows.clear()
        self._plan_rows = 0
        self._sort_plan = False
        self._started_at = time.monotonic()
        self._entry_status.clear()
        self._fill_entries()
        self.query_one(InFlightTable).clear_rows()
        self.query_one("#transfer-failures", DataTable).clear()
        tabs = self.query_one("#transfer-tabs", TabbedContent)
        tabs.get_tab("transfer-tab-failures").label = "Failures"
        tabs.get_tab("transfer-tab-flight").label = "In flight"
        if dry_run:
            self._show_bars(False)  # the last run's bars and chart would read as this dry run's
            self.query_one(Throughput).reset()
            self.query_one("#transfer-plan", DataTable).clear()
            self.query_one("#transfer-plan-counts", Static).update("planning…")
            tabs.get_tab("transfer-tab-plan").label = "Dry-run plan"
            tabs.active = "transfer-tab-plan"
        else:
            self.query_one(Throughput).reset()
            for bar_id in ("#transfer-bytes-bar", "#transfer-files-bar"):
                self.query_one(bar_id, ProgressBar).update(total=None, progress=0)
            self.query_one("#transfer-bytes-text", Static).update(DASH)
            self.query_one("#transfer-files-text", Static).update(DASH)
            tabs.active = "transfer-tab-flight"
        self.query_one("#transfer-summary", Static).update("")
        self.query_one("#transfer-summary", Static).set_classes("")

    def _show_summary(self, event: StepFinished) -> None:
        data = self.summary_data
        summary = self.query_one("#transfer-summary", Static)
        if data.get("died"):
            summary.update(Text(f"Interrupted — {data['died']}: what it copied is kept, and a resume goes on from "
                                f"there (r, or `gpumigrate session resume {self.session.name if self.session else 'NAME'}`).",
                                style="bold yellow"))
            summary.set_classes("warning")
            return
        if data.get("interrupted"):
            text = event.summary
            for index, label in enumerate(self._labels):
                text = text.replace(f"{label}: ", f"entry {index + 1}: ")
            for tail in ("; interrupted (run the same command again to resume)", "; run the same command again to resume",
                         ", and it goes on from there when resumed"):  # the engine's words; the key is said here
                text = text.replace(tail, "")
            summary.update(Text(f"Cancelled — {text}. Press r to resume where it stopped.", style="bold yellow"))
            summary.set_classes("warning")
            return
        if "copied" not in data:  # the step failed before copying (bad address, missing credentials)
            summary.update(Text(f"Failed: {event.summary}", style="bold red"))
            summary.set_classes("error")
            return
        failed = int(data.get("failed", 0))
        if self.dry_run:
            c = self.plan_counts
            text = (f"Dry run — nothing was changed: would copy {plural(int(data.get('copied', 0)), 'object')} "
                    f"({human_bytes(data.get('bytes', 0))}), would delete {int(data.get('deleted', 0)):,} "
                    f"({human_bytes(c['delete_bytes'])}), unchanged {int(data.get('skipped', 0)):,}")
            if failed:
                text += f", refused/conflicts {failed:,}"
        else:
            elapsed = time.monotonic() - self._started_at if self._started_at is not None else None
            resumed = int(data.get("bytes_resumed") or 0)  # sent by an earlier run: not this run's rate
            avg = ((data.get("bytes", 0) - resumed) / elapsed) if elapsed else None
            size = human_bytes(data.get("bytes", 0))
            if resumed:
                size += f", {human_bytes(resumed)} of it sent by an earlier run"
            text = (f"{'Done' if event.ok else 'Finished with problems'}: copied "
                    f"{plural(int(data.get('copied', 0)), 'object')} ({size}), deleted {int(data.get('deleted', 0)):,}, "
                    f"skipped {int(data.get('skipped', 0)):,}, failed {failed:,}, "
                    f"verified {int(data.get('verified', 0)):,} · {human_eta(elapsed)} at {human_rate(avg)} average")
        refused = [e for e in data.get("entries", []) if e.get("delete_refused")]
        for e in refused:
            said = "a real run would refuse the deletions" if self.dry_run else "deletions refused"
            text += f" · {said} for {e.get('src')} -> {e.get('dst')}: {e['delete_refused']}"
        style = "bold red" if failed or refused or not event.ok else "bold green"
        summary.update(Text(text, style=style))
        summary.set_classes("error" if style == "bold red" else "ok")
