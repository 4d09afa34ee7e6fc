"""``to_wire``/``from_wire`` fast paths: scalar lists copied whole, everything else converted."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from sandbox.protocol import CallbackHandle, RemoteObject, RemoteRegistry, from_wire, to_wire


class Point(BaseModel):
    x: int


def test_scalar_lists_are_copied_not_shared() -> None:
    short = [1, "a", 2.5, None, True]
    sent = to_wire(short, RemoteRegistry())
    assert sent == short
    assert sent is not short
    ids = list(range(500))
    received = from_wire(ids)
    assert received == ids
    assert received is not ids


def test_tuples_of_scalars_become_lists() -> None:
    assert to_wire((1, "a", None, True, 2.5), RemoteRegistry()) == [1, "a", None, True, 2.5]


def test_one_non_scalar_item_sends_the_list_down_the_full_path() -> None:
    remotes = RemoteRegistry()
    sent = to_wire([1, 2, CallbackHandle(7), Point(x=3)], remotes)
    assert sent == [1, 2, {"$callback": 7}, {"x": 3}]
    assert from_wire([1, {"$callback": 4}]) == [1, CallbackHandle(4)]


def test_remote_markers_inside_lists_are_resolved() -> None:
    remotes = RemoteRegistry()
    remote = RemoteObject(target=object())
    marker = to_wire([remote], remotes)[0]
    assert marker["$remote"] == 1
    assert from_wire([0, {"$remote": 1}], remotes) == [0, remote]
    with pytest.raises(ValueError, match="unknown remote object 2"):
        from_wire([0, {"$remote": 2}], remotes)


def test_unsendable_item_in_a_list_is_still_refused() -> None:
    with pytest.raises(TypeError, match="cannot send a set"):
        to_wire([1, {2}], RemoteRegistry())


def test_scalars_pass_through_untouched() -> None:
    for value in (None, True, 0, -1.5, "text"):
        assert to_wire(value, RemoteRegistry()) is value
        assert from_wire(value) is value


def test_worker_side_scalar_lists_stay_lists_and_nested_values_still_convert() -> None:
    from sandbox.proxy import CallbackRegistry, decode_from_host
    from sandbox.values import JSObject

    callbacks = CallbackRegistry()
    handle = callbacks.register(len)
    ids = [1, 2, 3]
    assert decode_from_host(ids, callbacks, transport=None) == [1, 2, 3]  # type: ignore[arg-type]
    mixed = decode_from_host([1, {"a": 2}, {"$callback": handle}], callbacks, None)  # type: ignore[arg-type]
    assert isinstance(mixed[1], JSObject)
    assert mixed[1].a == 2
    assert mixed[2] is len
