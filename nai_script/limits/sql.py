"""The SQL of the limits file: its schema, how connections are opened, one function per
write transaction (each returns a callable that runs it on a connection), and the queries
they share. ``store.LimitsStore`` decides where and when each runs; this module only says what
runs.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal, TypeVar

from nai_script.limits.buckets import BucketKind, BucketRule, HeldEntry
from nai_script.limits.prefix_cache import CachedBlock

T = TypeVar("T")
MANUAL_GENERATION = "manual_generation"
SCHEMA_VERSION = "1"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS held_entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    script_id TEXT NOT NULL,
    bucket TEXT NOT NULL CHECK (bucket IN ('output', 'input')),
    amount INTEGER NOT NULL CHECK (amount >= 0),
    reserved INTEGER NOT NULL CHECK (reserved >= 0),
    spent_at REAL NOT NULL,
    settled INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS held_entries_by_script ON held_entries (script_id);
CREATE TABLE IF NOT EXISTS interactions (script_id TEXT PRIMARY KEY, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS global_events (name TEXT PRIMARY KEY, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS cache_blocks (
    script_id TEXT NOT NULL,
    key BLOB NOT NULL,
    depth INTEGER NOT NULL,
    last_used REAL NOT NULL,
    PRIMARY KEY (script_id, key)
) WITHOUT ROWID;
"""


class Refusal(Exception):
    """Raised inside the write transaction when a bucket cannot cover a request."""

    def __init__(self, bucket: BucketKind, available: int, needed: int, capacity: int) -> None:
        self.bucket = bucket
        self.available = available
        self.needed = needed
        self.capacity = capacity
        super().__init__(bucket.value)


class StaleReservation(Exception):
    """Settle or release of an entry that is already settled, released or gone."""


def connect(
    path: str | Path, synchronous: Literal["FULL", "NORMAL"] = "FULL", busy_timeout_ms: int = 5000
) -> sqlite3.Connection:
    """An autocommit WAL connection usable from any thread (the host's SQLite files share it)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    return conn


def immediate(conn: sqlite3.Connection, body: Callable[[sqlite3.Connection], T]) -> T:
    """Run ``body`` in one ``BEGIN IMMEDIATE`` transaction: committed, or rolled back if it
    raises (the write lock is taken first, so a check-and-charge never races)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = body(conn)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return result


def row_to_entry(row: tuple[int, str, str, int, int, float, int]) -> HeldEntry:
    return HeldEntry(
        id=row[0],
        script_id=row[1],
        bucket=BucketKind(row[2]),
        amount=row[3],
        reserved=row[4],
        spent_at=row[5],
        settled=bool(row[6]),
    )


ENTRY_COLUMNS = "id, script_id, bucket, amount, reserved, spent_at, settled"


def reserve_tx(
    script_id: str, now: float, requests: Sequence[tuple[BucketRule, int]]
) -> Callable[[sqlite3.Connection], list[int | None]]:
    """Check every bucket and insert the entries, all or nothing."""

    def body(conn: sqlite3.Connection) -> list[int | None]:
        last = last_interaction(conn, script_id)
        for rule, needed in requests:
            held = held_amount(conn, script_id, rule, now, last)
            free = max(0, rule.capacity - held)
            if needed > free:
                raise Refusal(rule.kind, free, needed, rule.capacity)
        for rule, _ in requests:
            _delete_returned(conn, script_id, rule, now, last)
        ids: list[int | None] = []
        for rule, needed in requests:
            if needed == 0:
                ids.append(None)
                continue
            cursor = conn.execute(
                "INSERT INTO held_entries (script_id, bucket, amount, reserved, spent_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (script_id, rule.kind.value, needed, needed, now),
            )
            ids.append(cursor.lastrowid)
        return ids

    return lambda conn: immediate(conn, body)


def settle_tx(settlements: Sequence[tuple[int, int]]) -> Callable[[sqlite3.Connection], None]:
    """Charge the used amounts in the same entries; a zero charge removes the entry."""

    def body(conn: sqlite3.Connection) -> None:
        for entry_id, used in settlements:
            if not _settle_entry(conn, entry_id, used):
                raise StaleReservation(f"held entry {entry_id} is no longer in flight")

    return lambda conn: immediate(conn, body)


def settle_and_cache_tx(
    settlements: Sequence[tuple[int, int]],
    cache: tuple[str, Sequence[CachedBlock], Sequence[bytes]] | None,
) -> Callable[[sqlite3.Connection], list[int]]:
    """One commit for a generation's end: settle its entries and write its cache blocks.

    Entries no longer in flight (settled by another process's recovery) are skipped and
    returned, not fatal: nobody awaits this write to report them to.
    """

    def body(conn: sqlite3.Connection) -> list[int]:
        stale = [
            entry_id for entry_id, used in settlements if not _settle_entry(conn, entry_id, used)
        ]
        if cache is not None:
            _write_cache(conn, *cache)
        return stale

    return lambda conn: immediate(conn, body)


def settle_all_in_flight_tx() -> Callable[[sqlite3.Connection], int]:
    """After a crash: charge every orphaned reservation in full (never refill)."""

    def run(conn: sqlite3.Connection) -> int:
        cursor = conn.execute("UPDATE held_entries SET settled = 1 WHERE settled = 0")
        return cursor.rowcount

    return run


def interaction_tx(script_id: str | None, at: float) -> Callable[[sqlite3.Connection], None]:
    """Record an interaction for one script, or (None) a manual generation for all."""

    def run(conn: sqlite3.Connection) -> None:
        if script_id is None:
            conn.execute(
                "INSERT INTO global_events (name, at) VALUES (?, ?) ON CONFLICT (name)"
                " DO UPDATE SET at = max(at, excluded.at)",
                (MANUAL_GENERATION, at),
            )
        else:
            conn.execute(
                "INSERT INTO interactions (script_id, at) VALUES (?, ?) ON CONFLICT"
                " (script_id) DO UPDATE SET at = max(at, excluded.at)",
                (script_id, at),
            )

    return run


def cache_tx(
    script_id: str, touched: Sequence[CachedBlock], evicted: Sequence[bytes]
) -> Callable[[sqlite3.Connection], None]:
    """Write an insert's effect on the cache through, in one transaction."""
    return lambda conn: immediate(conn, lambda c: _write_cache(c, script_id, touched, evicted))


def _settle_entry(conn: sqlite3.Connection, entry_id: int, used: int) -> bool:
    """Charge ``used`` in an in-flight entry (0 removes it); False if it is not in flight."""
    if used == 0:
        cursor = conn.execute("DELETE FROM held_entries WHERE id = ? AND settled = 0", (entry_id,))
    else:
        cursor = conn.execute(
            "UPDATE held_entries SET amount = ?, settled = 1 WHERE id = ? AND settled = 0",
            (used, entry_id),
        )
    return cursor.rowcount == 1


def _write_cache(
    conn: sqlite3.Connection,
    script_id: str,
    touched: Sequence[CachedBlock],
    evicted: Sequence[bytes],
) -> None:
    conn.executemany(
        "DELETE FROM cache_blocks WHERE script_id = ? AND key = ?",
        [(script_id, key) for key in evicted],
    )
    conn.executemany(
        "INSERT INTO cache_blocks (script_id, key, depth, last_used)"
        " VALUES (?, ?, ?, ?) ON CONFLICT (script_id, key) DO UPDATE SET"
        " depth = excluded.depth, last_used = excluded.last_used",
        [(script_id, b.key, b.depth, b.last_used) for b in touched],
    )


def apply_queued(entries: list[HeldEntry], queued: dict[int, int]) -> list[HeldEntry]:
    """Show queued settlements: in-flight rows they name become settled (or gone at 0)."""
    shown: list[HeldEntry] = []
    for entry in entries:
        used = None if entry.settled else queued.get(entry.id)
        if used is None:
            shown.append(entry)
        elif used > 0:
            shown.append(entry.model_copy(update={"amount": used, "settled": True}))
    return shown


def entries(conn: sqlite3.Connection, script_id: str) -> list[HeldEntry]:
    rows = conn.execute(
        f"SELECT {ENTRY_COLUMNS} FROM held_entries WHERE script_id = ? ORDER BY id",
        (script_id,),
    ).fetchall()
    return [row_to_entry(row) for row in rows]


def last_interaction(conn: sqlite3.Connection, script_id: str) -> float | None:
    row = conn.execute(
        "SELECT max(at) FROM (SELECT at FROM interactions WHERE script_id = ?"
        " UNION ALL SELECT at FROM global_events WHERE name = ?)",
        (script_id, MANUAL_GENERATION),
    ).fetchone()
    return None if row is None or row[0] is None else float(row[0])


# "Returned" exactly as ``buckets.is_returned`` says (settled, ``now >= spent_at + window``, an
# interaction strictly after the spend), evaluated in SQLite: a reserve then costs one indexed
# aggregate instead of building every held entry in Python (linear in the entries, ~5 us each).
_RETURNED = "settled = 1 AND spent_at + :window <= :now AND :last IS NOT NULL AND :last > spent_at"


def held_amount(
    conn: sqlite3.Connection, script_id: str, rule: BucketRule, now: float, last: float | None
) -> int:
    """Tokens of ``rule``'s bucket still held now (what ``buckets.available`` subtracts)."""
    row = conn.execute(
        "SELECT COALESCE(SUM(amount), 0) FROM held_entries"
        f" WHERE script_id = :script AND bucket = :bucket AND NOT ({_RETURNED})",
        _returned_params(script_id, rule, now, last),
    ).fetchone()
    return int(row[0])


def _delete_returned(
    conn: sqlite3.Connection, script_id: str, rule: BucketRule, now: float, last: float | None
) -> None:
    """Housekeeping inside a reserve: forget entries that have returned for good."""
    conn.execute(
        f"DELETE FROM held_entries WHERE script_id = :script AND bucket = :bucket AND {_RETURNED}",
        _returned_params(script_id, rule, now, last),
    )


def _returned_params(
    script_id: str, rule: BucketRule, now: float, last: float | None
) -> dict[str, object]:
    return {
        "script": script_id,
        "bucket": rule.kind.value,
        "window": rule.window_s,
        "now": now,
        "last": last,
    }
