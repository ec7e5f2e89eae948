"""A list of tables (``[[cost.options]]``, ``[[drivers.registry_rewrites]]``, ``[[verify.data_integrity.manifests]]``,
``[[inventory.buckets]]``, ``[[cutover.runbook]]``...) edited without TOML: add, edit, remove, reorder.

:class:`EntryListDialog` shows one line per entry; ``a`` adds, ``e`` (or enter) edits, ``d`` removes,
``u`` moves the entry up, ``ctrl+s`` keeps the list, escape drops the changes.  Each entry is edited in
:class:`EntryFormDialog`, a form generated from the entry's pydantic model like every other form
(docstrings as help), checked on its own before it is kept, its errors under the fields with the
whole path (``cost.options[2].gpu_count``).  Nothing is written to the file here: the list goes back
to the section's form, whose save validates the whole profile and shows the diff.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel, ValidationError
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, OptionList, Static

from engine.profile import _dotted
from tui.widgets.fit_footer import FitFooter
from tui.widgets.model_form import FormGroup, FormValueError, ModelForm, entry_summary

_DIALOG_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{ width: 100%; max-width: 110; height: 100%; max-height: 40;
    border: thick $primary; background: $surface; padding: 0 1; }}
{name} .dialog-heading {{ text-style: bold; height: auto; }}
{name} .dialog-help {{ color: $text-muted; height: auto; }}
{name} #entry-problems {{ color: $error; height: auto; }}
{name} Horizontal {{ height: auto; }}
/* as wide as their labels: five at the default 16 cells ran past a 76-cell dialog at 80x24 */
{name} Horizontal Button {{ min-width: 0; margin-right: 1; }}
"""


class EntryListDialog(ModalScreen["list[dict[str, Any]] | None"]):
    """The entries of one list of tables; returns the new list (ctrl+s) or None (escape)."""

    BINDINGS = [
        Binding("a", "add", "Add entry"),
        Binding("e", "edit", "Edit entry"),
        Binding("d,delete", "remove", "Remove entry"),
        Binding("u", "up", "Move up", tooltip="Move the highlighted entry up"),
        Binding("ctrl+s", "keep", "Keep", priority=True, tooltip="Keep these entries (the form saves them)"),
        Binding("escape", "cancel", "Cancel"),
    ]
    DEFAULT_CSS = _DIALOG_CSS.format(name="EntryListDialog") + """
    EntryListDialog #entries { height: 1fr; }
    """

    def __init__(self, path: tuple[Any, ...], model: type[BaseModel], entries: list[dict[str, Any]]) -> None:
        super().__init__()
        self.path = path
        self.model = model
        self.entries = copy.deepcopy(entries)

    @property
    def dotted(self) -> str:
        return _dotted(self.path)

    def compose(self) -> ComposeResult:
        doc = (self.model.__doc__ or "").strip().splitlines()
        with Vertical():
            yield Label(f"[[{self.dotted}]]" + (f"  {doc[0]}" if doc else ""), classes="dialog-heading", markup=False)
            yield Static("a add · e/enter edit · d remove · u move up · ctrl+s keep · escape cancel",
                         classes="dialog-help", markup=False)
            yield OptionList(id="entries")
            with Horizontal():
                yield Button("Add (a)", id="entry-add")
                yield Button("Edit (e)", id="entry-edit")
                yield Button("Remove (d)", id="entry-remove")
                yield Button("Keep (ctrl+s)", variant="primary", id="entry-keep")
                yield Button("Cancel", id="entry-cancel")
        yield FitFooter()  # the dialog's own keys (the screen's below do not work meanwhile)

    def on_mount(self) -> None:
        self._show()
        self.query_one(OptionList).focus()

    def _show(self, highlight: int | None = None) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        if not self.entries:
            options.add_option(f"(no entries: a adds one to {self.dotted})")
            options.disabled = False
            return
        options.add_options([f"{i + 1}. {entry_summary(e, 90)}" for i, e in enumerate(self.entries)])
        options.highlighted = min(highlight if highlight is not None else 0, len(self.entries) - 1)

    def _selected(self) -> int | None:
        index = self.query_one(OptionList).highlighted
        return index if self.entries and index is not None and 0 <= index < len(self.entries) else None

    def _open(self, index: int) -> None:
        new = index >= len(self.entries)
        current = {} if new else self.entries[index]

        def done(entry: dict[str, Any] | None) -> None:
            if entry is None:
                return
            if new:
                self.entries.append(entry)
            else:
                self.entries[index] = entry
            self._show(index)

        self.app.push_screen(EntryFormDialog((*self.path, index), self.model, current, new), done)

    def action_add(self) -> None:
        self._open(len(self.entries))

    def action_edit(self) -> None:
        index = self._selected()
        if index is None:
            self.notify("No entry yet: a adds one.", severity="warning")
            return
        self._open(index)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if self.entries:
            self._open(event.option_index)
        else:
            self.action_add()

    def action_remove(self) -> None:
        index = self._selected()
        if index is None:
            return
        gone = self.entries.pop(index)
        self.notify(f"Removed {self.dotted}[{index}]: {entry_summary(gone, 50)} (escape undoes every change here)")
        self._show(index)

    def action_up(self) -> None:
        index = self._selected()
        if not index:
            return
        self.entries[index - 1], self.entries[index] = self.entries[index], self.entries[index - 1]
        self._show(index - 1)

    def action_keep(self) -> None:
        self.dismiss(self.entries)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        {"entry-add": self.action_add, "entry-edit": self.action_edit, "entry-remove": self.action_remove,
         "entry-keep": self.action_keep, "entry-cancel": self.action_cancel}[event.button.id or "entry-cancel"]()


class EntryFormDialog(ModalScreen["dict[str, Any] | None"]):
    """One entry's form; ctrl+s checks the entry against its model and returns it."""

    BINDINGS = [Binding("ctrl+s", "keep", "Check and keep the entry", priority=True),
                Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = _DIALOG_CSS.format(name="EntryFormDialog")

    def __init__(self, path: tuple[Any, ...], model: type[BaseModel], entry: dict[str, Any], new: bool) -> None:
        super().__init__()
        self.path = path
        self.model = model
        self.entry = copy.deepcopy(entry)
        self.new = new

    def compose(self) -> ComposeResult:
        with Vertical():
            title = f"{_dotted(self.path)}{' (new)' if self.new else ''}"
            yield Label(f"{title}  (ctrl+s keeps, escape cancels)", classes="dialog-heading", markup=False)
            yield Static("", id="entry-problems", markup=False)
            doc = (self.model.__doc__ or "").strip().splitlines()
            yield ModelForm([FormGroup(path=self.path, model=self.model, current=self.entry,
                                       title=doc[0] if doc else "")], id="entry-form")
            with Horizontal():
                yield Button("Keep (ctrl+s)", variant="primary", id="entry-form-keep")
                yield Button("Cancel", id="entry-form-cancel")
        yield FitFooter()  # the dialog's own keys (the screen's below do not work meanwhile)

    def on_mount(self) -> None:
        first = self.query("ModelForm Input, ModelForm Select, ModelForm Checkbox")
        if first:
            first.first().focus()

    def candidate(self) -> dict[str, Any] | None:
        """The entry with the form applied and checked, or None (errors shown under the fields)."""
        form = self.query_one(ModelForm)
        problems = self.query_one("#entry-problems", Static)
        entry = copy.deepcopy(self.entry)
        try:
            form.apply(entry, at=self.path)
            self.model.model_validate(entry)
        except FormValueError as exc:
            problems.update(" ".join(form.show_errors([exc])) or "Fix the field marked below.")
            return None
        except ValidationError as exc:
            orphans = form.show_errors(exc.errors(), at=self.path)  # type: ignore[arg-type]
            problems.update("\n".join(orphans) if orphans else f"{len(exc.errors())} problem(s): see below.")
            return None
        problems.update("")
        return entry

    def action_keep(self) -> None:
        entry = self.candidate()
        if entry is not None:
            self.dismiss(entry)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "entry-form-keep":
            self.action_keep()
        elif event.button.id == "entry-form-cancel":
            self.dismiss(None)
