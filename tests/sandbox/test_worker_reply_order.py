"""Replies ordered after a chained invocation (``after`` on a reply frame).

While the host serves an api call, the invocations it sends to the calling worker under
``chained_invokes()`` are recorded and the reply names the newest one; the worker hands the
reply to the script only once that invocation finished (returned, raised, was skipped or was
cancelled). These tests drive a real worker process: the host's handler for ``api.v1.echo``
starts chained callbacks without awaiting them and answers at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from test_worker_harness import FakeHost, running

from sandbox.invoke_order import chained_invokes
from sandbox.process import ScriptWorker
from sandbox.protocol import ApiCall

#: Long enough to notice a reply that overtook it, short enough for a quick suite.
CALLBACK_S = 0.05
#: No test here needs more than a fraction of this; a reply that never comes fails, not hangs.
DEADLINE_S = 3.0

SOURCE = """
order = []
async def slow():
    await api.v1.sleep(0.05)
    order.append('cb end')
async def slow_boom():
    await api.v1.sleep(0.05)
    order.append('cb raised')
    raise ValueError('cb boom')
async def forever():
    try:
        await api.v1.never()
    finally:
        order.append('cb cancelled')
def quick():
    order.append('quick')
def boom():
    order.append('boom')
    raise ValueError('boom')
async def main(padding=0):
    for _ in range(padding):
        api.v1.uuid()
    value = await api.v1.echo('x')
    order.append('returned')
    return [value, order]
def main_sync():
    value = api.v1.echoSync('x')
    order.append('returned')
    return [value, order]
def seen():
    return order
"""

Plan = Callable[[ApiCall], Awaitable[Any]]


@dataclass
class ChainHost(FakeHost):
    """The harness host, with ``api.v1.echo``/``echoSync`` served by the test's ``plan`` when one is set."""

    plan: Plan | None = None
    echo_calls: list[ApiCall] = field(default_factory=list)

    async def handle(self, call: ApiCall) -> Any:
        if call.path in ("v1.echo", "v1.echoSync") and self.plan is not None:
            self.echo_calls.append(call)
            return await self.plan(call)
        return await super().handle(call)


async def send_chain(worker: ScriptWorker, *targets: str) -> list[asyncio.Future[Any]]:
    """Start one chained invocation per target without awaiting them (as ``generate`` sends a
    stream's last delivery and its closing call), and let each reach its send."""
    with chained_invokes():
        links: list[asyncio.Future[Any]] = [
            asyncio.ensure_future(worker.invoke(target)) for target in targets
        ]
        await asyncio.sleep(0)
    return links


async def settle(links: list[asyncio.Future[Any]]) -> list[Any]:
    return await asyncio.wait_for(asyncio.gather(*links, return_exceptions=True), DEADLINE_S)


async def main_with_chain(
    host: ChainHost, worker: ScriptWorker, *targets: str
) -> tuple[Any, list[str], list[asyncio.Future[Any]]]:
    """Run the script's ``main`` while the api call it makes sends ``targets`` as a chain."""
    links: list[asyncio.Future[Any]] = []

    async def plan(call: ApiCall) -> str:
        links.extend(await send_chain(worker, *targets))
        return "answer"

    host.plan = plan
    value, order = await asyncio.wait_for(worker.invoke("main"), DEADLINE_S)
    return value, order, links


async def test_the_reply_waits_for_the_chained_callback() -> None:
    host = ChainHost()
    async with running(SOURCE, host=host) as (worker, _):
        value, order, links = await main_with_chain(host, worker, "slow")
        assert value == "answer"
        assert order == ["cb end", "returned"]
        assert await settle(links) == [None]


async def test_the_reply_waits_for_the_last_of_a_chain() -> None:
    host = ChainHost()
    async with running(SOURCE, host=host) as (worker, _):
        _, order, links = await main_with_chain(host, worker, "slow", "quick", "slow")
        assert order == ["cb end", "quick", "cb end", "returned"]
        await settle(links)


async def test_the_reply_arrives_when_the_callback_raises() -> None:
    host = ChainHost()
    async with running(SOURCE, host=host) as (worker, _):
        value, order, links = await main_with_chain(host, worker, "slow_boom")
        assert (value, order) == ("answer", ["cb raised", "returned"])
        (outcome,) = await settle(links)
        assert "cb boom" in str(outcome)


async def test_the_reply_arrives_when_the_callback_is_cancelled() -> None:
    host = ChainHost()
    async with running(SOURCE, host=host) as (worker, _):
        links: list[asyncio.Future[Any]] = []
        sent = asyncio.Event()

        async def plan(call: ApiCall) -> str:
            links.extend(await send_chain(worker, "forever"))
            sent.set()
            return "answer"

        host.plan = plan
        main = asyncio.ensure_future(worker.invoke("main"))
        await asyncio.wait_for(sent.wait(), DEADLINE_S)
        await asyncio.sleep(CALLBACK_S)
        assert not main.done(), "the reply overtook a callback that had not finished"
        links[0].cancel()
        value, order = await asyncio.wait_for(main, DEADLINE_S)
        assert (value, order) == ("answer", ["cb cancelled", "returned"])
        (outcome,) = await settle(links)
        assert isinstance(outcome, asyncio.CancelledError)


async def test_the_reply_arrives_when_the_callback_was_skipped() -> None:
    host = ChainHost()
    async with running(SOURCE, host=host) as (worker, _):
        links: list[asyncio.Future[Any]] = []

        async def plan(call: ApiCall) -> str:
            # The reply is ordered after ``quick``, which is skipped once ``slow_boom`` raised.
            links.extend(await send_chain(worker, "slow_boom", "quick"))
            return "answer"

        host.plan = plan
        value, order = await asyncio.wait_for(worker.invoke("main"), DEADLINE_S)
        assert (value, order) == ("answer", ["cb raised", "returned"])
        raised, skipped = await settle(links)
        assert "cb boom" in str(raised)
        assert type(skipped).__name__ == "InvokeSkipped"


async def test_without_a_chain_the_reply_is_not_held_back() -> None:
    host = ChainHost()
    async with running(SOURCE, host=host) as (worker, _):
        links: list[asyncio.Future[Any]] = []

        async def plan(call: ApiCall) -> str:
            links.append(asyncio.ensure_future(worker.invoke("slow")))
            await asyncio.sleep(0)  # sent, exactly as in the chained tests
            return "answer"

        host.plan = plan
        value, order = await asyncio.wait_for(worker.invoke("main"), DEADLINE_S)
        assert (value, order) == ("answer", ["returned"])
        await settle(links)
        assert await worker.invoke("seen") == ["returned", "cb end"]


async def test_a_chain_for_another_call_does_not_hold_this_reply() -> None:
    """Only invocations sent while serving *this* call order its reply: a chain started
    from another task (a timer, a hook) leaves the reply alone."""
    host = ChainHost()
    async with running(SOURCE, host=host) as (worker, _):
        elsewhere = await send_chain(worker, "slow")

        async def plan(call: ApiCall) -> str:
            return "answer"

        host.plan = plan
        _, order = await asyncio.wait_for(worker.invoke("main"), DEADLINE_S)
        assert order == ["returned"]
        await settle(elsewhere)


@pytest.mark.parametrize(("target", "before"), [("quick", "quick"), ("boom", "boom")])
async def test_after_naming_a_finished_invocation_is_handled_at_once(
    target: str, before: str
) -> None:
    host = ChainHost()
    async with running(SOURCE, host=host) as (worker, _):
        outcomes: list[str] = []

        async def plan(call: ApiCall) -> str:
            with chained_invokes():
                try:
                    await worker.invoke(target)  # finished (returned or raised) before we reply
                    outcomes.append("returned")
                except Exception as error:
                    outcomes.append(type(error).__name__)
            return "answer"

        host.plan = plan
        value, order = await asyncio.wait_for(worker.invoke("main"), DEADLINE_S)
        assert (value, order) == ("answer", [before, "returned"])
        assert outcomes == (["returned"] if target == "quick" else ["ScriptFailed"])
        # The worker holds nothing back afterwards: a plain call still answers.
        assert await asyncio.wait_for(worker.invoke("seen"), DEADLINE_S) == [before, "returned"]


@pytest.mark.parametrize(
    ("padding", "cancelled_link", "expected_order"),
    [
        # Reply call id 2 == the running link's invoke id 2 (``main`` is invoke 1).
        (1, 0, ["cb cancelled", "returned"]),
        # Reply call id 3 == the waiting link's invoke id 3; the reply waits on that link.
        (2, 1, ["returned"]),
    ],
)
async def test_cancelling_an_invoke_never_takes_a_reply_with_the_same_id(
    padding: int, cancelled_link: int, expected_order: list[str]
) -> None:
    """Call ids (worker -> host) and invoke ids (host -> worker) are separate counters: a
    ``cancel`` for invoke N must not drop (or cancel) a held reply to call N."""
    host = ChainHost()
    async with running(SOURCE, host=host) as (worker, _):
        links: list[asyncio.Future[Any]] = []
        sent = asyncio.Event()

        async def plan(call: ApiCall) -> str:
            links.extend(await send_chain(worker, "forever", "quick"))
            sent.set()
            return "answer"

        host.plan = plan
        main = asyncio.ensure_future(worker.invoke("main", padding))
        await asyncio.wait_for(sent.wait(), DEADLINE_S)
        # Invoke ids: main 1, "forever" 2, "quick" 3; the reply's id is ``padding + 1``.
        assert host.echo_calls[0].call_id == 2 + cancelled_link
        await asyncio.sleep(CALLBACK_S)
        assert not main.done()
        links[cancelled_link].cancel()
        value, order = await asyncio.wait_for(main, DEADLINE_S)
        assert (value, order) == ("answer", expected_order)
        for link in links:
            link.cancel()
        outcomes = await settle(links)
        assert isinstance(outcomes[cancelled_link], asyncio.CancelledError)
        # The other link never ran: "quick" was skipped or cancelled before it started.
        await asyncio.wait_for(worker.wait_idle(), DEADLINE_S)
        assert sorted(await worker.invoke("seen")) == ["cb cancelled", "returned"]


async def test_a_sync_call_is_answered_at_once_even_with_a_chain() -> None:
    """A script blocked in a sync call cannot run a callback until it returns: its reply is
    handed over at once (no deadlock) and the chained callback runs afterwards."""
    host = ChainHost()
    async with running(SOURCE, host=host) as (worker, _):
        links: list[asyncio.Future[Any]] = []

        async def plan(call: ApiCall) -> str:
            links.extend(await send_chain(worker, "slow"))
            return "answer"

        host.plan = plan
        value, order = await asyncio.wait_for(worker.invoke("main_sync"), DEADLINE_S)
        assert (value, order) == ("answer", ["returned"])
        assert await settle(links) == [None]
        assert await worker.invoke("seen") == ["returned", "cb end"]
