"""The Verify screen: a live checklist, a detail pane per check, plots in the terminal, and sign-off.

The checks run in the base screen's thread worker (the engine's ``verify``
step); each finished check arrives as an ``ItemDone`` event carrying its
result, which fills its row.  Selecting a row shows its figures, threshold,
details and command output; convergence and latency also draw their plot
(plotext).  Approve / Reject record the decision, with the operator, in the
session's audit log (``engine.verify.signoff``).  Only a PASS is approved; a
FAIL or INCOMPLETE is rejected, or accepted with known gaps (g): a written
reason, then a second operator's approval in the session.
"""

from __future__ import annotations

import threading

from typing import Any, Iterable

from textual import events, work
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Button, DataTable, ProgressBar, Static
from textual.widgets.data_table import ColumnKey
from textual_plotext import PlotextPlot

from engine.events import ItemDone, Progress, StepFinished, StepStarted
from tui.messages import EngineEvent
from tui.screens.base import StepScreen

_STATUS = {"pending": "· pending", "running": "… running", "pass": "✔ pass", "fail": "✘ FAIL",
           "not-run": "⏭ not run", "error": "⚠ ERROR", "gap": "⛔ NOT RUN", "optional": "⏭ optional"}


def _status_word(result: dict[str, Any]) -> str:
    """A not-run check says whether the profile expected it (a gap: INCOMPLETE) or marks it optional."""
    status = result.get("status", "")
    if status == "not-run" and result.get("expected"):
        return _STATUS["optional"] if result.get("optional") else _STATUS["gap"]
    return _STATUS.get(status, status)


class VerifyScreen(StepScreen):
    """Run the verification checks and sign off the result."""

    STEP = "verify"
    MODE = "verify"
    CHECK_WIDTH = 22
    CHECK_MIN = 12
    """The Check column narrows down to this before Measured goes under MEASURED_MIN (titles then wrap)."""
    MEASURED_MIN = 14
    CSS_PATH = "verify.tcss"
    BINDINGS = [
        Binding("r", "run_checks", "Run checks", id="verify-run"),
        Binding("a", "approve", "Approve", id="verify-approve"),
        Binding("x", "reject", "Reject", id="verify-reject"),
        Binding("g", "accept_gaps", "Accept with gaps", id="verify-accept-gaps"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.results: dict[str, dict[str, Any]] = {}
        self._rows: dict[str, tuple[str, str, str]] = {}
        """check name -> (title, result word, measured), in the order they run."""
        self.report: Any = None
        self._checks_running = False
        self._run_seen = False
        """A run of the checks (this app's or the session worker's) started and has not finished."""

    def compose_body(self) -> Iterable[Widget]:
        with Horizontal(id="verify-body"):
            with Vertical(id="verify-left"):
                yield Static("", id="verify-status")
                yield ProgressBar(id="verify-progress", show_eta=False)
                yield DataTable(id="verify-checks", cursor_type="row", zebra_stripes=True)
                with Horizontal(id="verify-actions"):
                    yield Button("Run checks (r)", id="verify-run-button", variant="primary", classes="mutating")
                    yield Button("Approve (a)", id="verify-approve-button", variant="success", classes="mutating")
                    yield Button("Reject (x)", id="verify-reject-button", variant="error", classes="mutating")
            with Vertical(id="verify-right"):
                with VerticalScroll(id="verify-detail-scroll"):
                    yield Static("Select a check to see its figures.", id="verify-detail")
                yield PlotextPlot(id="verify-plot")

    def on_mount(self) -> None:
        super().on_mount()
        table = self.query_one("#verify-checks", DataTable)
        table.add_column("Check", key="check", width=self.CHECK_WIDTH)
        table.add_column("Result", key="status", width=12)
        table.add_column("Measured", key="summary", width=16)
        self._fill_pending()
        self.call_after_refresh(self._fit_measured)

    def on_resize(self, _event: events.Resize) -> None:
        self.call_after_refresh(self._fit_measured)

    def _fit_measured(self) -> None:
        """Give the Measured column what the table leaves; longer figures wrap onto more lines, never cut."""
        table = self.query_one("#verify-checks", DataTable)
        check = table.columns[ColumnKey("check")]
        was = check.width
        check.width = self.CHECK_WIDTH
        free = table.scrollable_content_region.width - sum(
            c.get_render_width(table) for key, c in table.columns.items() if key.value != "summary")
        width = free - 2 * table.cell_padding - 2
        if width < self.MEASURED_MIN:
            # A Measured column wider than the table shows cut every wrapped line at its end ("libnvidia-ml.so.1
            # is not installed" read "libnvidia .so.1 is installed" at 80x24): the Check column gives way first.
            give = min(self.MEASURED_MIN - width, self.CHECK_WIDTH - self.CHECK_MIN)
            check.width = self.CHECK_WIDTH - give
            width += give
        width = max(1, width)
        column = table.columns[ColumnKey("summary")]
        if width != column.width or check.width != was:
            column.width = width
            self._redraw_rows(table)

    # --- state ------------------------------------------------------------------

    def _check_names(self) -> list[tuple[str, str]]:
        from engine.verify.checks import load
        from engine.verify.suite import selected_checks

        if self.profile is None:
            return []
        return [(name, load(name).TITLE) for name in selected_checks(self.profile.verify)]

    def _fill_pending(self) -> None:
        table = self.query_one("#verify-checks", DataTable)
        table.clear()
        self.results.clear()
        self._rows = {name: (title, _STATUS["pending"], "") for name, title in self._check_names()}
        for name, (title, state, measured) in self._rows.items():
            table.add_row(title, state, measured, key=name)
        status = "No profile open (ctrl+o)." if self.profile is None else self._baseline_text()
        self.query_one("#verify-status", Static).update(status)
        self.query_one("#verify-progress", ProgressBar).update(total=max(1, table.row_count), progress=0)

    def _baseline_text(self) -> str:
        verify = self.profile.verify if self.profile else None
        if verify and verify.baseline:
            return f"Baseline: {verify.baseline}. r runs the checks."
        return "No baseline: checks that compare with the source are skipped. r runs the checks."

    def profile_changed(self) -> None:
        if not self._checks_running:
            self._fill_pending()

    # --- actions ------------------------------------------------------------------

    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {"verify-run-button": self.action_run_checks, "verify-approve-button": self.action_approve,
                   "verify-reject-button": self.action_reject}
        if event.button.id in actions:
            actions[event.button.id]()

    def action_run_checks(self) -> None:
        if self._checks_running:
            self.notify("The checks are already running.")
            return
        self._fill_pending()
        self.report = None
        if self.run_step("verify") is not None:
            self._checks_running = True

    def action_approve(self) -> None:
        self._sign("approved")

    def action_reject(self) -> None:
        self._sign("rejected")

    def action_accept_gaps(self) -> None:
        """FAIL or INCOMPLETE accepted with known gaps: a written reason, then a second person."""
        from engine.errors import GpumigrateError
        from engine.verify.signoff import check_decision, staleness
        from tui.widgets.dialogs import PromptDialog

        if not self._may_sign():
            return
        gap = staleness(self.session, self.report)
        try:
            check_decision(self.report, "accepted-with-gaps", "reason to come", gap.words() if gap else None)
        except GpumigrateError as exc:
            self.notify(str(exc), severity="warning", timeout=8)
            return
        if gap is not None:  # a PASS older than the last transfer run: the gap named in the question
            verdict = f"{self.report.verdict}, but {gap.words()}"
        else:
            verdict = self.report.verdict

        def with_reason(reason: str | None) -> None:
            if reason:  # closing the app sets the event: the waiting request is withdrawn
                self._accept_gaps(reason, self.gm_app.cancel_event_for("verify-accept-gaps"))

        self.app.push_screen(PromptDialog(f"{verdict}: why may the cutover go on with these gaps? "
                                          "(a second operator must approve)"), with_reason)

    @work(thread=True, exclusive=True, group="verify-accept-gaps", exit_on_error=False)
    def _accept_gaps(self, reason: str, cancel: threading.Event) -> None:
        from engine.errors import GpumigrateError
        from engine.verify.signoff import sign_off

        self.app.call_from_thread(self.query_one("#verify-status", Static).update,
                                  "Waiting for a second operator to approve accepting these gaps "
                                  f"(`gpumigrate session approve {self.session.name} ID`, or Runbook 7)…")
        try:
            entry = sign_off(self.session, self.report, "accepted-with-gaps", reason,  # type: ignore[arg-type]
                             cancel=cancel)
        except GpumigrateError as exc:
            if cancel.is_set():  # the app is closing: nobody left to tell
                return
            self.app.call_from_thread(self.notify, str(exc), severity="error", timeout=8)
            self.app.call_from_thread(self.query_one("#verify-status", Static).update, self.report.summary())
            return
        self.app.call_from_thread(self._signed, entry)

    def _may_sign(self) -> bool:
        if not self.gm_app.authorize("sign_off"):
            return False
        if self.report is None:
            self.notify("Run the checks first (r).", severity="warning")
            return False
        if self.session is None:
            self.notify("No session: open one (gpumigrate --session NAME) to record a sign-off.", severity="warning")
            return False
        return True

    def _signed(self, entry: dict[str, Any]) -> None:
        from engine.verify.report.common import second_person

        second = f", approved by {second_person(entry)}" if entry.get("approved_by") else ""
        self.notify(f"{entry['decision']} by {entry['operator']}{second}: recorded in session {self.session.name}")
        self.query_one("#verify-status", Static).update(
            f"{self.report.summary()} — {entry['decision']} by {entry['operator']}{second}")

    def _sign(self, decision: str) -> None:
        from engine.errors import GpumigrateError
        from engine.verify.signoff import sign_off

        if not self._may_sign():
            return
        try:
            entry = sign_off(self.session, self.report, decision)  # type: ignore[arg-type]
        except GpumigrateError as exc:
            self.notify(str(exc), severity="error", timeout=8)
            return
        self._signed(entry)

    # --- engine events (from the worker) ---------------------------------------------

    def on_engine_event(self, message: EngineEvent) -> None:
        event = message.event
        if event.step != "verify":
            return
        table = self.query_one("#verify-checks", DataTable)
        if isinstance(event, StepStarted):
            self._run_seen = True
            self.query_one("#verify-status", Static).update("Running the checks…")
        elif isinstance(event, Progress) and event.label == "checks":
            bar = self.query_one("#verify-progress", ProgressBar)
            bar.update(total=event.total or 1, progress=event.done)
            name = event.extra.get("check")
            if name and name in table.rows:
                table.update_cell(name, "status", _STATUS["running"])
        elif isinstance(event, ItemDone):
            result = event.data.get("result") or {"name": event.item, "status": event.status,
                                                  "summary": event.detail, "title": event.item}
            self.results[event.item] = result
            if event.item in self._rows:
                self._rows[event.item] = (self._rows[event.item][0], _status_word(result), event.detail)
                self._redraw_rows(table)
            if table.row_count and table.cursor_row >= 0:
                self._show_selected()
        elif isinstance(event, StepFinished):
            self._checks_running = self._run_seen = False
            from engine.verify.suite import VerifyReport

            data = event.result.get("report")
            if data:
                self.report = VerifyReport.from_dict(data)
                lines = [f"{self.report.summary()}. {self._sign_off_keys()}"]
                if self.report.incomplete_line():
                    lines.append(self.report.incomplete_line())
                from rich.markup import escape

                self.query_one("#verify-status", Static).update(escape("\n".join(lines)))
            else:
                for name in list(table.rows):  # the check it was running when it stopped did not finish
                    if table.get_cell(name, "status") == _STATUS["running"]:
                        table.update_cell(name, "status", "■ stopped")
                again = " Press r to run the checks again." if (event.result or {}).get("interrupted") else ""
                self.query_one("#verify-status", Static).update(f"Verification stopped: {event.summary}.{again}")

    def step_not_responding(self, words: str | None) -> None:
        """The session's run of the checks stopped responding (``words``), or responds again (None)."""
        if self._run_seen:
            self.query_one("#verify-status", Static).update(
                f"Not responding: {words}" if words else "Running the checks…", layout=False)

    def _sign_off_keys(self) -> str:
        """What the keys do with this result, and where a decision goes: only a session records one."""
        if self.session is None:
            return ("Not signed off: nothing is recorded without a session (a sign-off needs one: "
                    "gpumigrate --session NAME).")
        keys = ("a approves, x rejects" if self.report.ok else
                "x rejects, g accepts with known gaps (a second operator approves)")
        return f"{keys} (recorded in session {self.session.name})."

    def _redraw_rows(self, table: DataTable) -> None:
        """Rows again, each as tall as its figures need: a row's height is measured only when it is added."""
        from rich.text import Text

        cursor = table.cursor_row
        table.clear()
        for name, (title, state, measured) in self._rows.items():
            table.add_row(title, state, Text(measured), key=name, height=None)
        if 0 <= cursor < table.row_count:
            table.move_cursor(row=cursor)

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_selected()

    # --- detail pane ----------------------------------------------------------------

    def _selected(self) -> str | None:
        table = self.query_one("#verify-checks", DataTable)
        if not table.row_count:
            return None
        try:
            row_key, _ = table.coordinate_to_cell_key((table.cursor_row, 0))
        except Exception:  # noqa: BLE001 - no row under the cursor
            return None
        return str(row_key.value)

    def _show_selected(self) -> None:
        from rich.markup import escape

        name = self._selected()
        detail = self.query_one("#verify-detail", Static)
        plot = self.query_one("#verify-plot", PlotextPlot)
        result = self.results.get(name or "")
        if result is None:
            detail.update(f"{escape(name or '')}: not run yet.")
            plot.remove_class("shown")
            return
        lines = [f"[b]{escape(result.get('title', name))}[/b] — {_status_word(result)}",
                 escape(result.get("summary", ""))]
        if result.get("expected"):
            lines.append(f"[dim]expected:[/] {escape(result['expected'])}"
                         + (" (optional in this profile)" if result.get("optional") else ""))
        if result.get("measures"):
            lines.append(f"[dim]measures:[/] {escape(result['measures'])}")
        if result.get("threshold"):
            lines.append(f"[dim]threshold:[/] {escape(result['threshold'])}")
        from engine.verify.checks.base import CheckResult
        from engine.verify.report import figure_rows

        rows = figure_rows(CheckResult.from_dict(result)) if "figures" in result else []
        if rows:
            lines.append("")
            lines += [f"  {escape(k)}: {escape(t)}" + (f"  [dim](baseline {escape(b)})[/]" if b else "")
                      for k, t, b in rows]
        if result.get("details"):
            lines.append("")
            lines += [f"• {escape(d.strip())}" for d in result["details"]]
        if result.get("output"):
            from engine.verify.textsafe import readable

            lines += ["", "[dim]output:[/]", escape(readable(result["output"]))]
        detail.update("\n".join(lines))
        self._plot(result, plot)

    def _plot(self, result: dict[str, Any], widget: PlotextPlot) -> None:
        figures = result.get("figures") or {}
        plt = widget.plt
        plt.clear_figure()
        if result.get("name") == "convergence" and figures.get("target_curve") and figures.get("baseline_curve"):
            for label, curve in (("baseline", figures["baseline_curve"]), ("target", figures["target_curve"])):
                points = [(s, v) for s, v in curve if v is not None]
                plt.plot([p[0] for p in points], [p[1] for p in points], label=label, marker="braille")
            plt.title("loss by step")
        elif result.get("name") == "latency" and figures.get("histogram"):
            hist = figures["histogram"]
            centers = [hist["lo_ms"] + hist["width_ms"] * (i + 0.5) for i in range(len(hist["counts"]))]
            plt.bar(centers, hist["counts"], width=0.8)
            plt.vline(figures["p99_ms"], "orange")
            limit = self.profile.verify.p99_ms if self.profile is not None else None
            if limit is not None:
                plt.vline(limit, "red")
            plt.title(f"latency (ms): P99 {figures['p99_ms']:.1f} (orange)"
                      + (", [verify] p99_ms (red)" if limit is not None else ""))
        else:
            widget.remove_class("shown")
            return
        widget.add_class("shown")
        widget.refresh()
