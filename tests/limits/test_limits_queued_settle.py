"""Settles are queued: visible to this process at once, committed in order, never a refill."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from limits_helpers import T0, open_limits

from nai_script.limits import FakeClock, Limits
from nai_script.limits.prefix_cache import block_keys


@contextmanager
def writer_blocked(limits: Limits) -> Iterator[None]:
    """Hold the writer thread, so anything queued behind it has certainly not committed."""
    entered, release = threading.Event(), threading.Event()

    def hold(_conn: sqlite3.Connection) -> None:
        entered.set()
        release.wait(5)

    limits._store.submit(hold)
    assert entered.wait(5)
    try:
        yield
    finally:
        release.set()


def file_rows(path: Path) -> list[tuple[int, int, int]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(
            "SELECT amount, reserved, settled FROM held_entries ORDER BY id"
        ).fetchall()


async def test_settle_is_seen_at_once_and_lands_in_order(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    async with open_limits(path) as limits:
        r = await limits.reserve("s", output_tokens=1000)
        with writer_blocked(limits):
            await r.settle(100)
            assert limits.allowed_output("s") == 1948  # the settle, not the reservation
            assert file_rows(path) == [(1000, 1000, 0)]  # not committed yet
            entry = limits.diagnostics("s").output.entries[0]
            assert (entry.amount, entry.in_flight) == (100, False)
            # A reserve queued behind the settle is checked against the settled amount.
            second = asyncio.ensure_future(limits.reserve("s", output_tokens=1948))
        await second
        await limits.flush()
        assert file_rows(path) == [(100, 1000, 1), (1948, 1948, 0)]


async def test_zero_settle_and_release_hide_the_entry_at_once(tmp_path: Path) -> None:
    async with open_limits(tmp_path / "l.db") as limits:
        a = await limits.reserve("s", output_tokens=300)
        b = await limits.reserve("s", output_tokens=200)
        with writer_blocked(limits):
            await a.settle(0)
            await b.release()
            assert limits.allowed_output("s") == 2048
            assert limits.diagnostics("s").output.entries == []


async def test_crash_before_the_settle_commits_charges_in_full(tmp_path: Path) -> None:
    """Process death with the settle still queued: the entry stays in flight on disk and
    recovery charges the whole reservation (conservative, never an overspend)."""
    path = tmp_path / "l.db"
    clock = FakeClock(T0)
    limits = Limits(path, clock=clock)
    r = await limits.reserve("s", output_tokens=500)
    with writer_blocked(limits):
        await r.settle(20)
        # "Crash": copy the file as it is now, with the settle not yet committed.
        crashed = tmp_path / "crashed.db"
        with sqlite3.connect(path) as src, sqlite3.connect(crashed) as dst:
            src.backup(dst)
    await limits.close()
    async with open_limits(crashed, clock) as reopened:
        assert reopened.allowed_output("s") == 1548  # in flight: held at the reservation
        assert await reopened.recover_orphaned_reservations() == 1
        assert reopened.diagnostics("s").output.held == 500


async def test_succeed_settles_and_caches_in_one_commit(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    prompt = list(range(130))  # two full blocks
    async with open_limits(path) as limits:
        budget = await limits.begin_generation("s", prompt, 100)
        with writer_blocked(limits):
            await budget.succeed(40)
            assert limits.count_uncached("s", prompt) == 2  # in memory at once
        await limits.flush()
        with sqlite3.connect(path) as conn:
            keys = {bytes(k) for (k,) in conn.execute("SELECT key FROM cache_blocks")}
        assert keys == set(block_keys(prompt))
        assert file_rows(path) == [(40, 100, 1), (130, 130, 1)]
    async with open_limits(path) as reopened:
        assert reopened.count_uncached("s", prompt) == 2


async def test_a_stale_settle_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "l.db"
    async with open_limits(path) as limits:
        r = await limits.reserve("s", output_tokens=100)
        # Settled in full behind its back (a process of an older version, whose recovery
        # charged every reservation in flight, whoever's it was).
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE held_entries SET settled = 1")
        with caplog.at_level(logging.WARNING, logger="nai_script.limits.store"):
            await r.settle(10)
            await limits.flush()
        assert "no longer in flight" in caplog.text
        assert file_rows(path) == [(100, 100, 1)]
        assert limits.allowed_output("s") == 1948


async def test_settle_after_close_raises(tmp_path: Path) -> None:
    limits = Limits(tmp_path / "l.db")
    r = await limits.reserve("s", output_tokens=10)
    await limits.close()
    with pytest.raises(RuntimeError, match="is closed"):
        await r.settle(1)
    assert limits._store._queued_settlements == {}
