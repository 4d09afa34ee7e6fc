"""The reserve's SQL count of held tokens must agree with the pure bucket arithmetic."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

from nai_script.limits import buckets
from nai_script.limits.buckets import BucketKind, BucketRule
from nai_script.limits.sql import ForgetReturned, held_amounts, settle_entries
from nai_script.limits.store import LimitsStore, Refusal

RULES = [
    BucketRule(kind=BucketKind.OUTPUT, capacity=10_000, window_s=240.0),
    BucketRule(kind=BucketKind.INPUT, capacity=50_000, window_s=360.0),
]


def _fill(conn: sqlite3.Connection, rng: random.Random, now: float) -> None:
    conn.execute("DELETE FROM held_entries")
    for _ in range(rng.randint(0, 40)):
        # Spend times cluster on the exact window boundaries, where >= vs > matters.
        spent = now - rng.choice([0.0, 240.0, 360.0, 239.5, 359.5, 500.0, rng.uniform(0, 600)])
        conn.execute(
            "INSERT INTO held_entries (script_id, bucket, amount, reserved, spent_at, settled)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                rng.choice(["s", "other"]),
                rng.choice(["output", "input"]),
                rng.randint(0, 300),
                300,
                spent,
                rng.choice([0, 1]),
            ),
        )


def _set_last_interaction(conn: sqlite3.Connection, rng: random.Random, last: float | None) -> None:
    """``last`` as the script's own interaction or a manual generation (the later counts),
    with an earlier one of the other kind, or another script's later one, beside it."""
    conn.execute("DELETE FROM interactions")
    conn.execute("DELETE FROM global_events")
    if last is None:
        if rng.random() < 0.5:
            LimitsStore.interaction_tx("other", 1_800_000_000.0)(conn)
        return
    own = rng.random() < 0.5
    LimitsStore.interaction_tx("s" if own else None, last)(conn)
    if rng.random() < 0.5:
        LimitsStore.interaction_tx(None if own else "s", last - 1.0)(conn)
    if rng.random() < 0.5:
        LimitsStore.interaction_tx("other", last + 1.0)(conn)


def test_sql_held_matches_python_available(tmp_path: Path) -> None:
    store = LimitsStore(tmp_path / "l.db", synchronous="NORMAL")
    rng = random.Random(7)
    now = 1_700_000_000.0
    try:
        conn = store._writer
        for _ in range(300):
            _fill(conn, rng, now)
            entries, _ = store.read_state("s")
            last = rng.choice(
                [
                    None,
                    now - 1000.0,
                    now - 240.0,
                    now - 0.5,
                    now,
                    entries[0].spent_at if entries else None,
                ]
            )
            _set_last_interaction(conn, rng, last)
            held = held_amounts(conn, "s", RULES, now)
            for rule in RULES:
                expected = buckets.available(entries, rule, now, last)
                assert max(0, rule.capacity - held[rule.kind]) == expected, (rule.kind, last)
    finally:
        store.close()


def test_settle_forgets_returned_entries_and_keeps_held_ones(tmp_path: Path) -> None:
    store = LimitsStore(tmp_path / "l.db", synchronous="NORMAL")
    now = 1_700_000_000.0
    try:
        conn = store._writer
        output = RULES[0]
        rows = [(now - 300, 1), (now - 240, 1), (now - 100, 1), (now - 300, 0)]
        for spent, settled in rows:
            conn.execute(
                "INSERT INTO held_entries (script_id, bucket, amount, reserved, spent_at, settled)"
                " VALUES ('s', 'output', 100, 100, ?, ?)",
                (spent, settled),
            )
        conn.execute(  # another script's returned entry is not this settle's business
            "INSERT INTO held_entries (script_id, bucket, amount, reserved, spent_at, settled)"
            " VALUES ('other', 'output', 100, 100, ?, 1)",
            (now - 300,),
        )
        LimitsStore.interaction_tx("s", now - 250)(conn)
        LimitsStore.interaction_tx("other", now - 250)(conn)
        (entry,) = LimitsStore.reserve_tx("s", now, [(output, 5)])(conn)
        assert entry is not None
        forget = ForgetReturned("s", RULES, now)
        LimitsStore.settle_and_cache_tx([(entry, 3)], None, forget)(conn)
        left = {(e.spent_at, e.settled) for e in store.read_state("s")[0]}
        # now - 300 settled: window passed and an interaction after it -> returned, deleted.
        # now - 240 settled: window passed, but the interaction came before it -> held.
        assert left == {(now - 240, True), (now - 100, True), (now - 300, False), (now, True)}
        assert len(store.read_state("other")[0]) == 1
        with pytest.raises(Refusal) as refused:
            LimitsStore.reserve_tx("s", now, [(output, output.capacity - 303 + 1)])(conn)
        assert (refused.value.available, refused.value.needed) == (9_697, 9_698)
        # Exactly what is free fits.
        LimitsStore.reserve_tx("s", now, [(output, output.capacity - 303)])(conn)
    finally:
        store.close()


@pytest.mark.parametrize(("output", "input_"), [(5, 7), (5, 0), (0, 7), (0, 0)])
def test_reserve_returns_each_bucket_its_own_entry(
    tmp_path: Path, output: int, input_: int
) -> None:
    """One multi-row insert serves both buckets: each id must name its own bucket's row."""
    store = LimitsStore(tmp_path / "l.db", synchronous="NORMAL")
    try:
        conn = store._writer
        ids = LimitsStore.reserve_tx("s", 1.0, [(RULES[0], output), (RULES[1], input_)])(conn)
        rows = {e.id: (e.bucket, e.amount) for e in store.read_state("s")[0]}
        for entry_id, kind, amount in zip(
            ids, (BucketKind.OUTPUT, BucketKind.INPUT), (output, input_), strict=True
        ):
            assert (entry_id is None) == (amount == 0)
            if entry_id is not None:
                assert rows.pop(entry_id) == (kind, amount)
        assert rows == {}
    finally:
        store.close()


def test_reserve_refuses_two_requests_for_one_bucket() -> None:
    with pytest.raises(ValueError, match="one request per bucket"):
        LimitsStore.reserve_tx("s", 1.0, [(RULES[0], 1), (RULES[0], 2)])


class _RacedConnection(sqlite3.Connection):
    """Another process frees the bucket between the reserve's insert and its refusal read."""

    other: sqlite3.Connection | None = None

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:  # type: ignore[override]
        if sql == "BEGIN IMMEDIATE" and self.other is not None:  # the refusal's read begins
            self.other.execute("DELETE FROM held_entries")
            self.other = None
        return super().execute(sql, *args)


def test_reserve_tries_again_when_the_refusal_read_finds_room(tmp_path: Path) -> None:
    store = LimitsStore(tmp_path / "l.db", synchronous="NORMAL")
    try:
        output = RULES[0]
        LimitsStore.reserve_tx("s", 1.0, [(output, output.capacity)])(store._writer)
        raced = sqlite3.connect(tmp_path / "l.db", isolation_level=None, factory=_RacedConnection)
        raced.other = store._writer
        (entry,) = LimitsStore.reserve_tx("s", 2.0, [(output, 10)])(raced)
        assert [(e.id, e.amount) for e in store.read_state("s")[0]] == [(entry, 10)]
        raced.close()
    finally:
        store.close()


def test_settle_entries_charges_removes_and_names_the_stale_ones(tmp_path: Path) -> None:
    store = LimitsStore(tmp_path / "l.db", synchronous="NORMAL")
    try:
        conn = store._writer
        ids = [LimitsStore.reserve_tx("s", 1.0, [(RULES[0], 10)])(conn)[0] for _ in range(3)]
        a, b, c = (entry for entry in ids if entry is not None)
        assert settle_entries(conn, [(a, 4)]) == []
        # a is settled already: stale; b charged, c removed, 999 never existed.
        assert settle_entries(conn, [(b, 7), (a, 1), (c, 0), (999, 0)]) == [a, 999]
        rows = {e.id: (e.amount, e.settled) for e in store.read_state("s")[0]}
        assert rows == {a: (4, True), b: (7, True)}
    finally:
        store.close()


def test_a_settle_with_one_statement_runs_alone_and_fails_busy_before_writing(
    tmp_path: Path,
) -> None:
    """No cache write and no housekeeping: one autocommit statement, which takes the write lock
    first, so a busy lock leaves nothing half written (what the inline path relies on)."""
    store = LimitsStore(tmp_path / "l.db", synchronous="NORMAL")
    try:
        (entry,) = LimitsStore.reserve_tx("s", 1.0, [(RULES[0], 10)])(store._writer)
        assert entry is not None
        tx = LimitsStore.settle_and_cache_tx([(entry, 3)], None)
        store._writer.execute("BEGIN IMMEDIATE")  # another connection holds the write lock
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                tx(store._inline)
        finally:
            store._writer.execute("COMMIT")
        assert [(e.amount, e.settled) for e in store.read_state("s")[0]] == [(10, False)]
        statements: list[str] = []
        store._inline.set_trace_callback(statements.append)
        assert tx(store._inline) == []
        store._inline.set_trace_callback(None)
        assert [sql.split()[0] for sql in statements] == ["UPDATE"]  # no BEGIN, no COMMIT
        assert [(e.amount, e.settled) for e in store.read_state("s")[0]] == [(3, True)]
    finally:
        store.close()
