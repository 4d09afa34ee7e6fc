"""Markers inside values (``sandbox.wire``): packed int lists host -> worker, and plain dicts
that hold a marker key escaped both ways, so stored data never comes back as a marker."""

from __future__ import annotations

import json

import pytest

from sandbox.protocol import (
    CallbackHandle,
    RemoteRegistry,
    from_wire,
    parse_worker_message,
    to_wire,
)
from sandbox.proxy import CallbackRegistry, decode_from_host, encode_for_host
from sandbox.values import MAX_NESTING, JSObject
from sandbox.wire import PACK_MIN_INTS, ProtocolError, unpack_ints


def host_to_script(value: object) -> object:
    """Host value -> JSON on the pipe -> what the script sees."""
    sent = json.loads(json.dumps(to_wire(value, RemoteRegistry())))
    return decode_from_host(sent, CallbackRegistry(), transport=None)  # type: ignore[arg-type]


def script_to_host(value: object, callbacks: CallbackRegistry | None = None) -> object:
    sent = encode_for_host(value, callbacks or CallbackRegistry(), "value")
    return from_wire(json.loads(json.dumps(sent)))


@pytest.mark.parametrize(
    "ids",
    [
        list(range(PACK_MIN_INTS)),
        [-(2**31), 2**31 - 1, 0, -1] * 50,
        list(range(50_000)),
    ],
)
def test_long_int_lists_travel_packed_and_arrive_equal(ids: list[int]) -> None:
    sent = to_wire(ids, RemoteRegistry())
    assert set(sent) == {"$ints"}
    assert host_to_script(ids) == ids
    assert host_to_script(tuple(ids)) == ids


@pytest.mark.parametrize(
    "items",
    [
        list(range(PACK_MIN_INTS - 1)),  # too short to be worth it
        [True] * 40,  # bools stay bools
        [1] * 39 + [True],
        [1] * 39 + [1.0],  # a float stays a float
        [1] * 39 + [2**31],  # does not fit a C int
        [1] * 39 + [-(2**31) - 1],
        [1] * 39 + ["1"],
    ],
)
def test_other_lists_travel_as_json_and_keep_their_types(items: list[object]) -> None:
    sent = to_wire(items, RemoteRegistry())
    assert isinstance(sent, list)
    got = host_to_script(items)
    assert got == items
    assert [type(x) for x in got] == [type(x) for x in items]


def test_packed_ints_nested_in_a_result_unpack_in_place() -> None:
    result = {"choices": [{"text": "x", "token_ids": list(range(500)), "index": 0}]}
    got = host_to_script(result)
    assert isinstance(got, JSObject)
    assert got.choices[0].token_ids == list(range(500))


@pytest.mark.parametrize(
    "plain",
    [
        {"$remote": 1, "x": 2},
        {"$callback": 1},
        {"$ints": "AAAAAA=="},
        {"$dict": {"$remote": 3}},
        {"$dict": 1},
        {"deep": [{"$callback": 5}, {"$ints": 7}]},
    ],
)
def test_plain_dicts_with_marker_keys_round_trip_both_ways(plain: dict[str, object]) -> None:
    assert host_to_script(plain) == plain
    assert script_to_host(plain) == plain
    assert script_to_host(host_to_script(plain)) == plain


def test_real_markers_still_work_next_to_escaped_data() -> None:
    callbacks = CallbackRegistry()
    handle = callbacks.register(len)
    got = script_to_host({"cb": len, "data": {"$callback": handle}}, callbacks)
    assert got == {"cb": CallbackHandle(handle), "data": {"$callback": handle}}
    sent = json.loads(json.dumps(to_wire({"cb": CallbackHandle(handle)}, RemoteRegistry())))
    assert decode_from_host(sent, callbacks, transport=None)["cb"] is len  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "problem"),
    [(5, "base64 string"), ("not base64!", "not base64"), ("AAA=", "whole ints")],
)
def test_a_malformed_packed_list_is_a_protocol_error(text: object, problem: str) -> None:
    with pytest.raises(ProtocolError, match=problem):
        unpack_ints(text)


def test_data_nested_past_the_limit_is_refused_with_its_path() -> None:
    """5,000 nested lists raised a bare 'maximum recursion depth exceeded' in the worker."""

    deep: list[object] = []
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(TypeError, match=f"nested more than {MAX_NESTING} levels deep"):
        encode_for_host(deep, CallbackRegistry(), "value")
    fits: list[object] = []
    for _ in range(MAX_NESTING - 1):
        fits = [fits]
    assert script_to_host(fits) == fits  # MAX_NESTING lists, one in the other
    with pytest.raises(TypeError, match="nested more than"):
        encode_for_host([fits], CallbackRegistry(), "value")


def test_escaped_dicts_count_twice_so_what_passes_also_parses_on_the_host() -> None:
    """A dict holding a marker key travels wrapped (``{"$dict": ...}``), a level deeper: 190
    nested ones passed the worker's check, then the host's parser refused the frame and
    stopped the worker as a protocol violation. The check counts what is sent now."""

    def nest(n: int) -> dict[str, object]:
        value: dict[str, object] = {}
        for _ in range(n):
            value = {"$remote": 1, "v": value}
        return value

    # The arguments list, 99 wrapped dicts (two levels each) and the innermost {}: 200.
    args = encode_for_host(["k", nest(99)], CallbackRegistry(), "arguments")
    frame = {"t": "api_call", "id": 1, "sync": False, "path": "v1.storage.set", "args": args}
    parse_worker_message(json.dumps(frame).encode())  # the host takes it
    with pytest.raises(TypeError) as refused:
        encode_for_host(["k", nest(100)], CallbackRegistry(), "arguments")
    assert str(refused.value).endswith(
        f"nested more than {MAX_NESTING} levels deep (a dict with a key such as '$remote'"
        " counts twice)"
    )
    plain: list[object] = []  # plain data keeps the whole 200 levels, without the note
    for _ in range(MAX_NESTING):
        plain = [plain]
    with pytest.raises(TypeError, match=r"levels deep$"):
        encode_for_host(plain, CallbackRegistry(), "arguments")
