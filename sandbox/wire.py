"""The worker's half of the wire protocol: length-prefixed JSON frames and host -> worker messages.

A frame is a 4-byte big-endian payload length followed by that many bytes of UTF-8 JSON (one
object with a ``t`` field naming the message). Everything here is plain dicts and stdlib only:
the worker imports this module, and its start-up time is the cold-start budget. The host's
pydantic models of worker messages live in ``sandbox.protocol``, which re-exports these names.
"""

from __future__ import annotations

import binascii
import json
import struct
from array import array
from collections.abc import Callable
from typing import Any

PROTOCOL_VERSION = 1
HEADER = struct.Struct(">I")
DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024


class ProtocolError(Exception):
    """The peer broke the protocol: bad frame, oversize frame, wrong version, garbage."""


class FrameTooLarge(ProtocolError):
    pass


def encode_frame(message: dict[str, Any]) -> bytes:
    """Serialise one message as a complete frame (header + compact JSON).

    Text travels as UTF-8, which cannot hold a lone surrogate (``"\ud800"``: a Python str and
    a page's JSON may): as a browser's ``TextEncoder`` does, each becomes U+FFFD, and a pair
    split in two code points is joined into its character. Before, such text failed the call
    with a bare "'utf-8' codec can't encode" (or, from the host, left it unanswered)."""
    text = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
    try:
        payload = text.encode()
    except UnicodeEncodeError:
        well_formed = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        payload = well_formed.encode()
    return HEADER.pack(len(payload)) + payload


def decode_payload(payload: bytes) -> dict[str, Any]:
    """Parse a frame payload into a dict; anything else is a protocol error."""
    try:
        value = json.loads(payload)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProtocolError(f"frame is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ProtocolError(f"frame must be a JSON object, got {type(value).__name__}")
    return value


class FrameDecoder:
    """Incremental decoder: feed arbitrary chunks, get complete payloads back.

    Survives any split (mid-header, mid-payload) and refuses a declared length over
    ``max_frame_bytes`` before buffering it, so a peer cannot make us allocate without bound.
    """

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        self.max_frame_bytes = max_frame_bytes
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> list[bytes]:
        self._buffer += chunk
        frames: list[bytes] = []
        while len(self._buffer) >= HEADER.size:
            (length,) = HEADER.unpack_from(self._buffer)
            if length > self.max_frame_bytes:
                raise FrameTooLarge(
                    f"frame of {length} bytes exceeds the limit of {self.max_frame_bytes} bytes"
                )
            end = HEADER.size + length
            if len(self._buffer) < end:
                break
            frames.append(bytes(self._buffer[HEADER.size : end]))
            del self._buffer[:end]
        return frames

    @property
    def pending_bytes(self) -> int:
        """Bytes of an incomplete frame still buffered (non-zero at EOF means a cut frame)."""
        return len(self._buffer)


# --- values inside messages -------------------------------------------------------------------
#
# Besides plain JSON data, a value can hold markers: ``{"$callback": id}`` (a script function),
# ``{"$remote": id, ...}`` (a host object), ``{"$ints": base64}`` (a packed list of ints, host
# to worker only). A plain dict that holds one of these keys travels escaped as
# ``{"$dict": {...}}``, so data a script stored can never come back as a marker.

#: Keys the protocol gives a meaning to inside values.
MARKER_KEYS = frozenset({"$callback", "$remote", "$ints", "$dict"})
#: Int lists at least this long travel packed: about half the cost of JSON to encode and decode,
#: which matters for token ids (500 per generate, twice: the last delivery and the result).
PACK_MIN_INTS = 32


def escape_dict(plain: dict[str, Any]) -> dict[str, Any]:
    """``plain`` as it must travel: wrapped when one of its keys is a marker key."""
    return plain if MARKER_KEYS.isdisjoint(plain) else _wrap(plain)


def _wrap(plain: dict[str, Any]) -> dict[str, Any]:
    return {"$dict": plain}


def escape_wrapper(value: dict[Any, Any]) -> Callable[[dict[str, Any]], dict[str, Any]] | None:
    """The wrapper ``escape_dict`` would put ``value`` in, or None (``from_script_value``'s
    ``dict_wrapper``: the keys are checked once, on the script's own dict)."""
    return None if MARKER_KEYS.isdisjoint(value) else _wrap


def pack_ints(items: list[int] | tuple[int, ...]) -> dict[str, str] | None:
    """``{"$ints": base64}`` for ints that fit a C int (both ends share the machine, so native
    byte order); ``None`` when one does not. The caller checked every item is a plain int."""
    try:
        packed = array("i", items)
    except OverflowError:
        return None
    return {"$ints": binascii.b2a_base64(packed.tobytes(), newline=False).decode("ascii")}


def unpack_ints(text: Any) -> list[int]:
    """The list ``pack_ints`` packed."""
    if type(text) is not str:
        raise ProtocolError("$ints must hold a base64 string")
    try:
        raw = binascii.a2b_base64(text)
    except binascii.Error as exc:
        raise ProtocolError(f"$ints is not base64: {exc}") from None
    if len(raw) % array("i").itemsize:
        raise ProtocolError("$ints does not hold whole ints")
    return array("i", raw).tolist()


# --- host -> worker messages (built by the host, read as dicts by the worker) ------------------

#: Messages that can make the worker run script code; both sides count them (``seen``).
WAKING_MESSAGES = frozenset({"load", "invoke", "reply", "cancel"})


def load_message(
    *, source: str, filename: str, api: dict[str, Any], limits: dict[str, Any]
) -> dict[str, Any]:
    return {"t": "load", "source": source, "filename": filename, "api": api, "limits": limits}


def invoke_message(
    invoke_id: int,
    target: int | str,
    args: list[Any],
    *,
    after: int | None = None,
    then: list[list[Any]] | None = None,
) -> dict[str, Any]:
    """``target`` is a callback handle id, or the name of a top-level script function.

    With ``after`` (an earlier invocation's id) the worker runs this one only once that one
    has returned, and skips it (result kind ``skipped``) if that one failed. With ``then``
    (more argument lists) the target is called again with each, in turn, each call only once
    the one before returned; the result is the last call's, or the first failure's.
    """
    message = {"t": "invoke", "id": invoke_id, "target": target, "args": args}
    if after is not None:
        message["after"] = after
    if then:
        message["then"] = then
    return message


def reply_message(
    call_id: int, *, value: Any = None, error: str | None = None, error_type: str = "ApiError"
) -> dict[str, Any]:
    if error is not None:
        return {"t": "reply", "id": call_id, "ok": False, "error": error, "etype": error_type}
    return {"t": "reply", "id": call_id, "ok": True, "value": value}


def cancel_message(invoke_id: int | None) -> dict[str, Any]:
    """Cancel one invocation, or (``None``) all pending work in the worker."""
    return {"t": "cancel", "id": invoke_id}


def shutdown_message() -> dict[str, Any]:
    return {"t": "shutdown"}
