"""``invoke(target, *args, then=[...])``: one message calling the target again with each
further argument list, in turn, each only once the one before returned, none after a raise
(a stream's last delivery and its closing call)."""

from __future__ import annotations

import asyncio

import pytest
from test_worker_harness import running

from sandbox.invoke_order import chained_invokes
from sandbox.process import ScriptFailed

SOURCE = """
order = []
def quick(tag):
    order.append(tag)
    return tag
async def slow(tag):
    order.append(tag + ' start')
    await api.v1.sleep(0.02)
    order.append(tag + ' end')
    return tag
def picky(tag):
    if tag == 'bad':
        raise ValueError('bad tag')
    order.append(tag)
    return tag
async def slow_picky(tag):
    await api.v1.sleep(0.01)
    return picky(tag)
def maybe_slow(tag):
    return slow(tag) if tag.startswith('s') else quick(tag)
def seen():
    return order
"""


async def test_plain_calls_run_in_turn_and_return_the_last_result() -> None:
    async with running(SOURCE) as (worker, _):
        assert await worker.invoke("quick", "a", then=[["b"], ["c"]]) == "c"
        assert await worker.invoke("seen") == ["a", "b", "c"]


async def test_each_async_call_ends_before_the_next_starts() -> None:
    async with running(SOURCE) as (worker, _):
        assert await worker.invoke("slow", "a", then=[["b"]]) == "b"
        assert await worker.invoke("seen") == ["a start", "a end", "b start", "b end"]


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (["x", "s1", "y"], ["x", "s1 start", "s1 end", "y"]),  # awaitable in the middle
        (["s1", "x"], ["s1 start", "s1 end", "x"]),  # awaitable first
        (["x", "s1"], ["x", "s1 start", "s1 end"]),  # awaitable last
    ],
)
async def test_plain_and_async_results_mix(tags: list[str], expected: list[str]) -> None:
    async with running(SOURCE) as (worker, _):
        result = await worker.invoke("maybe_slow", tags[0], then=[[t] for t in tags[1:]])
        assert result == tags[-1]
        assert await worker.invoke("seen") == expected


@pytest.mark.parametrize("target", ["picky", "slow_picky"])
async def test_a_raise_stops_the_calls_after_it(target: str) -> None:
    async with running(SOURCE) as (worker, _):
        with pytest.raises(ScriptFailed, match="bad tag"):
            await worker.invoke(target, "a", then=[["bad"], ["never"]])
        assert await worker.invoke("seen") == ["a"]


async def test_in_turn_calls_chain_after_an_earlier_invocation() -> None:
    async with running(SOURCE) as (worker, _):
        with chained_invokes():
            first = asyncio.ensure_future(worker.invoke("slow", "a"))
            second = asyncio.ensure_future(worker.invoke("quick", "b", then=[["c"]]))
            assert await second == "c"
            await first
        assert await worker.invoke("seen") == ["a start", "a end", "b", "c"]
