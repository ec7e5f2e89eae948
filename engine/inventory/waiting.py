"""Waiting for AWS calls so that a cancel is obeyed at once, not when the call under way returns.

A boto3 call cannot be interrupted: behind a slow or unreachable endpoint one waits up to its read timeout
(60 s) for each of its attempts.  The scan looked at its cancel event between pages only, so a cancel (the
app's escape, Ctrl-C at the CLI) waited for every call under way, and ``ThreadPoolExecutor`` joins its
threads when the pool closes and again when the interpreter exits.  Here each call runs in a daemon thread
and the caller waits on a queue, looking at the cancel event ten times a second: on cancel it raises
:class:`~engine.errors.Interrupted` at once and the calls under way are abandoned (their answers are dropped;
a daemon thread does not keep the process alive).  The inventory only reads, so nothing is left half done.
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable, Iterable, Iterator, TypeVar

from engine.errors import Interrupted

T = TypeVar("T")
POLL_S = 0.1
"""How often a waiting caller looks at the cancel event."""


def _interrupted() -> Interrupted:
    return Interrupted("inventory interrupted; run it again")


def each_done(fn: Callable[[T], Any], items: Iterable[T], *, cancel: threading.Event | None = None,
              max_workers: int = 8, name: str = "aws") -> Iterator[tuple[T, Any, BaseException | None]]:
    """``fn(item)`` for every item, ``max_workers`` at a time, in daemon threads; yields ``(item, result,
    error)`` as each finishes (``error``: what it raised, else None).  A set ``cancel`` raises Interrupted."""
    todo: "queue.Queue[T]" = queue.Queue()
    items = list(items)
    for item in items:
        todo.put(item)
    done: "queue.Queue[tuple[T, Any, BaseException | None]]" = queue.Queue()
    stop = threading.Event()  # the caller stopped reading (an error it raises, Ctrl-C): take no new item

    def worker() -> None:
        while not (stop.is_set() or (cancel is not None and cancel.is_set())):
            try:
                item = todo.get_nowait()
            except queue.Empty:
                return
            try:
                done.put((item, fn(item), None))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller, who decides
                done.put((item, None, exc))

    for n in range(max(1, min(max_workers, len(items)))):
        threading.Thread(target=worker, name=f"{name}-{n}", daemon=True).start()
    try:
        for _ in items:
            while True:
                if cancel is not None and cancel.is_set():
                    raise _interrupted()
                try:
                    answer = done.get(timeout=POLL_S)
                except queue.Empty:
                    continue
                yield answer
                break
    finally:
        stop.set()


def call(fn: Callable[[], T], *, cancel: threading.Event | None = None, name: str = "aws") -> T:
    """``fn()`` in a daemon thread, waited for as :func:`each_done` waits: its result, or what it raised."""
    if cancel is None:
        return fn()
    for _item, result, error in each_done(lambda _none: fn(), [None], cancel=cancel, max_workers=1, name=name):
        if error is not None:
            raise error
        return result  # type: ignore[no-any-return]
    raise _interrupted()  # not reached: one item gives one answer or Interrupted
