"""Host side of one worker: ``ScriptWorker`` spawns it, serves its api calls and watches it.

Everything is async on the host's loop (``asyncio.create_subprocess_exec``, stream readers), so
a worker that hangs, floods or dies never blocks the host or its other workers. A death is
reported once, as an ``ExitReason`` naming the script, through ``on_exit`` and to every call
still waiting on the worker.

Starting a worker (``spawn``), the order of chained invocations (``invoke_order``), answering
an api call (``serving``) and the limits (``watchdog``) live in modules of their own; what is
left is the one class whose state (pending invocations, the outbox, the activation) they share.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sandbox.api_schema import ApiDescription
from sandbox.invoke_order import link_invoke, unlink_invoke
from sandbox.protocol import (
    HEADER,
    WAKING_MESSAGES,
    ApiCall,
    ApiCallMessage,
    CallbackHandle,
    ExitReason,
    Fatal,
    FrameTooLarge,
    Hello,
    InvokeResult,
    Loaded,
    Log,
    ProtocolError,
    ReleaseRemote,
    RemoteRegistry,
    ScriptFailure,
    Status,
    cancel_message,
    encode_frame,
    from_wire,
    invoke_message,
    load_message,
    parse_worker_message,
    reply_message,
    shutdown_message,
    to_wire,
)
from sandbox.rlimits import WorkerLimits
from sandbox.script_log import LogSink, ScriptLog
from sandbox.serving import answer, api_call_of
from sandbox.spawn import HELLO_TIMEOUT as HELLO_TIMEOUT
from sandbox.spawn import WORKER_ARGV, WarmPool, WorkerProcess, read_frame, spawn_worker
from sandbox.watchdog import (
    ActivationWatchdog,
    BoundedTail,
    InvokeTimedOut,
    ProcessCpu,
    classify_death,
    read_rss_bytes,
    time_out_invoke,
    watch_activations,
)
from sandbox.worker_errors import InvokeSkipped, LoadFailed, ScriptFailed, WorkerDied
from sandbox.worker_errors import WorkerError as WorkerError

Handler = Callable[[ApiCall], Awaitable[Any]]
ExitSink = Callable[[ExitReason], None]


class ScriptWorker:
    """One running script. Build with ``await ScriptWorker.start(...)``."""

    def __init__(
        self,
        spawned: WorkerProcess,
        *,
        name: str,
        api: ApiDescription,
        handler: Handler,
        limits: WorkerLimits,
        on_log: LogSink | None,
        on_exit: ExitSink | None,
    ) -> None:
        self.name = name
        self.pid = spawned.pid
        self.memory_limit_mb = 0
        self.exit_reason: ExitReason | None = None
        self._spawned = spawned
        self._proc = spawned.proc
        self._api = api
        self._handler = handler
        self._limits = limits
        self._on_exit = on_exit
        self._remotes = RemoteRegistry(limits.max_remote_objects)
        self._watchdog = ActivationWatchdog(
            cpu_limit=limits.cpu_seconds, wall_limit=limits.wall_seconds
        )
        self._cpu = ProcessCpu(self.pid)
        self._log = ScriptLog(limits, on_log)
        self._stderr = BoundedTail(limits.stderr_tail_bytes)
        self._running = asyncio.Event()
        self._idle = asyncio.Event()
        self._filename: str | None = None
        self._loaded: asyncio.Future[Loaded] = asyncio.get_running_loop().create_future()
        self._invokes: dict[int, asyncio.Future[InvokeResult]] = {}
        self._calls: set[asyncio.Task[None]] = set()
        self._next_invoke = 0
        self._wakes_sent = 0
        self._outbox: list[bytes] = []  # frames sent this loop iteration, written at its end
        self._exited = asyncio.Event()
        self._tasks = [
            asyncio.ensure_future(self._read_loop()),
            asyncio.ensure_future(self._read_stderr()),
            asyncio.ensure_future(self._watch()),
        ]

    @classmethod
    async def start(
        cls,
        *,
        name: str,
        source: str,
        filename: str,
        api: ApiDescription,
        handler: Handler,
        limits: WorkerLimits | None = None,
        on_log: LogSink | None = None,
        on_exit: ExitSink | None = None,
        pool: WarmPool | None = None,
        argv: Sequence[str] = WORKER_ARGV,
    ) -> ScriptWorker:
        """Spawn (or take a warm worker), load the script and run its top level to the end."""
        limits = limits or WorkerLimits()
        try:
            if pool is not None:
                spawned = await pool.take()
            else:
                spawned = await spawn_worker(argv, max_frame_bytes=limits.max_frame_bytes)
        except ProtocolError as error:
            reason = ExitReason(kind="protocol", detail=str(error), script_name=name)
            if on_exit is not None:
                on_exit(reason)
            raise LoadFailed(str(reason), failure=None, reason=reason) from None
        worker = cls(
            spawned,
            name=name,
            api=api,
            handler=handler,
            limits=limits,
            on_log=on_log,
            on_exit=on_exit,
        )
        await worker._load(source, filename)
        return worker

    async def _load(self, source: str, filename: str) -> None:
        self._filename = filename
        message = load_message(
            source=source, filename=filename, api=self._api.tree, limits=self._limits.wire()
        )
        try:
            self._send(message)
        except FrameTooLarge as error:
            await self.shutdown()
            failure = ScriptFailure(kind="policy", message=f"{filename}: the script is {error}")
            raise LoadFailed(failure.message, failure=failure, reason=None) from None
        waiter = asyncio.ensure_future(self._loaded)
        exited: asyncio.Future[Any] = asyncio.ensure_future(self._exited.wait())
        done, _ = await asyncio.wait(
            {waiter, exited},
            timeout=self._limits.load_wall_seconds,
            return_when=asyncio.FIRST_COMPLETED,
        )
        exited.cancel()
        if waiter not in done or waiter.exception() is not None:
            if self.exit_reason is None:
                seconds = self._limits.load_wall_seconds
                self._terminate("wall_clock", f"top level did not finish within {seconds:g} s")
            await self._exited.wait()
            assert self.exit_reason is not None
            raise LoadFailed(str(self.exit_reason), failure=None, reason=self.exit_reason)
        loaded = waiter.result()
        if not loaded.ok:
            await self.shutdown()
            failure = loaded.error or ScriptFailure(kind="internal", message="load failed")
            raise LoadFailed(failure.message, failure=failure, reason=None)
        self.memory_limit_mb = loaded.memory_limit_mb

    # --- public interface -----------------------------------------------------------------

    async def invoke(
        self,
        target: CallbackHandle | str,
        *args: Any,
        then: Sequence[Sequence[Any]] = (),
        timeout: float | None = None,  # noqa: ASYNC109 - the limit also kills the worker
    ) -> Any:
        """Call a script callback (or top-level function by name); its result as plain data.

        ``then``: argument lists to call it with again, in turn, each once the call before has
        returned (none after a raise): one message and one result for several calls, such as
        a stream's last delivery and its closing call. Over ``timeout`` (default
        ``limits.wall_seconds``, for all the calls) the worker is killed (wall_clock);
        cancelling this call cancels the callback in the worker.
        """
        if self.exit_reason is not None:
            raise WorkerDied(self.exit_reason)
        self._next_invoke += 1
        invoke_id = self._next_invoke
        loop = asyncio.get_running_loop()
        future: asyncio.Future[InvokeResult] = loop.create_future()
        self._invokes[invoke_id] = future
        key: int | str = target.id if isinstance(target, CallbackHandle) else target
        after = link_invoke(self, invoke_id)
        more = [to_wire(list(more_args), self._remotes) for more_args in then]
        wire_args = to_wire(list(args), self._remotes)
        try:
            self._send(invoke_message(invoke_id, key, wire_args, after=after, then=more))
        except FrameTooLarge as error:
            # The worker would refuse the frame and hear nothing more; the call fails here.
            self._invokes.pop(invoke_id, None)
            unlink_invoke(invoke_id, after)
            message = f"arguments of {key!r}: {error}"
            raise ScriptFailed(ScriptFailure(kind="internal", message=message)) from None
        limit = self._limits.wall_seconds if timeout is None else timeout
        # A timer on the future itself, not wait_for + shield: no extra tasks per invocation.
        grace = self._limits.poll_interval
        timer = loop.call_later(limit, time_out_invoke, future, loop.time() + limit, grace)
        try:
            result = await future
        except InvokeTimedOut:
            self._terminate("wall_clock", f"callback did not return within {limit:g} s")
            await self._exited.wait()
            assert self.exit_reason is not None
            raise WorkerDied(self.exit_reason) from None
        except asyncio.CancelledError:
            # Our caller gave up: stop the callback in the worker too (it sees CancelledError).
            if self.exit_reason is None:
                self._send(cancel_message(invoke_id))
            raise
        finally:
            timer.cancel()
            self._invokes.pop(invoke_id, None)
        if not result.ok:
            failure = result.error or ScriptFailure(kind="internal", message="failed")
            if failure.kind == "skipped":
                raise InvokeSkipped(failure.message)
            raise ScriptFailed(failure)
        return from_wire(result.value)

    def cancel(self) -> None:
        """Cancel every pending task and call in the worker (the script keeps running)."""
        if self.exit_reason is None:
            self._send(cancel_message(None))

    async def wait_idle(self) -> None:
        """Until the worker reports nothing pending (raises ``WorkerDied`` if it dies)."""
        idle = asyncio.ensure_future(self._idle.wait())
        exited = asyncio.ensure_future(self._exited.wait())
        await asyncio.wait({idle, exited}, return_when=asyncio.FIRST_COMPLETED)
        idle.cancel()
        exited.cancel()
        if not self._idle.is_set() and self.exit_reason is not None:
            raise WorkerDied(self.exit_reason)

    @property
    def is_idle(self) -> bool:
        return self._idle.is_set()

    async def shutdown(self, grace: float = 2.0) -> None:
        """Ask the worker to cancel everything and exit; kill it after ``grace`` seconds."""
        if self._exited.is_set():
            return
        if self.exit_reason is None:
            self.exit_reason = ExitReason(
                kind="shutdown", detail="shut down by the host", script_name=self.name
            )
        with contextlib.suppress(Exception):
            self._send(shutdown_message())
        try:
            await asyncio.wait_for(self._exited.wait(), grace)
        except TimeoutError:
            self._kill_process()
            await self._exited.wait()

    def kill(self) -> None:
        """Stop the worker at once (SIGKILL); ``exit_reason`` becomes ``shutdown``."""
        self._terminate("shutdown", "killed by the host")

    async def wait_closed(self) -> ExitReason:
        await self._exited.wait()
        assert self.exit_reason is not None
        return self.exit_reason

    @property
    def cpu_seconds(self) -> float | None:
        return self._cpu.read()

    @property
    def remote_objects(self) -> int:
        """Host objects the script may still hold a proxy for (``RemoteRegistry``)."""
        return len(self._remotes)

    def check_remote_room(self) -> None:
        """Raise ``TooManyRemoteObjects`` if the script may not be handed one more."""
        self._remotes.check_room()

    @property
    def rss_bytes(self) -> int | None:
        return read_rss_bytes(self.pid)

    def write_log(self, level: str, text: str) -> None:
        """A line the script logged through the host's API (``api.v1.log``): bounded like its
        printed lines (cut to ``log_line_bytes``, rate-limited, drops reported)."""
        self._log.write(level, text)

    @property
    def log_lines_dropped(self) -> int:
        return self._log.dropped_total

    # --- internals ------------------------------------------------------------------------

    def _send(self, message: dict[str, Any]) -> None:
        """Queue a frame; the frames of one loop iteration go in one write at its end, except
        that a reply writes at once, with what is queued before it: it is what the script waits
        for, and work deferred to the iteration's end (a generation's settle) must not delay
        it. So a generation's last delivery, closing callback and reply wake the worker once."""
        if self._proc.stdin is None or self._proc.stdin.is_closing():
            return
        # Encoded (and checked) before the watchdog starts: encoding a large value is the
        # host's time, and a refused frame must not count as a wake the worker never sees.
        frame = encode_frame(message)
        size, limit = len(frame) - HEADER.size, self._limits.max_frame_bytes
        if size > limit:
            raise FrameTooLarge(f"{size} bytes; one message to a script may carry at most {limit}")
        if message["t"] in WAKING_MESSAGES:
            self._wakes_sent += 1
            self._idle.clear()
            self._watchdog.start()
            self._running.set()
        self._outbox.append(frame)
        if message["t"] == "reply":
            self._flush()  # a flush already scheduled finds the outbox empty
        elif len(self._outbox) == 1:
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        frames, self._outbox = self._outbox, []
        if frames and self._proc.stdin is not None and not self._proc.stdin.is_closing():
            self._proc.stdin.write(b"".join(frames))

    def _terminate(self, kind: str, detail: str) -> None:
        if self.exit_reason is None:
            self.exit_reason = ExitReason.model_validate(
                {"kind": kind, "detail": detail, "script_name": self.name}
            )
        self._kill_process()

    def _kill_process(self) -> None:
        """SIGKILL the worker, by pid. Not ``Process.kill``: its ``Popen.send_signal`` polls
        first, and a worker exiting on its own (after a ``fatal`` frame) is then reaped there,
        under asyncio's child watcher, which logs "Unknown child process pid ..." on stderr
        (a second line where ``run`` promises one). Until the watcher reaps it, the pid stays
        the worker's (a zombie at worst); only a pid reused in the instant between the
        watcher's reap and its report could be hit, as before Python added that poll."""
        if self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)

    async def _read_loop(self) -> None:
        assert self._proc.stdout is not None
        try:
            while True:
                payload = await read_frame(self._proc.stdout, self._limits.max_frame_bytes)
                self._handle(parse_worker_message(payload))
        except asyncio.IncompleteReadError as cut:
            if cut.partial:
                self._terminate("protocol", "worker closed the pipe mid-frame header")
        except ProtocolError as error:
            self._terminate("protocol", str(error))
            # Read the killed worker's pipe to its end: unread, a paused pipe never reports
            # its close, and ``wait`` (which waits for the pipes too) would never return.
            while await self._proc.stdout.read(1 << 16):
                pass
        await self._proc.wait()
        self._finish()

    def _handle(self, message: Any) -> None:
        if isinstance(message, ApiCallMessage):
            if message.sync:
                self._blocked(message.seen)
            limit = self._limits.max_pending_calls
            if len(self._calls) >= limit:
                refusal = (
                    f"too many api calls pending (limit {limit}): await some before starting more"
                )
                self._send(reply_message(message.id, error=refusal))
                return
            # Resolved now, in frame order: a release the worker sent after this call must not
            # drop an object the call refers to before the call is served.
            try:
                call: ApiCall | Exception = api_call_of(
                    message, script_name=self.name, api=self._api, remotes=self._remotes
                )
            except Exception as error:
                call = error
            task = asyncio.ensure_future(self._serve(message, call))
            self._calls.add(task)
            task.add_done_callback(self._calls.discard)
        elif isinstance(message, Status):
            self._log.report_drops()
            if self._blocked(message.seen) and message.t == "idle":
                self._idle.set()
        elif isinstance(message, InvokeResult):
            future = self._invokes.get(message.id)
            if future is not None and not future.done():
                future.set_result(message)
        elif isinstance(message, Log):
            self._log.write(message.level, message.text)
        elif isinstance(message, Loaded):
            if self._loaded.done():
                raise ProtocolError("worker sent a second 'loaded'")
            self._loaded.set_result(message)
        elif isinstance(message, Fatal):
            self._terminate(message.kind if message.kind == "memory" else "crashed", message.detail)
        elif isinstance(message, ReleaseRemote):
            for remote_id, proxies_made in message.ids:
                self._remotes.release(remote_id, proxies_made)
        elif isinstance(message, Hello):
            raise ProtocolError("worker sent a second hello")

    def _blocked(self, seen: int) -> bool:
        """The worker blocked; ignored if it has not yet handled everything we sent since."""
        if seen < self._wakes_sent:
            return False
        self._watchdog.stop()
        self._running.clear()
        return True

    async def _serve(self, message: ApiCallMessage, call: ApiCall | Exception) -> None:
        reply = await answer(self, message, call, self._handler, self._remotes)
        if self.exit_reason is None:
            try:
                self._send(reply)
            except FrameTooLarge as error:
                # A result larger than its call (tokens of megabytes of text): the script's
                # error, not a frame the worker refuses and then waits for ever behind.
                what = message.path or f"remote method {message.method}"
                text = f"{what}: the result is {error}"
                refusal = reply_message(message.id, error=text, error_type="ValueError")
                refusal.update({"after": reply["after"]} if "after" in reply else {})
                self._send(refusal)

    async def _read_stderr(self) -> None:
        assert self._proc.stderr is not None
        while chunk := await self._proc.stderr.read(4096):
            self._stderr.feed(chunk)

    async def _watch(self) -> None:
        alive: Callable[[], bool] = lambda: self._proc.returncode is None  # noqa: E731
        interval = self._limits.poll_interval
        breach = await watch_activations(self._watchdog, self._running, self._cpu, alive, interval)
        if breach is not None:
            self._terminate(breach.kind, breach.detail)

    def _finish(self) -> None:
        if self._exited.is_set():
            return
        if self.exit_reason is None:
            stderr = self._stderr.text(max_lines=None)
            kind, detail = classify_death(self._proc.returncode, stderr, self._filename)
            self.exit_reason = ExitReason.model_validate(
                {"kind": kind, "detail": detail, "script_name": self.name}
            )
        reason = self.exit_reason
        for future in self._invokes.values():
            if not future.done():
                future.set_exception(WorkerDied(reason))
                future.exception()  # its caller may have gone (cancelled); no "never retrieved"
        if not self._loaded.done():
            self._loaded.set_exception(WorkerDied(reason))
            self._loaded.exception()
        for task in [*self._calls, *self._tasks]:
            if task is not asyncio.current_task():
                task.cancel()
        self._log.report_drops()
        self._cpu.close()
        self._exited.set()
        shutil.rmtree(self._spawned.workdir, ignore_errors=True)
        if self._on_exit is not None:
            self._on_exit(reason)
