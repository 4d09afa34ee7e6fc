"""The SSE decoder: explicit cases from the standard, and "same events whatever the split"."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nai_script.client.sse import ServerSentEvent, SSEDecoder


def decode_all(chunks: list[bytes]) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    events.extend(decoder.flush())
    return events


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def test_simple_data_event() -> None:
    assert decode_all([b"data: hello\n\n"]) == [ServerSentEvent(data="hello")]


def test_openai_stream_shape() -> None:
    raw = b'data: {"a":1}\n\ndata: {"a":2}\n\ndata: [DONE]\n\n'
    assert [e.data for e in decode_all([raw])] == ['{"a":1}', '{"a":2}', "[DONE]"]


def test_named_event_and_sticky_id() -> None:
    raw = b"event: newToken\nid: 7\ndata: x\n\ndata: y\n\n"
    assert decode_all([raw]) == [
        ServerSentEvent(event="newToken", data="x", id="7"),
        ServerSentEvent(event="message", data="y", id="7"),
    ]


def test_multiline_data_joined_with_newlines() -> None:
    assert decode_all([b"data: a\ndata:b\ndata:  c\n\n"]) == [ServerSentEvent(data="a\nb\n c")]


def test_empty_data_line_still_dispatches() -> None:
    assert decode_all([b"data\n\n"]) == [ServerSentEvent(data="")]
    assert decode_all([b"data:\ndata:\n\n"]) == [ServerSentEvent(data="\n")]


def test_comments_and_unknown_fields_ignored() -> None:
    raw = b": keep-alive\nfoo: bar\ndata: x\n: another\n\n"
    assert decode_all([raw]) == [ServerSentEvent(data="x")]


def test_event_without_data_is_not_dispatched_and_resets_type() -> None:
    raw = b"event: ping\n\ndata: x\n\n"
    assert decode_all([raw]) == [ServerSentEvent(event="message", data="x")]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_all_line_endings(newline: bytes) -> None:
    raw = newline.join([b"event: e", b"data: 1", b"", b"data: 2", b"", b""])
    assert decode_all([raw]) == [ServerSentEvent(event="e", data="1"), ServerSentEvent(data="2")]


def test_crlf_split_between_chunks_is_one_line_end() -> None:
    assert decode_all([b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]) == [
        ServerSentEvent(data="a\nb")
    ]


def test_bom_stripped_once_even_when_split() -> None:
    raw = b"\xef\xbb\xbfdata: x\n\n"
    assert decode_all(bytewise(raw)) == [ServerSentEvent(data="x")]
    # a second BOM is content, not a marker: the field name no longer matches "data"
    assert decode_all([b"\xef\xbb\xbf\xef\xbb\xbfdata: x\n\n"]) == []


def test_utf8_split_mid_character() -> None:
    raw = "data: héllo 世界 🎉\n\n".encode()
    assert decode_all(bytewise(raw)) == [ServerSentEvent(data="héllo 世界 🎉")]


def test_retry_digits_only() -> None:
    assert decode_all([b"retry: 1500\ndata: x\n\n"]) == [ServerSentEvent(data="x", retry=1500)]
    assert decode_all([b"retry: 15x\ndata: x\n\n"]) == [ServerSentEvent(data="x")]
    # retry belongs to the event it came with, not to later ones
    assert decode_all([b"retry: 5\ndata: a\n\ndata: b\n\n"])[1].retry is None


def test_id_with_nul_is_ignored() -> None:
    events = decode_all([b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n"])
    assert [e.id for e in events] == ["1", "1"]


def test_field_without_space_and_colon_in_value() -> None:
    assert decode_all([b'data:{"a": "b:c"}\n\n']) == [ServerSentEvent(data='{"a": "b:c"}')]


def test_flush_dispatches_unterminated_tail() -> None:
    assert decode_all([b"data: [DONE]"]) == [ServerSentEvent(data="[DONE]")]
    assert decode_all([b"data: a\n"]) == [ServerSentEvent(data="a")]


def test_invalid_utf8_is_replaced_not_raised() -> None:
    assert decode_all([b"data: \xff\n\n"]) == [ServerSentEvent(data="\ufffd")]


def test_feed_returns_events_as_soon_as_complete() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n") == []
    assert decoder.feed(b"\n") == [ServerSentEvent(data="a")]
    assert decoder.feed(b"") == []
    assert decoder.flush() == []


# ---- property tests --------------------------------------------------------------------------

_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x00"),
    max_size=20,
)
_newline = st.sampled_from([b"\n", b"\r\n", b"\r"])


@st.composite
def event_streams(draw: st.DrawFn) -> tuple[bytes, list[ServerSentEvent]]:
    """A well-formed stream with random line endings, comments and fields, and its events."""
    out = b""
    if draw(st.booleans()):
        out += b"\xef\xbb\xbf"
    expected: list[ServerSentEvent] = []
    last_id: str | None = None
    for _ in range(draw(st.integers(0, 6))):
        lines: list[bytes] = []
        name = draw(st.one_of(st.none(), _text.filter(lambda s: s != "")))
        if name is not None:
            lines.append(b"event: " + name.encode())
        if draw(st.booleans()):
            last_id = draw(_text)
            lines.append(b"id: " + last_id.encode())
        if draw(st.booleans()):
            lines.append(b": comment " + draw(_text).encode())
        data = draw(st.lists(_text, min_size=1, max_size=3))
        lines.extend(b"data: " + part.encode() for part in data)
        newline = draw(_newline)
        out += newline.join(lines) + newline + newline
        expected.append(ServerSentEvent(event=name or "message", data="\n".join(data), id=last_id))
    return out, expected


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, start = [], 0
    for point in points:
        pieces.append(data[start:point])
        start = point
    pieces.append(data[start:])
    return pieces


@settings(max_examples=300, deadline=None)
@given(event_streams(), st.lists(st.integers(0, 10_000), max_size=12))
def test_property_well_formed_stream_any_split(
    stream: tuple[bytes, list[ServerSentEvent]], cuts: list[int]
) -> None:
    raw, expected = stream
    assert decode_all([raw]) == expected
    assert decode_all(split_at(raw, cuts)) == expected


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=200)
    | st.lists(
        st.sampled_from(
            [b"data", b": ", b":", b"\r", b"\n", b"\r\n", b"event", b"id", b"retry", b"7", b"\xef",
             b"\xbb", b"\xbf", "é".encode(), b"x", b" ", b"\x00"]
        ),
        max_size=60,
    ).map(b"".join),
    st.lists(st.integers(0, 10_000), max_size=12),
)  # fmt: skip
def test_property_arbitrary_bytes_split_invariant(raw: bytes, cuts: list[int]) -> None:
    """Whatever the bytes (even garbage), the split points never change the events."""
    assert decode_all(split_at(raw, cuts)) == decode_all([raw])
    assert decode_all(bytewise(raw)) == decode_all([raw])
