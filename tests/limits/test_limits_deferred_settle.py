"""A generation's settle waits for the end of the loop iteration (the generate result goes out
first), yet is seen by reads at once, committed before any later write, and never lost on
close."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from limits_helpers import open_limits

from nai_script.limits import Limits, LimitsConfig


def settled_rows(path: Path) -> list[tuple[str, int, int]]:
    """(bucket, amount, settled) per entry, as a fresh connection sees the file."""
    with sqlite3.connect(path) as conn:
        return conn.execute(
            "SELECT bucket, amount, settled FROM held_entries ORDER BY id"
        ).fetchall()


async def test_settle_is_visible_at_once_and_committed_after_the_iteration(
    tmp_path: Path,
) -> None:
    path = tmp_path / "limits.sqlite3"
    async with open_limits(path) as limits:
        budget = await limits.begin_generation("s", list(range(10)), 100, input_capacity=1000)
        await budget.succeed(30)
        # Not in the file yet (deferred to the end of this iteration) ...
        assert settled_rows(path) == [("output", 100, 0), ("input", 10, 0)]
        # ... but this process already reads it.
        assert limits.allowed_output("s") == 2048 - 30
        await asyncio.sleep(0)
        assert settled_rows(path) == [("output", 30, 1), ("input", 10, 1)]


async def test_a_later_write_commits_the_deferred_settle_first(tmp_path: Path) -> None:
    path = tmp_path / "limits.sqlite3"
    async with open_limits(path, output_capacity=150) as limits:
        first = await limits.begin_generation("s", [], 100, input_capacity=1000)
        await first.succeed(20)
        # In the same iteration: this reserve only fits if the settle (100 -> 20) landed first.
        second = await limits.begin_generation("s", [], 130, input_capacity=1000)
        assert [row[1] for row in settled_rows(path)] == [20, 130]
        await second.succeed(1)


async def test_close_commits_what_is_deferred(tmp_path: Path) -> None:
    path = tmp_path / "limits.sqlite3"
    limits = Limits(path, LimitsConfig())
    budget = await limits.begin_generation("s", [], 100, input_capacity=1000)
    await budget.succeed(42)
    await limits.close()  # before the loop ever ran the deferred commit
    assert settled_rows(path) == [("output", 42, 1)]
