"""The Drivers screen: this machine's stack beside the target's plan, and the generated artefacts.

Thin by design: the detection, diagnosis, plan and rendering are engine calls
(``engine.drivers``) made in a thread worker; the screen shows their findings
red/amber/green with the reason, previews each artefact with syntax
highlighting, and saves them (``s``) into a folder next to the profile.
``GPUMIGRATE_DRIVERS_FROM`` points the doctor at a recorded machine
(``gpumigrate drivers doctor --record DIR``) instead of this one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable

from rich.syntax import Syntax
from rich.text import Text
from textual import events, work
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Button, DataTable, Label, Static, TabbedContent, TabPane

from tui.screens.base import StepScreen

STATUS_STYLE = {"green": "bold green", "amber": "bold yellow", "red": "bold red"}
LEXERS = {"bash": "bash", "hcl": "terraform", "dockerfile": "docker", "markdown": "markdown"}
OUT_FOLDER = "gpumigrate-drivers"
OPS_LEXERS = {"bash": "bash", "json": "json", "yaml": "yaml", "ini": "ini", "markdown": "markdown"}


class DriversScreen(StepScreen):
    """Detected (left) and planned (right) stacks; artefact previews below; r refreshes, s saves."""

    STEP = "drivers"
    MODE = "drivers"
    CSS_PATH = "drivers.tcss"
    BINDINGS = [
        Binding("r", "refresh", "Refresh", id="drivers-refresh"),
        Binding("s", "save", "Save artefacts", id="drivers-save"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.artefacts: list[Any] = []
        self.manifest_files: dict[str, str] = {}
        self.saved_to: list[Path] = []
        self._findings: dict[str, list[Any]] = {"drivers-detected": [], "drivers-plan": []}
        self._detail_table = "drivers-detected"

    def compose_body(self) -> Iterable[Widget]:
        yield Static("", id="drivers-summary", markup=False)
        with Horizontal(id="drivers-top"):
            with Vertical(id="drivers-detected-box"):
                yield Label("This machine (detected)", classes="drivers-heading", id="drivers-detected-title")
                yield DataTable(id="drivers-detected", cursor_type="row", zebra_stripes=True)
            with Vertical(id="drivers-plan-box"):
                yield Label("Target plan", classes="drivers-heading")
                yield DataTable(id="drivers-plan", cursor_type="row", zebra_stripes=True)
        yield Static("", id="drivers-detail", markup=False)
        with Horizontal(id="drivers-buttons"):
            yield Button("Refresh (r)", id="drivers-refresh-button")
            yield Button("Save artefacts (s)", id="drivers-save-button", variant="primary", classes="mutating")
            yield Static("", id="drivers-saved", markup=False)
        yield TabbedContent(id="drivers-artefacts")

    def on_mount(self) -> None:
        super().on_mount()
        for table_id in ("#drivers-detected", "#drivers-plan"):
            self.query_one(table_id, DataTable).add_columns("component", "status", "reason", "fix")
        self.action_refresh()

    def profile_changed(self) -> None:
        self.action_refresh()

    # --- actions -------------------------------------------------------------

    def action_refresh(self) -> None:
        self.query_one("#drivers-summary", Static).update("checking this machine and planning the target…")
        self._load()

    def action_save(self) -> None:
        if not self.driving:
            self.notify("Watching: only the driver can save artefacts.", severity="warning")
            return
        if not self.artefacts:
            self.notify("Nothing to save yet (open a profile).", severity="warning")
            return
        self._save(self._out_dir())

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "drivers-refresh-button":
            self.action_refresh()
        elif event.button.id == "drivers-save-button":
            self.action_save()

    def _out_dir(self) -> Path:
        base = self.gm_app.profile_path.parent if self.gm_app.profile_path else Path.cwd()
        return base / OUT_FOLDER

    # --- workers (engine calls only; widgets are touched back on the UI thread) ---

    _generation = 0
    """Bumped by every load: a slower, older load's result is dropped instead of drawn twice."""

    @work(thread=True, exclusive=True, group="drivers-load", exit_on_error=False)
    def _load(self) -> None:
        from engine.drivers import compat, detect, render

        self._generation += 1
        generation = self._generation

        recorded = os.environ.get("GPUMIGRATE_DRIVERS_FROM")
        state = detect.detect_recorded(recorded) if recorded else detect.detect()
        detected = compat.diagnose(state)
        plan = artefacts = files = None
        ops_items: list[Any] = []
        error = ""
        profile = self.profile
        if profile is not None:
            try:
                plan = render.plan_for_profile(profile)
                base = self.gm_app.profile_path.parent if self.gm_app.profile_path else Path.cwd()
                artefacts, files = render.render_all(profile, plan, base_dir=base)
            except Exception as exc:  # noqa: BLE001 - shown to the user, the screen stays usable
                error = str(exc)
            ops_items = self._ops_artefacts(profile)
        self.app.call_from_thread(self._show, recorded, detected, plan, artefacts or [], files or {}, error,
                                  generation)
        self.app.call_from_thread(self._show_ops, ops_items)

    def _ops_artefacts(self, profile: Any) -> list[Any]:
        """Day-two artefacts (alerts, Prometheus, Grafana, spot watcher) shown beside the drivers'."""
        from engine.errors import GpumigrateError
        from engine.ops.render import SCREEN_KINDS, render_all as render_ops

        try:
            result = render_ops(profile, SCREEN_KINDS["drivers"], profile_path=self.gm_app.profile_path)
        except GpumigrateError as exc:
            return [("ops-error", "text", f"Day-two artefacts could not be rendered: {exc}")]
        items: list[Any] = [(r.filename, r.language, r.text) for r in result.items]
        items += [(f"{kind} (not generated)", "text", why) for kind, why in result.skipped.items()]
        return items

    def _write_ops(self, folder: Path) -> list[Path]:
        written = []
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in getattr(self, "ops_artefacts", []):
            path = folder / Path(name).name
            path.write_text(text, encoding="utf-8")
            if name.endswith(".sh"):
                path.chmod(0o755)
            written.append(path)
        return written

    @work(thread=True, exclusive=True, group="drivers-save", exit_on_error=False)
    def _save(self, folder: Path) -> None:
        from engine.drivers import render

        try:
            written = render.write_artefacts(self.artefacts, self.manifest_files, folder)
            written += self._write_ops(folder / "ops")
        except (OSError, Exception) as exc:  # noqa: BLE001
            self.app.call_from_thread(self.notify, f"Could not save: {exc}", severity="error")
            return
        self.app.call_from_thread(self._saved, folder, written)

    # --- rendering -------------------------------------------------------------

    def _show_ops(self, items: list[Any]) -> None:
        self.ops_artefacts = [(name, text) for name, lang, text in items if lang != "text" or "." in name]
        tabs = self.query_one("#drivers-artefacts", TabbedContent)
        for index, (name, language, text) in enumerate(items):
            syntax = Syntax(text, OPS_LEXERS.get(language, "text"), line_numbers=True, word_wrap=False,
                            theme="monokai")
            tabs.add_pane(TabPane(f"ops: {name}", VerticalScroll(Static(syntax, classes="drivers-preview")),
                                  id=f"drivers-tab-ops-{index}"))

    def _saved(self, folder: Path, written: list[Path]) -> None:
        self.saved_to = written
        self.query_one("#drivers-saved", Static).update(f"saved {len(written)} files to {folder}")
        self.notify(f"Saved {len(written)} files to {folder}")

    def _fill(self, table_id: str, findings: list[Any]) -> None:
        table = self.query_one(table_id, DataTable)
        table.clear()
        self._findings[table_id.lstrip("#")] = list(findings)
        for f in findings:
            table.add_row(f.component, Text(f.status, style=STATUS_STYLE[f.status]), f.reason,
                          f.fix if f.status != "green" else "")
        self._show_detail()

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def on_descendant_focus(self, _event: events.DescendantFocus) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        """The highlighted finding's whole reason (and fix), wrapped across the screen's width.

        Two tables side by side leave the reason column a dozen cells at 80x24, so a sentence lost its
        end there ("no NVIDIA GPU foun"; at 200x50 the framework reason still ends in "leaves out V100 (").
        Wrapping inside the cells would make each row many lines tall in a box that holds five; this line
        says the whole sentence for the row the cursor is on instead.
        """
        focused = self.focused
        if isinstance(focused, DataTable) and focused.id in self._findings:
            self._detail_table = focused.id  # the table the user is in; else the one they were last in
        findings = self._findings.get(self._detail_table, [])
        table = self.query_one(f"#{self._detail_table}", DataTable)
        detail = self.query_one("#drivers-detail", Static)
        row = table.cursor_row
        if not 0 <= row < len(findings):
            detail.update("")
            return
        f = findings[row]
        fix = f" — fix: {f.fix}" if f.status != "green" and f.fix else ""
        detail.update(Text.assemble(f"{f.component} ", (f.status, STATUS_STYLE[f.status]), f": {f.reason}{fix}"))

    async def _show(self, recorded: str | None, detected: list[Any], plan: Any, artefacts: list[Any],
                    files: dict[str, str], error: str, generation: int | None = None) -> None:
        from engine.drivers.compat import machine_word

        if generation is not None and generation != self._generation:
            return  # a newer load is on its way

        self.query_one("#drivers-detected-title", Label).update(
            f"Recorded machine: {recorded}" if recorded else "This machine (detected)")
        self._fill("#drivers-detected", detected)
        summary = self.query_one("#drivers-summary", Static)
        if plan is None:
            self._fill("#drivers-plan", [])
            summary.update(error or "No profile open: only this machine is shown (ctrl+o opens a profile).")
        else:
            self._fill("#drivers-plan", plan.findings)
            wheel = f", {plan.framework} {plan.framework_version} ({plan.wheel})" if plan.wheel else ""
            summary.update(f"Target {plan.gpu or '?'} on {plan.os_image}: driver R{plan.driver_branch} "
                           f"({plan.driver_flavour}), CUDA {plan.cuda}{wheel} — plan {plan.status}; "
                           f"this machine {machine_word(detected)}")
        self.artefacts = artefacts
        self.manifest_files = files
        tabs = self.query_one("#drivers-artefacts", TabbedContent)
        await tabs.clear_panes()
        if generation is not None and generation != self._generation:
            return  # a newer load started while the old panes were going
        for artefact in artefacts:
            syntax = Syntax(artefact.text, LEXERS.get(artefact.language, "text"), line_numbers=True,
                            word_wrap=False, theme="monokai")
            pane = TabPane(artefact.filename, VerticalScroll(Static(syntax, classes="drivers-preview")),
                           id=f"drivers-tab-{artefact.kind}")
            tabs.add_pane(pane)
