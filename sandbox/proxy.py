"""Worker-side stand-ins for the host's API: namespaces, functions, remote objects, callbacks.

Everything here is handed to untrusted code, so each class keeps its state in underscore slots
(the policy's guards refuse underscore names) and exposes as public attributes only the names
the API description lists. Errors raised into a script are plain exceptions carrying a message.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Generator
from typing import Any, Protocol

from sandbox.api_kinds import DISPLAY, KINDS, blocks
from sandbox.values import JSObject, from_script_value, shown, to_script_value
from sandbox.wire import escape_wrapper, unpack_ints

#: Wire types a script sees as they are (a list holding only these needs no conversion).
_SCALARS = frozenset({int, str, float, bool, type(None)})


class ApiError(Exception):
    """An api call failed on the host; carries only the host's message."""


_SCRIPT_ERRORS: dict[str, type[Exception]] = {
    "ApiError": ApiError,
    "TypeError": TypeError,
    "ValueError": ValueError,
}


def script_error(error_type: str, message: str) -> Exception:
    """Build the exception a script sees for a host-side failure (no host objects inside)."""
    return _SCRIPT_ERRORS.get(error_type, ApiError)(message)


class Transport(Protocol):
    """What the proxies need from the worker: send a call, get a value or a pending call."""

    def call_api(
        self,
        *,
        path: str,
        remote: int | None,
        method: str,
        sync: bool,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any: ...

    def report_unawaited_failure(self, what: str, error: BaseException) -> None: ...

    def adopt_remote(self, proxy: RemoteProxy, remote: int) -> None:
        """A proxy for host object ``remote`` was made (the worker tells the host when the
        last one is gone, so the host can drop the object)."""


class Suspension:
    """What awaiting a pending call hands to whoever steps the awaiting coroutine: an opaque
    token naming the call, never its asyncio future.

    A script can step its own coroutines by hand (``co().send(None)``, ``next(anext(agen))``),
    and then receives what the innermost ``await`` yields. The future itself handed out the
    event loop (``get_loop()``) and with it subprocesses; only :func:`drive_script` reads the
    future back out of the token (its slot is private, and ``type()`` refuses host classes).
    """

    __slots__ = ("_future", "_what")

    def __init__(self, future: asyncio.Future[Any], what: str) -> None:
        self._future = future
        self._what = what

    def __repr__(self) -> str:
        return f"<pending {self._what}>"


class PendingCall:
    """The result of an async api call: already sent, like a JS promise; awaitable many times.

    A failure nobody awaited by the time it arrives is reported to the script's error log, as
    NovelAI reports an unhandled rejection. Awaiting it yields a :class:`Suspension`, so it
    must be driven by :func:`drive_script`, not by an asyncio task directly.
    """

    __slots__ = ("_awaited", "_future", "_transport", "_what")

    def __init__(self, future: asyncio.Future[Any], what: str, transport: Transport) -> None:
        self._future = future
        self._what = what
        self._transport = transport
        self._awaited = False
        future.add_done_callback(self._check_unawaited)

    def _check_unawaited(self, future: asyncio.Future[Any]) -> None:
        if self._awaited or future.cancelled():
            return
        error = future.exception()
        if error is not None:
            self._transport.report_unawaited_failure(self._what, error)

    def __await__(self) -> Generator[Any, None, Any]:
        self._awaited = True
        if not self._future.done():
            yield Suspension(self._future, self._what)
        # Raises InvalidStateError if a script stepping by hand resumes it too early.
        return self._future.result()

    def __repr__(self) -> str:
        state = "done" if self._future.done() else "pending"
        return f"<pending {self._what} ({state})>"


async def drive_script(awaitable: Awaitable[Any]) -> Any:
    """Await a script's awaitable, stepping it by hand: each :class:`Suspension` it yields is
    turned back into the future it stands for, and what awaiting that future raises
    (cancellation included) is thrown back in, as a task would."""
    steps = awaitable.__await__()
    error: BaseException | None = None
    while True:
        try:
            yielded = steps.send(None) if error is None else steps.throw(error)
        except StopIteration as stop:
            return stop.value
        error = None
        if type(yielded) is not Suspension:
            # Only pending calls suspend a script; anything else is a bug, not a value to await.
            error = RuntimeError(f"a script cannot await {type(yielded).__name__} objects")
            continue
        try:
            await yielded._future
        except GeneratorExit:
            steps.close()
            raise
        except BaseException as exc:
            error = exc


class ApiFunction:
    """One described function (``api.v1.generate``); calling it crosses to the host. A
    ``display`` function's arguments are shown to a person: each goes as ``shown`` makes it."""

    __slots__ = ("_display", "_path", "_sync", "_transport")

    def __init__(
        self, path: str, sync: bool, transport: Transport, *, display: bool = False
    ) -> None:
        self._path = path
        self._sync = sync
        self._transport = transport
        self._display = display

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._display:  # each argument as sent: one level inside the arguments list
            args = tuple(shown(arg, dict_wrapper=escape_wrapper, depth=1) for arg in args)
        return self._transport.call_api(
            path=self._path, remote=None, method="", sync=self._sync, args=args, kwargs=kwargs
        )

    def __repr__(self) -> str:
        return f"<api function {self._path}>"


class ApiNamespace:
    """A described namespace (``api``, ``api.v1``, ``api.v1.script``): read-only attributes."""

    __slots__ = ("_members", "_path")

    def __init__(self, path: str, members: dict[str, Any]) -> None:
        self._path = path
        self._members = members

    def __getattr__(self, name: str) -> Any:
        try:
            return self._members[name]
        except KeyError:
            where = self._path or "api"
            raise AttributeError(f"{where} has no attribute {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ApiNamespace.__slots__:
            object.__setattr__(self, name, value)
            return
        raise AttributeError(f"{self._path or 'api'} is read-only")

    def __dir__(self) -> list[str]:
        return sorted(self._members)

    def __repr__(self) -> str:
        return f"<api namespace {self._path or 'api'}>"


def build_api(tree: dict[str, Any], transport: Transport, path: str = "") -> ApiNamespace:
    """Turn a wire API description into proxies (see ``sandbox.api_schema``)."""
    members: dict[str, Any] = {}
    for name, node in tree.items():
        where = f"{path}.{name}" if path else name
        if node in KINDS:
            members[name] = ApiFunction(where, blocks(node), transport, display=node == DISPLAY)
        elif isinstance(node, dict) and set(node) == {"$value"}:
            members[name] = to_script_value(node["$value"])
        elif isinstance(node, dict):
            members[name] = build_api(node, transport, where)
    return ApiNamespace(path, members)


class RemoteMethod:
    """A host object's method, made on each access: it holds its proxy, so a script that
    keeps only the method (``add = helper.add``, or ``make().read()``) keeps the host object
    too (the host drops an object once its last proxy is gone)."""

    __slots__ = ("_method", "_proxy", "_sync")

    def __init__(self, proxy: RemoteProxy, method: str, sync: bool) -> None:
        self._proxy = proxy
        self._method = method
        self._sync = sync

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        proxy = self._proxy
        return proxy._transport.call_api(
            path="",
            remote=proxy._remote,
            method=self._method,
            sync=self._sync,
            args=args,
            kwargs=kwargs,
        )

    def __repr__(self) -> str:
        return f"<remote method {self._method}>"


class RemoteProxy:
    """A host object handed to the script (e.g. a window handle): described methods, awaitable
    attributes resolved by the host (``await win.closed``), live properties (each read asks
    the host, ``signal.cancelled``) and constant values."""

    __slots__ = (
        "__weakref__",
        "_awaitables",
        "_members",
        "_methods",
        "_properties",
        "_remote",
        "_transport",
    )
    # Passing the proxy back in an api call sends ``{"$remote": id}`` (e.g. a cancellation
    # signal given to ``generate``); the host turns it into its own object again.
    passes_by_reference = True

    def __init__(
        self, wire: dict[str, Any], transport: Transport, decode: Callable[[Any], Any]
    ) -> None:
        remote = int(wire["$remote"])
        members: dict[str, Any] = {}
        for name, value in dict(wire.get("values") or {}).items():
            members[str(name)] = decode(value)
        methods = {str(name): kind == "sync" for name, kind in (wire.get("methods") or {}).items()}
        object.__setattr__(self, "_remote", remote)
        object.__setattr__(self, "_members", members)
        object.__setattr__(self, "_methods", methods)
        object.__setattr__(self, "_awaitables", {str(n) for n in wire.get("awaitables") or ()})
        object.__setattr__(self, "_properties", {str(n) for n in wire.get("properties") or ()})
        object.__setattr__(self, "_transport", transport)
        transport.adopt_remote(self, remote)

    def __getattr__(self, name: str) -> Any:
        if name in self._methods:
            return RemoteMethod(self, name, self._methods[name])
        if name in self._members:
            return self._members[name]
        if name in self._properties:
            return self._transport.call_api(
                path="", remote=self._remote, method=name, sync=True, args=(), kwargs={}
            )
        if name in self._awaitables:
            # Created on first access and kept: ``win.closed`` is one promise, awaitable often.
            pending = self._transport.call_api(
                path="", remote=self._remote, method=name, sync=False, args=(), kwargs={}
            )
            self._members[name] = pending
            return pending
        raise AttributeError(f"remote object has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("remote objects are read-only")

    def __dir__(self) -> list[str]:
        return sorted({*self._methods, *self._members, *self._awaitables, *self._properties})

    def __repr__(self) -> str:
        return f"<remote object {self._remote}>"


class RemoteRefs:
    """The worker's count of host objects' proxies: how many were made per id (the host drops
    an object only if it sent no more than that), how many are alive, and the ids whose last
    proxy is gone, to report (``take_released``) at the next loop iteration."""

    def __init__(self) -> None:
        self._seen: dict[int, int] = {}
        self._live: dict[int, int] = {}
        self._released: list[list[int]] = []

    def adopt(self, proxy: RemoteProxy, remote: int) -> None:
        self._seen[remote] = self._seen.get(remote, 0) + 1
        self._live[remote] = self._live.get(remote, 0) + 1
        weakref.finalize(proxy, self._gone, remote)

    def _gone(self, remote: int) -> None:
        """A proxy was collected, wherever the script dropped it: only noted here."""
        live = self._live.get(remote, 0) - 1
        if live > 0:
            self._live[remote] = live
            return
        self._live.pop(remote, None)
        self._released.append([remote, self._seen[remote]])

    def take_released(self) -> list[list[int]]:
        """``[id, proxies made]`` of each object no proxy is left for, since the last take."""
        released = self._released
        if released:  # once per api call and loop iteration: no new list when none
            self._released = []
        return released


class CallbackRegistry:
    """Script functions handed to the host, by id; the same function keeps one id."""

    def __init__(self) -> None:
        self._by_id: dict[int, Callable[..., Any]] = {}
        self._ids: dict[int, int] = {}

    def register(self, fn: Callable[..., Any]) -> int:
        known = self._ids.get(id(fn))
        if known is not None and self._by_id.get(known) is fn:
            return known
        handle = len(self._by_id) + 1
        self._by_id[handle] = fn
        self._ids[id(fn)] = handle
        return handle

    def get(self, handle: int) -> Callable[..., Any] | None:
        return self._by_id.get(handle)

    def __len__(self) -> int:
        return len(self._by_id)


def encode_for_host(value: Any, callbacks: CallbackRegistry, path: str) -> Any:
    """Plain data for the wire; script functions become ``{"$callback": id}``, and a dict
    holding a marker key travels escaped (``sandbox.wire``)."""

    def encode(fn: Any, _where: str) -> dict[str, int]:
        if isinstance(fn, RemoteProxy):
            return {"$remote": fn._remote}
        return {"$callback": callbacks.register(fn)}

    return from_script_value(value, on_callable=encode, dict_wrapper=escape_wrapper, path=path)


def decode_from_host(value: Any, callbacks: CallbackRegistry, transport: Transport) -> Any:
    """What a script sees of a host value: JS-like data (``JSObject``), remote proxies
    wherever the host placed a remote object, the script's own callbacks, and lists for packed
    ints; an escaped ``{"$dict": {...}}`` is the plain dict it carries."""
    kind = type(value)
    if kind is list and _SCALARS.issuperset(map(type, value)):
        return value  # short lists and the like: freshly decoded, nothing inside to convert
    if kind is dict:
        if len(value) == 1:
            if "$ints" in value:
                return unpack_ints(value["$ints"])  # token ids
            if "$callback" in value:
                return callbacks.get(int(value["$callback"]))
            if type(value.get("$dict")) is dict:
                value = value["$dict"]
        elif "$remote" in value:
            return RemoteProxy(
                value, transport, lambda item: decode_from_host(item, callbacks, transport)
            )
        return JSObject(
            {key: decode_from_host(item, callbacks, transport) for key, item in value.items()}
        )
    if kind is list:
        return [decode_from_host(item, callbacks, transport) for item in value]
    return value
