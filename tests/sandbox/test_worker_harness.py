"""Shared helpers for the process-level sandbox suites (no tests here).

A small host API with the shapes the real host uses (sync and async functions, a constant, a
remote window object) served by a recording handler, and ``running`` to start a real worker
process with small limits and always stop it afterwards. For the in-process worker suites,
``make_worker`` and ``one_read`` drive a ``Worker`` over real OS pipes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from sandbox.api_schema import ASYNC, SYNC, ApiDescription, Value
from sandbox.process import ScriptWorker
from sandbox.protocol import (
    ApiCall,
    CallbackHandle,
    ExitReason,
    FrameDecoder,
    RemoteObject,
    decode_payload,
)
from sandbox.rlimits import WorkerLimits
from sandbox.worker import Worker

API = ApiDescription.from_tree(
    {
        "v1": {
            "log": SYNC,
            "error": SYNC,
            "uuid": SYNC,
            "echo": ASYNC,
            "echoSync": SYNC,
            "fail": ASYNC,
            "failSync": SYNC,
            "sleep": ASYNC,
            "never": ASYNC,
            "register": SYNC,
            "window": {"open": ASYNC},
            "script": {"id": Value(value="abc"), "name": Value(value="Test")},
        }
    }
)

FAST = WorkerLimits(
    cpu_seconds=0.5,
    wall_seconds=3.0,
    load_wall_seconds=3.0,
    poll_interval=0.02,
    log_lines_per_second=50,
    log_burst=20,
)


@dataclass
class Window:
    updates: list[Any] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class FakeHost:
    logs: list[tuple[str, str]] = field(default_factory=list)
    calls: list[ApiCall] = field(default_factory=list)
    callbacks: dict[str, CallbackHandle] = field(default_factory=dict)
    windows: list[Window] = field(default_factory=list)
    exits: list[ExitReason] = field(default_factory=list)
    counter: int = 0

    def on_log(self, level: str, text: str) -> None:
        self.logs.append((level, text))

    def lines(self, level: str = "log") -> list[str]:
        return [text for lvl, text in self.logs if lvl == level]

    async def handle(self, call: ApiCall) -> Any:
        self.calls.append(call)
        if call.remote is not None:
            window: Window = call.remote.target
            if call.method == "update":
                window.updates.append(call.args[0])
                return None
            if call.method == "close":
                window.closed.set()
                return None
            if call.method == "isClosed":
                return window.closed.is_set()
            if call.method == "closed":
                await window.closed.wait()
                return True
            raise ValueError(f"no method {call.method}")
        name = call.path.removeprefix("v1.")
        if name in ("log", "error"):
            self.logs.append((name, " ".join(str(arg) for arg in call.args)))
            return None
        if name == "uuid":
            self.counter += 1
            return f"id-{self.counter}"
        if name in ("echo", "echoSync"):
            return call.args[0] if call.args else call.kwargs
        if name in ("fail", "failSync"):
            raise ValueError(f"refused: {call.args[0] if call.args else ''}")
        if name == "sleep":
            await asyncio.sleep(call.args[0])
            return None
        if name == "never":
            await asyncio.Event().wait()
        if name == "register":
            self.callbacks[call.args[0]] = call.args[1]
            return None
        if name == "window.open":
            window = Window()
            self.windows.append(window)
            return RemoteObject(
                target=window,
                methods={"update": "async", "close": "async", "isClosed": "sync"},
                awaitables=("closed",),
                values={"title": call.args[0] if call.args else ""},
            )
        raise ValueError(f"unexpected call {call.path}")


async def start(
    source: str, *, host: FakeHost | None = None, limits: WorkerLimits = FAST, name: str = "s.py"
) -> tuple[ScriptWorker, FakeHost]:
    host = host or FakeHost()
    worker = await ScriptWorker.start(
        name=name,
        source=source,
        filename=name,
        api=API,
        handler=host.handle,
        limits=limits,
        on_log=host.on_log,
        on_exit=host.exits.append,
    )
    return worker, host


@contextlib.asynccontextmanager
async def running(
    source: str, *, host: FakeHost | None = None, limits: WorkerLimits = FAST, name: str = "s.py"
) -> AsyncIterator[tuple[ScriptWorker, FakeHost]]:
    worker, host = await start(source, host=host, limits=limits, name=name)
    try:
        yield worker, host
    finally:
        await worker.shutdown(grace=1.0)


def process_gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ")[1].startswith("Z")
    except FileNotFoundError:
        return True
    except OSError:
        return not os.path.exists(f"/proc/{pid}")


def make_worker() -> tuple[Worker, int, int]:
    """An in-process worker on fresh pipes: (worker, host's write end, host's read end)."""
    to_worker_r, to_worker_w = os.pipe()
    from_worker_r, from_worker_w = os.pipe()
    return Worker(to_worker_r, from_worker_w), to_worker_w, from_worker_r


def one_read(fd: int) -> list[dict[str, object]]:
    """The frames of a single read: what one host wake-up would see."""
    os.set_blocking(fd, False)
    try:
        data = os.read(fd, 1 << 20)
    except BlockingIOError:
        return []
    return [decode_payload(p) for p in FrameDecoder().feed(data)]
