"""The editor's event bus: one publisher side (editor, host, script UI), many page sessions.

Every event is a JSON-ready ``dict`` with a ``"type"`` key. Each subscriber owns a bounded
queue; when a slow page falls behind, the *oldest* events are dropped and counted, so memory
never grows with a stuck WebSocket. Before the next event after a gap, the subscriber yields a
``{"type": "bus.dropped", "count": n}`` marker so the page knows to ask for a fresh snapshot.

Publishing never blocks and never awaits: it is safe to call from synchronous code on the
event loop's thread (hooks, callbacks, store mutators).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Mapping
from typing import Any

DEFAULT_QUEUE_SIZE = 1024
DROPPED_EVENT_TYPE = "bus.dropped"

Event = dict[str, Any]


class EventBusError(ValueError):
    """A malformed event (not a mapping, or no string ``"type"``)."""


class Subscription:
    """One subscriber's bounded view of the bus; an async iterator over events.

    Iteration ends when the subscription is closed (``close()``, ``bus.unsubscribe`` or
    ``bus.close()``); events still queued at that moment are discarded.
    """

    def __init__(self, bus: EventBus, queue_size: int) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size must be at least 1, got {queue_size}")
        self._bus = bus
        self._queue: deque[Event] = deque()
        self._queue_size = queue_size
        self._wakeup = asyncio.Event()
        self._closed = False
        self._pending_gap = 0
        # Total events dropped over the subscription's life (for diagnostics and tests).
        self.dropped = 0

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def queued(self) -> int:
        return len(self._queue) + (1 if self._pending_gap else 0)

    def _push(self, event: Event) -> None:
        if self._closed:
            return
        if len(self._queue) >= self._queue_size:
            self._queue.popleft()
            self.dropped += 1
            self._pending_gap += 1
        self._queue.append(event)
        self._wakeup.set()

    def get_nowait(self) -> Event | None:
        """The next event if one is queued, else None (no waiting)."""
        if self._closed:
            return None
        if self._pending_gap:
            gap, self._pending_gap = self._pending_gap, 0
            return {"type": DROPPED_EVENT_TYPE, "count": gap}
        if self._queue:
            return self._queue.popleft()
        return None

    async def get(self) -> Event | None:
        """Wait for the next event; None once the subscription is closed."""
        while True:
            event = self.get_nowait()
            if event is not None:
                return event
            if self._closed:
                return None
            self._wakeup.clear()
            await self._wakeup.wait()

    def close(self) -> None:
        """Stop receiving; a pending ``get`` / ``async for`` returns / ends."""
        if self._closed:
            return
        self._closed = True
        self._queue.clear()
        self._pending_gap = 0
        self._wakeup.set()
        self._bus._forget(self)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while True:
            event = await self.get()
            if event is None:
                return
            yield event


class EventBus:
    """Fan-out of editor events to every subscribed page session."""

    def __init__(self, *, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size must be at least 1, got {queue_size}")
        self.queue_size = queue_size
        self._subscribers: list[Subscription] = []
        self.published = 0

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def publish(self, event: Mapping[str, Any]) -> None:
        """Queue ``event`` for every current subscriber (never blocks).

        The event is shallow-copied once and shared between subscribers: treat received
        events as read-only.
        """
        if not isinstance(event, Mapping):
            raise EventBusError(f"event must be a mapping, got {type(event).__name__}")
        kind = event.get("type")
        if not isinstance(kind, str) or not kind:
            raise EventBusError(f"event needs a non-empty string 'type', got {kind!r}")
        frozen = dict(event)
        self.published += 1
        for subscriber in list(self._subscribers):
            subscriber._push(frozen)

    def subscribe(self, *, queue_size: int | None = None) -> Subscription:
        """A new subscription that sees every event published from now on."""
        subscription = Subscription(self, queue_size or self.queue_size)
        self._subscribers.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        subscription.close()

    def close(self) -> None:
        """End every subscription (server shutdown)."""
        for subscriber in list(self._subscribers):
            subscriber.close()

    def _forget(self, subscription: Subscription) -> None:
        if subscription in self._subscribers:
            self._subscribers.remove(subscription)
