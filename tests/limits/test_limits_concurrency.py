"""Racing reservations can never overspend, in one process object or two on one file."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import threading
from pathlib import Path

import pytest
from limits_helpers import T0, open_limits, until

from nai_script.limits import BudgetExceeded, FakeClock, Limits, Reservation


async def race(limits: Limits, script: str, amounts: list[int]) -> list[Reservation]:
    async def one(amount: int) -> Reservation | None:
        await asyncio.sleep(0)
        try:
            return await limits.reserve(script, output_tokens=amount, input_tokens=amount)
        except BudgetExceeded:
            return None

    results = await asyncio.gather(*(one(a) for a in amounts))
    return [r for r in results if r is not None]


async def test_fifty_tasks_never_overspend(tmp_path: Path) -> None:
    rng = random.Random(7)
    amounts = [rng.randint(1, 200) for _ in range(50)]
    async with open_limits(tmp_path / "r.db", input_capacity=3000) as limits:
        won = await race(limits, "s", amounts)
        total = sum(r.output_reserved for r in won)
        assert total <= 2048
        assert limits.allowed_output("s") == 2048 - total
        assert limits.allowed_input("s") == 3000 - total
        # Every refused task really could not fit when it ran: the bucket is nearly full.
        assert limits.allowed_output("s") < max(amounts)


async def test_two_limits_objects_on_one_file_never_overspend(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    clock = FakeClock(T0)
    async with open_limits(path, clock) as a, open_limits(path, clock) as b:
        won_a, won_b = await asyncio.gather(race(a, "s", [100] * 30), race(b, "s", [100] * 30))
        assert len(won_a) + len(won_b) == 20
        assert a.allowed_output("s") == b.allowed_output("s") == 48


async def test_cancelled_reserve_is_refunded(tmp_path: Path) -> None:
    async with open_limits(tmp_path / "r.db") as limits:
        tasks = [asyncio.create_task(limits.reserve("s", output_tokens=100)) for _ in range(10)]
        await asyncio.sleep(0)
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        kept = sum(r.output_reserved for r in results if isinstance(r, Reservation))
        # Reserves that had already committed are refunded by the writer thread.
        await until(lambda: limits.allowed_output("s") == 2048 - kept)
        await asyncio.sleep(0.05)
        assert limits.allowed_output("s") == 2048 - kept


async def test_refund_of_a_cancelled_reserve_wakes_waiters(tmp_path: Path) -> None:
    """A reserve cancelled while it commits on the writer thread is refunded there; a task
    waiting for tokens that refund gives back is woken by it, not by its next poll (with
    a fake clock that never moves, there is no next poll)."""
    path = tmp_path / "r.db"
    async with open_limits(path, poll_interval_s=3600.0) as limits:
        await limits.reserve("s", output_tokens=1000)
        # Another connection holds the write lock: the reserve cannot commit inline and waits
        # for the lock on the writer thread, where cancelling it no longer stops it.
        locker = sqlite3.connect(path, isolation_level=None)
        locker.execute("BEGIN IMMEDIATE")
        reserve = asyncio.create_task(limits.reserve("s", output_tokens=1048))
        await asyncio.sleep(0.2)
        reserve.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reserve
        gate = threading.Event()
        limits._store.submit(lambda _conn: gate.wait(10))  # the refund queues behind this
        locker.execute("COMMIT")
        locker.close()
        await until(lambda: limits.allowed_output("s") == 0)  # committed, not refunded yet
        waiter = asyncio.create_task(limits.wait_for_allowed_output("s", 1048))
        await asyncio.sleep(0.05)
        assert not waiter.done()
        gate.set()
        await asyncio.wait_for(waiter, 5)
        assert limits.allowed_output("s") == 1048


async def test_settles_racing_reserves(tmp_path: Path) -> None:
    async with open_limits(tmp_path / "r.db") as limits:
        first = await race(limits, "s", [512] * 4)
        assert len(first) == 4

        async def settle(r: Reservation) -> None:
            await asyncio.sleep(0)
            await r.settle(r.output_reserved // 2, 0)

        results = await asyncio.gather(*(settle(r) for r in first), race(limits, "s", [256] * 8))
        won = results[-1]
        assert isinstance(won, list)
        assert limits.allowed_output("s") == 2048 - 4 * 256 - 256 * len(won)
        assert limits.allowed_output("s") >= 0
