"""Editing a step's choices through generated forms, and saving with the diff against the file on disk.

Every step screen's ``e`` (and the palette's *Edit choices*) opens :class:`SectionFormDialog` on the
sections that step owns (:data:`SECTION_FIELDS`), sub-tables and lists of tables included (cost
options, registry rewrites, verify manifests, inventory buckets, the runbook); the Transfer screen adds,
edits and removes ``[[transfer]]`` entries the same way (their ``[transfer.sts]`` settings too), and
shows the entry's dry-run plan before anything is saved.  The form checks the whole profile as
``gpumigrate validate`` does (the model and the catalog) and nothing is written until the user has
seen the diff and said yes.
"""

from __future__ import annotations

import difflib
import threading
from pathlib import Path
from functools import partial
from typing import TYPE_CHECKING, Any, Callable

from pydantic import ValidationError
from textual.app import ComposeResult
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from tui.widgets.fit_footer import FitFooter
from tui.widgets.model_form import FormGroup, FormValueError, ModelForm

if TYPE_CHECKING:
    from engine.profile import Profile
    from tui.app_api import EditingApp

SECTION_FIELDS: dict[str, dict[str, list[str] | None]] = {
    "inventory": {
        "source": None,
        "target": ["project", "region", "zone", "machine_type", "gpu_model", "gpu_count"],
        "workload": ["kind", "model", "params_billions", "precision", "batch_size", "seq_len"],
        "inventory": None,
    },
    "cost": {
        "target": ["pricing", "hourly_usd"],
        "source": ["hourly_usd"],
        "workload": ["source_hours_per_run", "target_hours_per_run", "speedup", "runs_per_month"],
        "cost": None,
    },
    "drivers": {"drivers": None},
    "verify": {
        "verify": ["expected_gpus", "baseline", "checks", "load_time_ratio", "p99_ms", "report_dir", "env"],
        "verify.model_load": None,
        "verify.latency": None,
        "verify.gpu": None,
        "verify.data_integrity": None,
        "verify.topology": None,
        "verify.convergence": None,
        "verify.throughput": None,
    },
    "runbook": {"cutover": None, "ops": None},  # the checklist, and the day-two plan it rolls back to
}
"""Which sections (and fields; None = every field a form can edit) each step's form shows."""


def _model_at(path: tuple[str, ...]) -> type:
    from engine.profile import Profile

    model: Any = Profile
    for part in path:
        annotation = model.model_fields[part].annotation
        model = annotation
    return model


def _current_at(data: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
    for part in path:
        data = data[part] if isinstance(part, int) else data.get(part, {})
    return data


def step_groups(profile: "Profile", step: str) -> list[FormGroup]:
    data = profile.model_dump(exclude_unset=True)
    groups = []
    for dotted, fields in SECTION_FIELDS.get(step, {}).items():
        path = tuple(dotted.split("."))
        groups.append(FormGroup(path=path, model=_model_at(path), current=_current_at(data, path), fields=fields,
                                title=f"[{dotted}]  {(_model_at(path).__doc__ or '').strip().splitlines()[0]}"))
    return groups


def transfer_group(profile: "Profile", index: int, options: dict[str, list[str]]) -> FormGroup:
    from engine.transfer.spec import TransferSpec

    data = profile.model_dump(exclude_unset=True)
    current = data["transfer"][index] if index < len(data.get("transfer", [])) else {}
    return FormGroup(path=("transfer", index), model=TransferSpec, current=current, options=options,
                     fields=["src", "dst", "recursive", "delete", "checksum", "exclude", "max_delete", "jobs",
                             "bwlimit", "engine", "sts"],
                     title=f"[[transfer]] entry {index + 1}" + (" (new)" if not current else ""))


class _ListCommands(Provider):
    """The palette's *Edit list …* commands for the form's lists of tables and *Go to field …* for every other
    field (tab + enter reach them too)."""

    def _lists(self) -> list[str]:
        forms = self.screen.query(ModelForm)
        return forms.first().list_rows() if forms else []

    async def discover(self) -> Hits:
        for dotted in self._lists():
            yield DiscoveryHit(f"Edit list {dotted}", partial(self._open, dotted), help="add, edit, remove entries")

    def _fields(self) -> list[str]:
        forms = self.screen.query(ModelForm)
        return forms.first().field_rows() if forms else []

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for dotted in self._lists():
            text = f"Edit list {dotted}"
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), partial(self._open, dotted), help="add, edit, remove entries")
        # Every other field too, found by typing (not listed up front: a form has dozens)
        for dotted in self._fields():
            text = f"Go to field {dotted}"
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), partial(self._goto, dotted), help="focus its control")

    def _open(self, dotted: str) -> None:
        self.screen.query_one(ModelForm).edit_list_named(dotted)

    def _goto(self, dotted: str) -> None:
        self.screen.query_one(ModelForm).focus_field(dotted)


class SectionFormDialog(ModalScreen["Profile | None"]):
    """The form; ctrl+s (or Save) validates the whole profile and returns it; escape cancels."""

    COMMANDS = {_ListCommands}

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "save", "Check and save", priority=True)]
    DEFAULT_CSS = """
    SectionFormDialog { align: center middle; }
    SectionFormDialog > Vertical { width: 100%; max-width: 110; height: 100%; max-height: 48;
        border: thick $primary; background: $surface; padding: 0 1; }
    SectionFormDialog #form-heading { text-style: bold; height: auto; }
    SectionFormDialog #form-problems { color: $error; height: auto; }
    SectionFormDialog Horizontal { height: auto; }
    """

    def __init__(self, title: str, profile: "Profile", groups: list[FormGroup], new_entry: bool = False) -> None:
        super().__init__()
        self._title = title
        self._profile = profile
        self._groups = groups
        self._new_entry = new_entry

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._title + "  (ctrl+s saves, escape cancels)", id="form-heading")
            yield Static("", id="form-problems", markup=False)
            yield ModelForm(self._groups, id="form")
            with Horizontal():
                yield Button("Save (ctrl+s)", variant="primary", id="form-save")
                yield Button("Cancel", id="form-cancel")
        yield FitFooter()  # the dialog's own keys (the screen's below do not work meanwhile)

    def on_mount(self) -> None:
        first = self.query("ModelForm Input, ModelForm Select, ModelForm Checkbox")
        if first:
            first.first().focus()

    def candidate(self) -> "Profile | None":
        """The profile with the form applied, or None (errors shown inline)."""
        from engine.profile import Profile

        form = self.query_one(ModelForm)
        data = self._profile.model_dump(exclude_unset=True)
        if self._new_entry:
            data.setdefault("transfer", []).append({})
        problems = self.query_one("#form-problems", Static)
        try:
            form.apply(data)
            profile = Profile.model_validate(data)
            catalog = _catalog_problems(profile)
            if catalog:
                raise _CatalogProblems(catalog)
        except _CatalogProblems as exc:
            orphans = form.show_errors(exc.problems)
            problems.update("\n".join(orphans) if orphans else f"{len(exc.problems)} problem(s): see below.")
            return None
        except FormValueError as exc:
            problems.update(" ".join(form.show_errors([exc])) or "Fix the field marked below.")
            return None
        except ValidationError as exc:
            orphans = form.show_errors(exc.errors())  # type: ignore[arg-type]
            problems.update("\n".join(orphans) if orphans else f"{len(exc.errors())} problem(s): see below.")
            return None
        problems.update("")
        return profile

    def action_save(self) -> None:
        profile = self.candidate()
        if profile is not None:
            self.dismiss(profile)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "form-save":
            self.action_save()
        elif event.button.id == "form-cancel":
            self.dismiss(None)


class _CatalogProblems(Exception):
    def __init__(self, problems: list[FormValueError]) -> None:
        super().__init__(problems)
        self.problems = problems


def _catalog_problems(profile: "Profile") -> list[FormValueError]:
    """What the price and availability catalog contradicts (the check `gpumigrate validate` makes)."""
    from engine.catalog.check import profile_problems
    from engine.catalog.load import load_catalog

    return [FormValueError(p.field, p.message) for p in profile_problems(profile, load_catalog())]


def profile_diff(path: Path | None, profile: "Profile") -> str:
    from engine.profile import profile_file_text

    new = profile_file_text(profile, path).splitlines(keepends=True)
    try:
        old = path.read_text(encoding="utf-8").splitlines(keepends=True) if path else []
    except OSError:
        old = []
    name = path.name if path else "profile"
    text = "".join(difflib.unified_diff(old, new, f"{name} (on disk)", f"{name} (after saving)", n=1))
    return text or "(no change)"


class SaveDiffDialog(ModalScreen[bool]):
    """What saving changes in the file (and, for a transfer entry, its dry-run plan); y saves."""

    BINDINGS = [Binding("escape,n", "no", "Don't save"), Binding("y", "yes", "Save"),
                Binding("up", "scroll('up')", show=False), Binding("down", "scroll('down')", show=False),
                Binding("pageup", "scroll('page_up')", show=False),
                Binding("pagedown", "scroll('page_down')", show=False)]
    DEFAULT_CSS = """
    SaveDiffDialog { align: center middle; }
    SaveDiffDialog > Vertical { width: 100%; max-width: 110; height: 100%; max-height: 40;
        border: thick $warning; background: $surface; padding: 0 1; }
    SaveDiffDialog #diff-scroll { height: 1fr; }
    SaveDiffDialog #diff-plan { height: auto; color: $text; }
    SaveDiffDialog Horizontal { height: auto; }
    """

    def __init__(self, title: str, diff: str, plan: str = "") -> None:
        super().__init__()
        self._title, self._diff, self._plan = title, diff, plan

    @property
    def text(self) -> str:
        """The plan and the diff as shown (for whoever reads the screen without a terminal)."""
        return f"{self._plan}\n{self._diff}".strip()

    def compose(self) -> ComposeResult:
        from rich.syntax import Syntax

        with Vertical():
            yield Label(f"{self._title}: save these changes? (y / n)", id="diff-title")
            with VerticalScroll(id="diff-scroll"):
                if self._plan:
                    yield Static(self._plan, id="diff-plan", markup=False)
                yield Static(Syntax(self._diff, "diff", theme="ansi_dark", word_wrap=True), id="diff-text")
            with Horizontal():
                yield Button("Save (y)", variant="warning", id="diff-yes")
                yield Button("Don't save (n)", id="diff-no")
        yield FitFooter()  # the dialog's own keys (the screen's below do not work meanwhile)

    def on_mount(self) -> None:
        """The focus starts on Don't save: saving overwrites the file, so it takes y or a deliberate move."""
        self.query_one("#diff-no", Button).focus()

    def action_scroll(self, how: str) -> None:
        """The arrows and page keys scroll the diff while the focus stays on the buttons."""
        getattr(self.query_one("#diff-scroll", VerticalScroll), f"scroll_{how}")(animate=False)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "diff-yes")

    def action_yes(self) -> None:
        self.dismiss(True)

    def action_no(self) -> None:
        self.dismiss(False)


def confirm_and_save(app: "EditingApp", profile: "Profile", what: str, plan: str = "",
                     after: Callable[[bool], None] | None = None) -> None:
    """Show the diff against the file on disk; save only on yes."""

    def answered(yes: bool | None) -> None:
        saved = bool(yes) and app.replace_profile(profile, what)
        if saved:
            app.notify(f"Saved {app.profile_path.name if app.profile_path else 'the profile'}: {what}")
        if after is not None:
            after(saved)

    app.push_screen(SaveDiffDialog(what, profile_diff(app.profile_path, profile), plan), answered)


def edit_step(app: "EditingApp", step: str) -> None:
    """Open the form for ``step``'s sections; on save, the diff; on yes, the file."""
    if not _may_edit(app):
        return
    assert app.profile is not None
    groups = step_groups(app.profile, step)
    if not groups:
        app.notify("This view has no choices of its own; the Profile tab shows everything.")
        return

    def filled(profile: "Profile | None") -> None:
        if profile is not None:
            confirm_and_save(app, profile, f"{step} choices edited")

    app.push_screen(SectionFormDialog(f"{step.capitalize()}: choices", app.profile, groups), filled)


def _may_edit(app: "EditingApp") -> bool:
    if app.role == "watching":
        app.notify("Watching: only the driver can change the profile.", severity="warning")
        return False
    if app.profile is None:
        app.notify("Open or create a profile first (ctrl+o, or New profile).", severity="warning")
        return False
    return True


# --- [[transfer]] entries ----------------------------------------------------------------


def source_options(app: "EditingApp") -> list[str]:
    """Directories and buckets the profile and the last inventory know of, for the src picker."""
    profile = app.profile
    found: list[str] = []
    if profile is not None:
        found += list(profile.inventory.local_dirs)
        found += [f"s3://{b.bucket}" for b in profile.inventory.buckets]
    inventory = getattr(app, "last_inventory", None)
    aws = getattr(inventory, "aws", None)
    if aws is not None:
        found += [f"s3://{b.name}" for b in aws.discovered_buckets]
        found += [f"s3://{b.bucket}" for b in aws.buckets]
    for d in getattr(inventory, "local_dirs", None) or []:
        found.append(d.path)
    return list(dict.fromkeys(found))


def dry_run_plan(spec: Any, base_dir: Path | None, limit: int = 12) -> str:
    """The entry's dry run as text: the summary line and the first planned actions (runs in a thread)."""
    from engine.errors import GpumigrateError
    from engine.events import ItemDone
    from engine.transfer.step import run_entry

    rows: list[str] = []
    lock = threading.Lock()

    def emit(event: Any) -> None:
        if isinstance(event, ItemDone) and event.status in ("would_copy", "would_delete"):
            with lock:
                if len(rows) < limit:
                    rows.append(f"  {event.status.replace('would_', ''):6} {event.item}")

    try:
        outcome = run_entry(spec, emit=emit, dry_run=True, base_dir=base_dir)
    except GpumigrateError as exc:
        return f"Dry run not possible here: {exc}"
    lines = [f"Dry run: {outcome.line}"] + rows
    return "\n".join(lines)


def edit_transfer(app: "EditingApp", index: int | None) -> None:
    """Add (index None) or edit entry ``index``: form, then its dry-run plan and the diff, then save."""
    if not _may_edit(app):
        return
    assert app.profile is not None
    new = index is None
    position = len(app.profile.transfer) if new else index
    group = transfer_group(app.profile, position, {"src": source_options(app)})
    title = "New [[transfer]] entry" if new else f"[[transfer]] entry {position + 1}"

    def filled(profile: "Profile | None") -> None:
        if profile is None:
            return
        spec = profile.transfer[position]
        base = app.profile_path.parent if app.profile_path else None
        app.notify("Planning (dry run)…")

        def work() -> None:
            plan = dry_run_plan(spec, base)
            app.call_from_thread(confirm_and_save, app, profile,
                                 f"transfer entry {position + 1} {'added' if new else 'edited'}: {spec.src} -> {spec.dst}",
                                 plan)

        app.run_worker(work, thread=True, group="transfer-plan", name="transfer entry dry run", exit_on_error=False)

    app.push_screen(SectionFormDialog(title, app.profile, [group], new_entry=new), filled)


def remove_transfer(app: "EditingApp", index: int) -> None:
    if not _may_edit(app):
        return
    assert app.profile is not None
    if not 0 <= index < len(app.profile.transfer):
        app.notify("No transfer entry is selected.", severity="warning")
        return
    from engine.profile import Profile

    data = app.profile.model_dump(exclude_unset=True)
    removed = data["transfer"].pop(index)
    if not data["transfer"]:
        data.pop("transfer")
    profile = Profile.model_validate(data)
    confirm_and_save(app, profile, f"transfer entry {index + 1} removed: {removed['src']} -> {removed['dst']}")
