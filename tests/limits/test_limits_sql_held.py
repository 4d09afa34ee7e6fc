"""The reserve's SQL count of held tokens must agree with the pure bucket arithmetic."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

from nai_script.limits import buckets
from nai_script.limits.buckets import BucketKind, BucketRule
from nai_script.limits.sql import held_amount
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
            for rule in RULES:
                expected = buckets.available(entries, rule, now, last)
                held = held_amount(conn, "s", rule, now, last)
                assert max(0, rule.capacity - held) == expected, (rule.kind, last)
    finally:
        store.close()


def test_reserve_forgets_returned_entries_and_keeps_held_ones(tmp_path: Path) -> None:
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
        LimitsStore.interaction_tx("s", now - 250)(conn)
        LimitsStore.reserve_tx("s", now, [(output, 5)])(conn)
        left = {(e.spent_at, e.settled) for e in store.read_state("s")[0]}
        # now - 300 settled: window passed and an interaction after it -> returned, deleted.
        # now - 240 settled: window passed, but the interaction came before it -> held.
        assert left == {(now - 240, True), (now - 100, True), (now - 300, False), (now, False)}
        with pytest.raises(Refusal) as refused:
            LimitsStore.reserve_tx("s", now, [(output, output.capacity - 305 + 1)])(conn)
        assert (refused.value.available, refused.value.needed) == (9_695, 9_696)
    finally:
        store.close()
