"""Escape attempts through the objects the worker hands a script (api namespaces and
functions, pending calls, remote objects and their methods), each in a real worker process.

The worker's stand-ins keep their state in underscore slots, and their constructors trust
their arguments: given the class, a script could build a ``RemoteProxy`` naming any remote id
and pass it to the host past the wire's ``$dict`` escaping. So ``type()`` refuses them.
"""

from __future__ import annotations

import pytest
from test_worker_harness import running

OK = "\ndef ok(): return 'ok'\n"

#: Expressions that evaluate to each kind of host stand-in a script can hold.
HOST_OBJECTS = {
    "namespace": "api.v1",
    "function": "api.v1.log",
    "pending_call": "api.v1.echo(1)",
    "remote_object": "w",
    "remote_method": "w.update",
}


async def logged(body: str) -> list[str]:
    """Run ``body`` after opening a window ``w``; the worker must still answer afterwards."""
    source = "w = await api.v1.window.open('t')\n" + body + OK
    async with running(source) as (worker, host):
        assert await worker.invoke("ok") == "ok"
        return host.lines()


@pytest.mark.parametrize("expression", HOST_OBJECTS.values(), ids=list(HOST_OBJECTS))
async def test_type_of_a_host_object_is_refused(expression: str) -> None:
    body = f"try:\n    api.v1.log('GOT', str(type({expression})))\n"
    body += "except Exception as e:\n    api.v1.log('refused', str(e))\n"
    lines = await logged(body)
    assert len(lines) == 1
    assert lines[0].startswith("refused type() of a host object"), lines


@pytest.mark.parametrize("expression", HOST_OBJECTS.values(), ids=list(HOST_OBJECTS))
async def test_subclassing_a_host_object_class_is_refused(expression: str) -> None:
    body = f"try:\n    class Mine(type({expression})):\n        pass\n    api.v1.log('GOT')\n"
    body += "except Exception as e:\n    api.v1.log('refused', str(e))\n"
    lines = await logged(body)
    assert lines, "nothing logged"
    assert lines[0].startswith("refused "), lines


async def test_a_forged_remote_reference_never_reaches_the_host() -> None:
    # The window is remote 1; a second handle to it must come only from the host.
    body = (
        "try:\n"
        "    fake = type(w)({'$remote': 1, 'methods': {'close': 'async'}}, None, None)\n"
        "    await api.v1.echo(fake)\n"
        "except Exception as e:\n"
        "    api.v1.log('refused', str(e))\n"
        "back = await api.v1.echo({'$remote': 1})\n"
        "api.v1.log(repr(back))\n"
    )
    source = "w = await api.v1.window.open('t')\n" + body + OK
    async with running(source) as (worker, host):
        assert await worker.invoke("ok") == "ok"
        lines = host.lines()
        assert lines[0].startswith("refused type() of a host object (RemoteProxy)")
        # The plain dict travels escaped and comes back as a dict, not a remote object.
        assert lines[1] == "JSObject({'$remote': 1})"
        echoed = [list(call.args) for call in host.calls if call.path == "v1.echo"]
        assert echoed == [[{"$remote": 1}]]


async def test_results_of_host_objects_still_have_their_plain_types() -> None:
    """Data from the host is not a host object: its type stays available."""
    body = (
        "r = await api.v1.echo({'a': [1, {'b': 2}]})\n"
        "api.v1.log(type(r) is type(r.a[1]), type(r.a) is list, type('s') is str)\n"
        "try:\n    await api.v1.fail('x')\nexcept Exception as e:\n"
        "    api.v1.log(type(e) is ValueError)\n"
    )
    assert await logged(body) == ["True True True", "True"]


@pytest.mark.parametrize(
    "body",
    [
        # Attribute errors carry the object the lookup failed on: only the script's own.
        "try:\n    api.v1.nothing\nexcept AttributeError as e:\n    api.v1.log(repr(e.obj))\n",
        "try:\n    w.nothing\nexcept AttributeError as e:\n    api.v1.log(repr(e.obj))\n",
        # dir() and hasattr() of proxies list only described names.
        "api.v1.log(hasattr(api.v1.log, 'transport'), [n for n in dir(w) if 'remote' in n])\n",
    ],
)
async def test_errors_and_reflection_on_proxies_hand_out_nothing_internal(body: str) -> None:
    lines = await logged(body)
    assert len(lines) == 1
    for internal in ("Transport", "Worker", "transport", "Future", "_members"):
        assert internal not in lines[0], lines


@pytest.mark.parametrize(
    "body",
    [
        "getattr(w, '_transport')",
        "getattr(w.update, '_remote')",
        "getattr(api.v1.echo(1), '_what')",
        "getattr(api, '_members')",
        "setattr(w, 'update', print)",
        "w.update = print",
        "api.v1.echo = print",
        "delattr(api.v1, 'log')",
        "getattr(w.closed, '__await__')",
        "getattr(w, '__getattr__')('update')",
        "getattr(api.v1.log, '__reduce_ex__')(2)",
        "getattr(api.v1.echo(1), '__slots__')",
    ],
)
async def test_underscore_slots_and_writes_on_proxies_are_refused(body: str) -> None:
    source = f"try:\n    {body}\n    api.v1.log('ESCAPED')\n"
    source += "except Exception as e:\n    api.v1.log('refused', str(e))\n"
    lines = await logged(source)
    assert len(lines) == 1, lines
    assert lines[0].startswith("refused "), lines


#: Ways a script can step an awaitable by hand instead of awaiting it. Each yields whatever the
#: innermost await hands its driver: before the fix, the asyncio future of the api call, whose
#: ``get_loop()`` gave the event loop and with it ``loop.subprocess_shell`` (a root shell).
STEPPERS = {
    "coroutine_send": "async def co():\n    return await api.v1.echo(1)\nstep = co().send(None)\n",
    "coroutine_throw_caught": (
        "async def co():\n    try:\n        await api.v1.echo(1)\n    except ValueError:\n"
        "        await api.v1.echo(2)\nc = co()\nc.send(None)\nstep = c.throw(ValueError())\n"
    ),
    "anext_next": "async def ag():\n    yield await api.v1.echo(1)\nstep = next(anext(ag()))\n",
    "asend_send": "async def ag():\n    yield await api.v1.echo(1)\nstep = ag().asend(None).send(None)\n",
    "anext_default_send": (
        "async def ag():\n    yield await api.v1.echo(1)\nstep = anext(ag(), 0).send(None)\n"
    ),
    "athrow_send": (
        "async def ag():\n    try:\n        yield 1\n    except ValueError:\n"
        "        yield await api.v1.echo(1)\n"
        "g = ag()\n"
        "try:\n    anext(g).send(None)\nexcept StopIteration:\n    pass\n"
        "step = g.athrow(ValueError()).send(None)\n"
    ),
    "remote_awaitable": "async def co():\n    return await w.closed\nstep = co().send(None)\n",
    "for_over_anext": (
        "async def ag():\n    yield await api.v1.echo(1)\nstep = None\n"
        "for step in anext(ag()):\n    break\n"
    ),
}


@pytest.mark.parametrize("stepping", STEPPERS.values(), ids=list(STEPPERS))
async def test_stepping_an_awaitable_by_hand_yields_no_future_or_loop(stepping: str) -> None:
    body = stepping + (
        "api.v1.log('stepped', repr(step))\n"
        "try:\n    step.get_loop()\n    api.v1.log('ESCAPED')\n"
        "except AttributeError as e:\n    api.v1.log('refused', str(e))\n"
    )
    lines = await logged(body)
    assert lines[0].startswith("stepped <pending "), lines
    assert "Future" not in lines[0]
    assert lines[1:] == ["refused 'Suspension' object has no attribute 'get_loop'"], lines


async def test_an_abandoned_async_generator_still_awaits_in_its_finally() -> None:
    """asyncio closes an async generator the script dropped on a task of its own; that task
    cannot step script code now that awaiting a call yields a token, so the worker closes it
    the same way it runs everything else (and logs a failure like an un-awaited call's)."""
    body = (
        "async def ag(tag):\n    try:\n        yield 1\n    finally:\n"
        "        await api.v1.echo(1)\n        if tag == 'bad':\n            await api.v1.fail(tag)\n"
        "        api.v1.log('closed', tag)\n"
        "async def use(tag):\n    async for x in ag(tag):\n        break\n"
        "await use('good')\nawait use('bad')\nawait api.v1.sleep(0.05)\n"
    )
    async with running("w = None\n" + body + OK) as (worker, host):
        await worker.wait_idle()
        assert host.lines() == ["closed good"]
        assert host.lines("error") == [
            "closing an abandoned async generator failed: s.py:8: ValueError: refused: bad"
        ]
        assert await worker.invoke("ok") == "ok"
