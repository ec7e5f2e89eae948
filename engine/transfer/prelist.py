"""A cloud source whose listing starts before the destination's client exists.

Building the destination's client is CPU work before the first byte: importing
google-cloud-storage and building its client took ~0.4 s on the 2-core VM, botocore ~0.5 s.
Listing a cloud source is mostly waiting for answers (two round trips a page where the store
closes every connection). Started first, in a thread, the listing's waits overlap that work
instead of following it.

The thread only runs ahead until the transfer starts reading the listing (or ``LIMIT``
objects are waiting): the reader then takes what was listed and goes on pulling the same
listing itself, so nothing is added per object after that.
"""

from __future__ import annotations

import threading
from typing import Any, Iterator

from engine.transfer.backends.base import Backend, ObjectInfo

LIMIT = 100_000
"""Objects listed ahead at most (about 30 MB of records) before the reader takes over."""


class PrelistedSource:
    """Wraps ``backend``; its first ``list(recursive)`` returns the listing this object started
    when it was built. An error of that listing is raised where the listing is read. Anything
    else goes to the backend itself."""

    def __init__(self, backend: Backend, recursive: bool):
        self._backend = backend
        self._recursive = recursive
        self._listing = backend.list(recursive)
        self._ahead: list[ObjectInfo] = []
        self._lock = threading.Lock()
        self._reader = threading.Event()
        self._error: BaseException | None = None
        self._ended = False
        self._taken = False
        threading.Thread(target=self._run, daemon=True, name="transfer-prelist").start()

    def _run(self) -> None:
        while len(self._ahead) < LIMIT:
            with self._lock:
                if self._reader.is_set():
                    return
                try:
                    self._ahead.append(next(self._listing))
                except StopIteration:
                    self._ended = True
                    return
                except BaseException as exc:  # noqa: BLE001 - raised again where the listing is read
                    self._error, self._ended = exc, True
                    return

    def _read(self) -> Iterator[ObjectInfo]:
        self._reader.set()
        with self._lock:  # a page in flight in the thread arrives first
            ahead, self._ahead = self._ahead, []
        yield from ahead
        if self._error is not None:
            raise self._error
        if not self._ended:
            yield from self._listing

    def list(self, recursive: bool = True, start_after: str | None = None,
             end_before: str | None = None) -> Iterator[ObjectInfo]:
        if self._taken or recursive != self._recursive or start_after is not None or end_before is not None:
            return self._backend.list(recursive, start_after, end_before)
        self._taken = True
        return self._read()

    def close(self) -> None:
        self._reader.set()
        with self._lock:
            try:
                self._listing.close()  # type: ignore[attr-defined]
            except (AttributeError, ValueError):
                pass
        self._backend.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)
