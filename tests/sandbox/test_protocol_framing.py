"""Framing and message validation: splits at every byte, oversize, garbage, wrong shapes."""

from __future__ import annotations

import json

import pytest

from sandbox.api_schema import ASYNC, DISPLAY, SYNC, ApiDescription, Value, blocks
from sandbox.protocol import (
    HEADER,
    ApiCallMessage,
    CallbackHandle,
    FrameDecoder,
    FrameTooLarge,
    Hello,
    Log,
    ProtocolError,
    RemoteObject,
    RemoteRegistry,
    decode_payload,
    encode_frame,
    from_wire,
    parse_worker_message,
    to_wire,
)

MESSAGES = [
    {"t": "hello", "version": 1, "pid": 42},
    {"t": "log", "level": "log", "text": "héllo ✓ wörld"},
    {"t": "api_call", "id": 7, "path": "v1.generate", "sync": False, "args": [[{"a": 1}]]},
]


def test_frames_split_at_every_byte_decode_identically() -> None:
    stream = b"".join(encode_frame(message) for message in MESSAGES)
    for cut in range(len(stream) + 1):
        decoder = FrameDecoder()
        payloads = decoder.feed(stream[:cut]) + decoder.feed(stream[cut:])
        assert [decode_payload(p) for p in payloads] == MESSAGES
        assert decoder.pending_bytes == 0


def test_byte_by_byte_feeding() -> None:
    stream = b"".join(encode_frame(message) for message in MESSAGES)
    decoder = FrameDecoder()
    payloads = [p for i in range(len(stream)) for p in decoder.feed(stream[i : i + 1])]
    assert [decode_payload(p) for p in payloads] == MESSAGES


def test_cut_frame_leaves_pending_bytes() -> None:
    frame = encode_frame(MESSAGES[0])
    decoder = FrameDecoder()
    assert decoder.feed(frame[:-3]) == []
    assert decoder.pending_bytes == len(frame) - 3


def test_oversize_frame_is_refused_from_its_header_alone() -> None:
    decoder = FrameDecoder(max_frame_bytes=100)
    with pytest.raises(FrameTooLarge, match="101 bytes exceeds the limit of 100"):
        decoder.feed(HEADER.pack(101))
    assert FrameDecoder(max_frame_bytes=100).feed(HEADER.pack(100) + b"x" * 50) == []


def test_empty_frame_is_a_protocol_error_not_a_crash() -> None:
    (payload,) = FrameDecoder().feed(HEADER.pack(0))
    with pytest.raises(ProtocolError, match="not valid JSON"):
        decode_payload(payload)


@pytest.mark.parametrize("payload", [b"\xff\xfe", b"{not json", b"[1, 2]", b'"text"', b"null"])
def test_garbage_payloads_are_protocol_errors(payload: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_payload(payload)
    with pytest.raises(ProtocolError):
        parse_worker_message(payload)


@pytest.mark.parametrize(
    ("message", "where"),
    [
        ({"t": "nope"}, "frame"),
        ({"t": "hello", "version": "one", "pid": 1}, "hello.version"),
        ({"t": "log", "level": "debug", "text": "x"}, "log.level"),
        ({"t": "api_call", "id": 1, "sync": True, "extra": 1}, "api_call.extra"),
        ({"t": "invoke_result", "ok": True}, "invoke_result.id"),
    ],
)
def test_invalid_messages_name_the_field(message: dict[str, object], where: str) -> None:
    with pytest.raises(ProtocolError, match=where.replace(".", r"\.")):
        parse_worker_message(json.dumps(message).encode())


def test_valid_messages_parse_to_models() -> None:
    hello = parse_worker_message(json.dumps(MESSAGES[0]).encode())
    assert isinstance(hello, Hello)
    assert hello.version == 1
    call = parse_worker_message(
        json.dumps({"t": "api_call", "id": 3, "sync": True, "keywords": {"a": 1}}).encode()
    )
    assert isinstance(call, ApiCallMessage)
    assert call.keywords == {"a": 1}


def test_wire_values_map_callbacks_and_remote_objects() -> None:
    assert from_wire({"cb": {"$callback": 3}, "x": [1, {"$callback": 4}]}) == {
        "cb": CallbackHandle(3),
        "x": [1, CallbackHandle(4)],
    }
    # Not a handle: extra keys or a non-int id stay plain data.
    assert from_wire({"$callback": "3"}) == {"$callback": "3"}
    registry = RemoteRegistry()
    window = RemoteObject(
        target=object(), methods={"update": "async"}, awaitables=("closed",), properties=("x",)
    )
    wire = to_wire({"w": window, "again": window, "h": CallbackHandle(9)}, registry)
    assert wire["w"] == wire["again"]
    assert wire["w"]["$remote"] == 1
    assert (wire["w"]["awaitables"], wire["w"]["properties"]) == (["closed"], ["x"])
    assert wire["h"] == {"$callback": 9}
    assert registry.get(1) is window
    with pytest.raises(TypeError, match="cannot send a set"):
        to_wire({1, 2}, registry)


def test_api_description_validates_names_and_leaves() -> None:
    api = ApiDescription.from_tree(
        {
            "v1": {
                "log": DISPLAY,
                "uuid": SYNC,
                "generate": ASYNC,
                "script": {"id": Value(value="abc")},
            }
        }
    )
    assert api.kind_of("v1.log") == "display"
    assert api.kind_of("v1.uuid") == "sync"
    assert api.kind_of("v1.generate") == "async"
    assert [blocks(kind) for kind in (DISPLAY, SYNC, ASYNC)] == [True, True, False]
    assert api.kind_of("v1.script.id") is None
    assert api.kind_of("v1.missing") is None
    assert api.kind_of("v1") is None
    with pytest.raises(ValueError, match="underscores"):
        ApiDescription.from_tree({"v1": {"_conn": SYNC}})
    with pytest.raises(ValueError, match="unsupported API leaf"):
        ApiDescription.from_tree({"v1": {"log": "maybe"}})


def test_lone_surrogates_travel_as_replacement_characters() -> None:
    """UTF-8 cannot hold a lone surrogate; encoding one failed the whole message. It becomes
    U+FFFD (as a browser's TextEncoder does); a pair split in two code points is rejoined."""
    message = {"t": "log", "level": "log", "text": "a\ud800b \ud83d\ude00 \udfff"}
    [payload] = FrameDecoder().feed(encode_frame(message))
    assert decode_payload(payload)["text"] == "a\ufffdb \U0001f600 \ufffd"
    parsed = parse_worker_message(payload)
    assert isinstance(parsed, Log)
    assert parsed.text == "a\ufffdb \U0001f600 \ufffd"
