"""The SQL of the limits file: its schema, how connections are opened, one function per
write transaction (each returns a callable that runs it on a connection), and the queries
they share. ``store.LimitsStore`` decides where and when each runs; this module only says what
runs.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Literal, NamedTuple, TypeVar

from nai_script.limits import editor_calls
from nai_script.limits.buckets import BucketKind, BucketRule, HeldEntry
from nai_script.limits.prefix_cache import CachedBlock

T = TypeVar("T")
MANUAL_GENERATION = "manual_generation"
SCHEMA_VERSION = "2"  # 2: held_entries.owner

SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS held_entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    script_id TEXT NOT NULL,
    bucket TEXT NOT NULL CHECK (bucket IN ('output', 'input')),
    amount INTEGER NOT NULL CHECK (amount >= 0),
    reserved INTEGER NOT NULL CHECK (reserved >= 0),
    spent_at REAL NOT NULL,
    settled INTEGER NOT NULL DEFAULT 0,
    owner TEXT  -- the store that reserved it (``owners``); NULL in files of version 1
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
    + editor_calls.SCHEMA
)


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


def migrate(conn: sqlite3.Connection) -> None:
    """Bring a file made by an older version up to ``SCHEMA`` (after running it; under the
    write lock, as another process may be opening the file too)."""

    def body(conn: sqlite3.Connection) -> None:
        add_owner_column(conn, "held_entries")
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (SCHEMA_VERSION,),
        )

    immediate(conn, body)


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
    script_id: str,
    now: float,
    requests: Sequence[tuple[BucketRule, int]],
    owner: str | None = None,
) -> Callable[[sqlite3.Connection], list[int | None]]:
    """Check every bucket and insert the entries, all or nothing, in one statement (it runs
    on each generation's critical path, and one autocommit statement is one transaction
    holding the write lock throughout, like ``immediate``, without two more round trips).

    Nothing inserted although something was asked: a bucket refused. Its figures come from a
    read in a transaction of its own; if that read finds room after all (another process
    settled in between), the insert is tried again.
    """
    rules = [rule for rule, _ in requests]
    if len({rule.kind for rule in rules}) != len(rules):
        raise ValueError("reserve_tx: one request per bucket")
    params = {**_bucket_params(script_id, requests, now), "owner": owner}
    statement = (
        f"{_held_cte(len(requests))} INSERT INTO held_entries"
        " (script_id, bucket, amount, reserved, spent_at, owner)"
        " SELECT :script, bucket, needed, needed, :now, :owner FROM req WHERE needed > 0"
        " AND NOT EXISTS (SELECT 1 FROM req JOIN held USING (bucket)"
        " WHERE req.needed > max(0, req.capacity - held.amount))"
        " RETURNING bucket, id"
    )

    def run(conn: sqlite3.Connection) -> list[int | None]:
        for _ in range(_RESERVE_ATTEMPTS):
            ids = {BucketKind(b): i for b, i in conn.execute(statement, params).fetchall()}
            if ids or all(needed == 0 for _, needed in requests):
                return [ids.get(rule.kind) for rule in rules]
            held = immediate(conn, lambda c: held_amounts(c, script_id, rules, now))
            for rule, needed in requests:
                free = max(0, rule.capacity - held[rule.kind])
                if needed > free:
                    raise Refusal(rule.kind, free, needed, rule.capacity)
        raise sqlite3.OperationalError("reserve: the buckets kept changing under the insert")

    return run


_RESERVE_ATTEMPTS = 3


def settle_tx(settlements: Sequence[tuple[int, int]]) -> Callable[[sqlite3.Connection], None]:
    """Charge the used amounts in the same entries; a zero charge removes the entry."""

    def body(conn: sqlite3.Connection) -> None:
        if stale := settle_entries(conn, settlements):
            raise StaleReservation(f"held entries {stale} are no longer in flight")

    return lambda conn: immediate(conn, body)


class ForgetReturned(NamedTuple):
    """Housekeeping for a settle: the script's entries returned by ``now`` are deleted."""

    script_id: str
    rules: Sequence[BucketRule]
    now: float


def settle_and_cache_tx(
    settlements: Sequence[tuple[int, int]],
    cache: tuple[str, Sequence[CachedBlock], Sequence[bytes]] | None,
    forget: ForgetReturned | None = None,
) -> Callable[[sqlite3.Connection], list[int]]:
    """One commit for a generation's end: settle its entries, write its cache blocks, and
    forget the script's returned entries (off the reserve's critical path).

    Entries no longer in flight (settled by another process's recovery) are skipped and
    returned, not fatal: nobody awaits this write to report them to.
    """

    def body(conn: sqlite3.Connection) -> list[int]:
        stale = settle_entries(conn, settlements)
        if cache is not None:
            _write_cache(conn, *cache)
        if forget is not None:
            delete_returned(conn, *forget)
        return stale

    charges_and_removals = {used == 0 for _, used in settlements}  # a statement for each
    if cache is None and forget is None and len(charges_and_removals) <= 1:
        return body  # one write statement (or none): a transaction of its own, lock first
    return lambda conn: immediate(conn, body)


def add_owner_column(conn: sqlite3.Connection, table: str) -> None:
    """A file from before entries had owners: its entries count as ownerless (a dead owner's)."""
    if "owner" not in {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}:
        conn.execute(f"ALTER TABLE {table} ADD COLUMN owner TEXT")


def charge_orphans(
    conn: sqlite3.Connection, table: str, live_owners: Callable[[], Collection[str]]
) -> int:
    """After a crash: charge in full (never refill) every entry of ``table`` in flight whose
    owner is gone; those of owners still running (other processes on the file) are theirs to
    settle. Run it holding the write lock: an owner that starts meanwhile has no entry yet."""
    cursor = conn.execute(
        f"UPDATE {table} SET settled = 1 WHERE settled = 0 AND (owner IS NULL"
        " OR owner NOT IN (SELECT value FROM json_each(?)))",
        (json.dumps(sorted(live_owners())),),
    )
    return cursor.rowcount


def settle_orphaned_tx(
    live_owners: Callable[[], Collection[str]],
) -> Callable[[sqlite3.Connection], int]:
    """``charge_orphans`` for the held entries, in a transaction of its own."""
    return lambda conn: immediate(conn, lambda c: charge_orphans(c, "held_entries", live_owners))


def interaction_tx(script_id: str | None, at: float) -> Callable[[sqlite3.Connection], None]:
    """Record an interaction for one script, or (None) a manual generation for all; the
    ``editor.generate`` allowance comes back with it (``editor_calls``)."""

    def body(conn: sqlite3.Connection) -> None:
        editor_calls.reset(conn, script_id)
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

    return lambda conn: immediate(conn, body)


def cache_tx(
    script_id: str, touched: Sequence[CachedBlock], evicted: Sequence[bytes]
) -> Callable[[sqlite3.Connection], None]:
    """Write an insert's effect on the cache through, in one transaction."""
    return lambda conn: immediate(conn, lambda c: _write_cache(c, script_id, touched, evicted))


def settle_entries(conn: sqlite3.Connection, settlements: Sequence[tuple[int, int]]) -> list[int]:
    """Charge ``used`` in each in-flight entry, a zero charge removing it: one statement for the
    charged entries and one for the removed ones. The ids that were not in flight, in order."""
    done: set[int] = set()
    charged = [(entry_id, used) for entry_id, used in settlements if used != 0]
    removed = [entry_id for entry_id, used in settlements if used == 0]
    if charged:
        cases = " ".join("WHEN ? THEN ?" for _ in charged)
        marks = ", ".join("?" for _ in charged)
        rows = conn.execute(
            f"UPDATE held_entries SET amount = CASE id {cases} END, settled = 1"
            f" WHERE settled = 0 AND id IN ({marks}) RETURNING id",
            [v for pair in charged for v in pair] + [entry_id for entry_id, _ in charged],
        )
        done.update(row[0] for row in rows)
    if removed:
        marks = ", ".join("?" for _ in removed)
        rows = conn.execute(
            f"DELETE FROM held_entries WHERE settled = 0 AND id IN ({marks}) RETURNING id",
            removed,
        )
        done.update(row[0] for row in rows)
    return [entry_id for entry_id, _ in settlements if entry_id not in done]


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


def latest_time(conn: sqlite3.Connection) -> float | None:
    """The latest time the file records (a spend, an interaction, a cache use), if any."""
    row = conn.execute(
        "SELECT max(t) FROM (SELECT max(spent_at) AS t FROM held_entries"
        " UNION ALL SELECT max(at) FROM interactions UNION ALL SELECT max(at) FROM global_events"
        " UNION ALL SELECT max(last_used) FROM cache_blocks)"
    ).fetchone()
    return None if row is None or row[0] is None else float(row[0])


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
# The window is the row's bucket's (``req.window``); the last interaction, the script's own or a
# manual generation's, is an uncorrelated subquery, which SQLite evaluates once per statement.
_RETURNED = (
    "settled = 1 AND spent_at + req.window <= :now AND COALESCE((SELECT max(at) FROM"
    " (SELECT at FROM interactions WHERE script_id = :script"
    " UNION ALL SELECT at FROM global_events WHERE name = :manual)) > spent_at, 0)"
)


def _req_cte(buckets: int) -> str:
    """``req``: one row per bucket asked for (bucket, needed, capacity, window)."""
    rows = ", ".join(f"(:bucket{i}, :needed{i}, :capacity{i}, :window{i})" for i in range(buckets))
    return f"WITH req (bucket, needed, capacity, window) AS (VALUES {rows})"


def _held_cte(buckets: int) -> str:
    """``req``, and ``held``: each asked-for bucket and the tokens it still holds now."""
    return (
        f"{_req_cte(buckets)}, held (bucket, amount) AS (SELECT bucket,"
        " (SELECT COALESCE(SUM(amount), 0) FROM held_entries WHERE script_id = :script"
        f" AND held_entries.bucket = req.bucket AND NOT ({_RETURNED})) FROM req)"
    )


def held_amounts(
    conn: sqlite3.Connection, script_id: str, rules: Sequence[BucketRule], now: float
) -> dict[BucketKind, int]:
    """Tokens of each rule's bucket still held now (what ``buckets.available`` subtracts)."""
    params = _bucket_params(script_id, [(rule, 0) for rule in rules], now)
    rows = conn.execute(f"{_held_cte(len(rules))} SELECT bucket, amount FROM held", params)
    return {BucketKind(bucket): int(amount) for bucket, amount in rows}


def delete_returned(
    conn: sqlite3.Connection, script_id: str, rules: Sequence[BucketRule], now: float
) -> None:
    """Housekeeping: forget the script's entries that have returned for good."""
    params = _bucket_params(script_id, [(rule, 0) for rule in rules], now)
    conn.execute(
        f"{_req_cte(len(rules))} DELETE FROM held_entries WHERE script_id = :script AND"
        " EXISTS (SELECT 1 FROM req WHERE req.bucket = held_entries.bucket"
        f" AND {_RETURNED})",
        params,
    )


def _bucket_params(
    script_id: str, requests: Sequence[tuple[BucketRule, int]], now: float
) -> dict[str, object]:
    params: dict[str, object] = {"script": script_id, "manual": MANUAL_GENERATION, "now": now}
    for i, (rule, needed) in enumerate(requests):
        params[f"bucket{i}"] = rule.kind.value
        params[f"needed{i}"] = needed
        params[f"capacity{i}"] = rule.capacity
        params[f"window{i}"] = rule.window_s
    return params
