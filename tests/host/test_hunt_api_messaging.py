"""``messaging`` between two real scripts: only data crosses from one worker to another."""

from __future__ import annotations

from pathlib import Path

from host_helpers import hosted

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
