"""Starting worker processes: ``spawn_worker`` (one fresh process) and ``WarmPool`` (spares).

Kept apart from ``sandbox.process`` (which serves a running worker) because starting is its own
concern: an empty environment and directory, a checked ``hello``, and a pool of pre-started
processes so a script need not wait for interpreter start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass

from sandbox.protocol import HEADER, PROTOCOL_VERSION, Hello, ProtocolError, parse_worker_message

WORKER_ARGV: tuple[str, ...] = (sys.executable, "-I", "-B", "-m", "sandbox.worker")
HELLO_TIMEOUT = 10.0


@dataclass
class WorkerProcess:
    """A spawned worker that has said hello with the right protocol version."""

    proc: asyncio.subprocess.Process
    workdir: str
    pid: int


async def read_frame(stream: asyncio.StreamReader, max_bytes: int) -> bytes:
    """One frame's payload; an oversize or cut frame is a ``ProtocolError``."""
    header = await stream.readexactly(HEADER.size)
    (length,) = HEADER.unpack(header)
    if length > max_bytes:
        raise ProtocolError(f"frame of {length} bytes exceeds the limit of {max_bytes} bytes")
    try:
        return await stream.readexactly(length)
    except asyncio.IncompleteReadError as cut:
        raise ProtocolError(
            f"worker closed the pipe mid-frame ({len(cut.partial)} of {length} bytes)"
        ) from None


async def spawn_worker(argv: Sequence[str] = WORKER_ARGV, *, max_frame_bytes: int) -> WorkerProcess:
    """Start a worker with an empty environment in an empty directory; check its hello."""
    workdir = tempfile.mkdtemp(prefix="nai-worker-")
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={},
        cwd=workdir,
        close_fds=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    try:
        payload = await asyncio.wait_for(read_frame(proc.stdout, max_frame_bytes), HELLO_TIMEOUT)
        hello = parse_worker_message(payload)
        if not isinstance(hello, Hello):
            raise ProtocolError(f"worker spoke {hello.t!r} before hello")
        if hello.version != PROTOCOL_VERSION:
            raise ProtocolError(
                f"worker speaks protocol version {hello.version}, host speaks {PROTOCOL_VERSION}"
            )
    except (ProtocolError, asyncio.IncompleteReadError, TimeoutError) as error:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        stderr = b""
        if proc.stderr is not None:
            with contextlib.suppress(Exception):
                stderr = await asyncio.wait_for(proc.stderr.read(4096), 1.0)
        await proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)
        if isinstance(error, ProtocolError):
            raise
        detail = "no hello from the worker" if isinstance(error, TimeoutError) else "worker exited"
        tail = stderr.decode("utf-8", "replace").strip()
        message = f"{detail} before hello" + (f"; stderr:\n{tail}" if tail else "")
        raise ProtocolError(message) from None
    return WorkerProcess(proc, workdir, proc.pid)


class WarmPool:
    """Keeps ``size`` spawned workers ready so a script starts without interpreter start-up."""

    def __init__(
        self, size: int = 1, argv: Sequence[str] = WORKER_ARGV, max_frame_bytes: int = 1 << 24
    ):
        self.size = size
        self._argv = tuple(argv)
        self._max_frame_bytes = max_frame_bytes
        self._ready: list[asyncio.Task[WorkerProcess]] = []

    def _fill(self) -> None:
        while len(self._ready) < self.size:
            coro = spawn_worker(self._argv, max_frame_bytes=self._max_frame_bytes)
            self._ready.append(asyncio.ensure_future(coro))

    async def take(self) -> WorkerProcess:
        self._fill()
        task = self._ready.pop(0)
        self._fill()
        return await task

    async def close(self) -> None:
        tasks, self._ready = self._ready, []
        for task in tasks:
            with contextlib.suppress(Exception):
                spawned = await task
                spawned.proc.kill()
                await spawned.proc.wait()
                shutil.rmtree(spawned.workdir, ignore_errors=True)
