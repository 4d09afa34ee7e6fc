"""The worker process: runs one untrusted script and carries its api calls to the host.

Started as ``python -I -B -m sandbox.worker`` with an empty environment. Frames arrive on
stdin and leave on stdout; both are moved to private descriptors at start so stray writes to
fd 1 land in stderr instead of corrupting the protocol. Script code runs on an asyncio loop
whose selector reports, just before the loop would block, whether anything is pending
(``idle``) or not (``wait``): that is how the host's watchdog knows the script stopped running.

Start-up time is the cold-start budget, so nothing on this module's import path may import
pydantic (or YAML, unless the script has a header): ``sandbox.wire``, ``compile_for_worker``
and ``sandbox.worker_rlimits`` are the pydantic-free halves of their host-side counterparts.

The pipe (``worker_pipe``), the loop (``worker_loop``) and calling script code
(``script_run``) are modules of their own; the ``Worker`` class left here dispatches the host's
messages, runs invocations in their chains and carries the script's api calls, which share
its state.
"""

from __future__ import annotations

import asyncio
import faulthandler
import inspect
import os
import sys
from collections.abc import AsyncGenerator, Callable
from typing import Any

from sandbox.compiler import compile_for_worker
from sandbox.errors import PolicyError
from sandbox.frontmatter import HeaderError
from sandbox.proxy import (
    ApiNamespace,
    CallbackRegistry,
    PendingCall,
    RemoteProxy,
    RemoteRefs,
    build_api,
    decode_from_host,
    drive_script,
    encode_for_host,
    script_error,
)
from sandbox.runtime import make_globals, run_compiled
from sandbox.script_run import call_in_turn, driven, script_location
from sandbox.wire import PROTOCOL_VERSION, WAKING_MESSAGES, FrameTooLarge, encode_frame
from sandbox.worker_loop import BlockAwareSelector, WorkerLoop
from sandbox.worker_pipe import WorkerPipe
from sandbox.worker_rlimits import apply_worker_rlimits, memory_mb_within

MEMORY_EXIT_CODE = 70
#: How many failed invocation ids the worker remembers for ``after`` (chains are short-lived).
_FAILED_IDS_KEPT = 256
#: Released host objects reported per frame (a script dropping a million proxies at once must
#: not make one frame past the host's limit).
_RELEASES_PER_FRAME = 10_000


class Worker:
    def __init__(self, in_fd: int, out_fd: int) -> None:
        self._pipe = WorkerPipe(in_fd, out_fd)
        self._backlog: list[dict[str, Any]] = []
        self._callbacks = CallbackRegistry()
        self._next_call = 0
        self._calls: dict[int, tuple[asyncio.Future[Any], str]] = {}
        self._tasks: dict[asyncio.Task[Any], int | None] = {}
        # Chained invocations (``after``): those waiting on a running one, and recent failures.
        self._deferred: dict[int, list[dict[str, Any]]] = {}
        self._failed_invokes: dict[int, None] = {}
        self._woken = False
        self._seen = 0
        self._remote_refs = RemoteRefs()  # host objects' proxies (``adopt_remote``)
        self._filename = "script.py"
        self._globals: dict[str, Any] = {}
        self._loaded = False
        self._max_log_chars = 4096
        self._selector = BlockAwareSelector(self._before_select)
        self.loop = WorkerLoop(self._selector, self._close_abandoned)
        self.loop.set_exception_handler(self._on_loop_error)

    # --- pipe (``WorkerPipe``) --------------------------------------------------------------

    def send(self, message: dict[str, Any]) -> None:
        """Write now (after anything queued by ``send_soon``, which keeps its order)."""
        self._pipe.send(message)

    def send_soon(self, message: dict[str, Any]) -> None:
        """Queue a frame until the loop is about to wait, or it has been queued ``HOLD_S``
        (``_before_select``), or something is written at once (``WorkerPipe.send_soon``)."""
        self._pipe.send_soon(message)

    def _on_readable(self) -> None:
        self._backlog.extend(self._pipe.read(wait=False))
        self._drain_backlog()

    def _drain_backlog(self) -> None:
        while self._backlog:
            self._woken = True
            self._dispatch(self._backlog.pop(0))

    def _before_select(self, blocking: bool) -> None:
        """Once per loop iteration: if the loop is about to block, send what is queued and,
        after being woken, the status frame that pauses the host's watchdog; if it is not,
        send what is queued only once it has waited ``HOLD_S``."""
        self._queue_releases()
        if blocking and self._woken:
            self._woken = False
            busy = bool(self._tasks) or bool(self._calls)
            self._pipe.queue(encode_frame({"t": "wait" if busy else "idle", "seen": self._seen}))
        self._pipe.flush_held(blocking)

    def _queue_releases(self) -> None:
        """Queue the ids of host objects the script holds no proxy for any more (in frames of
        bounded size). Also done before each api call: the host then counts them gone before
        it serves the call, which may make a new one (``max_remote_objects``)."""
        released = self._remote_refs.take_released()
        for start in range(0, len(released), _RELEASES_PER_FRAME):
            ids = released[start : start + _RELEASES_PER_FRAME]
            self._pipe.queue(encode_frame({"t": "release_remote", "ids": ids}))

    # --- host -> worker -------------------------------------------------------------------

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message.get("t")
        if kind in WAKING_MESSAGES:
            self._seen += 1
        if kind == "reply":
            self._on_reply(message)
        elif kind == "invoke":
            self._on_invoke(message)
        elif kind == "load":
            self._on_load(message)
        elif kind == "cancel":
            self._cancel(message.get("id"))
        elif kind == "shutdown":
            self._cancel(None)
            self.loop.stop()

    def _on_reply(self, message: dict[str, Any]) -> None:
        after = message.get("after")
        if type(after) is int and after in self._deferred:
            self._deferred[after].append(message)  # handled once that invocation finished
            return
        entry = self._calls.pop(int(message["id"]), None)
        if entry is None or entry[0].done():
            return
        future, _ = entry
        if message.get("ok"):
            future.set_result(decode_from_host(message.get("value"), self._callbacks, self))
        else:
            error = script_error(str(message.get("etype")), str(message.get("error")))
            future.set_exception(error)

    def _on_load(self, message: dict[str, Any]) -> None:
        if self._loaded:
            return
        self._loaded = True
        self._filename = str(message["filename"])
        limits = dict(message["limits"])
        self._pipe.decoder.max_frame_bytes = int(limits["max_frame_bytes"])
        self._max_log_chars = int(limits["log_line_bytes"]) + 1
        try:
            compiled, requested = compile_for_worker(str(message["source"]), self._filename)
        except HeaderError as error:
            failure = {"kind": "policy", "message": str(error), "problems": [str(error)]}
            self.send({"t": "loaded", "ok": False, "error": failure})
            return
        except PolicyError as error:
            problems = [str(problem) for problem in error.problems]
            failure = {"kind": "policy", "message": "\n".join(problems), "problems": problems}
            self.send({"t": "loaded", "ok": False, "error": failure})
            return
        except Exception as error:
            self.send({"t": "loaded", "ok": False, "error": self._failure(error)})
            return
        memory_mb = memory_mb_within(
            requested, int(limits["memory_default_mb"]), int(limits["memory_ceiling_mb"])
        )
        api: ApiNamespace = build_api(dict(message["api"]), self)
        self._globals = make_globals(api, print_sink=self._print, script_name=self._filename)
        apply_worker_rlimits(limits, memory_mb)

        def finish(error: BaseException | None) -> None:
            if error is None:
                self.send({"t": "loaded", "ok": True, "memory_limit_mb": memory_mb})
            else:
                self.send({"t": "loaded", "ok": False, "error": self._failure(error)})

        self._run(lambda: driven(run_compiled(compiled, self._globals)), None, finish)

    def _on_invoke(self, message: dict[str, Any]) -> None:
        """Run an invocation; one with ``after`` runs once that one has returned, and is
        skipped (never called) if it raised: the host can send it without awaiting."""
        invoke_id = int(message["id"])
        after = message.get("after")
        # ``_deferred`` has an entry for every invocation not yet finished, started or not.
        self._deferred.setdefault(invoke_id, [])
        if type(after) is int:
            if after in self._deferred:
                self._deferred[after].append(message)
                return
            if after in self._failed_invokes:
                skipped = {"kind": "skipped", "message": "an earlier call in its chain failed"}
                self.send_soon(
                    {"t": "invoke_result", "id": invoke_id, "ok": False, "error": skipped}
                )
                self._invoke_done(invoke_id, failed=True)
                return
        self._start_invoke(invoke_id, message)

    def _remember_failure(self, invoke_id: int) -> None:
        self._failed_invokes[invoke_id] = None
        if len(self._failed_invokes) > _FAILED_IDS_KEPT:
            del self._failed_invokes[next(iter(self._failed_invokes))]

    def _invoke_done(self, invoke_id: int, failed: bool) -> None:
        if failed:
            self._remember_failure(invoke_id)
        for waiting in self._deferred.pop(invoke_id, []):
            if waiting["t"] == "reply":
                self._on_reply(waiting)
            else:
                self._on_invoke(waiting)

    def _start_invoke(self, invoke_id: int, message: dict[str, Any]) -> None:
        target = message["target"]
        fn = self._callbacks.get(target) if isinstance(target, int) else None
        if isinstance(target, str):
            candidate = self._globals.get(target)
            fn = candidate if callable(candidate) and not target.startswith("_") else None
        if fn is None:
            error = {"kind": "internal", "message": f"no callback or function {target!r}"}
            self.send({"t": "invoke_result", "id": invoke_id, "ok": False, "error": error})
            self._invoke_done(invoke_id, failed=True)
            return
        calls = [message.get("args", []), *message.get("then", [])]
        arg_lists = [[decode_from_host(a, self._callbacks, self) for a in args] for args in calls]
        holder: dict[str, Any] = {}

        def finish(error: BaseException | None) -> None:
            if error is None:
                try:
                    value = encode_for_host(holder.get("value"), self._callbacks, "return value")
                    result = {"t": "invoke_result", "id": invoke_id, "ok": True, "value": value}
                    self.send_soon(result)
                except TypeError as exc:
                    error = exc
                except (FrameTooLarge, ValueError) as exc:
                    # Over the frame limit, or an int too long for JSON (``10 ** 5000``): the
                    # invocation fails; unanswered, the host waited for its wall-clock limit.
                    error = ValueError(f"return value: {exc}")
                else:
                    self._invoke_done(invoke_id, failed=False)
                    return
            failure = self._failure(error)
            self.send_soon({"t": "invoke_result", "id": invoke_id, "ok": False, "error": failure})
            self._invoke_done(invoke_id, failed=True)

        self._run(lambda: call_in_turn(fn, arg_lists), invoke_id, finish, holder)

    def _run(
        self,
        start: Callable[[], Any],
        invoke_id: int | None,
        finish: Callable[[BaseException | None], None],
        holder: dict[str, Any] | None = None,
    ) -> None:
        """Run script code now; if it returns the worker's coroutine driving a script awaitable
        (``driven``, ``call_in_turn``), run that as a task to ``finish``."""
        try:
            result = start()
        except BaseException as error:
            self._check_fatal(error)
            finish(error)
            return
        if not inspect.iscoroutine(result):
            if holder is not None:
                holder["value"] = result
            finish(None)
            return

        task = self.loop.create_task(result)
        self._tasks[task] = invoke_id

        def done(task: asyncio.Task[Any]) -> None:
            self._tasks.pop(task, None)
            if task.cancelled():
                finish(asyncio.CancelledError("cancelled by the host"))
                return
            error = task.exception()
            if error is not None:
                self._check_fatal(error)
            elif holder is not None:
                holder["value"] = task.result()
            finish(error)

        task.add_done_callback(done)

    def _close_abandoned(self, agen: AsyncGenerator[Any, Any]) -> None:
        """Run the ``finally`` of an async generator the script dropped mid-iteration, as
        asyncio would (on a task of its own, counted as pending work); a failure goes to the
        script's error log, as an un-awaited call's does."""

        def finish(error: BaseException | None) -> None:
            if error is not None and not isinstance(error, asyncio.CancelledError):
                where = script_location(error, self._filename)
                text = f"closing an abandoned async generator failed: {where}"
                self.send({"t": "log", "level": "error", "text": text})

        self._run(lambda: drive_script(agen.aclose()), None, finish)

    def _cancel(self, invoke_id: int | None) -> None:
        unstarted: list[dict[str, Any]] = []
        for waiting in self._deferred.values():
            unstarted += [
                m
                for m in waiting
                if m["t"] == "invoke" and (invoke_id is None or m["id"] == invoke_id)
            ]
            waiting[:] = [m for m in waiting if m not in unstarted]
        for message in unstarted:  # never started: each ends cancelled, uncalled
            failure = self._failure(asyncio.CancelledError())
            reply = {"t": "invoke_result", "id": message["id"], "ok": False, "error": failure}
            self.send_soon(reply)
            self._invoke_done(int(message["id"]), failed=True)
        for task, owner in list(self._tasks.items()):
            if invoke_id is None or owner == invoke_id:
                task.cancel()
        if invoke_id is None:
            for future, _ in self._calls.values():
                future.cancel()
            self._calls.clear()

    def _failure(self, error: BaseException) -> dict[str, Any]:
        if isinstance(error, asyncio.CancelledError):
            return {"kind": "cancelled", "message": f"{self._filename}: cancelled"}
        return {"kind": "exception", "message": script_location(error, self._filename)}

    def _on_loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """Memory running out in the worker's own code (encoding a result when the script has
        kept nearly all of it) ends the worker for memory at once; left to asyncio's default
        handler, the invocation went unanswered until the host's wall-clock limit."""
        error = context.get("exception")
        if isinstance(error, MemoryError):
            self._check_fatal(error)
        loop.default_exception_handler(context)

    def _check_fatal(self, error: BaseException) -> None:
        if isinstance(error, MemoryError):
            detail = script_location(error, self._filename)
            try:
                self.send({"t": "fatal", "kind": "memory", "detail": detail})
            finally:
                os._exit(MEMORY_EXIT_CODE)

    # --- worker -> host (the proxies' Transport) ------------------------------------------

    def call_api(
        self,
        *,
        path: str,
        remote: int | None,
        method: str,
        sync: bool,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        what = path or f"remote {remote}.{method}"
        plain_args = encode_for_host(list(args), self._callbacks, f"{what} arguments")
        plain_kwargs = encode_for_host(kwargs, self._callbacks, f"{what} keyword arguments")
        self._next_call += 1
        call_id = self._next_call
        message = {"t": "api_call", "id": call_id, "sync": sync, "args": plain_args}
        if plain_kwargs:
            message["keywords"] = plain_kwargs
        if remote is None:
            message["path"] = path
        else:
            message["remote"] = remote
            message["method"] = method
        if sync:
            message["seen"] = self._seen
        try:
            frame = self._pipe.frame(message)
        except FrameTooLarge as exc:
            raise ValueError(f"{what}: {exc}") from None
        self._queue_releases()
        if sync:
            return self._call_sync(call_id, frame)
        future: asyncio.Future[Any] = self.loop.create_future()
        self._calls[call_id] = (future, what)
        # A cancelled await (its task was cancelled) no longer counts as pending work.
        future.add_done_callback(lambda done: self._calls.pop(call_id, None))
        # Written at once, with whatever is held (an invocation's result made just before):
        # the script may compute for a while before it awaits, and the call must not wait.
        self._pipe.send_frame(frame)
        return PendingCall(future, what, self)

    def _call_sync(self, call_id: int, frame: bytes) -> Any:
        """Block on the pipe for this call's reply; queue every other frame for later."""
        self._pipe.send_frame(frame)
        reply: dict[str, Any] | None = None
        while reply is None:
            # One read may carry the reply and later frames: keep every other frame, in order.
            for incoming in self._pipe.read(wait=True):
                if reply is None and incoming.get("t") == "reply" and incoming.get("id") == call_id:
                    reply = incoming
                else:
                    self._backlog.append(incoming)
        self._seen += 1
        self._woken = True
        if self._backlog:
            self.loop.call_soon(self._drain_backlog)
        if reply.get("ok"):
            return decode_from_host(reply.get("value"), self._callbacks, self)
        raise script_error(str(reply.get("etype")), str(reply.get("error")))

    def adopt_remote(self, proxy: RemoteProxy, remote: int) -> None:
        self._remote_refs.adopt(proxy, remote)

    def report_unawaited_failure(self, what: str, error: BaseException) -> None:
        self.send({"t": "log", "level": "error", "text": f"{what} failed (not awaited): {error}"})

    def _print(self, text: str) -> None:
        # The host cuts lines precisely; cutting here first keeps a flood cheap for the pipe.
        text = text.rstrip("\n")[: self._max_log_chars]
        self.send({"t": "log", "level": "log", "text": text})

    # --- main -----------------------------------------------------------------------------

    def run(self) -> None:
        self.send({"t": "hello", "version": PROTOCOL_VERSION, "pid": os.getpid()})
        self.loop.add_reader(self._pipe.in_fd, self._on_readable)
        self.loop.run_forever()
        self._pipe.flush()


def main() -> None:
    in_fd, out_fd = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(2, 1)  # anything printed to fd 1 goes to the bounded stderr, not the protocol
    os.close(null)
    sys.stdout = sys.stderr
    # A C stack overflow (hash() of a tuple nested 300,000 deep, next() through as many nested
    # map objects: C code recursing without a depth check) kills the worker with SIGSEGV
    # whatever the limits, since the nesting fits in memory long before the stack holds its
    # recursion. faulthandler prints the Python stack it faulted in to stderr, on a stack of
    # its own, so the host can name the script's line.
    faulthandler.enable(file=sys.stderr)
    worker = Worker(in_fd, out_fd)
    try:
        worker.run()
    except MemoryError:
        os.write(2, b"MemoryError: the worker ran out of memory outside the script\n")
        os._exit(MEMORY_EXIT_CODE)
    os._exit(0)


if __name__ == "__main__":
    main()
