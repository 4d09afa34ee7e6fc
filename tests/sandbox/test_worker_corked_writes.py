"""Host -> worker frames of one loop iteration go in one write, in order (``ScriptWorker._send``),
and the worker's queued frames go in one write once its loop is about to block.

A generation's end sends its last delivery, its closing callback and its reply together; one
write wakes the worker once instead of three times. The worker here is a real process; the
pipe's writer is wrapped only to count the writes.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from test_worker_harness import FakeHost, running

from sandbox.invoke_order import chained_invokes
from sandbox.process import ScriptWorker
from sandbox.protocol import ApiCall

SOURCE = """
async def ask():
    return await api.v1.echo('x')
seen = []
def note(x):
    seen.append(x)
    return x
def all_seen():
    return seen
"""


def recorded(obj: Any, method: str) -> list[bytes]:
    """Record the bytes of every call of ``obj.method`` (still made)."""
    real = getattr(obj, method)
    seen: list[bytes] = []

    def record(data: bytes) -> None:
        seen.append(bytes(data))
        real(data)

    setattr(obj, method, record)
    return seen


def count_writes(worker: Any) -> list[bytes]:
    """Every write on the worker's stdin."""
    return recorded(worker._proc.stdin, "write")


async def test_frames_sent_in_one_iteration_share_one_write_and_keep_their_order() -> None:
    async with running(SOURCE) as (worker, _host):
        writes = count_writes(worker)
        calls = [asyncio.ensure_future(worker.invoke("note", n)) for n in range(5)]
        assert await asyncio.gather(*calls) == [0, 1, 2, 3, 4]
        assert len(writes) == 1
        assert await worker.invoke("all_seen") == [0, 1, 2, 3, 4]


async def test_frames_of_separate_iterations_are_separate_writes() -> None:
    async with running(SOURCE) as (worker, _host):
        writes = count_writes(worker)
        for n in range(3):
            assert await worker.invoke("note", n) == n
        assert len(writes) == 3


class DeferringHost(FakeHost):
    """Schedules work for the end of the loop iteration while answering, as a settle does."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.writes_when_deferred_ran: int | None = None

    async def handle(self, call: ApiCall) -> Any:
        def deferred() -> None:
            self.writes_when_deferred_ran = len(self.writes)

        asyncio.get_running_loop().call_soon(deferred)
        return await super().handle(call)


async def test_a_reply_is_written_before_work_deferred_to_the_iterations_end() -> None:
    host = DeferringHost()
    async with running(SOURCE, host=host) as (worker, _):
        host.writes = count_writes(worker)
        assert await worker.invoke("ask") == "x"
        # The invoke's frame, then the reply: written before the deferred work ran.
        assert host.writes_when_deferred_ran == 2


# -- worker -> host: a result and the call the script makes right after it -------------------

LOOP_SOURCE = """
notes = []
def note():
    notes.append('cb')
async def loop():
    for i in range(3):
        await api.v1.echo(i)
    return notes
"""


class CallbackThenReplyHost(FakeHost):
    """Serves ``echo`` as ``generate`` ends a stream: a chained callback, then the reply (held
    by the worker until the callback has run)."""

    def __init__(self) -> None:
        super().__init__()
        self.worker: ScriptWorker | None = None
        self.notes: list[asyncio.Future[Any]] = []

    async def handle(self, call: ApiCall) -> Any:
        if call.path == "v1.echo" and self.worker is not None:
            with chained_invokes():
                self.notes.append(asyncio.ensure_future(self.worker.invoke("note")))
                await asyncio.sleep(0)
        return await super().handle(call)


def count_reads(worker: Any) -> list[bytes]:
    """Every chunk the host reads from the worker's stdout."""
    return recorded(worker._proc.stdout, "feed_data")


async def test_a_callbacks_result_and_the_next_call_share_one_write() -> None:
    """The worker holds the result until the loop is about to block (``HOLD_S`` at most) or
    it writes something at once, so the api call the script makes once its reply is in goes in
    the same write: the host wakes once per round for both, not twice."""
    host = CallbackThenReplyHost()
    async with running(LOOP_SOURCE, host=host) as (worker, _):
        host.worker = worker
        reads = count_reads(worker)
        assert await worker.invoke("loop") == ["cb", "cb", "cb"]
    shared = [r for r in reads if b'"t":"invoke_result"' in r and b'"t":"api_call"' in r]
    assert len(shared) == 2, reads  # rounds 1 and 2; after round 3 the script returns


COMPUTE_SOURCE = """
async def start_then_compute():
    pending = api.v1.sleep(0)  # a call the script awaits only after computing
    total = 0
    for i in range(1000000):
        total += i
    await pending
    return total
"""


class ArrivalHost(FakeHost):
    """Notes when each api call reached the host."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived: list[float] = []

    async def handle(self, call: ApiCall) -> Any:
        self.arrived.append(time.perf_counter())
        return await super().handle(call)


async def test_an_api_call_is_written_before_the_script_computes_on() -> None:
    """A call is never held for the end of the loop iteration: the host has it while the
    script still computes, long before the invocation returns."""
    host = ArrivalHost()
    async with running(COMPUTE_SOURCE, host=host) as (worker, _):
        started = time.perf_counter()
        assert await worker.invoke("start_then_compute") == sum(range(1000000))
        ended = time.perf_counter()
    (arrived,) = host.arrived
    assert ended - started > 0.02  # the computing took a while
    assert arrived - started < (ended - started) / 2, (arrived - started, ended - started)
