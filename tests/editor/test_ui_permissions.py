"""PagePermissions: prompts published on the bus, answered by the page, default-deny on timeout
(on a fake clock), remembered grants; and with a real host and a real sandboxed script."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from nai_script.editor.events import EventBus, Subscription
from nai_script.editor.permissions import PagePermissions
from nai_script.limits import FakeClock

sys.path.insert(0, str(Path(__file__).parent.parent / "host"))
from host_helpers import hosted


@dataclass
class StandIn:
    """Just what the policy reads from a LoadedScript (``worker`` None: still loading)."""

    id: str
    name: str = "Stand-in"
    worker: Any = "running"
    granted: set[str] = field(default_factory=set)


async def next_event(sub: Subscription, kind: str) -> dict[str, Any]:
    while True:
        event = await asyncio.wait_for(sub.get(), 5)
        assert event is not None
        if event["type"] == kind:
            return event


def setup(timeout_s: float = 30.0) -> tuple[PagePermissions, Subscription, FakeClock]:
    bus = EventBus()
    clock = FakeClock()
    return PagePermissions(bus, timeout_s=timeout_s, clock=clock), bus.subscribe(), clock


async def test_granting_all_publishes_and_resolves() -> None:
    perms, sub, _ = setup()
    asking = asyncio.create_task(
        perms.policy(StandIn("s1"), ["storyEdit", "documentEdit"], "to edit")  # type: ignore[arg-type]
    )
    request = await next_event(sub, "permission.request")
    assert request["scriptId"] == "s1"
    assert request["scriptName"] == "Stand-in"
    assert request["wanted"] == ["storyEdit", "documentEdit"]
    assert request["reason"] == "to edit"
    assert perms.pending() == [request]
    assert perms.answer(request["id"], True) is True
    assert await asyncio.wait_for(asking, 5) == ["storyEdit", "documentEdit"]
    resolved = await next_event(sub, "permission.resolved")
    assert resolved["id"] == request["id"]
    assert resolved["granted"] == ["storyEdit", "documentEdit"]
    assert resolved["timedOut"] is False
    assert perms.pending() == []


async def test_partial_grant_and_denial() -> None:
    perms, sub, _ = setup()
    asking = asyncio.create_task(perms.policy(StandIn("s"), ["a", "b", "c"], None))  # type: ignore[arg-type]
    request = await next_event(sub, "permission.request")
    perms.answer(request["id"], ["c", "a", "zzz"])
    assert await asyncio.wait_for(asking, 5) == ["a", "c"]

    asking = asyncio.create_task(perms.policy(StandIn("t"), ["a"], None))  # type: ignore[arg-type]
    request = await next_event(sub, "permission.request")
    perms.answer(request["id"], False)
    assert await asyncio.wait_for(asking, 5) == []


async def test_nobody_answering_is_a_no_after_the_timeout() -> None:
    perms, sub, clock = setup(timeout_s=30)
    asking = asyncio.create_task(perms.policy(StandIn("s"), ["storyEdit"], None))  # type: ignore[arg-type]
    request = await next_event(sub, "permission.request")
    clock.advance(29.9)
    await asyncio.sleep(0)
    assert not asking.done()
    clock.advance(0.2)
    assert await asyncio.wait_for(asking, 5) == []
    resolved = await next_event(sub, "permission.resolved")
    assert resolved["timedOut"] is True
    assert perms.answer(request["id"], True) is False  # too late
    assert clock.sleepers == 0


async def test_grants_are_remembered_per_script_and_only_missing_ones_asked() -> None:
    perms, sub, _ = setup()
    asking = asyncio.create_task(perms.policy(StandIn("s"), ["a"], None))  # type: ignore[arg-type]
    perms.answer((await next_event(sub, "permission.request"))["id"], True)
    await asking
    assert await perms.policy(StandIn("s"), ["a"], None) == ["a"]  # type: ignore[arg-type]
    asking = asyncio.create_task(perms.policy(StandIn("s"), ["a", "b"], None))  # type: ignore[arg-type]
    request = await next_event(sub, "permission.request")
    assert request["wanted"] == ["b"]
    perms.answer(request["id"], False)
    assert await asking == ["a"]
    perms.forget("s")
    assert perms.granted_to("s") == set()


async def test_bad_and_unknown_answers() -> None:
    perms, sub, _ = setup()
    assert perms.answer("perm-404", True) is False
    asking = asyncio.create_task(perms.policy(StandIn("s"), ["a"], None))  # type: ignore[arg-type]
    request = await next_event(sub, "permission.request")
    with pytest.raises(ValueError, match=r"permission\.answer granted"):
        perms.answer(request["id"], "yes")  # type: ignore[arg-type]
    assert perms.answer(request["id"], True) is True
    assert perms.answer(request["id"], False) is False  # already answered
    assert await asking == ["a"]


async def test_concurrent_requests_are_answered_independently() -> None:
    perms, sub, _ = setup()
    tasks = [
        asyncio.create_task(perms.policy(StandIn(f"s{n}"), ["a"], None))  # type: ignore[arg-type]
        for n in range(5)
    ]
    requests = [await next_event(sub, "permission.request") for _ in range(5)]
    assert len({r["id"] for r in requests}) == 5
    for n, request in enumerate(requests):
        perms.answer(request["id"], n % 2 == 0)
    assert await asyncio.gather(*tasks) == [["a"], [], ["a"], [], ["a"]]


async def test_cancelled_asker_leaves_nothing_pending() -> None:
    perms, sub, clock = setup()
    asking = asyncio.create_task(perms.policy(StandIn("s"), ["a"], None))  # type: ignore[arg-type]
    await next_event(sub, "permission.request")
    asking.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asking
    assert perms.pending() == []
    assert clock.sleepers == 0


async def test_header_permissions_at_load_do_not_block_and_apply_when_answered() -> None:
    perms, sub, clock = setup()
    loading = StandIn("s", worker=None)
    assert await perms.policy(loading, ["a", "b"], None) == []  # type: ignore[arg-type]
    request = await next_event(sub, "permission.request")
    assert request["atLoad"] is True
    clock.advance(10_000)  # no timeout for load-time prompts: they wait for the person
    assert perms.pending() == [request]
    reloaded = StandIn("s", worker=None)
    assert await perms.policy(reloaded, ["a", "b"], None) == []  # type: ignore[arg-type]
    assert len(perms.pending()) == 1  # the reload reuses the open prompt
    assert sub.get_nowait() is None
    assert perms.answer(request["id"], ["b"]) is True
    assert reloaded.granted == {"b"}
    assert loading.granted == set()
    assert perms.pending() == []
    resolved = await next_event(sub, "permission.resolved")
    assert resolved["granted"] == ["b"]
    again = StandIn("s", worker=None)
    assert await perms.policy(again, ["b"], None) == ["b"]  # type: ignore[arg-type]


async def test_a_real_script_loads_at_once_and_gets_its_grants_when_the_page_answers(
    tmp_path: Path,
) -> None:
    bus = EventBus()
    perms = PagePermissions(bus, timeout_s=30)
    sub = bus.subscribe()
    source = (
        '"""\n---\nid: asks\nname: Asker\npermissions: [documentEdit, lorebookEdit]\n---\n"""\n'
        "api.v1.log(await api.v1.permissions.list())\n"
        "api.v1.log(await api.v1.permissions.request('storyEdit', 'to retitle'))\n"
        "api.v1.log(await api.v1.permissions.list())\n"
    )
    async with hosted(tmp_path, permission_policy=perms.policy) as env:
        loading = asyncio.create_task(env.run(source))
        at_load = await next_event(sub, "permission.request")
        assert at_load["wanted"] == ["documentEdit", "lorebookEdit"]
        assert at_load["atLoad"] is True
        asked = await next_event(sub, "permission.request")
        assert asked["wanted"] == ["storyEdit"]
        assert asked["reason"] == "to retitle"
        assert asked["atLoad"] is False
        perms.answer(at_load["id"], ["documentEdit"])
        perms.answer(asked["id"], True)
        script = await asyncio.wait_for(loading, 20)
        assert env.lines("asks") == ["[]", "True", '["storyEdit", "documentEdit"]']
        assert script.granted == {"documentEdit", "storyEdit"}
