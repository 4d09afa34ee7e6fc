"""``messaging`` between two real scripts: only data crosses from one worker to another."""

from __future__ import annotations

from pathlib import Path

import pytest
from host_helpers import hosted

from nai_script.host.api import messaging

RECEIVER = (
    "def unrelated():\n"
    "    api.v1.log('receiver function ran')\n"
    "api.v1.hooks.register('onResponse', unrelated)\n"
    "def got(m):\n"
    "    api.v1.log('got', m.data)\n"
    "    f = m.data['f'] if m.data else None\n"
    "    if f is not None:\n"
    "        f()\n"
    "await api.v1.messaging.onMessage(got)\n"
)


async def test_functions_and_api_objects_are_not_sent_to_another_script(tmp_path: Path) -> None:
    """A function in the data arrived in the receiver as the receiver's own callback with the
    same id (calling it ran an unrelated function of the receiver), and an api object as a
    proxy to the sender's object. Now the send is refused, naming where in the data."""
    sender = (
        "def mine():\n    api.v1.log('sender function ran')\n"
        "h = api.v1.createRolloverHelper({'maxTokens': 5, 'model': 'glm-4-6'})\n"
        "for call in (lambda: api.v1.messaging.send('b', {'f': mine}),\n"
        "             lambda: api.v1.messaging.broadcast({'x': [1, h]})):\n"
        "    try:\n        await call()\n    except ValueError as e:\n        api.v1.log(str(e))\n"
        "api.v1.log(await api.v1.messaging.send('b', {'f': None, 'n': [1, {'k': 'v'}]}))\n"
    )
    async with hosted(tmp_path) as env:
        await env.run(RECEIVER, "b.py")
        await env.run(sender, "a.py")
        for script in env.host.scripts:
            await env.host.wait_idle(script)
        assert env.lines("a") == [
            "messaging.send data['f']: cannot send a function to another script (data only)",
            "messaging.broadcast data['x'][1]: cannot send an api object to another script "
            "(data only)",
            "None",
        ]
        assert env.lines("b") == ['got {"f": null, "n": [1, {"k": "v"}]}']


TRY_SEND = (
    "async def trial(label, call):\n"
    "    try:\n"
    "        await call()\n"
    "        api.v1.log(label, 'sent')\n"
    "    except ValueError as e:\n"
    "        api.v1.log(label, 'ValueError', str(e))\n"
    "    except Exception as e:\n"
    "        api.v1.log(label, 'ApiError', str(e))\n"
)


async def test_a_message_over_the_size_bound_is_refused_and_delivers_nothing(
    tmp_path: Path,
) -> None:
    """Each handler gets its own copy: one script subscribing many handlers to itself and
    sending big messages took a host to 656 MB."""
    sender = TRY_SEND + (
        f"big = 'x' * {messaging.MAX_MESSAGE_BYTES}\n"  # with its quotes, 2 bytes over
        "await trial('send', lambda: api.v1.messaging.send('b', big))\n"
        "await trial('broadcast', lambda: api.v1.messaging.broadcast([big]))\n"
        "await trial('small', lambda: api.v1.messaging.send('b', 'x' * 1000))\n"
    )
    async with hosted(tmp_path) as env:
        await env.run(RECEIVER, "b.py")
        await env.run(sender, "a.py")
        for script in env.host.scripts:
            await env.host.wait_idle(script)
        bound = f"a message carries at most {messaging.MAX_MESSAGE_BYTES:,}"
        lines = env.lines("a")
        assert lines[0].startswith("send ValueError messaging.send data: ")
        assert bound in lines[0]
        assert lines[1].startswith("broadcast ValueError messaging.broadcast data: ")
        assert lines[2] == "small sent"
        assert len(env.lines("b")) == 1


async def test_handlers_per_script_are_bounded(tmp_path: Path) -> None:
    source = TRY_SEND + (
        "def h(m):\n    pass\n"
        f"for _ in range({messaging.MAX_SUBSCRIPTIONS}):\n"
        "    await api.v1.messaging.onMessage(h)\n"
        "await trial('one more', lambda: api.v1.messaging.onMessage(h))\n"
        "await api.v1.messaging.unsubscribe(1)\n"
        "await trial('after unsubscribe', lambda: api.v1.messaging.onMessage(h))\n"
    )
    async with hosted(tmp_path) as env:
        await env.run(source)
        assert env.lines() == [
            f"one more ApiError messaging.onMessage: a script has at most "
            f"{messaging.MAX_SUBSCRIPTIONS} message handlers; unsubscribe one first",
            "after unsubscribe sent",
        ]


async def test_messages_waiting_for_a_script_are_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sends that outrun the receiver's handlers fail once its waiting messages pass the
    bound (nothing of that send is delivered), and work again once the handlers caught up."""
    monkeypatch.setattr(messaging, "MAX_UNDELIVERED_BYTES", 25_000)
    receiver = (
        "async def slow(m):\n"
        "    await api.v1.timers.sleep(300)\n"
        "    api.v1.log('handled', len(m.data))\n"
        "await api.v1.messaging.onMessage(slow)\n"
        "await api.v1.messaging.onMessage(slow)\n"
    )
    sender = TRY_SEND + (
        "for i in range(4):\n"  # 2 handlers x 5,002 bytes a send: the third passes 25,000
        "    await trial(f'send {i}', lambda: api.v1.messaging.send('b', 'x' * 5000))\n"
        "await api.v1.timers.sleep(600)\n"
        "await trial('later', lambda: api.v1.messaging.send('b', 'x' * 5000))\n"
    )
    async with hosted(tmp_path) as env:
        await env.run(receiver, "b.py")
        await env.run(sender, "a.py")
        for script in env.host.scripts:
            await env.host.wait_idle(script)
        lines = env.lines("a")
        assert lines[:2] == ["send 0 sent", "send 1 sent"]
        for line in lines[2:4]:
            assert line.startswith("send ")
            assert "ApiError messaging.send: script 'b' has 20,008 bytes of messages" in line
        assert lines[4] == "later sent"
        assert env.lines("b") == ["handled 5000"] * 6
        assert env.host.script_by_id("b").undelivered_bytes == 0
