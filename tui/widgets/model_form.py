"""Forms generated from the profile's pydantic models: one field per row, its docstring as help.

A :class:`FormGroup` names a section (``("target",)`` or ``("transfer", 2)``), its model class and
which fields to show.  Each scalar field becomes the control its type asks for (a Select for a
``Literal``, a Checkbox for a ``bool``, an Input for numbers, text, lists and ``KEY=VALUE`` tables),
the model's field docstring is printed under it, and :meth:`ModelForm.apply` writes the values into
a profile dict that the caller validates as a whole; each validation error is shown under the field
it names, with its dotted path.  A sub-table (``[transfer.sts]``, ``[verify.gpu]``) is laid out in
place under its own heading; a list of tables (``[[cost.options]]``, ``[[drivers.registry_rewrites]]``,
``[[verify.data_integrity.manifests]]``...) is a line with its entries and a button that opens
:class:`~tui.widgets.entry_list.EntryListDialog`, where entries are added, edited and removed with
a form of their own.  A list of lists (``verify.topology.expected``, a GPU x GPU matrix) is one line of
text, cells split by spaces and rows by ``;``.  Every field of the profile has a control
(tests/tui/test_form_fields.py walks the model): a field type this module cannot edit fails there.

Only what the user touched, or what the profile already set, is written back: an untouched
default stays unset, so the saved TOML still holds choices only.
"""

from __future__ import annotations

import copy
import shlex
import types
import typing
from dataclasses import dataclass, field
from typing import Annotated, Any, Iterable, Literal

from pydantic import BaseModel
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Select, Static

from engine.profile import _dotted, field_problem


@dataclass
class FormGroup:
    """One section of a form: where it lives in the profile, its model, the fields shown."""

    path: tuple[Any, ...]
    model: type[BaseModel]
    current: dict[str, Any]
    """The section's values as the profile sets them (``model_dump(exclude_unset=True)``)."""
    fields: list[str] | None = None
    """Fields to show, in order (None: every field a form can edit)."""
    title: str = ""
    options: dict[str, list[str]] = field(default_factory=dict)
    """Suggestions for a text field (e.g. discovered buckets for ``src``): a Select fills the Input."""


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """(the inner type, whether None is allowed)."""
    if typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        inner = args[0] if len(args) == 1 else annotation
        return inner, len(args) < len(typing.get_args(annotation))
    return annotation, False


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def field_kind(annotation: Any) -> tuple[str, Any]:
    """("literal", choices) | ("bool"|"int"|"float"|"str", None) | ("list", item kind) | ("matrix", cell kind)
    | ("model", class) | ("models", item class) | ("dict", None) | ("skip", None)."""
    inner, _optional = _unwrap(annotation)
    if typing.get_origin(inner) is Annotated:
        inner = typing.get_args(inner)[0]
    origin = typing.get_origin(inner)
    if _is_model(inner):
        return "model", inner
    if origin is dict and typing.get_args(inner) == (str, str):
        return "dict", None
    if origin is list and typing.get_args(inner) and _is_model(typing.get_args(inner)[0]):
        return "models", typing.get_args(inner)[0]
    if origin is Literal:
        return "literal", list(typing.get_args(inner))
    if inner is bool:
        return "bool", None
    if inner in (int, float, str):
        return inner.__name__, None
    if origin is list:
        (item,) = typing.get_args(inner) or (str,)
        item_kind, item_extra = field_kind(item)
        if item_kind in ("str", "literal", "int", "float"):
            return "list", item_kind
        if item_kind == "list" and not _unwrap(item)[1]:
            return "matrix", item_extra
    return "skip", None


def editable_fields(model: type[BaseModel]) -> list[str]:
    return [name for name, info in model.model_fields.items() if field_kind(info.annotation)[0] != "skip"]


def _wid(path: tuple[Any, ...], name: str) -> str:
    return "f-" + "-".join(str(p) for p in (*path, name)).replace(".", "_")


def _is_argv(name: str) -> bool:
    """A command's arguments (``command``, ``checkpoint_command``...): shell-style words, not commas."""
    return name == "command" or name.endswith("_command")


def _text_of(value: Any, name: str) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return " ".join(shlex.quote(f"{k}={v}") for k, v in value.items())
    if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
        return "; ".join(" ".join(str(c) for c in row) for row in value)
    if isinstance(value, list):
        return shlex.join(str(v) for v in value) if _is_argv(name) else ", ".join(str(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(value)
    return str(value)


class FormValueError(ValueError):
    """A value that cannot even be parsed (e.g. "ten" for a number): shown under its field."""

    def __init__(self, path: str, text: str) -> None:
        super().__init__(f"{path}: {text}")
        self.path = path
        self.text = text


def _label(text: str, help_text: str | None) -> Static:
    """The field's name (bold) and its docstring under it: one widget, so a long form opens quickly."""
    label = Text(text, style="bold")
    if help_text:
        label.append("\n" + help_text, style="not bold dim")
    return Static(label, classes="form-label")


@dataclass
class _Row:
    """One field on the form: the table that holds it, its name, its model and its control's id."""

    path: tuple[Any, ...]
    name: str
    model: type[BaseModel]
    kind: str
    extra: Any
    wid: str

    @property
    def dotted(self) -> str:
        return _dotted((*self.path, self.name))


def entry_summary(entry: dict[str, Any], limit: int = 70) -> str:
    """One line for a table in a list: its first values, as ``key=value``."""
    text = ", ".join(f"{k}={_text_of(v, k)}" for k, v in entry.items() if not isinstance(v, (dict, list)) or v)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ModelForm(VerticalScroll):
    """The controls for a list of :class:`FormGroup`; ``apply`` and ``show_errors`` do the rest."""

    DEFAULT_CSS = """
    ModelForm { height: 1fr; }
    ModelForm .form-title { text-style: bold; color: $accent; margin-top: 1; }
    ModelForm .form-subtitle { text-style: bold; color: $accent; margin-top: 1; }
    ModelForm .form-label { margin-top: 1; }
    ModelForm .form-help { color: $text-muted; }
    ModelForm .form-error { color: $error; display: none; }
    ModelForm .form-error.-shown { display: block; }
    ModelForm Input, ModelForm Select { width: 100%; }
    ModelForm Input { height: 1; border: none; padding: 0 1; background: $boost; }
    ModelForm Input:focus { border: none; background: $primary 30%; }
    ModelForm .form-entries { height: auto; }
    ModelForm Button.form-list { height: 1; min-width: 0; border: none; padding: 0 1; margin: 0; }
    """

    def __init__(self, groups: list[FormGroup], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.groups = groups
        self._initial: dict[str, Any] = {}
        self._rows: list[_Row] = []
        self._errors: dict[str, Static] = {}
        self._lists: dict[str, list[dict[str, Any]]] = {}
        """A list-of-tables field's entries as edited so far (by its control id)."""

    def compose(self) -> Iterable[Widget]:
        for group in self.groups:
            if group.title:
                yield Static(group.title, classes="form-title", markup=False)
            yield from self._fields(group, group.path, group.model, group.current, group.fields)

    def _fields(self, group: FormGroup, path: tuple[Any, ...], model: type[BaseModel], current: dict[str, Any],
                fields: list[str] | None) -> Iterable[Widget]:
        for name in fields or editable_fields(model):
            info = model.model_fields[name]
            kind, extra = field_kind(info.annotation)
            if kind == "model":
                doc = (extra.__doc__ or "").strip().splitlines()
                heading = Text(f"[{_dotted((*path, name))}]" + (f"  {doc[0]}" if doc else ""))
                if info.description and (not doc or info.description.strip() != doc[0]):
                    heading.append("\n" + info.description, style="not bold dim")
                yield Static(heading, classes="form-subtitle")
                yield from self._fields(group, (*path, name), extra, current.get(name) or {}, None)
                continue
            row = _Row(path, name, model, kind, extra, _wid(path, name))
            self._rows.append(row)
            yield from self._field(group, row, current)

    def _field(self, group: FormGroup, row: _Row, current: dict[str, Any]) -> Iterable[Widget]:
        name, kind, extra, wid, dotted = row.name, row.kind, row.extra, row.wid, row.dotted
        info = row.model.model_fields[name]
        default = info.default if info.default is not None and not callable(info.default) else None
        if info.default_factory is not None:
            default = info.default_factory()  # type: ignore[call-arg]
        shown_default = f"(default: {_text_of(default, name)})" if default not in (None, [], {}) else "(unset)"
        if kind == "bool":
            box = Checkbox(dotted, value=bool(current.get(name, info.default)), id=wid)
            self._initial[wid] = box.value
            yield box
            if info.description:
                yield Static(info.description, classes="form-help", markup=False)
            return
        if kind == "models":
            entries = copy.deepcopy(list(current.get(name) or []))
            self._lists[wid] = entries
            self._initial[wid] = copy.deepcopy(entries)
            yield _label(f"{dotted}  (a list of [[{dotted.split('.')[-1]}]] tables)", info.description)
            yield Static(self._entries_text(entries), id=wid + "-summary", classes="form-entries", markup=False)
            yield Button(f"Add, edit, remove {name} (enter)", id=wid + "-edit", classes="form-list")
        else:
            hint = {"list": "  (" + ("arguments" if _is_argv(name) else "comma-separated") + ")",
                    "dict": "  (KEY=VALUE, space-separated)",
                    "matrix": "  (cells by spaces, rows by ';')"}.get(kind, "")
            if kind == "matrix":
                shown_default += "  e.g. X NV12; NV12 X"
            yield _label(dotted + hint, info.description)
            if row.path == group.path and name in group.options and group.options[name]:
                yield Select([(o, o) for o in group.options[name]], prompt=f"pick a {name}", id=wid + "-pick")
            # What the profile does not set shows empty, its default as the prompt: picking the default
            # then records a decision (engine.guide counts only what the file sets).
            if kind == "literal":
                chosen = current.get(name)
                widget: Widget = Select([(str(c), c) for c in extra], value=chosen if chosen in extra
                                        else Select.NULL, allow_blank=True, prompt=shown_default, id=wid)
                self._initial[wid] = chosen if chosen in extra else Select.NULL
            else:
                widget = Input(_text_of(current.get(name), name), id=wid, placeholder=shown_default)
                self._initial[wid] = widget.value
            yield widget

    @staticmethod
    def _entries_text(entries: list[dict[str, Any]]) -> str:
        if not entries:
            return "  (none)"
        return "\n".join(f"  {i + 1}. {entry_summary(e)}" for i, e in enumerate(entries))

    def on_select_changed(self, event: Select.Changed) -> None:
        wid = event.select.id or ""
        if wid.endswith("-pick") and event.value is not Select.NULL:
            self.query_one("#" + wid[:-5], Input).value = str(event.value)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        wid = (event.button.id or "")[: -len("-edit")]
        row = next((r for r in self._rows if r.wid == wid and r.kind == "models"), None)
        if row is None:
            return
        event.stop()
        self.edit_list(row)

    def list_rows(self) -> list[str]:
        """The dotted names of this form's lists of tables (what :meth:`edit_list_named` takes)."""
        return [r.dotted for r in self._rows if r.kind == "models"]

    def field_rows(self) -> list[str]:
        """The dotted names of the fields with a control of their own (what :meth:`focus_field` takes)."""
        return [r.dotted for r in self._rows if r.kind != "models"]

    def focus_field(self, dotted: str) -> None:
        """Move the focus to the field's control (the palette's *Go to field …*)."""
        row = next(r for r in self._rows if r.kind != "models" and r.dotted == dotted)
        control = self.query_one("#" + row.wid)
        control.focus()
        control.scroll_visible()

    def edit_list_named(self, dotted: str) -> None:
        self.edit_list(next(r for r in self._rows if r.kind == "models" and r.dotted == dotted))

    def edit_list(self, row: _Row) -> None:
        from tui.widgets.entry_list import EntryListDialog

        def done(entries: list[dict[str, Any]] | None) -> None:
            if entries is None:
                return
            self._lists[row.wid] = entries
            self.query_one("#" + row.wid + "-summary", Static).update(self._entries_text(entries))

        self.app.push_screen(EntryListDialog((*row.path, row.name), row.extra, self._lists[row.wid]), done)

    # --- values -------------------------------------------------------------------

    def _parse(self, dotted: str, kind: str, extra: Any, text: str, name: str) -> Any:
        if kind == "int":
            try:
                return int(text)
            except ValueError:
                raise FormValueError(dotted, f"must be an integer (got {text!r})") from None
        if kind == "float":
            try:
                return float(text)
            except ValueError:
                raise FormValueError(dotted, f"must be a number (got {text!r})") from None
        if kind == "dict":
            try:
                words = shlex.split(text)
            except ValueError as exc:
                raise FormValueError(dotted, f"cannot split into KEY=VALUE words: {exc}") from None
            pairs = {}
            for word in words:
                key, eq, val = word.partition("=")
                if not eq or not key:
                    raise FormValueError(dotted, f"{word!r} is not KEY=VALUE")
                pairs[key] = val
            return pairs
        if kind == "matrix":
            rows = [row.strip() for row in text.replace("\n", ";").split(";")]
            return [[self._parse(f"{dotted}[{i}]", extra, None, cell, "") if extra in ("int", "float") else cell
                     for cell in row.replace(",", " ").split()] for i, row in enumerate(r for r in rows if r)]
        if kind == "list":
            try:
                items = shlex.split(text) if _is_argv(name) else [p.strip() for p in text.split(",") if p.strip()]
            except ValueError as exc:
                raise FormValueError(dotted, f"cannot split into arguments: {exc}") from None
            return [self._parse(dotted, extra, None, i, "") if extra in ("int", "float") else i for i in items]
        return text

    def _value(self, row: _Row) -> tuple[Any, Any]:
        """(what the control shows, the value it means; None = unset)."""
        if row.kind == "bool":
            raw = self.query_one("#" + row.wid, Checkbox).value
            return raw, raw
        if row.kind == "models":
            entries = self._lists[row.wid]
            return entries, copy.deepcopy(entries) or None
        if row.kind == "literal":
            raw = self.query_one("#" + row.wid, Select).value
            return raw, None if raw is Select.NULL else raw
        raw = self.query_one("#" + row.wid, Input).value.strip()
        return raw, None if raw == "" else self._parse(row.dotted, row.kind, row.extra, raw, row.name)

    def apply(self, data: dict[str, Any], at: tuple[Any, ...] = ()) -> dict[str, Any]:
        """Write the form into ``data`` (a profile dict, or the table found at path ``at``); raise
        FormValueError for unparsable text.  A table is created only when a value is written into it."""
        for row in self._rows:
            raw, value = self._value(row)
            if raw == self._initial.get(row.wid):
                continue  # untouched: the profile's value (or its unset default) stays as it is
            section = _locate(data, row.path[len(at):], create=value is not None)
            if section is None:
                continue
            if value is None:
                section.pop(row.name, None)
            else:
                section[row.name] = value
        return data

    def show_errors(self, errors: list[dict[str, Any]] | list[FormValueError], at: tuple[Any, ...] = ()) -> list[str]:
        """Put each error under its field; return the ones no field on this form owns.  ``at``: where the
        validated table sits in the profile (pydantic's paths start there)."""
        for shown in self._errors.values():
            shown.remove_class("-shown")
        orphans = []
        for err in errors:
            if isinstance(err, FormValueError):
                dotted, text = err.path, err.text
            else:
                dotted, text = field_problem(err, at)  # a section's check that names a field: under that field
            target = self._error_widget(dotted)
            if target is None:
                orphans.append(f"{dotted or '(profile)'}: {text}")
                continue
            target.update(f"{dotted}: {text}")
            target.add_class("-shown")
            target.scroll_visible()
        return orphans

    def _error_widget(self, dotted: str) -> Static | None:
        """The field's error line, made the first time it is needed (a form has many fields, few errors)."""
        for row in self._rows:
            if dotted == row.dotted or dotted.startswith(row.dotted + "["):
                if row.wid not in self._errors:
                    control = self.query_one("#" + row.wid + ("-edit" if row.kind == "models" else ""))
                    self._errors[row.wid] = Static("", id=row.wid + "-error", classes="form-error", markup=False)
                    self.mount(self._errors[row.wid], after=control)
                return self._errors[row.wid]
        return None


def _locate(data: dict[str, Any], path: tuple[Any, ...], create: bool) -> dict[str, Any] | None:
    section: Any = data
    for part in path:
        if isinstance(part, int):
            section = section[part]
        elif section.get(part) is not None:
            section = section[part]
        elif create:
            section[part] = {}
            section = section[part]
        else:
            return None
    return section
