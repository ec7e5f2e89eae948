"""Messages that carry engine events and app state to screens ("messages up")."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from engine.events import Event


class EngineEvent(Message):
    """An engine event, posted from a worker thread (post_message is thread-safe)."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


@dataclass
class ProfileChanged(Message):
    """The app's profile was replaced (loaded, edited, saved)."""


@dataclass
class RoleChanged(Message):
    """This process started or stopped driving the session."""

    role: str
