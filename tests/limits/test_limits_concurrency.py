"""Racing reservations can never overspend, in one process object or two on one file."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

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
