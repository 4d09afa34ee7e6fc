"""Time as the limits see it: wall seconds (entries outlive restarts) and a sleep.

Injected everywhere so tests can cover the 4- and 6-minute windows in milliseconds.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Protocol


class Clock(Protocol):
    """Wall-clock seconds plus a matching sleep."""

    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock: ``time.time`` and ``asyncio.sleep``."""

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class SteadyClock:
    """``inner``'s time, but never earlier than it has already been, nor than ``floor``.

    The return rule compares a spend with the last interaction: after the system clock is set
    back (while running, or between runs: ``floor`` is the latest time the limits file
    holds), an interaction recorded before the step would count as one after a later spend
    and return it with no interaction after it. A step back counts as no time passing; time
    then runs on from where it was, never frozen until the wall clock catches up. A step
    forward cannot be told from time passing (wall time is what survives a restart and what
    processes sharing the file agree on); the interaction condition still holds.
    """

    def __init__(self, inner: Clock, floor: float | None = None) -> None:
        self.inner = inner
        self._raw = inner.now()
        self._offset = 0.0 if floor is None else max(0.0, floor - self._raw)
        self._high = self._raw + self._offset if floor is None else max(floor, self._raw)

    def now(self) -> float:
        raw = self.inner.now()
        if raw < self._raw:
            self._offset += self._raw - raw
        self._raw = raw
        self._high = max(self._high, raw + self._offset)  # never back, not even by rounding
        return self._high

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class FakeClock:
    """A clock that only moves when told; ``advance`` wakes every sleeper that has become due,
    ``jump`` sets the wall clock (as a user or NTP may) without touching the sleepers."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._jumped = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self._now + self._jumped

    def jump(self, seconds: float) -> None:
        """The system clock is set ``seconds`` forward or back: ``now`` moves, sleeps (on a
        monotonic clock, as asyncio's) keep their deadlines."""
        self._jumped += seconds

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._order), future))
        await future

    def advance(self, seconds: float) -> None:
        """Move time forward and resolve the sleeps that are now due (they run on the next
        loop iterations, so tests ``await asyncio.sleep(0)`` or a helper afterwards)."""
        if seconds < 0:
            raise ValueError(f"advance: seconds must be >= 0, got {seconds}")
        self._now += seconds
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)

    @property
    def sleepers(self) -> int:
        """How many sleeps are still waiting (handy to know a waiter has parked)."""
        return sum(1 for _, _, future in self._sleepers if not future.done())
