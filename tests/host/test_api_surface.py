"""Every other api.v1 call from a real sandboxed script: tokens, basics, storages, timers,
rollover helper, permissions, hooks, messaging."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from host_helpers import hosted

from nai_script.host.api.basics import PERMISSIONS, roll_dice
from nai_script.host.dispatch import ApiUsageError
from nai_script.host.errors import LoadError
from nai_script.host.permissions import grant_permissions
from nai_script.host.routes import ROUTES
from nai_script.host.storage import STORAGE_CAP_BYTES
from nai_script.host.surface import function_paths
from nai_script.limits import FakeClock
from nai_script.tokenizers import context_size, rollover_tokens


def test_every_described_function_has_a_route_and_no_route_is_hidden() -> None:
    assert set(function_paths()) == set(ROUTES)


async def test_script_constants_tokens_and_basics(tmp_path: Path) -> None:
    source = (
        '"""\n---\nid: consts\nname: Consts\nversion: 2.1.0\nauthor: Ann\n'
        'description: d\nmemoryLimit: 300\n---\n"""\n'
        "s = api.v1.script\n"
        "api.v1.log(s.id, s.name, s.version, s.author, s.description, s.memoryLimit)\n"
        "ids = await api.v1.tokenizer.encode('hello world', 'glm-4-6')\n"
        "api.v1.log(await api.v1.tokenizer.decode(ids, 'glm-4-6'))\n"
        "api.v1.log(await api.v1.maxTokens('xialong-v1'), await api.v1.rolloverTokens('xialong-v1'))\n"
        "u = api.v1.uuid()\n"
        "api.v1.log(len(u), u != api.v1.uuid())\n"
        "api.v1.log('x', 1, [1, 2], {'a': None}, True)\n"
        "api.v1.error('bad thing', 3)\n"
        "b = api.v1.random.bool(1)\n"
        "f = api.v1.random.float(2, 3)\n"
        "i = api.v1.random.int(5, 5)\n"
        "api.v1.log(b, 2 <= f < 3, i)\n"
        "try:\n    api.v1.random.roll('3x6')\nexcept ValueError as e:\n    api.v1.log(str(e))\n"
        "try:\n    await api.v1.maxTokens('nope')\nexcept ValueError as e:\n"
        "    api.v1.log('unknown' in str(e))\n"
    )
    async with hosted(tmp_path) as env:
        await env.run(source)
        lines = env.lines()
        # NovelAI's script.memoryLimit is in bytes (it was the header's 300, in MB).
        assert lines[0] == f"consts Consts 2.1.0 Ann d {300 * 1024 * 1024}"
        assert lines[1] == "hello world"
        assert lines[2] == (f"{context_size('xialong-v1', 3)} {rollover_tokens('xialong-v1', 3)}")
        assert lines[3] == "36 True"
        assert lines[4] == 'x 1 [1, 2] {"a": null} True'
        assert lines[5] == "True True 5"
        assert lines[6].startswith("random.roll: '3x6' is not dice notation")
        assert lines[7] == "True"
        assert env.lines(level="error") == ["bad thing 3"]


async def test_a_failing_log_sink_is_never_the_scripts_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def closed_pipe(script: object, level: str, text: str) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    async with hosted(tmp_path) as env:
        env.host.on_log = closed_pipe
        script = await env.run("api.v1.log('one')\napi.v1.error('two')\napi.v1.log('three')\n")
        assert [line.text for line in script.recent_logs] == ["one", "two", "three"]
        assert script.failures == 0
        assert script.exit_reason is None
        assert [line.text for line in script.recent_errors] == ["two"]
    assert "on_log sink failed: BrokenPipeError" in caplog.text


def test_dice_notation() -> None:
    result = roll_dice("3d6+2")
    (group,) = result["rolls"]
    assert group["notation"] == "3d6"
    assert len(group["dice"]) == 3
    assert group["kept"] == group["dice"]
    assert result["total"] == sum(group["dice"]) + 2
    assert result["breakdown"] == f"3d6 {group['dice']} + 2 = {result['total']}"
    best = roll_dice("4d6kh3 - 1")
    (group,) = best["rolls"]
    assert sorted(group["kept"]) == sorted(group["dice"])[1:]
    assert best["total"] == sum(group["kept"]) - 1
    assert " kept " in best["breakdown"]
    low = roll_dice("2d20kl1 + d4 + d%")["rolls"]
    assert [g["notation"] for g in low] == ["2d20kl1", "1d4", "1d100"]
    assert low[0]["kept"] == [min(low[0]["dice"])]
    assert len(roll_dice("4d6dl1")["rolls"][0]["kept"]) == 3
    for bad in ("0d6", "2d0", "1001d6", "abc", "3d6+", "5", "2d6 3", "2d6kh3", ""):
        with pytest.raises(ApiUsageError):
            roll_dice(bad)


async def test_bad_arguments_name_call_and_argument(tmp_path: Path) -> None:
    source = (
        "for call in (lambda: api.v1.random.int(1), lambda: api.v1.random.int(1, 2, 3),"
        " lambda: api.v1.random.int(1, 2, bogus=1), lambda: api.v1.random.int(5, 1)):\n"
        "    try:\n        call()\n    except ValueError as e:\n        api.v1.log(str(e))\n"
    )
    async with hosted(tmp_path) as env:
        await env.run(source)
        assert env.lines() == [
            "api.v1.random.int: missing argument 'max'",
            "api.v1.random.int: takes at most 2 arguments, got 3",
            "api.v1.random.int: unknown argument 'bogus'",
            "random.int: min 5 is greater than max 1",
        ]


async def test_config_defaults_and_host_overrides(tmp_path: Path) -> None:
    source = (
        '"""\n---\nid: cfg\nname: Cfg\nconfig:\n  - name: a\n    default: 1\n'
        '  - name: b\n    default: x\n---\n"""\n'
        "api.v1.log(await api.v1.config.get('a'), await api.v1.config.get('b'))\n"
    )
    async with hosted(tmp_path, config_overrides={"cfg": {"b": "over"}}) as env:
        await env.run(source)
        assert env.lines() == ["1 over"]


async def test_storages_persist_scope_and_cap(tmp_path: Path) -> None:
    source = (
        "await api.v1.storage.set('k', {'v': [1, 2]})\n"
        "await api.v1.storyStorage.set('k', 'story')\n"
        "await api.v1.historyStorage.set('k', 'hist')\n"
        "await api.v1.tempStorage.set('k', 'temp')\n"
        "api.v1.log(await api.v1.storage.get('k'), await api.v1.storyStorage.get('k'),"
        " await api.v1.historyStorage.get('k'), await api.v1.tempStorage.get('k'))\n"
        "api.v1.log(await api.v1.storage.setIfAbsent('k', 1), await api.v1.storage.has('k'),"
        " await api.v1.storage.getOrDefault('none', 7), await api.v1.storage.list())\n"
        f"try:\n    await api.v1.storage.set('big', 'x' * {STORAGE_CAP_BYTES})\n"
        "except Exception as e:\n    api.v1.log('cap:', 'storage.set' in str(e))\n"
    )
    async with hosted(tmp_path) as env:
        await env.run(source)
        assert env.lines() == [
            '{"v": [1, 2]} story hist temp',
            'False True 7 ["k"]',
            "cap: True",
        ]
    async with hosted(tmp_path) as env:  # a new host on the same data dir
        await env.run(
            "api.v1.log(await api.v1.storage.get('k'), await api.v1.tempStorage.get('k'))\n"
        )
        assert env.lines() == ['{"v": [1, 2]} None']


async def test_stored_data_shaped_like_protocol_markers_comes_back_as_data(
    tmp_path: Path,
) -> None:
    """A stored ``{"$remote": 1}`` came back as a remote object, ``{"$callback": 1}`` could not
    be stored: plain dicts holding a marker key now travel escaped, in both directions."""
    values = (
        "[{'$remote': 1, 'x': 2}, {'$callback': 1}, {'$ints': 'AAAA'}, {'$dict': {'$remote': 3}},"
        " list(range(600)), [True] * 40, [2 ** 40] * 40]"
    )
    source = (
        f"for value in {values}:\n"
        "    await api.v1.storage.set('k', value)\n"
        "    got = await api.v1.storage.get('k')\n"
        "    api.v1.log(got == value, isinstance(got, list))\n"
    )
    async with hosted(tmp_path) as env:
        await env.run(source)
        assert env.lines() == ["True False"] * 4 + ["True True"] * 3


async def test_timers_on_the_host_clock(tmp_path: Path) -> None:
    clock = FakeClock()
    source = (
        "def a(): api.v1.log('a')\n"
        "def b(): api.v1.log('b')\n"
        "await api.v1.timers.setTimeout(a, 1000)\n"
        "tid = await api.v1.timers.setTimeout(b, 500)\n"
        "api.v1.log('cleared', await api.v1.timers.clearTimeout(tid))\n"
    )
    # NovelAI's ``setTimeout`` resolves to a number (ours was a uuid string) and
    # ``clearTimeout`` to undefined (ours was a bool); an id that is not pending is ignored.
    numbers = (
        "ids = [await api.v1.timers.setTimeout(lambda: None, 0) for _ in range(2)]\n"
        "api.v1.log(ids, await api.v1.timers.clearTimeout(12345))\n"
        "try:\n    await api.v1.timers.clearTimeout('1')\n"
        "except ValueError as e:\n    api.v1.log(str(e))\n"
    )
    async with hosted(tmp_path, clock=clock) as env:
        script = await env.load(source)
        await script.worker.wait_idle()  # type: ignore[union-attr]
        assert env.lines() == ["cleared None"]
        assert len(script.timers) == 1
        clock.advance(0.999)
        await asyncio.sleep(0.05)
        assert env.lines() == ["cleared None"]
        clock.advance(0.002)
        await env.host.wait_idle(script)
        assert env.lines() == ["cleared None", "a"]
    async with hosted(tmp_path) as env:
        await env.run(numbers)
        assert env.lines() == [
            "[1, 2] None",
            "timers.clearTimeout timerId: must be a timer id number, got '1'",
        ]


async def test_unload_cancels_pending_timers(tmp_path: Path) -> None:
    async with hosted(tmp_path) as env:
        script = await env.load("await api.v1.timers.setTimeout(lambda: None, 60000)\n")
        assert script.timers
        assert await env.host.unload_script("t")
        assert not script.timers
        assert env.host.scripts == []


async def test_rollover_helper_methods(tmp_path: Path) -> None:
    source = (
        "h = api.v1.createRolloverHelper({'maxTokens': 10, 'rolloverTokens': 5,"
        " 'model': 'glm-4-6'})\n"
        "await h.add([{'content': 'a', 'tokens': 4}, {'content': 'b', 'tokens': 4}])\n"
        "await h.add({'content': 'c', 'tokens': 4})\n"
        "api.v1.log(h.count(), h.totalTokens(), len(h.peek()))\n"
        "await h.add({'content': 'd', 'tokens': 4})\n"
        "api.v1.log(h.count(), h.totalTokens(), [i.content for i in h.read()])\n"
        "api.v1.log(len(h.getAll()))\n"
        "h.compact()\n"
        "api.v1.log(len(h.getAll()))\n"
        "h.remove(1)\n"
        "api.v1.log([i.content for i in h.read()], h.getConfig())\n"
        "await h.add({'content': 'hello world'})\n"
        "api.v1.log(h.read()[-1].tokens > 0)\n"
        "h.clear()\n"
        "api.v1.log(h.count())\n"
        "try:\n    await h.add({'tokens': 3})\nexcept ValueError as e:\n    api.v1.log(str(e))\n"
        "try:\n    api.v1.createRolloverHelper({'maxTokens': 0, 'model': 'glm-4-6'})\n"
        "except ValueError as e:\n    api.v1.log(str(e))\n"
    )
    async with hosted(tmp_path) as env:
        await env.run(source)
        lines = env.lines()
        assert lines[0] == "3 12 3"
        assert lines[1] == '2 8 ["c", "d"]'
        assert lines[2] == "4"
        assert lines[3] == "2"
        assert lines[4] == '["c"] ' + '{"maxTokens": 10, "rolloverTokens": 5, "model": "glm-4-6"}'
        assert lines[5] == "True"
        assert lines[6] == "0"
        assert lines[7].startswith("rolloverHelper.add: rollover item 0")
        assert lines[8].startswith("createRolloverHelper.maxTokens:")


async def test_permissions_denied_by_default_granted_by_policy(tmp_path: Path) -> None:
    source = (
        '"""\n---\nid: perm\nname: Perm\npermissions: [documentEdit]\n---\n"""\n'
        "api.v1.log(await api.v1.permissions.has('documentEdit'), await api.v1.permissions.list())\n"
        "api.v1.log(await api.v1.permissions.request('storyEdit'))\n"
        "try:\n    await api.v1.permissions.has('rootAccess')\nexcept ValueError as e:\n"
        "    api.v1.log('unknown permission' in str(e))\n"
    )
    async with hosted(tmp_path) as env:
        await env.run(source)
        assert env.lines() == ["False []", "False", "True"]
    async with hosted(tmp_path, permission_policy=grant_permissions) as env:
        await env.run(source)
        assert env.lines() == ['True ["documentEdit"]', "True", "True"]


async def test_unknown_header_permission_is_refused_at_load_naming_file_and_line(
    tmp_path: Path,
) -> None:
    source = '"""\n---\nid: perm\npermissions:\n  - documentEdit\n  - rootAccess\n---\n"""\n'
    async with hosted(tmp_path, permission_policy=grant_permissions) as env:
        with pytest.raises(LoadError) as caught:
            await env.load(source, "perm.py")
        assert caught.value.kind == "policy"
        assert caught.value.problems == [
            f"{env.folder / 'perm.py'}:4:1: header key 'permissions': Value error, "
            f"unknown permission 'rootAccess'; known: {', '.join(sorted(PERMISSIONS))}"
        ]
        assert env.host.scripts == []


async def test_undecodable_script_is_refused_at_load_naming_its_bad_byte(tmp_path: Path) -> None:
    """As ``check`` and ``run`` name it (the host said only "cannot read the script")."""
    async with hosted(tmp_path) as env:
        path = env.folder / "latin.py"
        path.write_bytes(b"x = 1\ny = 2\nz = '\xe9'\n")
        with pytest.raises(LoadError) as caught:
            await env.host.load_script(path)
        assert str(caught.value).startswith(f"{path}:3:6: cannot decode source: byte 0xe9")
        assert env.host.scripts == []


async def test_hooks_fire_in_load_order_and_failures_are_skipped(tmp_path: Path) -> None:
    async with hosted(tmp_path) as env:
        for name, body in (
            ("h1", "return 'one'"),
            ("h2", "raise ValueError('boom')"),
            ("h3", "return {'text': p.text + '!'}"),
        ):
            await env.run(
                f"def hook(p=None):\n    {body}\n"
                "api.v1.hooks.register('onResponse', hook)\n"
                "api.v1.log(api.v1.hooks.isRegistered('onResponse'))\n",
                f"{name}.py",
            )
        assert env.lines() == ["True", "True", "True"]
        await env.run(
            "def first(p):\n    return 'replaced'\n"
            "def second(p):\n    return 'second'\n"
            "api.v1.hooks.register('onResponse', first)\n"
            "api.v1.hooks.register('onResponse', second)\n",
            "h4.py",
        )
        await env.run(
            "api.v1.hooks.register('onResponse', lambda p: 'gone')\n"
            "api.v1.log(api.v1.hooks.unregister('onResponse'), api.v1.hooks.unregister('onResponse'),"
            " api.v1.hooks.isRegistered('onResponse'))\n",
            "h5.py",
        )
        assert env.lines("h5") == ["True False False"]
        results = await env.host.fire_hook("onResponse", {"text": "hi"})
        assert results == [("h1", "one"), ("h3", {"text": "hi!"}), ("h4", "second")]
        assert "boom" in env.lines("h2", level="error")[0]
        h2 = env.host.script_by_id("h2")
        assert h2 is not None
        assert h2.failures == 1
        with pytest.raises(Exception, match="unknown hook"):
            await env.run("api.v1.hooks.register('onNothing', print)\n", "bad.py")


async def test_messaging_between_scripts(tmp_path: Path) -> None:
    async with hosted(tmp_path) as env:
        await env.run(
            "def got(m):\n    api.v1.log('b got', m.data, m.fromScriptId)\n"
            "sub = await api.v1.messaging.onMessage(got)\n"
            "async def stop():\n    api.v1.log(await api.v1.messaging.unsubscribe(sub))\n",
            "b.py",
        )
        a = await env.run(
            "api.v1.log(await api.v1.messaging.send('b', {'n': 1}))\n"
            "api.v1.log(await api.v1.messaging.broadcast('all'))\n"
            "try:\n    await api.v1.messaging.send('zzz', 1)\n"
            "except Exception as e:\n    api.v1.log('no target' if 'zzz' in str(e) else str(e))\n",
            "a.py",
        )
        for script in env.host.scripts:
            await env.host.wait_idle(script)
        assert env.lines("a") == ["None", "None", "no target"]
        assert sorted(env.lines("b")) == ["b got all a", 'b got {"n": 1} a']
        b = env.host.script_by_id("b")
        assert b is not None
        await b.worker.invoke("stop")  # type: ignore[union-attr]
        assert env.lines("b")[-1] == "None"
        assert a.subscriptions == {}


async def test_diagnostics_data(tmp_path: Path) -> None:
    async with hosted(tmp_path) as env:
        await env.run("api.v1.log('x')\napi.v1.error('y')\n")
        diag = env.host.diagnostics("t")
        assert [line.text for line in diag.recent_logs] == ["x", "y"]
        assert [line.text for line in diag.recent_errors] == ["y"]
        assert diag.worker.alive
        assert diag.limits.output.available == 2048
        assert diag.model_dump(mode="json")["limits"]["input"]["capacity"] == 2 * 28672
