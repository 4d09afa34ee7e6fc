"""The ``editor.generate`` allowance in the limits file: three calls between interactions.

NovelAI lets a script press Send on its own a few times; then the user must interact (with
that script's UI, or by generating) before it may again. Each call is a row; recording an
interaction deletes the script's rows (a manual generation, every script's) in the same
transaction (``sql.interaction_tx``), so the count is exact in commit order, survives a
reload and a restart like the token buckets, and two processes on one file share it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

SCHEMA = """
CREATE TABLE IF NOT EXISTS editor_generates (
    id INTEGER PRIMARY KEY,
    script_id TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS editor_generates_by_script ON editor_generates (script_id);
"""


def used(conn: sqlite3.Connection, script_id: str) -> int:
    """Calls the script made since its last interaction."""
    row = conn.execute(
        "SELECT count(*) FROM editor_generates WHERE script_id = ?", (script_id,)
    ).fetchone()
    return int(row[0])


def take_tx(script_id: str, limit: int, now: float) -> Callable[[sqlite3.Connection], bool]:
    """Count one call if fewer than ``limit`` were made since the last interaction (one
    statement: check and insert under the write lock); False, counting nothing, if not."""

    def run(conn: sqlite3.Connection) -> bool:
        cursor = conn.execute(
            "INSERT INTO editor_generates (script_id, at) SELECT ?, ?"
            " WHERE (SELECT count(*) FROM editor_generates WHERE script_id = ?) < ?",
            (script_id, now, script_id, limit),
        )
        return cursor.rowcount == 1

    return run


def give_back_tx(script_id: str) -> Callable[[sqlite3.Connection], None]:
    """Uncount the script's latest call (it never started a generation)."""

    def run(conn: sqlite3.Connection) -> None:
        conn.execute(
            "DELETE FROM editor_generates WHERE id = (SELECT max(id) FROM editor_generates"
            " WHERE script_id = ?)",
            (script_id,),
        )

    return run


def reset(conn: sqlite3.Connection, script_id: str | None) -> None:
    """An interaction: the script's calls (None: a manual generation, everyone's) are forgotten."""
    if script_id is None:
        conn.execute("DELETE FROM editor_generates")
    else:
        conn.execute("DELETE FROM editor_generates WHERE script_id = ?", (script_id,))
