"""What the page's prompts share: a question published on the bus, open until the person at
some page answers it or ``timeout_s`` passes (the clock is injectable, so tests never wait).
``PagePermissions`` and ``PageRequests`` each add their own request and answer shapes."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from typing import Any, Generic, Protocol, TypeVar

from nai_script.editor.events import EventBus
from nai_script.limits import Clock, SystemClock

#: Most prompts wait for the person to act (read the question, choose a file, click Copy).
DEFAULT_TIMEOUT_S = 120.0


class _Open(Protocol):
    request: dict[str, Any]


PendingT = TypeVar("PendingT", bound=_Open)


class PagePrompts(Generic[PendingT]):
    """The open prompts by request id, and the wait for one's answer."""

    def __init__(
        self, bus: EventBus, *, timeout_s: float = DEFAULT_TIMEOUT_S, clock: Clock | None = None
    ) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        self.bus = bus
        self.timeout_s = timeout_s
        self.clock: Clock = clock or SystemClock()
        self._pending: dict[str, PendingT] = {}
        self._ids = itertools.count(1)

    def pending(self) -> list[dict[str, Any]]:
        """Open requests, for the ``state`` snapshot of a page that connects mid-question."""
        return [entry.request for entry in self._pending.values()]

    async def _answered_in_time(self, answer: asyncio.Future[Any]) -> bool:
        """Wait for ``answer`` or ``timeout_s``, whichever comes first: False if the time
        ran out. Cancelling the caller cancels the timer too."""
        timer: asyncio.Future[Any] = asyncio.ensure_future(self.clock.sleep(self.timeout_s))
        try:
            await asyncio.wait({answer, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            timed_out = timer.done() and not timer.cancelled()
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timer
        return not timed_out
