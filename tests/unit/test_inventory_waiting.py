"""engine.inventory.waiting: every answer or error handed back, a cancel obeyed at once, no new call once the
caller stops reading (the calls under way are daemon threads: they never hold the process)."""

from __future__ import annotations

import threading
import time

import pytest

from engine.errors import Interrupted
from engine.inventory.waiting import call, each_done


def _slow(started: list[int]):  # type: ignore[no-untyped-def]
    def run(i: int) -> int:
        started.append(i)
        time.sleep(0.1)
        if i == 1:
            raise ValueError("one")
        return i * 10
    return run


def test_each_answer_and_each_error_comes_back() -> None:
    got = sorted((item, result, type(err).__name__ if err else None)
                 for item, result, err in each_done(_slow([]), range(5), max_workers=2))
    assert got == [(0, 0, None), (1, None, "ValueError"), (2, 20, None), (3, 30, None), (4, 40, None)]


def test_a_caller_that_stops_reading_starts_no_new_call() -> None:
    started: list[int] = []
    answers = each_done(_slow(started), range(20), max_workers=2)
    next(answers)
    answers.close()
    time.sleep(0.4)
    assert len(started) <= 4


def test_a_cancel_interrupts_the_wait_not_after_the_call() -> None:
    cancel = threading.Event()
    threading.Timer(0.1, cancel.set).start()
    began = time.monotonic()
    with pytest.raises(Interrupted):
        call(lambda: time.sleep(3), cancel=cancel)
    assert time.monotonic() - began < 1.5
    with pytest.raises(ZeroDivisionError):
        call(lambda: 1 / 0, cancel=threading.Event())
    assert call(lambda: 7, cancel=threading.Event()) == 7 and call(lambda: 8) == 8
