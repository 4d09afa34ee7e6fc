"""Chained invocations (``chained_invokes``): sent without awaiting, run in order in the
worker, and skipped after a failure in the chain (a stream's last delivery and final call)."""

from __future__ import annotations

import asyncio

import pytest
from test_worker_harness import running

from sandbox.invoke_order import chained_invokes
from sandbox.process import ScriptFailed
from sandbox.worker_errors import InvokeSkipped

SOURCE = """
order = []
async def slow(tag):
    order.append(tag + ' start')
    await api.v1.sleep(0.05)
    order.append(tag + ' end')
async def slow_boom():
    await api.v1.sleep(0.05)
    raise ValueError('boom')
def quick(tag):
    order.append(tag)
    return tag
def boom():
    raise ValueError('boom')
def seen():
    return order
"""


async def test_a_chained_call_waits_for_the_running_one() -> None:
    async with running(SOURCE) as (worker, _):
        with chained_invokes():
            first = asyncio.ensure_future(worker.invoke("slow", "a"))
            second = asyncio.ensure_future(worker.invoke("quick", "b"))
            assert await second == "b"
            await first
        assert await worker.invoke("seen") == ["a start", "a end", "b"]


async def test_without_a_chain_the_second_call_overtakes() -> None:
    async with running(SOURCE) as (worker, _):
        first = asyncio.ensure_future(worker.invoke("slow", "a"))
        await asyncio.sleep(0)  # let the first one be sent
        await worker.invoke("quick", "b")
        await first
        order = await worker.invoke("seen")
        assert order.index("b") < order.index("a end")


async def test_calls_after_a_failure_are_skipped_not_run() -> None:
    async with running(SOURCE) as (worker, host):
        with chained_invokes():
            calls = [
                asyncio.ensure_future(worker.invoke("boom")),
                asyncio.ensure_future(worker.invoke("quick", "never")),
                asyncio.ensure_future(worker.invoke("quick", "never either")),
            ]
            outcomes = await asyncio.gather(*calls, return_exceptions=True)
        assert isinstance(outcomes[0], ScriptFailed)
        assert isinstance(outcomes[1], InvokeSkipped)
        assert isinstance(outcomes[2], InvokeSkipped)
        assert await worker.invoke("seen") == []
        await worker.wait_idle()
        assert host.lines("error") == []


async def test_an_async_failure_skips_the_deferred_calls() -> None:
    async with running(SOURCE) as (worker, _):
        with chained_invokes():
            first = asyncio.ensure_future(worker.invoke("slow_boom"))
            second = asyncio.ensure_future(worker.invoke("quick", "never"))
            with pytest.raises(ScriptFailed, match="boom"):
                await first
            with pytest.raises(InvokeSkipped):
                await second
        assert await worker.invoke("seen") == []


async def test_cancelling_a_deferred_call_means_it_never_runs() -> None:
    async with running(SOURCE) as (worker, _):
        with chained_invokes():
            first = asyncio.ensure_future(worker.invoke("slow", "a"))
            second = asyncio.ensure_future(worker.invoke("quick", "b"))
            await asyncio.sleep(0.01)
            second.cancel()
            await first
        await worker.wait_idle()
        assert await worker.invoke("seen") == ["a start", "a end"]


async def test_the_chain_ends_with_its_context() -> None:
    async with running(SOURCE) as (worker, _):
        with chained_invokes(), pytest.raises(ScriptFailed):
            await worker.invoke("boom")
        assert await worker.invoke("quick", "after") == "after"


async def test_a_chain_of_three_waits_link_by_link() -> None:
    async with running(SOURCE) as (worker, _):
        with chained_invokes():
            calls = [
                asyncio.ensure_future(worker.invoke("slow", "a")),
                asyncio.ensure_future(worker.invoke("slow", "b")),
                asyncio.ensure_future(worker.invoke("quick", "c")),
            ]
            await asyncio.gather(*calls)
        assert await worker.invoke("seen") == ["a start", "a end", "b start", "b end", "c"]


async def test_cancelling_a_waiting_link_skips_the_links_behind_it() -> None:
    async with running(SOURCE) as (worker, _):
        with chained_invokes():
            first = asyncio.ensure_future(worker.invoke("slow", "a"))
            second = asyncio.ensure_future(worker.invoke("quick", "b"))
            third = asyncio.ensure_future(worker.invoke("quick", "c"))
            await asyncio.sleep(0.01)
            second.cancel()
            await first
            with pytest.raises(InvokeSkipped):
                await third
        assert await worker.invoke("seen") == ["a start", "a end"]
