"""Host <-> worker wire protocol: length-prefixed JSON frames and the message models.

A frame is a 4-byte big-endian payload length followed by that many bytes of UTF-8 JSON (one
object with a ``t`` field naming the message). The worker speaks first with ``hello`` carrying
``PROTOCOL_VERSION``; anything else is a protocol failure. The host validates every worker
message with the pydantic models below (the worker is untrusted); the worker side builds and
reads plain dicts for speed, using only ``sandbox.wire`` (framing and host -> worker messages,
re-exported here) so that it never imports pydantic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from sandbox.wire import (
    DEFAULT_MAX_FRAME_BYTES,
    HEADER,
    PACK_MIN_INTS,
    PROTOCOL_VERSION,
    WAKING_MESSAGES,
    FrameDecoder,
    FrameTooLarge,
    ProtocolError,
    cancel_message,
    decode_payload,
    encode_frame,
    escape_dict,
    invoke_message,
    load_message,
    pack_ints,
    reply_message,
    shutdown_message,
)

__all__ = [
    "DEFAULT_MAX_FRAME_BYTES",
    "HEADER",
    "PROTOCOL_VERSION",
    "WAKING_MESSAGES",
    "ApiCall",
    "ApiCallMessage",
    "CallbackHandle",
    "ExitReason",
    "Fatal",
    "FrameDecoder",
    "FrameTooLarge",
    "Hello",
    "InvokeResult",
    "Loaded",
    "Log",
    "ProtocolError",
    "Release",
    "ReleaseRemote",
    "RemoteObject",
    "RemoteRegistry",
    "ScriptFailure",
    "Status",
    "WorkerMessage",
    "cancel_message",
    "decode_payload",
    "encode_frame",
    "from_wire",
    "invoke_message",
    "load_message",
    "parse_worker_message",
    "reply_message",
    "shutdown_message",
    "to_wire",
]


# --- worker -> host messages (validated on the host) ---------------------------------------

_STRICT = ConfigDict(extra="forbid", frozen=True)


class Hello(BaseModel):
    model_config = _STRICT
    t: Literal["hello"]
    version: int
    pid: int


class ScriptFailure(BaseModel):
    """Why a load or invocation failed, pointing at the script's own lines."""

    model_config = _STRICT
    kind: Literal["policy", "exception", "memory", "internal", "cancelled", "skipped"]
    message: str
    problems: list[str] = Field(default_factory=list)


class Loaded(BaseModel):
    model_config = _STRICT
    t: Literal["loaded"]
    ok: bool
    error: ScriptFailure | None = None
    memory_limit_mb: int = 0


class ApiCallMessage(BaseModel):
    model_config = _STRICT
    t: Literal["api_call"]
    id: int
    path: str = ""
    remote: int | None = None
    method: str = ""
    sync: bool
    args: list[Any] = Field(default_factory=list)
    keywords: dict[str, Any] = Field(default_factory=dict)
    seen: int = 0


class InvokeResult(BaseModel):
    model_config = _STRICT
    t: Literal["invoke_result"]
    id: int
    ok: bool
    value: Any = None
    error: ScriptFailure | None = None


class Log(BaseModel):
    model_config = _STRICT
    t: Literal["log"]
    level: Literal["log", "error"]
    text: str


class Status(BaseModel):
    """Sent when the worker's loop is about to block: ``idle`` (nothing pending) or ``wait``.

    ``seen`` counts the waking messages (load, invoke, reply, cancel) the worker has handled,
    so the host can tell a current status from one that crossed a newer message in the pipe.
    """

    model_config = _STRICT
    t: Literal["idle", "wait"]
    seen: int = 0


class Release(BaseModel):
    model_config = _STRICT
    t: Literal["release"]
    callback: int


class ReleaseRemote(BaseModel):
    """The worker holds no proxy any more for these host objects: ``[id, proxies made]``
    pairs (``RemoteRegistry.release``)."""

    model_config = _STRICT
    t: Literal["release_remote"]
    ids: list[tuple[int, int]]


class Fatal(BaseModel):
    """The worker is going down on its own (MemoryError under RLIMIT_AS, internal fault)."""

    model_config = _STRICT
    t: Literal["fatal"]
    kind: Literal["memory", "internal"]
    detail: str


WorkerMessage = Annotated[
    Hello | Loaded | ApiCallMessage | InvokeResult | Log | Status | Release | ReleaseRemote | Fatal,
    Field(discriminator="t"),
]
_WORKER_MESSAGE: TypeAdapter[WorkerMessage] = TypeAdapter(WorkerMessage)


def parse_worker_message(payload: bytes) -> WorkerMessage:
    """Validate one worker frame; any deviation is a ``ProtocolError`` naming the problem."""
    try:
        return _WORKER_MESSAGE.validate_json(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "frame"
        raise ProtocolError(f"bad worker frame at {where}: {first['msg']}") from None


# --- host-side values: what a handler sees of a call, and what it may return ----------------


class ExitReason(BaseModel):
    """Why a worker is gone; ``detail`` is for people (signal, limit, last stderr lines)."""

    model_config = ConfigDict(frozen=True)
    kind: Literal["cpu", "memory", "wall_clock", "crashed", "protocol", "shutdown"]
    detail: str
    script_name: str

    def __str__(self) -> str:
        return f"script {self.script_name!r} stopped ({self.kind}): {self.detail}"


@dataclass(frozen=True, repr=False)
class CallbackHandle:
    """A script function the worker handed over; ``await worker.invoke(handle, ...)`` calls it.

    Its repr is what a script may see of it in an error message (``got {'a': <function>}``):
    never the worker's internal id."""

    id: int

    def __repr__(self) -> str:
        return "<function>"


@dataclass(frozen=True, eq=False, repr=False)
class RemoteObject:
    """A host object to hand to the script as a proxy (e.g. a window handle).

    ``methods`` maps method names to ``"sync"``/``"async"``; ``awaitables`` are attributes the
    script awaits (``await win.closed``), answered by the handler like an async method call;
    ``properties`` are attributes read afresh on every access (a live value, like a JS getter),
    answered like a sync method call; ``values`` are constants copied to the worker. Calls
    arrive as ``ApiCall.remote is self``.
    """

    target: Any
    methods: dict[str, Literal["sync", "async"]] = field(default_factory=dict)
    awaitables: tuple[str, ...] = ()
    properties: tuple[str, ...] = ()
    values: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        """What an error message shows a script: never the host's class or memory address."""
        return "<api object>"


@dataclass(frozen=True)
class ApiCall:
    """One api call from a script, as the host's handler receives it (already validated)."""

    script_name: str
    call_id: int
    sync: bool
    path: str = ""
    remote: RemoteObject | None = None
    method: str = ""
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """``v1.generate`` or ``<remote>.update``, for messages and logs."""
        return self.path or f"<remote>.{self.method}"


class TooManyRemoteObjects(Exception):
    """A reply would hand the worker one host object more than its limit allows."""


class RemoteRegistry:
    """Host objects handed to one worker, by id (ids are never reused within a worker).

    An object stays while the worker may hold a proxy for it. Each time one is sent it is
    counted; the worker reports an id once its last proxy is gone, with the number of proxies
    it made, and the object is dropped only if that is every one sent: one still on its way
    (a reply crossing the report) keeps it. Without this, every signal, window and helper a
    script ever made stayed in the host's memory until the script unloaded.
    """

    def __init__(self, max_live: int | None = None) -> None:
        self._objects: dict[int, RemoteObject] = {}
        self._ids: dict[int, int] = {}
        self._sent: dict[int, int] = {}
        self._last_id = 0
        self.max_live = max_live
        self._batch: list[int] | None = None  # what ``wire`` has registered so far

    def wire(self, value: Any) -> Any:
        """``to_wire(value, self)``, all or nothing: when an object is refused midway, the
        ones this value registered before it are taken back (never sent, no proxy would ever
        report them gone, and they would count against the limit for good)."""
        batch: list[int] = []
        self._batch = batch
        try:
            return to_wire(value, self)
        except TooManyRemoteObjects:
            for remote_id in batch:
                self._unsend(remote_id)
            raise
        finally:
            self._batch = None

    def _unsend(self, remote_id: int) -> None:
        sent = self._sent[remote_id] - 1
        if sent:
            self._sent[remote_id] = sent
            return
        remote = self._objects.pop(remote_id)
        del self._ids[id(remote)], self._sent[remote_id]

    def register(self, remote: RemoteObject) -> int:
        """The object's id, counting one more proxy on its way to the worker. A new object
        past ``max_live`` is refused (``TooManyRemoteObjects``): each costs the host memory
        for as long as the script keeps its proxy."""
        remote_id = self._ids.get(id(remote))
        if remote_id is None:
            self.check_room()
            self._last_id += 1
            remote_id = self._last_id
            self._objects[remote_id] = remote
            self._ids[id(remote)] = remote_id
        self._sent[remote_id] = self._sent.get(remote_id, 0) + 1
        if self._batch is not None:
            self._batch.append(remote_id)
        return remote_id

    def check_room(self) -> None:
        """Raise ``TooManyRemoteObjects`` if one more object would pass ``max_live``: also
        asked before making an object whose making shows (a window), not only on sending."""
        if self.max_live is not None and len(self._objects) >= self.max_live:
            raise TooManyRemoteObjects(
                f"the script holds {len(self._objects)} host objects (signals, windows, "
                f"helpers: at most {self.max_live} at once); drop the ones it no longer "
                "needs before making more"
            )

    def get(self, remote_id: int) -> RemoteObject | None:
        return self._objects.get(remote_id)

    def release(self, remote_id: int, proxies_made: int) -> None:
        """The worker's last proxy for ``remote_id`` is gone, after ``proxies_made`` in all."""
        if self._sent.get(remote_id) != proxies_made:
            return  # unknown, or sent again since: the worker will report it again
        remote = self._objects.pop(remote_id)
        del self._ids[id(remote)], self._sent[remote_id]

    def __len__(self) -> int:
        return len(self._objects)


#: Types that cross the wire as they are; a list of only these is copied without recursion.
_SCALARS = frozenset({int, str, float, bool, type(None)})
_JUST_INT = frozenset({int})


def _all_scalars(items: list[Any] | tuple[Any, ...]) -> bool:
    """True when no item needs converting (token id lists: a C-level type scan)."""
    return _SCALARS.issuperset(map(type, items))


def from_wire(value: Any, remotes: RemoteRegistry | None = None) -> Any:
    """Worker data for a handler: ``{"$callback": n}`` becomes a ``CallbackHandle``, given the
    worker's ``remotes`` ``{"$remote": n}`` the host's own ``RemoteObject`` again, and an escaped
    ``{"$dict": {...}}`` the plain dict it carries (see ``sandbox.wire``)."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is list and _all_scalars(value):
        return list(value)
    if isinstance(value, dict):
        if len(value) == 1:
            if type(value.get("$callback")) is int:
                return CallbackHandle(value["$callback"])
            if remotes is not None and type(value.get("$remote")) is int:
                remote = remotes.get(value["$remote"])
                if remote is None:
                    raise ValueError(f"unknown remote object {value['$remote']}")
                return remote
            if type(value.get("$dict")) is dict:
                value = value["$dict"]
        return {key: from_wire(item, remotes) for key, item in value.items()}
    if isinstance(value, list):
        return [from_wire(item, remotes) for item in value]
    return value


def to_wire(value: Any, remotes: RemoteRegistry) -> Any:
    """A handler's result for the worker: models dumped, remote objects and handles marked,
    long int lists packed, plain dicts holding a marker key escaped (see ``sandbox.wire``)."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is list or kind is tuple:
        types = set(map(type, value))
        if types == _JUST_INT and len(value) >= PACK_MIN_INTS:
            packed = pack_ints(value)
            if packed is not None:
                return packed
        if _SCALARS.issuperset(types):
            return list(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict):
        return escape_dict({str(key): to_wire(item, remotes) for key, item in value.items()})
    if isinstance(value, list | tuple):
        return [to_wire(item, remotes) for item in value]
    if isinstance(value, BaseModel):
        return to_wire(value.model_dump(mode="json"), remotes)
    if isinstance(value, CallbackHandle):
        return {"$callback": value.id}
    if isinstance(value, RemoteObject):
        return {
            "$remote": remotes.register(value),
            "methods": dict(value.methods),
            "awaitables": list(value.awaitables),
            "properties": list(value.properties),
            "values": to_wire(value.values, remotes),
        }
    raise TypeError(f"cannot send a {type(value).__name__} to a script")
