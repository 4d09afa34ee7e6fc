"""The stories file itself: schema, connection, transactions and the file's one thread.

WAL with ``synchronous=FULL``: a change is fsynced before the call that made it returns, so a
kill -9 (or a power cut) loses nothing that was acknowledged. Writes run in one ``BEGIN
IMMEDIATE`` transaction each, so two writers (two threads, or two processes on one file) never
interleave. ``StoryStore`` (``store.py``) builds the story operations on this.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from nai_script.editor.models import Section
from nai_script.limits.store import connect

T = TypeVar("T")
PARSE_CACHE_SIZE = 20_000  # parsed sections kept by the store (see StoryStore._parse_section)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS stories (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    current_node TEXT NOT NULL,
    section_order TEXT NOT NULL,
    settings TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sections (
    story_id TEXT NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (story_id, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS history_nodes (
    story_id TEXT NOT NULL,
    id TEXT NOT NULL,
    parent TEXT,
    kind TEXT NOT NULL,
    created REAL NOT NULL,
    changes TEXT NOT NULL,
    preferred_child TEXT,
    UNIQUE (story_id, id)
);
CREATE INDEX IF NOT EXISTS history_children ON history_nodes (story_id, parent);
CREATE TABLE IF NOT EXISTS lorebook_categories (
    story_id TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, UNIQUE (story_id, id)
);
CREATE TABLE IF NOT EXISTS lorebook_entries (
    story_id TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, UNIQUE (story_id, id)
);
CREATE TABLE IF NOT EXISTS editor_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class StoryError(LookupError):
    """A story, node, section or lorebook item that does not exist (the message names it)."""


class StoryFile:
    """One SQLite stories file; see the module docstring for the guarantees."""

    def __init__(self, path: Path | str, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.clock = clock
        self._conn = connect(self.path, "FULL")
        self._conn.executescript(_SCHEMA)
        # One connection shared by the run thread and direct callers: the lock keeps one
        # transaction at a time on it.
        self._lock = threading.RLock()
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="story-db")
        self._parsed: dict[str, Section] = {}

    async def run(self, call: Callable[[], T]) -> T:
        """Run a blocking store call on the file's thread, in submission order."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, call)

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        with self._lock:
            self._conn.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction: committed, or rolled back if the body raises."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Reads inside see one consistent state of the file (one read transaction), even
        while other threads or processes write: for snapshots made of several reads."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                yield
            finally:
                self._conn.execute("COMMIT")

    def _require_story(self, conn: sqlite3.Connection, story_id: str) -> str:
        row = conn.execute("SELECT current_node FROM stories WHERE id=?", (story_id,)).fetchone()
        if row is None:
            raise StoryError(f"no story {story_id!r}")
        return str(row[0])
