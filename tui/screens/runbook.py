"""The Runbook view: the cutover checklist, approvals waiting for a second person, the audit log.

Everything here reads and writes the session through ``engine.cutover``: the
screen only shows it and forwards key presses.  Without a session the checklist is
the profile's, read-only (what the cutover will tick), with how to start one.  Ticking items and deciding
approvals are open to watchers as well (the second person is usually one);
signing off the cutover is the driver's.
"""

from __future__ import annotations

import threading

from typing import Any, Iterable

from textual import work
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Button, DataTable, Label, RichLog, Static

from tui.screens.base import StepScreen


class RunbookScreen(StepScreen):
    """Checklist (t ticks), rollback plan, approvals (a / d), sign-off (s), live event log."""

    MODE = "runbook"
    CSS_PATH = "runbook.tcss"
    BINDINGS = [
        Binding("t", "tick", "Tick item", id="runbook-tick"),
        Binding("u", "untick", "Untick", id="runbook-untick"),
        Binding("a", "decide(True)", "Approve", id="runbook-approve"),
        Binding("d", "decide(False)", "Decline", id="runbook-decline"),
        Binding("s", "sign_off", "Sign off", id="runbook-signoff", tooltip="Sign off the cutover"),
    ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        allowed = super().check_action(action, parameters)
        if not allowed:
            return allowed
        if action in ("tick", "untick", "sign_off") and self.session is None:
            return None  # dimmed: the checklist is read-only without a session
        if action in ("tick", "untick") and not self._rows("runbook-items"):
            return None
        if action == "decide" and not self._rows("runbook-approvals"):
            return None  # dimmed: nothing is waiting for a second person
        return allowed

    def _rows(self, table: str) -> int:
        return sum(t.row_count for t in self.query(f"#{table}").results(DataTable))

    def compose_body(self) -> Iterable[Widget]:
        with Horizontal(id="runbook-top"):
            with Vertical(id="runbook-left"):
                yield Label("Cutover checklist", classes="runbook-heading")
                yield DataTable(id="runbook-items", cursor_type="row", zebra_stripes=True)
                # Sign-off is the checklist's own action, so it sits under it: beside Approve and Decline the
                # three buttons needed 48 cells and the right column has 31 at 80x24 (Sign off was off-screen)
                with Horizontal(id="runbook-checklist-foot"):
                    yield Static("", id="runbook-status")
                    yield Button("Sign off (s)", id="sign-off", variant="warning", classes="mutating")
            with Vertical(id="runbook-right"):
                yield Label("Waiting for a second person", classes="runbook-heading")
                yield DataTable(id="runbook-approvals", cursor_type="row")
                with Horizontal(id="runbook-buttons"):
                    yield Button("Approve (a)", id="approve", variant="success")
                    yield Button("Decline (d)", id="decline", variant="error")
                yield Label("Rollback (last step first)", classes="runbook-heading")
                with VerticalScroll(id="runbook-rollback-scroll"):  # the generated plan is long: it scrolls
                    yield Static("", id="runbook-rollback", markup=False)
        yield Label("Audit log", classes="runbook-heading")
        yield RichLog(id="runbook-log", wrap=False, markup=False, max_lines=2000)

    def on_mount(self) -> None:
        super().on_mount()
        items = self.query_one("#runbook-items", DataTable)
        items.add_columns("#", "gate", "item", "ticked by", "at", "note")
        approvals = self.query_one("#runbook-approvals", DataTable)
        approvals.add_columns("#", "action", "detail", "asked by")
        history = getattr(self.gm_app, "session_history", None)
        if history is not None:
            self._log_events(list(history.log))
        self.refresh_view()

    # --- showing -----------------------------------------------------------

    def _profile(self) -> Any:
        from engine.cutover import runbook

        if self.session is None:
            return self.profile
        try:
            return runbook.session_profile(self.session, self.profile)
        except Exception:  # noqa: BLE001 - no profile yet: an empty checklist
            return None

    def refresh_view(self) -> None:
        from engine.cutover import runbook
        from engine.cutover.status import iso

        items = self.query_one("#runbook-items", DataTable)
        approvals = self.query_one("#runbook-approvals", DataTable)
        status = self.query_one("#runbook-status", Static)
        rollback = self.query_one("#runbook-rollback", Static)
        row = items.cursor_row
        items.clear()
        approvals.clear()
        profile = self._profile()
        if profile is None or not profile.cutover.runbook:
            # short enough for the checklist's column at 80x24 (46 cells); it wraps below that
            status.update("No runbook: e adds [[cutover.runbook]] items." if self.driving
                          else "The profile has no runbook yet.")
            rollback.update("")
        elif self.session is None:  # what the cutover will tick, read-only
            for number, item in enumerate(profile.cutover.runbook, start=1):
                items.add_row(str(number), "GATE" if item.gate else "", item.title, "", "", "", key=str(number))
            where = self.gm_app.profile_path.name if self.gm_app.profile_path else "P"
            status.update(f"{len(profile.cutover.runbook)} items, read-only: no session. To tick them, start one: "
                          f"gpumigrate --session NAME --profile {where}")
        if profile is not None and self.session is not None:
            entries = runbook.entries(self.session, profile)
            for e in entries:
                tick = e.tick
                items.add_row(str(e.number), "GATE" if e.gate else "", e.title,
                              tick.ticked_by if tick else ("blocked" if e.blocked_by else ""),
                              (iso(tick.ticked_at) or "")[11:19] if tick else "", tick.note if tick else "",
                              key=str(e.number))
            done = sum(1 for e in entries if e.done)
            status.update(f"{done}/{len(entries)} ticked" if entries else status.render())
            if entries:
                items.move_cursor(row=min(row, len(entries) - 1))
        if profile is not None:
            plan = runbook.rollback_plan(profile)
            lines = [f"{n}. {title}\n   $ {cmd}" for n, title, cmd in plan] or ["(no rollback steps in the runbook)"]
            rollback.update("\n".join(lines + ["", *self._migration_rollback(profile)]))
        if self.session is not None:
            for a in self.session.approvals("pending"):
                approvals.add_row(str(a.id), a.action, a.detail, a.requested_by, key=str(a.id))
        self.refresh_bindings()  # tick, approve, decline: live only with something to act on

    def _migration_rollback(self, profile: Any) -> list[str]:
        """The generated plan that undoes each migration step (engine.ops.rollback), cached per profile."""
        cached = getattr(self, "_rollback_cache", None)
        if cached is not None and cached[0] is profile:
            return cached[1]
        from engine.errors import GpumigrateError
        from engine.ops.rollback import rollback_items

        try:
            items = rollback_items(profile, self.gm_app.profile_path)
        except GpumigrateError as exc:
            lines = [f"Migration rollback plan: {exc}"]
        else:
            lines = ["Migration rollback plan (generated from the profile; `gpumigrate ops PROFILE --emit rollback`):"]
            for i, item in enumerate(items, 1):
                lines.append(f"R{i}. [{item.step}] {item.title}{'  (GATE)' if item.gate else ''}")
                lines.extend(f"   $ {cmd}" for cmd in item.commands)
                if item.note:
                    lines.append(f"   {item.note}")
        self._rollback_cache = (profile, lines)
        return lines

    def on_session_events(self, message: Any) -> None:
        self._log_events(message.events)
        if any(e.kind != "progress" for e in message.events):
            self.refresh_view()

    def _log_events(self, events: list[Any]) -> None:
        from engine.cutover.status import format_event

        log = self.query_one("#runbook-log", RichLog)
        for ev in events:
            if ev.kind != "progress":
                log.write(format_event(ev))

    # --- actions -----------------------------------------------------------

    def _selected_item(self) -> str | None:
        items = self.query_one("#runbook-items", DataTable)
        if items.row_count == 0:
            return None
        return str(items.coordinate_to_cell_key(items.cursor_coordinate).row_key.value)

    def _selected_approval(self) -> int | None:
        table = self.query_one("#runbook-approvals", DataTable)
        if table.row_count == 0:
            return None
        return int(str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value))

    def _guard(self, fn: Any, action: str) -> None:
        from engine.errors import GpumigrateError

        if not self.gm_app.authorize(action):
            return
        if self.session is None:
            self.notify("No session: attach to one first.", severity="warning")
            return
        try:
            fn()
        except GpumigrateError as exc:
            self.notify(str(exc), severity="error")
        self.refresh_view()

    def action_tick(self) -> None:
        from engine.cutover import runbook

        ref, profile = self._selected_item(), self._profile()
        if ref is not None and profile is not None:
            self._guard(lambda: runbook.tick(self.session, profile, ref), "tick")

    def action_untick(self) -> None:
        from engine.cutover import runbook

        ref, profile = self._selected_item(), self._profile()
        if ref is not None and profile is not None:
            self._guard(lambda: runbook.untick(self.session, profile, ref), "untick")

    def action_decide(self, approve: bool) -> None:
        approval_id = self._selected_approval()
        if approval_id is None:
            self.notify("Nothing is waiting for approval.")
            return
        if not self.gm_app.authorize("decide"):
            return
        if not approve:
            self._guard(lambda: self.session.decide_approval(approval_id, False), "decide")
            return
        request = self.session.approval(approval_id) if self.session is not None else None
        if request is None:
            return
        from tui.widgets.dialogs import ConfirmDialog

        def answered(yes: bool | None) -> None:
            if yes:
                self._guard(lambda: self._approve(approval_id), "decide")

        self.app.push_screen(ConfirmDialog(approval_question(request)), answered)

    def _approve(self, approval_id: int) -> None:
        """Approve, unless it is a cutover on a verification older than the last transfer run (refused, with why)."""
        from engine.cutover.freshness import check_approval

        check_approval(self.session, approval_id)
        self.session.decide_approval(approval_id, True)

    def action_sign_off(self) -> None:
        if not self.gm_app.authorize("sign_off"):
            return
        if self.session is None or self._profile() is None:
            self.notify("No session or profile to sign off.", severity="warning")
            return
        # closing the app sets it: a request still waiting is withdrawn, and the wait no longer holds the exit
        self._sign_off(self.gm_app.cancel_event_for("runbook-signoff"))

    def _ask_to_acknowledge(self, refusal: str) -> None:
        """No verification covers the copy: sign off only if the person says so (recorded with the sign-off)."""
        from tui.widgets.dialogs import ConfirmDialog

        def answered(yes: bool | None) -> None:
            if yes:
                self._sign_off(self.gm_app.cancel_event_for("runbook-signoff"), acknowledge_unverified=True)
            else:
                self.notify("Cutover not signed off: it is not verified.", severity="warning")

        words = refusal.removeprefix("cutover not signed off: ").split(". Verify the copy")[0]
        self.app.push_screen(ConfirmDialog(
            f"{words}.\n\nNo verification in this session covers the copy now at the destination. Sign off the "
            "cutover NOT VERIFIED? Your acknowledgment is recorded with the sign-off, in the audit log and in the "
            "request a second person approves.\n\ny signs off NOT VERIFIED, escape does not (verify first: "
            "the Verify screen, or `gpumigrate replay PROFILE --session NAME --steps verify`)."), answered)

    @work(thread=True, exclusive=True, group="runbook-signoff", exit_on_error=False)
    def _sign_off(self, cancel: threading.Event, acknowledge_unverified: bool = False) -> None:
        from engine.cutover import runbook
        from engine.cutover.freshness import NotVerified
        from engine.errors import GpumigrateError

        handle = self.gm_app.open_session_handle()
        try:
            basis = runbook.sign_off(handle, self._profile(), cancel=cancel,
                                     acknowledge_unverified=acknowledge_unverified)
            self.app.call_from_thread(self.notify, f"Cutover signed off ({basis}).",
                                      severity="warning" if basis.startswith("NOT VERIFIED") else "information")
        except NotVerified as exc:
            self.app.call_from_thread(self._ask_to_acknowledge, str(exc))
        except GpumigrateError as exc:
            if not cancel.is_set():  # closing: nobody left to tell (and the app's loop is ending)
                self.app.call_from_thread(self.notify, str(exc), severity="error")
        finally:
            handle.close()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "approve":
            self.action_decide(True)
        elif event.button.id == "decline":
            self.action_decide(False)
        elif event.button.id == "sign-off":
            self.action_sign_off()


def approval_question(request: Any) -> str:
    """What the approver is shown before saying yes: the action, who asked, and the plan itself."""
    lines = [f"Approve #{request.id} {request.action}, asked by {request.requested_by}?", "", request.detail]
    preview = request.plan_preview()
    if preview:
        lines += ["", f"It covers {request.plan_count:,} path(s); the first {len(preview)}:"]
        lines += [f"  {p}" for p in preview]
        if (request.plan_count or 0) > len(preview):
            lines.append(f"  … and {request.plan_count - len(preview):,} more")
        lines += ["", f"The whole list: {request.plan_path}"]
    lines += ["", "y approves, escape does not."]
    return "\n".join(lines)
