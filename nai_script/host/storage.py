"""Script storages (``storage``, ``storyStorage``, ``historyStorage``, ``tempStorage``).

The first three are rows in one SQLite file so a reload, a restart or a kill -9 loses nothing
that was acknowledged; ``tempStorage`` lives in memory and ends with the script. Values are
JSON; ``storage`` is capped per script (NovelAI: 4 MB) and a write past the cap fails with an
error that names the cap and the size it would have reached. The others are capped too, though
NovelAI documents no cap: ``tempStorage`` is the host's memory, and the story and history
storages are the user's disk, which a script would otherwise fill at will (``Cap``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, TypeVar

from nai_script.limits.store import connect
from sandbox.protocol import CallbackHandle

T = TypeVar("T")
_MIB = 1024 * 1024


@dataclass(frozen=True)
class Cap:
    """A storage's limit in bytes (keys and JSON values, UTF-8), over one slice's rows (a
    script's ``storage``, its ``storyStorage`` of one story), or with ``every_owner`` over all
    of the script's rows in the scope (``historyStorage``: every node of every story)."""

    name: str
    limit: int
    per: str = "per script"
    every_owner: bool = False


STORAGE_CAP_BYTES = 4 * _MIB
STORAGE_CAP = Cap("storage", STORAGE_CAP_BYTES)
TEMP_STORAGE_CAP_BYTES = 32 * _MIB
TEMP_STORAGE_CAP = Cap("tempStorage", TEMP_STORAGE_CAP_BYTES)
#: Generous (a story's worth of per-generation notes is far less): they only bound the disk.
STORY_STORAGE_CAP = Cap("storyStorage", 32 * _MIB, per="per script and story")
HISTORY_STORAGE_CAP = Cap("historyStorage", 256 * _MIB, every_owner=True)


class StorageError(ValueError):
    """A storage call with bad arguments, a non-JSON value, or one past the cap."""


class StorageFull(StorageError):
    """A well-formed write that would pass the cap (the script sees ``ApiError``, not the
    ``ValueError`` of a bad argument)."""


class Scope(StrEnum):
    SCRIPT = "script"
    STORY = "story"
    HISTORY = "history"


_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    scope TEXT NOT NULL,
    script_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (scope, script_id, owner, key)
) WITHOUT ROWID;
"""


def _check_key(key: object) -> str:
    if not isinstance(key, str) or not key:
        raise StorageError(f"storage key must be a non-empty string, got {key!r}")
    return key


def _not_json(value: object) -> Any:
    what = "a function" if isinstance(value, CallbackHandle) else f"a {type(value).__name__}"
    raise TypeError(f"{what} cannot be stored (JSON values only)")


def _encode(key: object, value: Any) -> tuple[str, str]:
    key = _check_key(key)
    try:
        return key, json.dumps(value, ensure_ascii=False, allow_nan=False, default=_not_json)
    except (TypeError, ValueError) as exc:
        raise StorageError(f"storage value for {key!r} is not JSON: {exc}") from None


class StorageDB:
    """The SQLite file that holds every persistent script storage.

    The methods are blocking; async callers go through :meth:`run`, which runs them on the
    file's one worker thread: the event loop never waits for an fsync, and calls keep their
    order (a ``set`` then a ``get`` from the same script see each other).
    """

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        # FULL: a value is on disk before the script's set() resolves.
        self._conn = connect(self.path, "FULL")
        self._conn.executescript(_SCHEMA)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="storage-db")

    async def run(self, call: Callable[[], T]) -> T:
        """Run a blocking storage call on the file's thread, in submission order."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, call)

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One ``BEGIN IMMEDIATE`` transaction around the block (joined when one is open): a
        check and the write it decides (the cap, ``setIfAbsent``, a history ``remove``) are
        one step even with another host on the same file."""
        if self._conn.in_transaction:
            yield
            return
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def get(self, scope: Scope, script_id: str, owner: str, key: str) -> str | None:
        row = self._conn.execute(
            "SELECT value FROM kv WHERE scope=? AND script_id=? AND owner=? AND key=?",
            (scope.value, script_id, owner, key),
        ).fetchone()
        return None if row is None else str(row[0])

    def keys(self, scope: Scope, script_id: str, owner: str) -> list[str]:
        rows = self._conn.execute(
            "SELECT key FROM kv WHERE scope=? AND script_id=? AND owner=? ORDER BY key",
            (scope.value, script_id, owner),
        ).fetchall()
        return [str(r[0]) for r in rows]

    def size(self, scope: Scope, script_id: str, owner: str | None) -> int:
        """Bytes of keys and values in one slice, or (``owner`` None) in all of the script's
        slices of the scope."""
        where, args = "scope=? AND script_id=?", [scope.value, script_id]
        if owner is not None:
            where, args = f"{where} AND owner=?", [*args, owner]
        row = self._conn.execute(
            "SELECT COALESCE(SUM(LENGTH(CAST(key AS BLOB)) + LENGTH(CAST(value AS BLOB))), 0)"
            f" FROM kv WHERE {where}",
            args,
        ).fetchone()
        return int(row[0])

    def put(
        self, scope: Scope, script_id: str, owner: str, key: str, value: str, cap: Cap | None
    ) -> None:
        """Write one value; with a cap, refuse (and write nothing) if the total would pass it."""
        with self.transaction():
            if cap is not None:
                old = self.get(scope, script_id, owner, key)
                old_size = 0 if old is None else _entry_bytes(key, old)
                counted = self.size(scope, script_id, None if cap.every_owner else owner)
                new_total = counted - old_size + _entry_bytes(key, value)
                if new_total > cap.limit:
                    raise _full(cap, key, new_total)
            self._conn.execute(
                "INSERT INTO kv(scope, script_id, owner, key, value) VALUES (?,?,?,?,?) "
                "ON CONFLICT(scope, script_id, owner, key) DO UPDATE SET value=excluded.value",
                (scope.value, script_id, owner, key, value),
            )

    def forget_story(self, story_id: str, node_ids: list[str]) -> None:
        """Every script's ``storyStorage`` of a deleted story and ``historyStorage`` of its
        history nodes (they would stay in the file forever: nothing can reach them)."""
        with self.transaction():
            self._conn.execute(
                "DELETE FROM kv WHERE scope=? AND owner=?", (Scope.STORY.value, story_id)
            )
            self._conn.executemany(
                "DELETE FROM kv WHERE scope=? AND owner=?",
                [(Scope.HISTORY.value, node) for node in node_ids],
            )

    def delete(self, scope: Scope, script_id: str, owner: str, key: str) -> None:
        self._conn.execute(
            "DELETE FROM kv WHERE scope=? AND script_id=? AND owner=? AND key=?",
            (scope.value, script_id, owner, key),
        )


class _RawStore(Protocol):
    """Where one storage's encoded values live: a SQLite slice or a dict."""

    def get_raw(self, key: str) -> str | None: ...
    def put_raw(self, key: str, value: str) -> None: ...
    def delete_raw(self, key: str) -> None: ...
    def keys(self) -> list[str]: ...
    def atomic(self) -> AbstractContextManager[None]: ...


class _SQLiteSlice:
    """The rows of one (scope, script, owner) in the storage file."""

    def __init__(
        self, db: StorageDB, scope: Scope, script_id: str, owner: str, cap: Cap | None
    ) -> None:
        self._db, self._where, self._cap = db, (scope, script_id, owner), cap

    def get_raw(self, key: str) -> str | None:
        return self._db.get(*self._where, key)

    def put_raw(self, key: str, value: str) -> None:
        self._db.put(*self._where, key, value, self._cap)

    def delete_raw(self, key: str) -> None:
        self._db.delete(*self._where, key)

    def keys(self) -> list[str]:
        return self._db.keys(*self._where)

    def atomic(self) -> AbstractContextManager[None]:
        return self._db.transaction()


def _full(cap: Cap, key: str, total: int) -> StorageFull:
    limit = f"{cap.limit // _MIB} MB" if cap.limit % _MIB == 0 else f"{cap.limit}-byte"
    return StorageFull(
        f"{cap.name} is full: writing {key!r} would use {total} bytes, "
        f"over the {limit} limit {cap.per}"
    )


def _entry_bytes(key: str, value: str) -> int:
    return len(key.encode(errors="surrogatepass")) + len(value.encode(errors="surrogatepass"))


class _MemorySlice:
    def __init__(self, cap: Cap) -> None:
        self._values: dict[str, str] = {}
        self._cap = cap
        self._bytes = 0

    def get_raw(self, key: str) -> str | None:
        return self._values.get(key)

    def put_raw(self, key: str, value: str) -> None:
        old = self._values.get(key)
        total = self._bytes + _entry_bytes(key, value)
        if old is not None:
            total -= _entry_bytes(key, old)
        if total > self._cap.limit:
            raise _full(self._cap, key, total)
        self._values[key] = value
        self._bytes = total

    def delete_raw(self, key: str) -> None:
        old = self._values.pop(key, None)
        if old is not None:
            self._bytes -= _entry_bytes(key, old)

    def keys(self) -> list[str]:
        return sorted(self._values)

    def atomic(self) -> AbstractContextManager[None]:
        return nullcontext()  # only the event loop touches it


class ScriptStorage:
    """One storage as a script sees it: ``get/set/remove/list/has/getOrDefault/setIfAbsent``."""

    def __init__(self, raw: _RawStore) -> None:
        self._raw = raw

    @classmethod
    def persistent(
        cls, db: StorageDB, scope: Scope, script_id: str, owner: str = "", cap: Cap | None = None
    ) -> ScriptStorage:
        return cls(_SQLiteSlice(db, scope, script_id, owner, cap))

    @classmethod
    def temporary(cls, cap: Cap = TEMP_STORAGE_CAP) -> ScriptStorage:
        """``tempStorage``: in memory, gone when the script unloads."""
        return cls(_MemorySlice(cap))

    def get(self, key: str) -> Any:
        return self.get_or_default(key, None)

    def set(self, key: str, value: Any) -> None:
        self._raw.put_raw(*_encode(key, value))

    def remove(self, key: str) -> None:
        key = _check_key(key)
        with self._raw.atomic():  # historyStorage looks before it deletes
            self._raw.delete_raw(key)

    def list(self) -> list[str]:
        return self._raw.keys()

    def has(self, key: str) -> bool:
        return self._raw.get_raw(_check_key(key)) is not None

    def get_or_default(self, key: str, default: Any) -> Any:
        raw = self._raw.get_raw(_check_key(key))
        return default if raw is None else json.loads(raw)

    def set_if_absent(self, key: str, value: Any) -> bool:
        """Write unless the key holds a value; the look and the write are one transaction, so
        of two hosts on one data folder racing for a key, one wins (both did)."""
        key, encoded = _encode(key, value)
        with self._raw.atomic():
            if self._raw.get_raw(key) is not None:
                return False
            self._raw.put_raw(key, encoded)
        return True
