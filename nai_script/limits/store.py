"""SQLite persistence for held entries, interactions and cache blocks.

One file, WAL, ``synchronous=FULL`` by default, so what is acknowledged survives kill -9 *and*
power loss (NORMAL survives kill -9 but may roll back the last commits on power loss). Writes
run on one dedicated thread, so an fsync never stalls the event loop; reads use another
connection on the caller's thread (WAL readers never wait for the writer). Every
check-and-charge runs in one transaction holding the write lock throughout (a reserve is one
autocommit statement, a settle a ``BEGIN IMMEDIATE``), which also makes two processes on
one file race-free.

Only a reserve must never be lost (a lost reserve would refill a bucket); a lost settle leaves
its entries in flight, charged in full by ``recover_orphaned_reservations``, and a lost cache
block charges a later prompt as uncached: both err towards charging more. So settles and cache
writes commit without an fsync of their own, and the reserve, on each generation's critical
path, skips the thread hop too (``commit_reserve``): when nothing is queued ahead of it and no
other connection holds the write lock, it commits at once on the caller's thread through a
connection that never waits for a lock; with FULL, a thread of its own (``WalSyncer``) then
fsyncs the WAL while the request is already on its way. A kill -9 never loses a commit (it is in the OS before the
call returns); only a power loss within that one fsync could lose a reserve.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal, TypeVar

from nai_script.limits import editor_calls, sql
from nai_script.limits.buckets import HeldEntry
from nai_script.limits.owners import OwnerLock, live_owners
from nai_script.limits.prefix_cache import CachedBlock
from nai_script.limits.sql import MANUAL_GENERATION as MANUAL_GENERATION
from nai_script.limits.sql import SCHEMA_VERSION as SCHEMA_VERSION
from nai_script.limits.sql import Refusal as Refusal
from nai_script.limits.sql import StaleReservation as StaleReservation
from nai_script.limits.sql import connect as connect
from nai_script.limits.sql import immediate as immediate
from nai_script.limits.wal_sync import WalSyncer

T = TypeVar("T")
log = logging.getLogger(__name__)


_Cache = tuple[str, Sequence[CachedBlock], Sequence[bytes]]
_DeferredSettle = tuple[
    Sequence[tuple[int, int]], _Cache | None, sql.ForgetReturned | None, Future[list[int]]
]


def _chain(source: Future[T], target: Future[T]) -> None:
    """Complete ``target`` as ``source`` completes."""

    def copy(done: Future[T]) -> None:
        error = done.exception()
        if error is not None:
            target.set_exception(error)
        else:
            target.set_result(done.result())

    source.add_done_callback(copy)


def _is_busy(error: Exception) -> bool:
    """Another connection holds the write lock (the extended codes share the low byte)."""
    return (
        isinstance(error, sqlite3.OperationalError)
        and error.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY
    )


#: A settle writing more cache rows than this is queued, never run on the caller's thread.
_INLINE_CACHE_ROWS = 32


class LimitsStore:
    """The SQLite file behind the limits: a writer thread, a reader connection, and the
    connections for commits made in place (see the module doc)."""

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
        busy_timeout_ms: int = 5000,
    ) -> None:
        self.path = Path(path)
        self._writer_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="limits-sqlite")
        self._writer = connect(self.path, synchronous, busy_timeout_ms)
        self._writer.executescript(sql.SCHEMA)
        sql.migrate(self._writer)
        self._owner_lock = OwnerLock(self.path)
        #: Written into the entries this store reserves (``reserve_tx``'s ``owner``).
        self.owner = self._owner_lock.id
        self._reader = connect(self.path, synchronous, busy_timeout_ms)
        # Writes whose loss on power failure could only over-charge, and reserves (see the
        # module doc): committed without an fsync of their own.
        self._lazy = connect(self.path, "NORMAL", busy_timeout_ms)
        self._inline = connect(self.path, "NORMAL", busy_timeout_ms=0)  # never waits for a lock
        self._wal_syncer = WalSyncer(Path(f"{self.path}-wal")) if synchronous == "FULL" else None
        self._last_submitted: Future[Any] | None = None
        self._closed = False
        # Settlements queued on the writer but maybe not committed yet: entry id -> tokens used.
        # Reads apply them, so this process sees a settle the moment it is queued.
        self._queued_settlements: dict[int, int] = {}
        # ``settle_soon(defer=True)`` settles waiting for the end of the loop iteration, and the
        # thread that defers them (the event loop's); only that thread drains them early.
        self._deferred: list[_DeferredSettle] = []
        self._owner: int | None = None

    # -- plumbing --------------------------------------------------------------------------

    def submit(self, fn: Callable[[sqlite3.Connection], T], *, lazy: bool = False) -> Future[T]:
        """Queue a write; writes run one at a time, in order. ``lazy`` ones skip the fsync."""
        if self._closed:
            raise RuntimeError(f"limits store {self.path} is closed")
        if self._deferred and threading.get_ident() == self._owner:
            self._commit_deferred()  # they were made first: they commit first
        future = self._writer_pool.submit(fn, self._lazy if lazy else self._writer)
        self._last_submitted = future
        return future

    def commit_reserve(self, fn: Callable[[sqlite3.Connection], T]) -> Future[T]:
        """A reserve, on the generation's critical path: committed at once on the caller's
        thread when it can be (``_now_or_queued``), else queued; the future is done if it ran
        here. Either way, once it has committed, the WAL is fsynced (with FULL, ``WalSyncer``)
        while the request is already on its way.
        """
        future = self._now_or_queued(fn)
        if self._wal_syncer is not None:
            future.add_done_callback(self._fsync_after)
        return future

    def _fsync_after(self, done: Future[Any]) -> None:
        """A reserve committed (here, or on the writer thread): ask for the WAL fsync."""
        if not done.cancelled() and done.exception() is None and self._wal_syncer is not None:
            self._wal_syncer.request()

    def _now_or_queued(self, fn: Callable[[sqlite3.Connection], T]) -> Future[T]:
        """Commit ``fn`` here and now, without an fsync, when nothing is queued ahead of it (so
        order is kept) and no other connection holds the write lock; otherwise queue it (lazy).

        Running here skips two thread hops, and the writer thread's wait for the GIL while the
        loop is busy. ``fn`` must be one transaction that takes the write lock first
        (``immediate``, or one write statement, as a reserve is): a busy lock then fails before
        anything is written, and the write is queued instead.
        """
        if self._closed:
            raise RuntimeError(f"limits store {self.path} is closed")
        if self._deferred and threading.get_ident() == self._owner:
            self._commit_deferred()  # they were made first: they commit first
        ahead = self._last_submitted
        if ahead is None or ahead.done():
            future: Future[T] = Future()
            try:
                future.set_result(fn(self._inline))
            except Exception as error:  # e.g. a refusal: the transaction rolled back
                if not _is_busy(error):
                    future.set_exception(error)
                    return future
            else:
                return future
        return self.submit(fn, lazy=True)

    def settle_soon(
        self,
        settlements: Sequence[tuple[int, int]],
        cache: _Cache | None = None,
        *,
        defer: bool = False,
        forget: sql.ForgetReturned | None = None,
    ) -> Future[list[int]]:
        """Queue a settle (and a cache write) as one transaction, visible to reads at once.

        The caller need not wait for the commit: it is made here at once when it can be
        (``_now_or_queued``; a big cache write always goes to the writer thread, so as not to
        hold the loop), else queued in order, so a later reserve always sees this settle.
        ``forget`` adds the script's housekeeping (``sql.delete_returned``). With
        ``defer`` (on an event loop) it waits for the end of this loop iteration, so what the
        caller answers next (a generate's result) goes out first; any write made meanwhile
        commits the deferred settles first, and so does ``close``. If the process dies first,
        the entries stay in flight and ``recover_orphaned_reservations`` charges them in full
        (never a refill).
        """
        for entry_id, used in settlements:
            self._queued_settlements[entry_id] = used
        if not defer:
            return self._commit_settle(settlements, cache, forget)
        if self._closed:
            self._forget_queued(settlements)
            raise RuntimeError(f"limits store {self.path} is closed")
        landed: Future[list[int]] = Future()
        if not self._deferred:
            asyncio.get_running_loop().call_soon(self._commit_deferred)
            self._owner = threading.get_ident()
        self._deferred.append((settlements, cache, forget, landed))
        return landed

    def _commit_settle(
        self,
        settlements: Sequence[tuple[int, int]],
        cache: _Cache | None,
        forget: sql.ForgetReturned | None = None,
    ) -> Future[list[int]]:
        tx = self.settle_and_cache_tx(settlements, cache, forget)
        try:
            if cache is None or len(cache[1]) + len(cache[2]) <= _INLINE_CACHE_ROWS:
                future = self._now_or_queued(tx)
            else:
                future = self.submit(tx, lazy=True)
        except RuntimeError:
            self._forget_queued(settlements)
            raise
        future.add_done_callback(lambda done: self._settle_landed(settlements, done))
        return future

    def _commit_deferred(self) -> None:
        """Commit the deferred settles, in the order they were made."""
        deferred, self._deferred = self._deferred, []
        for settlements, cache, forget, landed in deferred:
            try:
                _chain(self._commit_settle(settlements, cache, forget), landed)
            except RuntimeError as error:  # closed meanwhile
                landed.set_exception(error)

    def _forget_queued(self, settlements: Sequence[tuple[int, int]]) -> None:
        for entry_id, _ in settlements:
            self._queued_settlements.pop(entry_id, None)

    def _settle_landed(
        self, settlements: Sequence[tuple[int, int]], done: Future[list[int]]
    ) -> None:
        """Writer thread, after the commit (or failure): reads now come from the file."""
        self._forget_queued(settlements)
        if done.cancelled():
            return
        error = done.exception()
        if error is not None:
            log.error("limits: settling entries %s failed: %r", settlements, error)
        elif stale := done.result():
            log.warning("limits: held entries %s were no longer in flight when settled", stale)

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run a write on the writer thread and wait for its commit.

        Shielded: cancelling the caller does not cancel a queued write, so what a caller has
        started (a settle, an interaction) always lands.
        """
        return await asyncio.shield(asyncio.wrap_future(self.submit(fn)))

    def close(self) -> None:
        if self._closed:
            return
        if self._deferred:
            self._commit_deferred()
        self._closed = True
        self._writer_pool.shutdown(wait=True)
        if self._wal_syncer is not None:
            self._wal_syncer.close()
        self._writer.close()
        self._reader.close()
        self._lazy.close()
        self._inline.close()
        self._owner_lock.close()

    # -- reads (caller's thread) ----------------------------------------------------------

    def read_state(self, script_id: str) -> tuple[list[HeldEntry], float | None]:
        """The script's entries and its effective last interaction, from one snapshot.

        Queued settlements are copied *before* the snapshot: whether or not their commit lands
        in between, each in-flight row they name is shown settled (a settlement is removed
        from the queue only after its commit, and applies only to rows still in flight).
        """
        queued = dict(self._queued_settlements)
        conn = self._reader
        conn.execute("BEGIN")
        try:
            entries = sql.entries(conn, script_id)
            last = sql.last_interaction(conn, script_id)
        finally:
            conn.execute("COMMIT")
        return sql.apply_queued(entries, queued) if queued else entries, last

    def latest_time(self) -> float | None:
        """The latest time the file records (``sql.latest_time``)."""
        return sql.latest_time(self._reader)

    def last_interaction(self, script_id: str) -> float | None:
        """The script's effective last interaction (its own or a manual generation)."""
        return sql.last_interaction(self._reader, script_id)

    def interaction_times(self, script_id: str) -> tuple[float | None, float | None]:
        """(this script's last interaction, last manual generation), for diagnostics."""
        own = self._reader.execute(
            "SELECT at FROM interactions WHERE script_id = ?", (script_id,)
        ).fetchone()
        manual = self._reader.execute(
            "SELECT at FROM global_events WHERE name = ?", (MANUAL_GENERATION,)
        ).fetchone()
        return (own[0] if own else None, manual[0] if manual else None)

    def editor_generates_used(self, script_id: str) -> int:
        return editor_calls.used(self._reader, script_id)

    def cache_rows(self, script_id: str) -> list[CachedBlock]:
        rows = self._reader.execute(
            "SELECT key, depth, last_used FROM cache_blocks WHERE script_id = ?", (script_id,)
        ).fetchall()
        return [CachedBlock(bytes(k), d, u) for k, d, u in rows]

    # -- write transactions (what runs; ``sql`` has their SQL) ----------------------------

    reserve_tx = staticmethod(sql.reserve_tx)
    settle_tx = staticmethod(sql.settle_tx)
    settle_and_cache_tx = staticmethod(sql.settle_and_cache_tx)
    interaction_tx = staticmethod(sql.interaction_tx)
    cache_tx = staticmethod(sql.cache_tx)

    def settle_orphaned_tx(self) -> Callable[[sqlite3.Connection], int]:
        """Recovery: charge in full the reservations in flight whose owner is gone."""
        return sql.settle_orphaned_tx(lambda: live_owners(self.path))
