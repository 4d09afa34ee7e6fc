"""Escape attempts against a real worker process: each fails with a clear error and leaves the
worker and the host sound (the worker still answers a call afterwards)."""

from __future__ import annotations

import asyncio
import os

import pytest
from test_worker_harness import running, start

from sandbox.process import LoadFailed

OK = "\ndef ok(): return 'ok'\n"


async def probe(body: str) -> list[str]:
    """Run ``body`` in a try block; return what the script logged. The worker must survive."""
    indented = "\n".join("    " + line for line in body.strip().splitlines())
    source = f"try:\n{indented}\n    api.v1.log('ESCAPED')\nexcept Exception as e:\n"
    source += "    api.v1.log('refused', str(e))\n" + OK
    async with running(source) as (worker, host):
        assert await worker.invoke("ok") == "ok"
        assert "ESCAPED" not in host.lines()
        return host.lines()


@pytest.mark.parametrize(
    ("source", "needle"),
    [
        ("x = api.__class__\n", "__class__"),
        ("x = api.v1._conn\n", "_conn"),
        ("x = api.v1.log.__self__\n", "__self__"),
        (
            "try:\n    api.v1.failSync()\nexcept Exception as e:\n    t = e.__traceback__\n",
            "__traceback__",
        ),
        ("import os\n", "os"),
        ("import socket\n", "socket"),
        ("import subprocess\n", "subprocess"),
        ("import threading\n", "threading"),
        ("import sys\n", "sys"),
        ("x = __import__('os')\n", "__import__"),
        ("x = ().__class__.__bases__[0].__subclasses__()\n", "__class__"),
        ("f = open('/etc/passwd')\n", "open()"),
    ],
)
async def test_rejected_at_compile_time_with_the_line(source: str, needle: str) -> None:
    with pytest.raises(LoadFailed) as raised:
        await start(source, name="esc.py")
    assert raised.value.failure is not None
    assert raised.value.failure.kind == "policy"
    assert "esc.py:" in str(raised.value)
    assert needle in str(raised.value)


@pytest.mark.parametrize(
    "body",
    [
        "getattr(api, '__class__')",
        "getattr(api.v1, '_transport')",
        "getattr(api.v1.log, '_transport')",
        "getattr(api.v1.log, '__self__')",
        "api.v1.log.transport",
        "api.v1.transport",
        "api.v1.members",
        "getattr(api.v1.echo(1), '_future')",
        "api.v1.echo(1).future",
        "getattr(getattr(api.v1.echoSync(1), 'bit_length'), '__self__')",
        "getattr(api.v1.log, '__call__')",
        "getattr(api.v1.echo(1), '__await__')",
    ],
)
async def test_reaching_host_objects_at_run_time_is_refused(body: str) -> None:
    lines = await probe(body)
    assert lines
    assert lines[0].startswith("refused ")


async def test_proxies_expose_only_described_names() -> None:
    source = (
        "api.v1.log(dir(api), dir(api.v1.script))\n"
        "w = await api.v1.window.open('t')\n"
        "api.v1.log(dir(w))\n"
        "try:\n    w.target\nexcept Exception as e:\n    api.v1.log('refused', str(e))\n"
        "try:\n    w.title = 'x'\nexcept Exception as e:\n    api.v1.log('refused', str(e))\n"
        "try:\n    api.v1.log = print\nexcept Exception as e:\n    api.v1.log('refused', str(e))\n"
    ) + OK
    async with running(source) as (worker, host):
        lines = host.lines()
        assert lines[0] == "['v1'] ['id', 'name']"
        assert lines[1] == "['close', 'closed', 'isClosed', 'title', 'update']"
        assert lines[2].startswith("refused ")
        assert lines[3].startswith("refused ")
        assert lines[4].startswith("refused ")
        assert await worker.invoke("ok") == "ok"


async def test_exceptions_from_the_host_carry_only_a_message() -> None:
    source = (
        "try:\n    api.v1.failSync('x')\nexcept Exception as e:\n"
        "    api.v1.log(repr(e.args), isinstance(e, ValueError))\n"
        "try:\n    await api.v1.fail('y')\nexcept Exception as e:\n"
        "    api.v1.log(repr(e.args))\n"
    ) + OK
    async with running(source) as (_worker, host):
        assert host.lines() == ["('refused: x',) True", "('refused: y',)"]


async def test_callbacks_come_back_as_the_script_own_function_not_a_wrapper() -> None:
    source = "def cb(): return 1\nback = await api.v1.echo(cb)\napi.v1.log(back is cb)\n" + OK
    async with running(source) as (_worker, host):
        assert host.lines() == ["True"]


async def test_no_host_environment_in_the_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAI_TOKEN", "pst-secret-token-for-the-test")
    async with running(OK) as (worker, _host):
        with open(f"/proc/{worker.pid}/environ", "rb") as handle:
            environ = handle.read()
        assert environ == b""
        assert b"pst-secret" not in environ


async def test_process_is_confined_fds_limits_cwd() -> None:
    async with running(OK) as (worker, _host):
        pid = worker.pid
        fds = os.listdir(f"/proc/{pid}/fd")
        assert len(fds) <= 10, fds
        # fd 1 no longer is the protocol pipe: stray writes land in stderr.
        assert os.readlink(f"/proc/{pid}/fd/1") == os.readlink(f"/proc/{pid}/fd/2")
        assert os.listdir(f"/proc/{pid}/cwd") == []
        with open(f"/proc/{pid}/limits") as handle:
            limits = {line[:26].strip(): line[26:].split() for line in handle.readlines()[1:]}
        assert limits["Max open files"][:2] == ["32", "32"]
        assert limits["Max file size"][:2] == ["0", "0"]
        assert limits["Max core file size"][:2] == ["0", "0"]
        assert limits["Max address space"][0] == str(256 * 1024 * 1024)
        assert limits["Max cpu time"][0] == "600"
        assert await worker.invoke("ok") == "ok"


async def test_forged_paths_are_refused_by_the_host() -> None:
    # A script cannot forge frames, but the host must not trust the worker's paths anyway.
    # type() of a host stand-in is refused too, so the script cannot build one either.
    source = "try:\n    F = type(api.v1.log)\nexcept Exception:\n    F = None\n" + OK
    async with running(source) as (worker, host):
        from sandbox.protocol import ApiCallMessage

        worker._handle(ApiCallMessage(t="api_call", id=999, path="v1.secret", sync=True))
        worker._handle(ApiCallMessage(t="api_call", id=998, path="v1.log", sync=False))
        worker._handle(ApiCallMessage(t="api_call", id=997, remote=42, sync=False))
        await asyncio.gather(*worker._calls)
        assert host.calls == []
        assert await worker.invoke("ok") == "ok"
