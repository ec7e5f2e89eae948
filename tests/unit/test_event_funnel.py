"""The app's event funnel: a worker's events reach the screen in order, one message per batch."""

from __future__ import annotations

import threading

from engine.events import ItemDone
from tui.messages import EngineEvents, EventFunnel


def test_one_message_per_batch_and_every_event_in_order() -> None:
    posted: list[EngineEvents] = []
    funnel = EventFunnel(posted.append)
    for i in range(5):
        funnel(ItemDone("transfer", item=f"f{i}", status="copied"))
    assert len(posted) == 1  # the screen had not taken them yet: one message carries all five
    assert [e.item for e in posted[0].funnel.take()] == [f"f{i}" for i in range(5)]
    assert posted[0].funnel.take() == []
    funnel(ItemDone("transfer", item="g", status="copied"))
    assert len(posted) == 2 and [e.item for e in funnel.take()] == ["g"]


def test_events_from_threads_are_neither_lost_nor_duplicated() -> None:
    posted: list[EngineEvents] = []
    funnel = EventFunnel(posted.append)
    seen: list[str] = []

    def worker(n: int) -> None:
        for i in range(2000):
            funnel(ItemDone("transfer", item=f"{n}/{i}", status="copied"))
            if i % 97 == 0:
                seen.extend(e.item for e in funnel.take())

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seen.extend(e.item for e in funnel.take())
    assert sorted(seen) == sorted(f"{n}/{i}" for n in range(4) for i in range(2000))
