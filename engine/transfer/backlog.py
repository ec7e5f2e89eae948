"""The large objects' bytes a run still has to send in parts: what the ``-j`` part slots are busy with.

A run's ``-j`` part slots are shared by every large object in flight. Sized alone, each object
would take one part per slot (``size / -j``), so two 200 MiB objects at ``-j 8`` became 16 parts of
25 MiB for 8 slots: the slots are full either way, and the second half of the parts only adds
requests (on each side: a ranged GET and a part upload; on GCS also a compose input and a
delete). Sized against this backlog, an object takes its share of the slots: with as many bytes
of other large objects still to send as its own, half of them (4 parts of 50 MiB each).

What counts: a large object from the moment the planner hands it on (so an object listed just
after another is seen when the first is sized) until its parts are sent; a part leaves the
backlog when it is sent, the rest of an object when its copy ends however it ends (copied,
streamed in one request, vanished, failed). An object sized while the others' last parts are
still in flight may take fewer parts than it would alone; at worst it runs with half the streams
for the time of one part.
"""

from __future__ import annotations

import threading


class PartBacklog:
    """Bytes per large object not yet sent, and their total; thread-safe."""

    def __init__(self) -> None:
        self._left: dict[str, int] = {}
        self._total = 0
        self._lock = threading.Lock()

    def add(self, path: str, size: int) -> None:
        """A large object planned for copying (once per path and run; again only after :meth:`end`)."""
        with self._lock:
            self._total += size - self._left.get(path, 0)
            self._left[path] = size

    def others(self, path: str) -> int:
        """Bytes of every other large object still to send."""
        with self._lock:
            return self._total - self._left.get(path, 0)

    def sent(self, path: str, n: int) -> None:
        """``n`` bytes of ``path`` are sent (a part, or parts an earlier run sent)."""
        with self._lock:
            left = self._left.get(path)
            if left is None:
                return
            n = min(n, left)
            self._left[path] = left - n
            self._total -= n

    def end(self, path: str) -> None:
        """The copy of ``path`` is over: nothing of it is left to send by this run."""
        with self._lock:
            self._total -= self._left.pop(path, 0)

    @property
    def total(self) -> int:
        with self._lock:
            return self._total
