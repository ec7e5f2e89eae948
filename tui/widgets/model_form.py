"""Forms generated from the profile's pydantic models: one field per row, its docstring as help.

A :class:`FormGroup` names a section (``("target",)`` or ``("transfer", 2)``), its model class and
which fields to show.  Each scalar field becomes the control its type asks for (a Select for a
``Literal``, a Checkbox for a ``bool``, an Input for numbers, text and lists), the model's field
docstring is printed under it, and :meth:`ModelForm.apply` writes the values into a profile dict
that the caller validates as a whole; each validation error is shown under the field it names,
with its dotted path.  Fields a form cannot edit (tables of tables) stay in the Profile tab.

Only what the user touched, or what the profile already set, is written back: an untouched
default stays unset, so the saved TOML still holds choices only.
"""

from __future__ import annotations

import shlex
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Iterable, Literal

from pydantic import BaseModel
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Label, Select, Static

from engine.profile import _dotted, _friendly


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
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        inner = args[0] if len(args) == 1 else annotation
        return inner, len(args) < len(typing.get_args(annotation))
    return annotation, False


def field_kind(annotation: Any) -> tuple[str, Any]:
    """("literal", choices) | ("bool"|"int"|"float"|"str", None) | ("list", item kind) | ("skip", None)."""
    inner, _optional = _unwrap(annotation)
    origin = typing.get_origin(inner)
    if origin is Literal:
        return "literal", list(typing.get_args(inner))
    if inner is bool:
        return "bool", None
    if inner in (int, float, str):
        return inner.__name__, None
    if origin is list:
        (item,) = typing.get_args(inner) or (str,)
        item_kind = field_kind(item)[0]
        if item_kind in ("str", "literal", "int", "float"):
            return "list", item_kind
    return "skip", None


def editable_fields(model: type[BaseModel]) -> list[str]:
    return [name for name, info in model.model_fields.items() if field_kind(info.annotation)[0] != "skip"]


def _wid(path: tuple[Any, ...], name: str) -> str:
    return "f-" + "-".join(str(p) for p in (*path, name)).replace(".", "_")


def _is_argv(name: str) -> bool:
    return name == "command"


def _text_of(value: Any, name: str) -> str:
    if value is None:
        return ""
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


class ModelForm(VerticalScroll):
    """The controls for a list of :class:`FormGroup`; ``apply`` and ``show_errors`` do the rest."""

    DEFAULT_CSS = """
    ModelForm { height: 1fr; }
    ModelForm .form-title { text-style: bold; color: $accent; margin-top: 1; }
    ModelForm .form-label { margin-top: 1; text-style: bold; }
    ModelForm .form-help { color: $text-muted; }
    ModelForm .form-error { color: $error; display: none; }
    ModelForm .form-error.-shown { display: block; }
    ModelForm Input, ModelForm Select { width: 100%; }
    ModelForm Input { height: 1; border: none; padding: 0 1; background: $boost; }
    ModelForm Input:focus { border: none; background: $primary 30%; }
    """

    def __init__(self, groups: list[FormGroup], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.groups = groups
        self._initial: dict[str, str | bool | object] = {}

    def compose(self) -> Iterable[Widget]:
        for group in self.groups:
            if group.title:
                yield Static(group.title, classes="form-title", markup=False)
            for name in group.fields or editable_fields(group.model):
                yield from self._field(group, name)

    def _field(self, group: FormGroup, name: str) -> Iterable[Widget]:
        info = group.model.model_fields[name]
        kind, extra = field_kind(info.annotation)
        _inner, optional = _unwrap(info.annotation)
        wid = _wid(group.path, name)
        dotted = _dotted((*group.path, name))
        value = group.current.get(name, info.default if info.default is not None and not callable(
            info.default) else None)
        if kind == "bool":
            box = Checkbox(dotted, value=bool(group.current.get(name, info.default)), id=wid)
            self._initial[wid] = box.value
            yield box
        else:
            yield Label(dotted + ("" if kind != "list" else "  (" + ("arguments" if _is_argv(name)
                                                                    else "comma-separated") + ")"),
                        classes="form-label")
            if name in group.options and group.options[name]:
                yield Select([(o, o) for o in group.options[name]], prompt=f"pick a {name}", id=wid + "-pick")
            if kind == "literal":
                current = group.current.get(name, info.default)
                widget: Widget = Select([(str(c), c) for c in extra], value=current if current in extra
                                        else Select.BLANK, allow_blank=optional or current not in extra, id=wid)
                self._initial[wid] = current if current in extra else Select.BLANK
            else:
                widget = Input(_text_of(value, name), id=wid,
                               placeholder="(unset)" if optional or info.is_required() is False else "")
                self._initial[wid] = widget.value
            yield widget
        if info.description:
            yield Static(info.description, classes="form-help", markup=False)
        yield Static("", id=wid + "-error", classes="form-error", markup=False)

    def on_select_changed(self, event: Select.Changed) -> None:
        wid = event.select.id or ""
        if wid.endswith("-pick") and event.value is not Select.BLANK:
            self.query_one("#" + wid[:-5], Input).value = str(event.value)

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
        if kind == "list":
            try:
                items = shlex.split(text) if _is_argv(name) else [p.strip() for p in text.split(",") if p.strip()]
            except ValueError as exc:
                raise FormValueError(dotted, f"cannot split into arguments: {exc}") from None
            return [self._parse(dotted, extra, None, i, "") if extra in ("int", "float") else i for i in items]
        return text

    def apply(self, data: dict[str, Any]) -> dict[str, Any]:
        """Write the form into ``data`` (a profile dict); raise FormValueError for unparsable text."""
        for group in self.groups:
            section = data
            for part in group.path:
                section = section[part] if isinstance(part, int) else section.setdefault(part, {})
            for name in group.fields or editable_fields(group.model):
                info = group.model.model_fields[name]
                kind, extra = field_kind(info.annotation)
                wid = _wid(group.path, name)
                dotted = _dotted((*group.path, name))
                if kind == "bool":
                    value: Any = self.query_one("#" + wid, Checkbox).value
                    raw: Any = value
                elif kind == "literal":
                    raw = self.query_one("#" + wid, Select).value
                    value = None if raw is Select.BLANK else raw
                else:
                    raw = self.query_one("#" + wid, Input).value.strip()
                    value = None if raw == "" else self._parse(dotted, kind, extra, raw, name)
                if raw == self._initial.get(wid):
                    continue  # untouched: the profile's value (or its unset default) stays as it is
                if value is None:
                    section.pop(name, None)
                else:
                    section[name] = value
        return data

    def show_errors(self, errors: list[dict[str, Any]] | list[FormValueError]) -> list[str]:
        """Put each error under its field; return the ones no field on this form owns."""
        for shown in self.query(".form-error"):
            shown.remove_class("-shown")
        orphans = []
        for err in errors:
            if isinstance(err, FormValueError):
                dotted, text = err.path, err.text
            else:
                dotted, text = _dotted(err["loc"]), _friendly(err)
            target = self._error_widget(dotted)
            if target is None:
                orphans.append(f"{dotted or '(profile)'}: {text}")
                continue
            target.update(f"{dotted}: {text}")
            target.add_class("-shown")
            target.scroll_visible()
        return orphans

    def _error_widget(self, dotted: str) -> Static | None:
        for group in self.groups:
            for name in group.fields or editable_fields(group.model):
                if dotted == _dotted((*group.path, name)) or dotted.startswith(_dotted((*group.path, name)) + "["):
                    return self.query_one("#" + _wid(group.path, name) + "-error", Static)
        return None
