"""Messages that carry engine events and app state to screens ("messages up")."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from typing import Callable

from textual.message import Message

from engine.events import Event


class EngineEvent(Message):
    """An engine event, posted from a worker thread (post_message is thread-safe)."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class EngineEvents(Message):
    """Whatever a worker emitted since the screen last took its events (see :class:`EventFunnel`)."""

    def __init__(self, funnel: "EventFunnel") -> None:
        super().__init__()
        self.funnel = funnel


class EventFunnel:
    """Carries a worker thread's events to a screen in batches, in order.

    A transfer of 10,000 small files emits tens of thousands of events; one message each kept
    the UI's message loop (and the GIL the copy needs) busy.  Here an event joins a list, and
    only the first event into an empty list posts a message: while the screen is busy the rest
    wait in that list and arrive with it, however many there are.  Nothing waits on a timer."""

    def __init__(self, post: Callable[[Message], object]) -> None:
        self._post = post
        self._lock = threading.Lock()
        self._events: list[Event] = []

    def __call__(self, event: Event) -> None:
        with self._lock:
            self._events.append(event)
            first = len(self._events) == 1
        if first:
            self._post(EngineEvents(self))

    def take(self) -> list[Event]:
        with self._lock:
            events, self._events = self._events, []
        return events


@dataclass
class ProfileChanged(Message):
    """The app's profile was replaced (loaded, edited, saved)."""


@dataclass
class RoleChanged(Message):
    """This process started or stopped driving the session."""

    role: str


class ProfileFileLooked(Message, bubble=False):
    """What a look at the profile file found (posted from the look's thread; see GpuMigrateApp.check_profile_on_disk)."""

    def __init__(self, path: object, known: int, seen: tuple[int, int] | None, digest: str | None | bool) -> None:
        super().__init__()
        self.path, self.known, self.seen, self.digest = path, known, seen, digest


class ProfileRead(Message, bubble=False):
    """A profile read in a thread for Open or Reload (GpuMigrateApp.open_profile_file): the profile and its
    digest, or why it could not be read."""

    def __init__(self, path: object, seq: int, loaded: tuple[object, str] | None, error: str | None) -> None:
        super().__init__()
        self.path, self.seq, self.loaded, self.error = path, seq, loaded, error
