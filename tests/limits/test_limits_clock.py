"""The injectable clocks."""

from __future__ import annotations

import asyncio

import pytest
from limits_helpers import until

from nai_script.limits import FakeClock, SystemClock


async def test_fake_clock_wakes_due_sleepers_in_order() -> None:
    clock = FakeClock(100.0)
    woke: list[str] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append(name)

    tasks = [asyncio.create_task(sleeper(n, s)) for n, s in (("late", 360), ("early", 240))]
    await until(lambda: clock.sleepers == 2)
    clock.advance(239.999)
    await asyncio.sleep(0.01)
    assert woke == []
    clock.advance(0.001)
    await until(lambda: woke == ["early"])
    clock.advance(1000)
    await asyncio.gather(*tasks)
    assert woke == ["early", "late"]
    assert clock.now() == pytest.approx(1340.0)


async def test_fake_clock_zero_sleep_and_cancel() -> None:
    clock = FakeClock()
    await asyncio.wait_for(clock.sleep(0), 1)
    task = asyncio.create_task(clock.sleep(5))
    await until(lambda: clock.sleepers == 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert clock.sleepers == 0
    clock.advance(10)  # a cancelled sleeper is skipped, not resolved
    with pytest.raises(ValueError, match="seconds must be >= 0"):
        clock.advance(-1)


async def test_system_clock() -> None:
    clock = SystemClock()
    before = clock.now()
    await clock.sleep(0.001)
    await clock.sleep(-1)
    assert clock.now() >= before
