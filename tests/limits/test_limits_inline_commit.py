"""Reserves and small settles commit on the caller's thread when nothing is queued ahead and
the write lock is free; otherwise the writer thread runs them, in order. With FULL the WAL is
fsynced on a thread of its own after each reserve; settles never fsync themselves.

Some tests reach into ``LimitsStore`` privates (``_writer_pool``, ``_queued_settlements``,
``_inline``, ``_INLINE_CACHE_ROWS`` to pin the boundary): the behaviour under test is *where*
and *when* a commit happens, which the public interface deliberately hides.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Literal, TypeVar

import pytest
from limits_helpers import T0, open_limits, until

from nai_script.limits import BucketKind, BucketRule, BudgetExceeded
from nai_script.limits.prefix_cache import CachedBlock
from nai_script.limits.store import _INLINE_CACHE_ROWS, LimitsStore, Refusal, immediate

T = TypeVar("T")
OUTPUT = BucketRule(kind=BucketKind.OUTPUT, capacity=100, window_s=240.0)
INPUT = BucketRule(kind=BucketKind.INPUT, capacity=50, window_s=360.0)


def file_rows(path: Path) -> list[tuple[str, int, int, int]]:
    """(bucket, amount, reserved, settled) per entry, read by a fresh connection."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute(
            "SELECT bucket, amount, reserved, settled FROM held_entries ORDER BY id"
        ).fetchall()
    finally:
        conn.close()


def on_thread(fn: Callable[[sqlite3.Connection], T], seen: list[str]) -> Callable[..., T]:
    """Wrap a transaction so it records the name of the thread that ran it."""

    def run(conn: sqlite3.Connection) -> T:
        seen.append(threading.current_thread().name)
        return fn(conn)

    return run


@contextmanager
def pool_blocked(store: LimitsStore) -> Iterator[threading.Event]:
    """Hold the writer thread *without* queueing a write: submitted straight to the pool, so
    ``_last_submitted`` stays done and the inline path stays open, yet anything the writer
    thread is given cannot finish early (it is stuck behind this job)."""
    entered, release = threading.Event(), threading.Event()

    def hold() -> None:
        entered.set()
        release.wait(10)

    store._writer_pool.submit(hold)
    assert entered.wait(5)
    try:
        yield release
    finally:
        release.set()


@pytest.fixture
def store_factory(tmp_path: Path) -> Iterator[Callable[..., LimitsStore]]:
    stores: list[LimitsStore] = []

    def make(
        synchronous: Literal["FULL", "NORMAL"] = "FULL", busy_timeout_ms: int = 10_000
    ) -> LimitsStore:
        store = LimitsStore(
            tmp_path / "l.db", synchronous=synchronous, busy_timeout_ms=busy_timeout_ms
        )
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()


def reserve(output: int, input_: int = 0) -> Callable[[sqlite3.Connection], list[int | None]]:
    return LimitsStore.reserve_tx("s", T0, [(OUTPUT, output), (INPUT, input_)])


# -- 1. writer idle: committed before commit_reserve returns ----------------------------------


@pytest.mark.parametrize("synchronous", ["FULL", "NORMAL"])
def test_idle_writer_commits_on_the_callers_thread(
    store_factory: Callable[..., LimitsStore], synchronous: str
) -> None:
    store = store_factory(synchronous)
    seen: list[str] = []
    future = store.commit_reserve(on_thread(reserve(30, 20), seen))
    assert future.done()
    assert seen == [threading.current_thread().name]
    ids = future.result()
    assert len(ids) == 2
    assert all(isinstance(i, int) for i in ids)
    # Visible at once to any other connection: the commit happened before the return.
    assert file_rows(store.path) == [("output", 30, 30, 0), ("input", 20, 20, 0)]


# -- 2. something queued ahead: the reserve waits its turn -------------------------------------


def test_reserve_queues_behind_a_pending_write_and_sees_it(
    store_factory: Callable[..., LimitsStore],
) -> None:
    store = store_factory()
    release = threading.Event()

    def earlier_write(conn: sqlite3.Connection) -> None:
        # Waits first and inserts after: had the reserve jumped the queue (committed inline)
        # it would have found the bucket empty and succeeded.
        release.wait(10)
        conn.execute(
            "INSERT INTO held_entries (script_id, bucket, amount, reserved, spent_at)"
            " VALUES ('s', 'output', 100, 100, ?)",
            (T0,),
        )

    earlier = store.submit(earlier_write)
    seen: list[str] = []
    try:
        future = store.commit_reserve(on_thread(reserve(1), seen))
        assert not future.done()
    finally:
        release.set()
    with pytest.raises(Refusal) as refused:
        future.result(timeout=5)
    assert (refused.value.bucket, refused.value.available, refused.value.needed) == (
        BucketKind.OUTPUT,
        0,
        1,
    )
    assert earlier.done()
    assert seen
    assert seen[0].startswith("limits-sqlite")
    assert file_rows(store.path) == [("output", 100, 100, 0)]


# -- 3. another connection holds the write lock ------------------------------------------------


@contextmanager
def write_lock_held(path: Path, give_up_after_s: float = 2.0) -> Iterator[Callable[[], bool]]:
    """Another connection holds ``BEGIN IMMEDIATE``; yields ``release()``, which commits it and
    says whether the lock was still held. A timer releases it after ``give_up_after_s`` in any
    case: a caller that waited for the lock (instead of queueing) would then get it and finish
    inline, which the tests detect without timing anything."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    guard = threading.Lock()

    def release() -> bool:
        with guard:
            held = other.in_transaction
            if held:
                other.execute("COMMIT")
            return held

    timer = threading.Timer(give_up_after_s, release)
    timer.start()
    try:
        yield release
    finally:
        timer.cancel()
        release()
        other.close()


def test_busy_lock_queues_instead_of_waiting(store_factory: Callable[..., LimitsStore]) -> None:
    store = store_factory(busy_timeout_ms=10_000)
    seen: list[str] = []
    with write_lock_held(store.path) as release:
        future = store.commit_reserve(on_thread(reserve(40), seen))
        assert not future.done()  # did not wait for the lock, did not fail either
        assert not store._inline.in_transaction  # the busy attempt left nothing open
        assert file_rows(store.path) == []
        assert release()  # still held: commit_reserve returned without waiting for it
    ids = future.result(timeout=5)  # the writer thread waited (its busy_timeout) and committed
    assert ids[0] is not None
    assert seen[0] == threading.current_thread().name  # the inline attempt, refused BUSY
    assert seen[-1].startswith("limits-sqlite")  # the queued run
    assert file_rows(store.path) == [("output", 40, 40, 0)]
    # Lock free and nothing pending again: the next reserve is inline once more.
    assert store.commit_reserve(reserve(10)).done()


async def test_reserve_through_limits_keeps_the_loop_running(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    async with open_limits(path, busy_timeout_ms=10_000) as limits:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.001)

        ticking = asyncio.ensure_future(ticker())
        try:
            with write_lock_held(path) as release:
                reserving = asyncio.ensure_future(limits.reserve("s", output_tokens=64))
                await asyncio.sleep(0)  # the reserve starts and meets the lock
                start = ticks
                await until(lambda: ticks >= start + 5)
                assert not reserving.done()  # the loop ran while the reserve waited
                assert release()  # and the lock was held all along
            reservation = await asyncio.wait_for(reserving, 5)
        finally:
            ticking.cancel()
        assert reservation.output_reserved == 64
        assert limits.allowed_output("s") == 2048 - 64


# -- 4. fsync of the WAL: after a reserve with FULL only, never for a settle ------------------


@pytest.fixture
def fsynced(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Record (path, thread name) of every ``os.fsync`` made from Python, still fsyncing."""
    calls: list[tuple[str, str]] = []
    real = os.fsync

    def recording(fd: int) -> None:
        calls.append((os.readlink(f"/proc/self/fd/{fd}"), threading.current_thread().name))
        real(fd)

    monkeypatch.setattr(os, "fsync", recording)
    return calls


def wal_fsyncs(calls: list[tuple[str, str]], db: Path) -> list[str]:
    return [thread for path, thread in calls if path == f"{db.resolve()}-wal"]


async def test_full_fsyncs_the_wal_off_the_loop_after_each_reserve(
    tmp_path: Path, fsynced: list[tuple[str, str]]
) -> None:
    path = tmp_path / "l.db"
    async with open_limits(path, synchronous="FULL") as limits:
        first = await limits.reserve("s", output_tokens=10)
        await until(lambda: len(wal_fsyncs(fsynced, path)) == 1)
        await limits.reserve("s", output_tokens=10)
        await until(lambda: len(wal_fsyncs(fsynced, path)) == 2)
        assert set(wal_fsyncs(fsynced, path)) == {"limits-wal-fsync"}  # off the loop
        fsynced.clear()
        await first.settle(5)  # a settle: no fsync of its own
        await limits.flush()
        await asyncio.sleep(0.05)
        assert wal_fsyncs(fsynced, path) == []


async def test_a_reserve_refused_in_place_is_not_fsynced(
    tmp_path: Path, fsynced: list[tuple[str, str]]
) -> None:
    path = tmp_path / "l.db"
    async with open_limits(path, synchronous="FULL") as limits:
        with pytest.raises(BudgetExceeded):
            await limits.reserve("s", output_tokens=5000)  # over the 2048 capacity
        await limits.flush()
    assert wal_fsyncs(fsynced, path) == []  # nothing was written, nothing to make durable


async def test_normal_never_fsyncs_the_wal(tmp_path: Path, fsynced: list[tuple[str, str]]) -> None:
    path = tmp_path / "l.db"
    async with open_limits(path, synchronous="NORMAL") as limits:
        r = await limits.reserve("s", output_tokens=10)
        await r.settle(3)
        await limits.flush()
        assert limits.allowed_output("s") == 2045  # the writes did happen
    assert wal_fsyncs(fsynced, path) == []


def test_queued_reserve_is_fsynced_after_its_commit(
    store_factory: Callable[..., LimitsStore], fsynced: list[tuple[str, str]]
) -> None:
    """The fsync is asked for once the queued reserve has committed, so it covers it."""
    store = store_factory("FULL")
    order: list[str] = []
    release = threading.Event()
    store.submit(lambda conn: release.wait(10))
    tx = reserve(10)

    def recorded(conn: sqlite3.Connection) -> list[int | None]:
        ids = tx(conn)
        order.append("committed")
        return ids

    try:
        future = store.commit_reserve(recorded)
        assert not future.done()
    finally:
        release.set()
    future.result(timeout=5)
    store.close()  # serves the asks made so far
    assert order == ["committed"]
    assert len(wal_fsyncs(fsynced, store.path)) == 1


# -- 5. settles: small ones inline, big cache writes queued -------------------------------------


def blocks(count: int) -> list[CachedBlock]:
    return [CachedBlock(i.to_bytes(16, "little"), i + 1, T0) for i in range(count)]


def test_small_settle_commits_inline_big_cache_write_is_queued(
    store_factory: Callable[..., LimitsStore],
) -> None:
    store = store_factory()
    small_id, big_id = (store.commit_reserve(reserve(10)).result()[0] for _ in range(2))
    assert isinstance(small_id, int)
    assert isinstance(big_id, int)
    with pool_blocked(store) as release:
        small = store.settle_soon([(small_id, 4)], ("s", blocks(_INLINE_CACHE_ROWS), []))
        assert small.done()  # the writer thread is stuck: only the caller could have run it
        assert small.result() == []
        assert store._queued_settlements == {}
        assert file_rows(store.path)[0] == ("output", 4, 10, 1)

        big = store.settle_soon([(big_id, 7)], ("s", blocks(_INLINE_CACHE_ROWS + 1), []))
        assert not big.done()
        assert store._queued_settlements == {big_id: 7}  # reads see it meanwhile
        assert file_rows(store.path)[1] == ("output", 10, 10, 0)
        # Queued ahead now: the next reserve must wait for it too, not jump ahead.
        after = store.commit_reserve(reserve(1))
        assert not after.done()
        release.set()
        assert big.result(timeout=5) == []
        after.result(timeout=5)
    assert store._queued_settlements == {}
    assert file_rows(store.path)[:2] == [("output", 4, 10, 1), ("output", 7, 10, 1)]
    conn = sqlite3.connect(store.path)
    try:
        count = conn.execute("SELECT count(*) FROM cache_blocks").fetchone()[0]
        assert count == _INLINE_CACHE_ROWS + 1  # the same keys again, plus one
    finally:
        conn.close()


# -- 6. a refusal inline rolls back and leaves the path open ------------------------------------


def test_inline_refusal_rolls_back_and_next_reserve_is_inline(
    store_factory: Callable[..., LimitsStore],
) -> None:
    store = store_factory()
    refused = store.commit_reserve(reserve(10, 51))  # output fits, input does not
    assert refused.done()
    with pytest.raises(Refusal) as error:
        refused.result()
    assert error.value.bucket is BucketKind.INPUT
    assert file_rows(store.path) == []  # not even the output entry

    def insert_then_refuse(conn: sqlite3.Connection) -> None:
        def body(c: sqlite3.Connection) -> None:
            c.execute(
                "INSERT INTO held_entries (script_id, bucket, amount, reserved, spent_at)"
                " VALUES ('s', 'output', 99, 99, ?)",
                (T0,),
            )
            raise Refusal(BucketKind.OUTPUT, 0, 99, 100)

        immediate(conn, body)

    late = store.commit_reserve(insert_then_refuse)
    assert late.done()
    assert isinstance(late.exception(), Refusal)
    assert file_rows(store.path) == []  # the insert was rolled back
    assert not store._inline.in_transaction
    # The lock was released: a connection that never waits can take it.
    probe = sqlite3.connect(store.path, isolation_level=None, timeout=0)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
    finally:
        probe.close()
    seen: list[str] = []
    ok = store.commit_reserve(on_thread(reserve(100, 50), seen))
    assert ok.done()
    assert seen == [threading.current_thread().name]
    assert file_rows(store.path) == [("output", 100, 100, 0), ("input", 50, 50, 0)]


# -- 7. kill -9 right after an inline reserve (and an inline settle) ---------------------------

# test_limits_persistence kills a busy child from outside and checks that the acknowledged
# reserves survive. Missing there: the kill landing right after an *inline* commit, before the
# writer thread could do anything, and the in-flight state recovery then charges in full.
CHILD = textwrap.dedent(
    """
    import asyncio, os, sys
    from nai_script.limits import Limits

    async def main() -> None:
        limits = Limits(sys.argv[1])
        store = limits._store
        real = store.commit_reserve

        def spy(fn):
            future = real(fn)
            print("inline" if future.done() else "queued", flush=True)
            return future

        store.commit_reserve = spy
        settled = await limits.reserve("settled", output_tokens=300, input_tokens=40)
        await settled.settle(120, 40)
        await limits.reserve("victim", output_tokens=500, input_tokens=70)
        os.kill(os.getpid(), 9)

    asyncio.run(main())
    """
)


async def test_kill_9_right_after_inline_reserve_keeps_it_in_flight(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    async with open_limits(path):  # create the schema first
        pass
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)],
        capture_output=True,
        timeout=30,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()
    assert child.stdout.split() == [b"inline", b"inline"]
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "SELECT script_id, bucket, amount, reserved, settled FROM held_entries ORDER BY id"
        ).fetchall()
    finally:
        conn.close()
    assert rows == [
        ("settled", "output", 120, 300, 1),  # the inline settle survived the kill too
        ("settled", "input", 40, 40, 1),
        ("victim", "output", 500, 500, 0),  # in flight
        ("victim", "input", 70, 70, 0),
    ]
    async with open_limits(path) as limits:
        assert limits.allowed_output("victim") == 2048 - 500
        assert await limits.recover_orphaned_reservations() == 2
        diag = limits.diagnostics("victim")
        assert (diag.output.held, diag.input.held) == (500, 70)
        assert all(not entry.in_flight for entry in diag.output.entries)
        assert limits.diagnostics("settled").output.held == 120


def test_inline_future_is_a_plain_done_future(store_factory: Callable[..., LimitsStore]) -> None:
    """``Limits.reserve`` relies on ``done()`` to skip the await: it must be a real Future."""
    future = store_factory().commit_reserve(reserve(1))
    assert isinstance(future, Future)
    assert future.done()
    assert not future.cancel()
