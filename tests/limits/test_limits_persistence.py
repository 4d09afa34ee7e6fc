"""The SQLite file: reopening never refills, and a SIGKILLed writer loses nothing acknowledged."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import textwrap
from pathlib import Path

from limits_helpers import T0, open_limits, spawn_python

from nai_script.limits import FakeClock

CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from nai_script.limits import Limits, LimitsConfig

    async def main() -> None:
        limits = Limits(sys.argv[1], LimitsConfig(output_capacity=10**9))
        while True:
            r = await limits.reserve("victim", output_tokens=10)
            print("R", flush=True)
            await r.settle(10)
            print("S", flush=True)

    asyncio.run(main())
    """
)


async def test_reopen_refills_nothing_and_keeps_interactions(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    path = tmp_path / "p.db"
    async with open_limits(path, clock, input_capacity=1000) as limits:
        r = await limits.reserve("s", output_tokens=300, input_tokens=400)
        await r.settle(200, 400)
        clock.advance(10)
        await limits.record_interaction("s")
        await limits.record_manual_generation()
    clock.advance(230)  # 240 s after the spend, but in a new process object
    async with open_limits(path, clock, input_capacity=1000) as limits:
        assert limits.allowed_output("s") == 2048  # both conditions held
        assert limits.allowed_input("s") == 600  # the 360 s window has not passed
        diag = limits.diagnostics("s")
        assert diag.last_interaction_at == T0 + 10
        assert diag.last_manual_generation_at == T0 + 10


async def test_reopen_with_nothing_returned(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    path = tmp_path / "p.db"
    async with open_limits(path, clock) as limits:
        r = await limits.reserve("s", output_tokens=2048)
        await r.settle(2000)
    clock.advance(3600)
    async with open_limits(path, clock) as limits:
        assert limits.allowed_output("s") == 48


def test_file_uses_wal_and_full_sync(tmp_path: Path) -> None:
    async def make() -> None:
        async with open_limits(tmp_path / "p.db") as limits:
            await limits.record_interaction("s")

    asyncio.run(make())
    conn = sqlite3.connect(tmp_path / "p.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"held_entries", "interactions", "global_events", "cache_blocks"} <= tables


async def test_sigkilled_writer_keeps_every_acknowledged_spend(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    async with open_limits(path):  # create the schema first
        pass
    proc = await spawn_python(CHILD, str(path))
    assert proc.stdout is not None
    acks = 0
    try:
        while acks < 40:
            line = await asyncio.wait_for(proc.stdout.readline(), 20)
            assert line, "child exited early"
            acks += line.strip() == b"R"
    finally:
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    assert proc.returncode == -signal.SIGKILL
    async with open_limits(path, output_capacity=10**9) as limits:
        held = limits.diagnostics("victim").output.held
        # Every acknowledged reserve is there, and only whole reserves (the child may have
        # committed a few more that we had not read yet before the kill landed).
        assert held >= 10 * acks
        assert held % 10 == 0
        await limits.recover_orphaned_reservations()
        assert limits.diagnostics("victim").output.held == held
