"""wait_for_allowed_*: woken by time and by interaction, cancellable, never-fits at once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from limits_helpers import T0, open_limits, until

from nai_script.limits import FakeClock, Limits, NeverFits


async def spend(limits: Limits, script: str, out: int = 0, inp: int = 0) -> None:
    r = await limits.reserve(script, output_tokens=out, input_tokens=inp)
    await r.settle(out, inp)


async def test_wait_returns_at_once_when_available(tmp_path: Path) -> None:
    async with open_limits(tmp_path / "w.db") as limits:
        await asyncio.wait_for(limits.wait_for_allowed_output("s", 2048), 1)


async def test_wait_needs_time_then_interaction(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    async with open_limits(tmp_path / "w.db", clock) as limits:
        await spend(limits, "s", out=2000)
        waiter = asyncio.create_task(limits.wait_for_allowed_output("s", 100))
        await until(lambda: clock.sleepers > 0)
        clock.advance(240)
        await until(lambda: clock.sleepers > 0)
        await asyncio.sleep(0.01)
        assert not waiter.done()  # time passed, but no interaction yet
        await limits.record_interaction("s")
        await asyncio.wait_for(waiter, 2)


async def test_wait_interaction_first_then_time(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    async with open_limits(tmp_path / "w.db", clock, poll_interval_s=1000) as limits:
        await spend(limits, "s", inp=limits.config.input_capacity)
        clock.advance(1)
        await limits.record_interaction("s")
        waiter = asyncio.create_task(limits.wait_for_allowed_input("s", 1))
        await until(lambda: clock.sleepers > 0)
        clock.advance(358.5)
        await until(lambda: clock.sleepers > 0)
        assert not waiter.done()
        clock.advance(0.5)  # exactly 360 s after the spend
        await asyncio.wait_for(waiter, 2)


async def test_wait_is_cancellable_and_leaves_no_sleepers(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    async with open_limits(tmp_path / "w.db", clock) as limits:
        await spend(limits, "s", out=2048)
        waiter = asyncio.create_task(limits.wait_for_allowed_output("s", 1))
        await until(lambda: clock.sleepers > 0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert clock.sleepers == 0


async def test_wait_never_fits_fails_at_once(tmp_path: Path) -> None:
    async with open_limits(tmp_path / "w.db", input_capacity=100) as limits:
        with pytest.raises(NeverFits, match="output budget: 2049 tokens can never"):
            await limits.wait_for_allowed_output("s", 2049)
        with pytest.raises(NeverFits, match="capacity 100"):
            await limits.wait_for_allowed_input("s", 101)
        with pytest.raises(NeverFits):
            limits.time_until_allowed_output("s", 5000)


async def test_wait_sees_a_release_from_another_task(tmp_path: Path) -> None:
    async with open_limits(tmp_path / "w.db") as limits:
        r = await limits.reserve("s", output_tokens=2048)
        waiter = asyncio.create_task(limits.wait_for_allowed_output("s", 2048))
        await asyncio.sleep(0.01)
        assert not waiter.done()
        await r.release()
        await asyncio.wait_for(waiter, 2)


async def test_wait_sees_another_process_object_by_polling(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    path = tmp_path / "w.db"
    async with open_limits(path, clock) as first, open_limits(path, clock) as second:
        await spend(first, "s", out=2048)
        clock.advance(240)
        waiter = asyncio.create_task(first.wait_for_allowed_output("s", 1))
        await until(lambda: clock.sleepers > 0)
        await second.record_interaction("s")  # first is not notified in-process
        await asyncio.sleep(0.01)
        assert not waiter.done()
        clock.advance(first.config.poll_interval_s)
        await asyncio.wait_for(waiter, 2)
