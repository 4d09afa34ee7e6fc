"""The worker end to end over real processes: loading, api calls, callbacks, remote objects."""

from __future__ import annotations

import asyncio

import pytest
from test_worker_harness import FAST, FakeHost, running, start

from sandbox.process import LoadFailed, ScriptFailed, ScriptWorker, WarmPool


async def test_sync_async_calls_values_and_print() -> None:
    source = (
        "x = api.v1.uuid()\n"
        "api.v1.log('hello', x, api.v1.script.id)\n"
        "print('printed')\n"
        "r = await api.v1.echo({'choices': [{'text': 'hi'}]})\n"
        "api.v1.log(r.choices[0].text, r['choices'][0]['text'])\n"
        "k = api.v1.echoSync(model='m', n=2)\n"
        "api.v1.log(k.model, k.n)\n"
    )
    async with running(source) as (worker, host):
        assert host.lines() == ["hello id-1 abc", "printed", "hi hi", "m 2"]
        await worker.wait_idle()
        assert worker.is_idle
        assert worker.memory_limit_mb == 256


async def test_callbacks_plain_async_and_by_name() -> None:
    source = (
        "def double(a):\n"
        "    return a * 2\n"
        "async def slow(a):\n"
        "    await api.v1.sleep(0.01)\n"
        "    return {'got': a, 'id': api.v1.uuid()}\n"
        "api.v1.register('double', double)\n"
        "api.v1.register('slow', slow)\n"
        "api.v1.register('lam', lambda v: v.text.upper())\n"
        "def top(): return 'top'\n"
    )
    async with running(source) as (worker, host):
        assert await worker.invoke(host.callbacks["double"], 21) == 42
        assert await worker.invoke(host.callbacks["slow"], [1]) == {"got": [1], "id": "id-1"}
        assert await worker.invoke(host.callbacks["lam"], {"text": "abc"}) == "ABC"
        assert await worker.invoke("top") == "top"
        results = await asyncio.gather(
            *(worker.invoke(host.callbacks["slow"], i) for i in range(10))
        )
        assert [r["got"] for r in results] == list(range(10))


async def test_script_errors_point_at_script_lines() -> None:
    source = (
        "def bad(x):\n    y = 1\n    return x / 0\n"
        "api.v1.register('bad', bad)\n"
        "def ok(): return 'still here'\n"
    )
    async with running(source, name="name.py") as (worker, host):
        with pytest.raises(ScriptFailed) as raised:
            await worker.invoke(host.callbacks["bad"], 1)
        assert str(raised.value) == "name.py:3: ZeroDivisionError: division by zero"
        assert await worker.invoke("ok") == "still here"


async def test_load_failures_policy_and_exception() -> None:
    with pytest.raises(LoadFailed) as raised:
        await start("import os\n", name="p.py")
    assert raised.value.failure is not None
    assert raised.value.failure.kind == "policy"
    assert "p.py:1" in str(raised.value)
    with pytest.raises(LoadFailed) as raised:
        await start("a = 1\nb = {}\nb['missing']\n", name="e.py")
    assert str(raised.value) == "e.py:3: KeyError: 'missing'"
    with pytest.raises(LoadFailed, match=r"t\.py:2: ValueError: refused: no"):
        await start("async def f():\n    await api.v1.fail('no')\nawait f()\n", name="t.py")


async def test_api_errors_are_plain_exceptions_the_script_can_catch() -> None:
    source = (
        "try:\n"
        "    api.v1.failSync('x')\n"
        "except ValueError as e:\n"
        "    api.v1.log('sync', isinstance(e, ValueError), str(e), len(e.args))\n"
        "try:\n"
        "    await api.v1.fail('y')\n"
        "except Exception as e:\n"
        "    api.v1.log('async', str(e))\n"
        "try:\n"
        "    api.v1.echo({1, 2})\n"
        "except TypeError as e:\n"
        "    api.v1.log('type', str(e))\n"
    )
    async with running(source) as (_worker, host):
        assert host.lines()[0] == "sync True refused: x 1"
        assert host.lines()[1] == "async refused: y"
        assert host.lines()[2].startswith("type v1.echo arguments[0]: cannot pass a set")


async def test_unawaited_calls_still_happen_and_failures_are_logged() -> None:
    source = (
        "w = await api.v1.window.open('title')\n"
        "w.update({'a': 1})\n"
        "api.v1.fail('lost')\n"
        "api.v1.log(w.title, w.isClosed())\n"
        "w.close()\n"
        "await w.closed\n"
        "api.v1.log('closed', w.isClosed())\n"
    )
    async with running(source) as (worker, host):
        await worker.wait_idle()
        assert host.windows[0].updates == [{"a": 1}]
        assert host.lines() == ["title False", "closed True"]
        assert any("v1.fail failed (not awaited): refused: lost" in t for t in host.lines("error"))


async def test_invoke_arriving_during_a_sync_call_is_queued_not_lost() -> None:
    source = (
        "seen = []\n"
        "def cb(v):\n"
        "    seen.append(v)\n"
        "    return len(seen)\n"
        "api.v1.register('cb', cb)\n"
        "def count(): return seen\n"
    )
    host = FakeHost()
    worker, host = await start(source, host=host)
    try:
        handle = host.callbacks["cb"]
        results = await asyncio.gather(*(worker.invoke(handle, i) for i in range(50)))
        assert sorted(results) == list(range(1, 51))
        assert await worker.invoke("count") == list(range(50))
    finally:
        await worker.shutdown()


async def test_cancel_pending_invocation_and_shutdown() -> None:
    source = "async def wait():\n    await api.v1.never()\napi.v1.register('w', wait)\n"
    async with running(source) as (worker, host):
        pending = asyncio.ensure_future(worker.invoke(host.callbacks["w"]))
        await asyncio.sleep(0.1)
        worker.cancel()
        with pytest.raises(ScriptFailed, match="cancelled"):
            await pending
        await worker.wait_idle()
    assert worker.exit_reason is not None
    assert worker.exit_reason.kind == "shutdown"
    assert host.exits == [worker.exit_reason]


async def test_many_workers_and_restart_after_death() -> None:
    source = "def who(): return api.v1.script.id\n"
    workers = await asyncio.gather(*(start(source, name=f"w{i}.py") for i in range(6)))
    try:
        workers[0][0].kill()
        answers = await asyncio.gather(*(w.invoke("who") for w, _ in workers[1:]))
        assert answers == ["abc"] * 5
        reason = await workers[0][0].wait_closed()
        assert reason.kind == "shutdown"
        assert reason.script_name == "w0.py"
        again, _ = await start(source, name="w0.py")
        assert await again.invoke("who") == "abc"
        await again.shutdown()
    finally:
        await asyncio.gather(*(w.shutdown() for w, _ in workers))


async def test_warm_pool_serves_scripts() -> None:
    pool = WarmPool(size=1)
    host = FakeHost()
    try:
        for i in range(2):
            worker = await ScriptWorker.start(
                name=f"p{i}.py",
                source="def f(): return 7\n",
                filename=f"p{i}.py",
                api=__import__("test_worker_harness").API,
                handler=host.handle,
                pool=pool,
            )
            assert await worker.invoke("f") == 7
            await worker.shutdown()
    finally:
        await pool.close()


@pytest.mark.parametrize(("requested", "granted"), [(300, 300), (5000, 1024), (64, 128)])
async def test_memory_limit_from_the_header_within_floor_and_ceiling(
    requested: int, granted: int
) -> None:
    source = f'"""\n---\nname: Mem\nmemoryLimit: {requested}\n---\n"""\ndef ok(): return 1\n'
    async with running(source) as (worker, _host):
        assert worker.memory_limit_mb == granted
        with open(f"/proc/{worker.pid}/limits") as handle:
            line = next(row for row in handle if row.startswith("Max address space"))
        assert line.split()[3] == str(granted * 1024 * 1024)


async def test_bad_header_is_a_policy_failure() -> None:
    source = '"""\n---\nname: Bad\nmemoryLimit: lots\n---\n"""\n'
    with pytest.raises(LoadFailed) as raised:
        await start(source, name="hdr.py")
    assert raised.value.failure is not None
    assert raised.value.failure.kind == "policy"
    assert "hdr.py" in str(raised.value)
    assert "memoryLimit" in str(raised.value)


async def test_stress_interleaved_sync_and_async_calls_lose_nothing() -> None:
    # Replies, invokes and sync replies share reads; none may be dropped or reordered away.
    source = (
        "async def mixed(i):\n"
        "    a = api.v1.echoSync(i)\n"
        "    b = await api.v1.echo(i * 2)\n"
        "    c = api.v1.echoSync(i * 3)\n"
        "    return [a, b, c]\n"
        "api.v1.register('mixed', mixed)\n"
    )
    async with running(source) as (worker, host):
        results = await asyncio.gather(
            *(worker.invoke(host.callbacks["mixed"], i) for i in range(300))
        )
        assert results == [[i, i * 2, i * 3] for i in range(300)]
        await worker.wait_idle()


async def test_cancelling_an_invoke_cancels_the_callback_in_the_worker() -> None:
    source = (
        "state = {'cancelled': False}\n"
        "async def wait():\n"
        "    try:\n"
        "        await api.v1.never()\n"
        "    finally:\n"
        "        state['cancelled'] = True\n"
        "api.v1.register('w', wait)\n"
        "def check(): return state['cancelled']\n"
    )
    async with running(source) as (worker, host):
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(worker.invoke(host.callbacks["w"]), 0.2)
        await worker.wait_idle()
        assert await worker.invoke("check") is True
        assert worker.exit_reason is None


def test_remote_objects_nested_in_results_become_proxies() -> None:
    from sandbox.protocol import RemoteObject, RemoteRegistry, to_wire
    from sandbox.proxy import CallbackRegistry, RemoteProxy, decode_from_host

    class Adopting:
        """Only what making a proxy asks of the transport: to be told of it."""

        def __init__(self) -> None:
            self.adopted: list[int] = []

        def adopt_remote(self, proxy: object, remote: int) -> None:
            self.adopted.append(remote)

    registry = RemoteRegistry()
    window = RemoteObject(target=1, methods={"close": "async"}, values={"title": "t"})
    wire = to_wire({"items": [window], "meta": {"n": 1}}, registry)
    transport = Adopting()
    decoded = decode_from_host(wire, CallbackRegistry(), transport)  # type: ignore[arg-type]
    assert transport.adopted == [1]
    assert isinstance(decoded.items[0], RemoteProxy)
    assert dir(decoded.items[0]) == ["close", "title"]
    assert decoded.items[0].title == "t"
    assert decoded.meta.n == 1


async def test_exception_with_a_failing_str_still_reports_its_line() -> None:
    source = (
        "class Weird(Exception):\n"
        "    def __str__(self):\n"
        "        raise ValueError('no')\n"
        "def bad():\n"
        "    raise Weird()\n"
    )
    async with running(source, name="w.py") as (worker, _host):
        with pytest.raises(ScriptFailed, match=r"^w\.py:5: Weird: <exception message could not"):
            await worker.invoke("bad")


async def test_text_with_a_lone_surrogate_crosses_both_ways() -> None:
    """A script's str may hold a lone surrogate (``'\\ud800'``); the call carrying it failed
    with a bare "'utf-8' codec can't encode". It arrives as U+FFFD, both ways."""
    source = (
        "bad = 'x\\ud800y'\n"
        "r = await api.v1.echo({'text': bad})\n"
        "api.v1.log(r.text == 'x\\ufffdy', bad)\n"
        "def back(v):\n"
        "    return v == 'p\\ufffdq'\n"
        "api.v1.register('back', back)\n"
    )
    async with running(source) as (worker, host):
        assert host.lines() == ["True x\ufffdy"]
        assert await worker.invoke(host.callbacks["back"], "p\ud800q") is True


def test_the_registry_drops_an_object_only_when_every_proxy_sent_is_gone() -> None:
    from sandbox.protocol import RemoteObject, RemoteRegistry

    registry = RemoteRegistry()
    window, other = RemoteObject(target=1), RemoteObject(target=2)
    first = registry.register(window)
    assert registry.register(window) == first  # sent twice
    second = registry.register(other)
    registry.release(first, 1)  # one proxy was still on its way: kept
    assert registry.get(first) is window
    registry.release(first, 2)
    assert registry.get(first) is None
    assert len(registry) == 1
    registry.release(first, 2)  # a repeated (or forged) report changes nothing
    registry.release(12345, 1)
    third = registry.register(window)  # sent again after its release: a new id, never reused
    assert third not in (first, second)
    assert registry.get(third) is window


async def test_host_objects_are_dropped_once_the_script_drops_its_proxies() -> None:
    """Every window, signal or helper a script made stayed in the host until it unloaded. A
    proxy still held keeps its object; so does one the host sends again while the worker
    reports the last one gone (the script passes the window to a call and drops it)."""
    source = (
        "for i in range(300):\n"
        "    await api.v1.window.open('w')\n"
        "kept = await api.v1.window.open('kept')\n"
        "w = await api.v1.window.open('crossing')\n"
        "again = api.v1.echo(w)\n"
        "del w\n"
        "w = await again\n"
        "api.v1.log(w.title, kept.title)\n"
        "def use():\n"
        "    return [w.isClosed(), kept.isClosed()]\n"
    )
    async with running(source) as (worker, host):
        await worker.wait_idle()
        assert host.lines() == ["crossing kept"]
        assert await worker.invoke("use") == [False, False]
        assert worker.remote_objects == 2  # 'kept' and 'crossing'


def test_the_registry_refuses_a_new_object_past_its_limit() -> None:
    from sandbox.protocol import RemoteObject, RemoteRegistry, TooManyRemoteObjects

    registry = RemoteRegistry(max_live=2)
    first, second = RemoteObject(target=1), RemoteObject(target=2)
    first_id = registry.register(first)
    registry.register(second)
    assert registry.register(first) == first_id  # sending a held object again is no new one
    with pytest.raises(TooManyRemoteObjects, match=r"holds 2 host objects .*at most 2 at once"):
        registry.register(RemoteObject(target=3))
    assert len(registry) == 2
    registry.release(first_id, 2)
    registry.register(RemoteObject(target=3))  # room again once one is released
    assert len(registry) == 2


def test_a_reply_refused_midway_takes_back_what_it_registered() -> None:
    """A reply with two new objects and room for one: the first was registered, never sent,
    and so never released; it held a place against the limit for good."""
    from sandbox.protocol import RemoteObject, RemoteRegistry, TooManyRemoteObjects

    registry = RemoteRegistry(max_live=2)
    held = RemoteObject(target="held")
    registry.wire([held])
    with pytest.raises(TooManyRemoteObjects):
        registry.wire({"a": held, "b": RemoteObject(target=1), "c": RemoteObject(target=2)})
    assert len(registry) == 1
    registry.release(registry.wire([held])[0]["$remote"], 2)  # ``held`` counts two sent again
    assert len(registry) == 0


async def test_a_script_holding_too_many_host_objects_is_refused_more() -> None:
    """Each host object a script holds lives in the host's memory (a signal: ~1.6 KB), so
    a script keeping every one it makes is refused past ``max_remote_objects``, with an
    ApiError it can catch; one that drops them as it goes never reaches the limit."""
    source = (
        "kept = []\n"
        "try:\n"
        "    for i in range(40):\n"
        "        kept.append(await api.v1.window.open('w'))\n"
        "except ApiError as error:\n"
        "    api.v1.log(str(len(kept)) + ': ' + str(error))\n"
        "kept = None\n"
        "for i in range(100):\n"
        "    w = await api.v1.window.open('dropped')\n"
        "api.v1.log('dropped ' + w.title)\n"
    )
    limits = FAST.model_copy(update={"max_remote_objects": 25})
    async with running(source, limits=limits) as (worker, host):
        await worker.wait_idle()
        assert host.lines() == [
            "25: the script holds 25 host objects (signals, windows, helpers: at most 25 at "
            "once); drop the ones it no longer needs before making more",
            "dropped dropped",
        ]
        assert worker.remote_objects <= 25


async def test_a_method_kept_without_its_object_keeps_the_host_object() -> None:
    """``make().read()`` and ``m = make().read`` drop the proxy and keep only its method: the
    worker reported the object gone, so the host had dropped it and the call failed with
    'unknown remote object'. A method holds its proxy now."""
    source = (
        "closed = (await api.v1.window.open('m')).isClosed\n"
        "await api.v1.sleep(0)\n"  # a loop iteration: what is released is reported
        "api.v1.log(str(closed()), str((await api.v1.window.open('n')).isClosed()))\n"
    )
    async with running(source) as (worker, host):
        await worker.wait_idle()
        assert host.lines() == ["False False"]
        assert worker.remote_objects == 1  # 'm', held through ``closed``; 'n' was dropped


F_SETPIPE_SZ = 1031  # Linux's fcntl to resize a pipe (not in Python 3.11's fcntl module)


def test_dropping_many_proxies_at_once_is_reported_in_frames_of_bounded_size() -> None:
    """25,000 proxies dropped in one go (a list of window handles set to None): the releases go
    in frames of at most 10,000 (one frame of them all could pass the host's frame limit,
    which stops the worker)."""
    import fcntl

    from test_worker_harness import make_worker, one_read

    from sandbox.proxy import RemoteProxy

    worker, _host_w, host_r = make_worker()
    fcntl.fcntl(host_r, F_SETPIPE_SZ, 1 << 20)  # room for every frame: nobody reads meanwhile
    proxies = [RemoteProxy({"$remote": n}, worker, lambda v: v) for n in range(1, 25_001)]
    del proxies
    worker._before_select(True)
    frames = []
    while batch := one_read(host_r):
        frames += batch
    releases = [f for f in frames if f["t"] == "release_remote"]
    assert [len(f["ids"]) for f in releases] == [10_000, 10_000, 5_000]  # type: ignore[arg-type]
    released = sorted(pair for f in releases for pair in f["ids"])  # type: ignore[attr-defined]
    assert released == [[n, 1] for n in range(1, 25_001)]
