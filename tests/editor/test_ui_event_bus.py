"""EventBus: fan-out, bounded drop-oldest queues, gap markers, closing."""

from __future__ import annotations

import asyncio

import pytest

from nai_script.editor.events import DROPPED_EVENT_TYPE, EventBus, EventBusError


async def test_every_subscriber_sees_events_in_order() -> None:
    bus = EventBus()
    first, second = bus.subscribe(), bus.subscribe()
    for n in range(3):
        bus.publish({"type": "t", "n": n})
    for sub in (first, second):
        got = [await sub.get() for _ in range(3)]
        assert [e["n"] for e in got if e] == [0, 1, 2]


async def test_subscriber_only_sees_events_after_subscribing() -> None:
    bus = EventBus()
    bus.publish({"type": "early"})
    sub = bus.subscribe()
    bus.publish({"type": "late"})
    assert sub.get_nowait() == {"type": "late"}
    assert sub.get_nowait() is None


async def test_published_event_is_a_copy_of_the_callers_dict() -> None:
    bus = EventBus()
    sub = bus.subscribe()
    event = {"type": "t", "v": 1}
    bus.publish(event)
    event["v"] = 2
    assert sub.get_nowait() == {"type": "t", "v": 1}


@pytest.mark.parametrize("bad", [{"n": 1}, {"type": ""}, {"type": 3}, ["type"], "ui.toast"])
async def test_malformed_events_are_refused(bad: object) -> None:
    bus = EventBus()
    with pytest.raises(EventBusError, match=r"type|mapping"):
        bus.publish(bad)  # type: ignore[arg-type]


async def test_slow_subscriber_drops_oldest_and_gets_a_gap_marker() -> None:
    bus = EventBus(queue_size=3)
    slow, fast = bus.subscribe(), bus.subscribe(queue_size=100)
    for n in range(10):
        bus.publish({"type": "t", "n": n})
    assert slow.dropped == 7
    assert slow.get_nowait() == {"type": DROPPED_EVENT_TYPE, "count": 7}
    assert [slow.get_nowait()["n"] for _ in range(3)] == [7, 8, 9]  # type: ignore[index]
    assert slow.get_nowait() is None
    assert fast.dropped == 0
    assert fast.queued == 10


async def test_memory_stays_bounded_under_a_flood() -> None:
    bus = EventBus(queue_size=16)
    sub = bus.subscribe()
    for n in range(50_000):
        bus.publish({"type": "doc.stream", "n": n})
    assert sub.queued <= 17  # 16 events + the gap marker
    assert sub.dropped == 50_000 - 16


async def test_gap_marker_counts_only_since_last_read() -> None:
    bus = EventBus(queue_size=1)
    sub = bus.subscribe()
    for n in range(3):
        bus.publish({"type": "t", "n": n})
    assert sub.get_nowait() == {"type": DROPPED_EVENT_TYPE, "count": 2}
    assert sub.get_nowait() == {"type": "t", "n": 2}
    bus.publish({"type": "t", "n": 3})
    assert sub.get_nowait() == {"type": "t", "n": 3}
    assert sub.dropped == 2


async def test_async_iteration_waits_for_events_and_ends_on_close() -> None:
    bus = EventBus()
    sub = bus.subscribe()
    received: list[int] = []

    async def reader() -> None:
        async for event in sub:
            received.append(event["n"])

    task = asyncio.create_task(reader())
    await asyncio.sleep(0)
    for n in range(5):
        bus.publish({"type": "t", "n": n})
        await asyncio.sleep(0)
    bus.unsubscribe(sub)
    await asyncio.wait_for(task, 1)
    assert received == [0, 1, 2, 3, 4]
    assert bus.subscriber_count == 0


async def test_closed_subscription_receives_nothing_more() -> None:
    bus = EventBus()
    sub = bus.subscribe()
    bus.publish({"type": "t"})
    sub.close()
    bus.publish({"type": "t"})
    assert sub.closed
    assert sub.get_nowait() is None
    assert await sub.get() is None
    sub.close()  # idempotent


async def test_bus_close_ends_every_waiting_reader() -> None:
    bus = EventBus()
    subs = [bus.subscribe() for _ in range(4)]
    waiters = [asyncio.create_task(s.get()) for s in subs]
    await asyncio.sleep(0)
    bus.close()
    assert await asyncio.wait_for(asyncio.gather(*waiters), 1) == [None] * 4
    assert bus.subscriber_count == 0


async def test_many_concurrent_readers_each_get_everything() -> None:
    bus = EventBus()
    subs = [bus.subscribe() for _ in range(20)]

    async def drain(sub_index: int) -> list[int]:
        out: list[int] = []
        async for event in subs[sub_index]:
            out.append(event["n"])
            if len(out) == 200:
                break
        return out

    tasks = [asyncio.create_task(drain(i)) for i in range(20)]
    for n in range(200):
        bus.publish({"type": "t", "n": n})
        if n % 17 == 0:
            await asyncio.sleep(0)
    results = await asyncio.wait_for(asyncio.gather(*tasks), 2)
    assert all(r == list(range(200)) for r in results)


def test_queue_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="queue_size"):
        EventBus(queue_size=0)
