"""Recovery charges in full only the reservations whose owner is gone: another process (or
``Limits``) on the same file keeps its generations in flight, to settle them itself."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import textwrap
from pathlib import Path

from limits_helpers import open_limits, spawn_python

from nai_script.limits.owners import owners_dir

# Reserves 700 output tokens, says so, and waits (a generation in flight) until killed.
CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from nai_script.limits import Limits

    async def main() -> None:
        limits = Limits(sys.argv[1])
        await limits.reserve("s", output_tokens=700)
        print("R", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())
    """
)


async def test_a_live_owners_reservation_is_left_to_it(tmp_path: Path) -> None:
    """``nai-script run`` starting while ``serve`` generates on the same data folder: its
    recovery charged serve's reservation in full (700 held for 10 used)."""
    path = tmp_path / "l.db"
    async with open_limits(path) as serving:
        reservation = await serving.reserve("s", output_tokens=700)
        async with open_limits(path) as starting:
            assert await starting.recover_orphaned_reservations() == 0
        await reservation.settle(10)
        await serving.flush()
        assert serving.allowed_output("s") == 2038


async def test_a_sigkilled_owners_reservation_is_charged_in_full(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    async with open_limits(path) as limits:
        own = await limits.reserve("s", output_tokens=100)
        child = await spawn_python(CHILD, str(path))
        assert child.stdout is not None
        try:
            assert await asyncio.wait_for(child.stdout.readline(), 20) == b"R\n"
            assert await limits.recover_orphaned_reservations() == 0  # alive: its own
            assert len(list(owners_dir(path).glob("*.lock"))) == 2
        finally:
            child.send_signal(signal.SIGKILL)
            await child.wait()
        assert await limits.recover_orphaned_reservations() == 1  # gone: charged in full
        assert len(list(owners_dir(path).glob("*.lock"))) == 1  # its lock file went too
        await own.settle(40)
        await limits.flush()
        with sqlite3.connect(path) as conn:
            rows = conn.execute("SELECT amount, reserved, settled FROM held_entries ORDER BY id")
            assert rows.fetchall() == [(40, 100, 1), (700, 700, 1)]


async def test_reservations_of_a_file_without_owners_are_charged_on_recovery(
    tmp_path: Path,
) -> None:
    """A file written before owners were recorded (schema 1) is upgraded; its reservations in
    flight have no owner, so recovery charges them in full as before."""
    path = tmp_path / "l.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(
            "CREATE TABLE held_entries (id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " script_id TEXT NOT NULL, bucket TEXT NOT NULL, amount INTEGER NOT NULL,"
            " reserved INTEGER NOT NULL, spent_at REAL NOT NULL,"
            " settled INTEGER NOT NULL DEFAULT 0);"
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
            "INSERT INTO meta VALUES ('schema_version', '1');"
            "INSERT INTO held_entries (script_id, bucket, amount, reserved, spent_at)"
            " VALUES ('s', 'output', 300, 300, 1.0);"
        )
    conn.close()
    async with open_limits(path) as limits:
        assert await limits.recover_orphaned_reservations() == 1
        assert limits.diagnostics("s").output.held == 300
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT value FROM meta").fetchone() == ("2",)
    conn.close()
