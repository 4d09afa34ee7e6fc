"""Script log lines in SQLite (SPEC 10: the data folder holds the logs).

``logs.sqlite3`` under the data folder keeps, per script id, the lines the diagnostics show:
the last ``keep`` lines of any level and the last ``keep`` errors. A line is committed before
it is handed on (to the page, to stdout), on the caller's thread: a commit in WAL with
``synchronous=NORMAL`` is a write into the OS, no fsync, so it costs microseconds and a kill -9
right after loses nothing (a power cut may lose the last lines; logs are not worth an fsync
each). A reload or a restart of the host shows the lines the script logged before.

The file is written from the event loop only; a write that fails (a full disk, another host
holding the lock past ``busy_timeout_ms``) is reported to the host's own logger and the line
still reaches its sink: a log file problem never fails ``api.v1.log``.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from nai_script.limits.store import connect, immediate

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    script_id TEXT NOT NULL,
    at REAL NOT NULL,
    level TEXT NOT NULL CHECK (level IN ('log', 'error')),
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS logs_by_script ON logs (script_id);
CREATE INDEX IF NOT EXISTS logs_by_level ON logs (script_id, level);
"""

# A line is kept while it is among the script's last ``keep`` lines, or an error among its
# last ``keep`` errors (``id < NULL`` is never true: fewer rows than that delete nothing).
_PRUNE = """
DELETE FROM logs WHERE script_id = :script AND id < (
    SELECT id FROM logs WHERE script_id = :script ORDER BY id DESC LIMIT 1 OFFSET :skip
) AND (level = 'log' OR id < (
    SELECT id FROM logs WHERE script_id = :script AND level = 'error'
    ORDER BY id DESC LIMIT 1 OFFSET :skip
))
"""


class LogLine(BaseModel):
    """One line a script logged (or the host logged about it)."""

    model_config = ConfigDict(frozen=True)

    at: float
    level: Literal["log", "error"]
    text: str


class LogStore:
    """The logs file of one data folder."""

    def __init__(self, path: Path | str, keep: int, *, busy_timeout_ms: int = 200) -> None:
        if keep < 1:
            raise ValueError(f"keep must be at least 1, got {keep}")
        self.path = str(path)
        self.keep = keep
        self._lock = threading.Lock()
        self._conn = connect(self.path, "NORMAL", busy_timeout_ms)
        self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def append(self, script_id: str, line: LogLine) -> bool:
        """Commit ``line`` (and forget what fell out of the kept lines); False if it failed."""

        def body(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO logs (script_id, at, level, text) VALUES (?, ?, ?, ?)",
                (script_id, line.at, line.level, line.text),
            )
            conn.execute(_PRUNE, {"script": script_id, "skip": self.keep - 1})

        try:
            with self._lock:
                immediate(self._conn, body)
        except sqlite3.Error as error:
            logger.warning("could not keep a log line of %s in %s: %s", script_id, self.path, error)
            return False
        return True

    def recent(self, script_id: str) -> tuple[list[LogLine], list[LogLine]]:
        """The script's last ``keep`` lines and last ``keep`` errors, oldest first."""
        with self._lock:
            lines = self._conn.execute(
                "SELECT at, level, text FROM logs WHERE script_id = ? ORDER BY id DESC LIMIT ?",
                (script_id, self.keep),
            ).fetchall()
            errors = self._conn.execute(
                "SELECT at, level, text FROM logs WHERE script_id = ? AND level = 'error'"
                " ORDER BY id DESC LIMIT ?",
                (script_id, self.keep),
            ).fetchall()
        return _lines(lines), _lines(errors)


def _lines(rows: list[tuple[float, str, str]]) -> list[LogLine]:
    return [LogLine(at=at, level=level, text=text) for at, level, text in reversed(rows)]
