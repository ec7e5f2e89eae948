"""The typed events that every long operation reports through.

Engine functions never print and never return progress: they call an
``emit(event)`` callback.  The CLI renders events with Rich or as NDJSON, the
TUI turns them into messages, and the session store appends them to the audit
log.  Events are plain frozen dataclasses so they cross threads, processes and
JSON without surprises.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from typing import Any, Callable, Literal

Level = Literal["debug", "info", "warning", "error"]


@dataclass(frozen=True, slots=True)
class Event:
    """Base: every event names the step it belongs to and when it happened."""

    step: str
    ts: float = field(default_factory=time.time, kw_only=True)

    @property
    def kind(self) -> str:
        return _KIND_BY_TYPE[type(self)]

    def to_dict(self) -> dict[str, Any]:
        """The event as JSON-ready data, with ``"event"`` naming its kind.

        Like ``dataclasses.asdict`` (dicts and lists are copied, nested dataclasses become dicts),
        but without its deep copy of every scalar: this runs once per copied file."""
        names = _FIELD_NAMES.get(type(self))
        if names is None:
            names = _FIELD_NAMES[type(self)] = tuple(f.name for f in fields(self))
        data = {name: _plain(getattr(self, name)) for name in names}
        data["event"] = self.kind
        return data


@dataclass(frozen=True, slots=True)
class StepStarted(Event):
    """A step began; ``total`` is how much work it expects, when known."""

    description: str = ""


@dataclass(frozen=True, slots=True)
class Progress(Event):
    """How far a step has got. Units are the step's own (bytes, objects, checks)."""

    done: float = 0
    total: float | None = None
    unit: str = ""
    rate: float | None = None
    """Units per second over the recent window, if the step measures it."""
    eta_s: float | None = None
    label: str = ""
    """What this bar counts, when a step reports several (e.g. "bytes", "files")."""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ItemDone(Event):
    """One unit of work finished: an object copied, a check run, a region scanned."""

    item: str = ""
    status: str = "ok"
    """ok | failed | skipped | deleted | copied | verified ... (step-specific)."""
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Message(Event):
    """Something a person should read: a warning, a note, an error with its fix."""

    text: str = ""
    level: Level = "info"


@dataclass(frozen=True, slots=True)
class StepFinished(Event):
    """A step ended. ``ok`` False means it failed; ``result`` is its summary."""

    ok: bool = True
    summary: str = ""
    result: dict[str, Any] = field(default_factory=dict)


_KIND_BY_TYPE: dict[type, str] = {
    StepStarted: "step_started",
    Progress: "progress",
    ItemDone: "item_done",
    Message: "message",
    StepFinished: "step_finished",
}
_TYPE_BY_KIND = {v: k for k, v in _KIND_BY_TYPE.items()}

_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
_SCALARS = (str, int, float, bool, type(None))


def _plain(value: Any) -> Any:
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a namedtuple, as asdict keeps it
        return type(value)(*(_plain(v) for v in value))
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return value


Emit = Callable[[Event], None]


def discard(_event: Event) -> None:
    """An ``emit`` that drops everything (for callers that only want the result)."""


def from_dict(data: dict[str, Any]) -> Event:
    """Rebuild an event from ``to_dict`` output (the session store keeps them as JSON)."""
    payload = dict(data)
    kind = payload.pop("event")
    cls = _TYPE_BY_KIND[kind]
    return cls(**payload)
