"""JS-like values: JSObject access rules and the to/from conversions at the host boundary."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sandbox.compiler import compile_script
from sandbox.runtime import make_globals, run_compiled
from sandbox.values import JSObject, from_script_value, shown, text_of, to_script_value


def test_attribute_and_item_access_agree() -> None:
    resp = to_script_value({"choices": [{"text": "hi", "index": 0}]})
    assert resp.choices[0].text == resp["choices"][0]["text"] == "hi"
    resp.choices[0].text = "bye"
    assert resp["choices"][0]["text"] == "bye"
    del resp.choices[0].index
    assert "index" not in resp.choices[0]


def test_data_keys_win_over_dict_methods() -> None:
    entry = to_script_value({"keys": ["dragon"], "items": 3})
    assert entry.keys == ["dragon"]
    assert entry.items == 3
    assert dict.keys(entry) == {"keys": 1, "items": 1}.keys()
    plain = JSObject(a=1)
    assert list(plain.keys()) == ["a"]
    assert plain.get("a") == 1


def test_rewrapping_a_jsobject_with_method_named_keys() -> None:
    value = to_script_value({"items": [1], "keys": {"get": 2}, "values": None})
    again = to_script_value(value)
    assert again == {"items": [1], "keys": {"get": 2}, "values": None}
    assert again.keys.get == 2
    assert from_script_value(again) == {"items": [1], "keys": {"get": 2}, "values": None}


def test_tuples_and_lists_become_lists_of_wrapped_values() -> None:
    value = to_script_value({"pairs": ({"a": 1}, [{"b": 2}])})
    assert value == {"pairs": [{"a": 1}, [{"b": 2}]]}
    assert type(value.pairs) is list
    assert value.pairs[0].a == 1
    assert value.pairs[1][0].b == 2


def test_missing_and_private_attributes() -> None:
    value = JSObject(a=1)
    with pytest.raises(AttributeError, match="'missing'"):
        value.missing  # noqa: B018
    with pytest.raises(AttributeError):
        del value.missing
    value["_hidden"] = 1
    with pytest.raises(AttributeError):
        value._hidden  # noqa: B018
    assert "a" in dir(value)
    assert repr(value) == "JSObject({'a': 1, '_hidden': 1})"


def test_jsobject_is_a_real_dict_for_json_and_equality() -> None:
    value = to_script_value({"a": [1, {"b": None}]})
    assert isinstance(value, dict)
    assert value == {"a": [1, {"b": None}]}
    assert json.loads(json.dumps(value)) == {"a": [1, {"b": None}]}


def test_to_script_value_wraps_recursively_without_mutating_input() -> None:
    data = {"a": [{"b": 1}, (2, {"c": 3})], "n": None}
    wrapped = to_script_value(data)
    assert type(wrapped) is JSObject
    assert type(wrapped.a) is list
    assert type(wrapped.a[0]) is JSObject
    assert wrapped.a[1] == [2, {"c": 3}]
    assert type(wrapped.a[1][1]) is JSObject
    assert type(data["a"][0]) is dict  # type: ignore[index]
    assert to_script_value(5) == 5
    assert to_script_value("s") == "s"


def test_from_script_value_returns_plain_types() -> None:
    value = to_script_value({"a": [1, 2.5, True, None, "s", (1, 2)], "b": {"c": {}}})
    plain = from_script_value(value)
    assert plain == {"a": [1, 2.5, True, None, "s", [1, 2]], "b": {"c": {}}}
    assert type(plain) is dict
    assert type(plain["b"]["c"]) is dict
    assert type(plain["a"][5]) is list


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"a": {1, 2}}, "value['a']: cannot pass a set"),
        ([1, [2, object()]], "value[1][1]: cannot pass a object"),
        ({"a": {3.5: "x"}}, "value['a']: key 3.5 has type 'float'; keys must be str or int"),
        ({"a": {True: "x"}}, "value['a']: key True has type 'bool'; keys must be str or int"),
        ({3: "x", "3": "y"}, "value: key '3' is given twice, as an int and a str"),
        ({"f": print}, "value['f']: cannot pass a function here"),
        (b"bytes", "value: cannot pass a bytes"),
    ],
)
def test_from_script_value_names_the_bad_path(value: Any, message: str) -> None:
    with pytest.raises(TypeError) as caught:
        from_script_value(value)
    assert str(caught.value).startswith(message)


def test_from_script_value_detects_cycles_but_allows_shared_values() -> None:
    shared = [1]
    assert from_script_value({"a": shared, "b": shared}) == {"a": [1], "b": [1]}
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(TypeError, match=r"value\[0\]: refers to itself"):
        from_script_value(loop)


def test_callables_go_to_the_hook_with_their_path() -> None:
    seen: list[str] = []

    def hook(function: Any, path: str) -> dict[str, int]:
        seen.append(path)
        return {"$callback": len(seen)}

    def callback() -> None:
        return None

    plain = from_script_value(
        {"onClick": callback, "parts": [{"fn": callback}]}, on_callable=hook, path="opts"
    )
    assert plain == {"onClick": {"$callback": 1}, "parts": [{"fn": {"$callback": 2}}]}
    assert seen == ["opts['onClick']", "opts['parts'][0]['fn']"]


def test_script_made_values_convert_and_script_objects_are_refused() -> None:
    script_globals = make_globals(object(), print_sink=lambda _text: None)
    source = (
        "class Thing:\n    pass\n"
        "async def handler(x):\n    return x\n"
        "result = {'list': [1, 2], 'nested': {'ok': True}}\nthing = Thing()\n"
    )
    run_compiled(compile_script(source, "values.py"), script_globals)
    assert from_script_value(script_globals["result"]) == {
        "list": [1, 2],
        "nested": {"ok": True},
    }
    with pytest.raises(TypeError, match="value: cannot pass a Thing"):
        from_script_value(script_globals["thing"])
    marker = from_script_value(script_globals["handler"], on_callable=lambda fn, path: path)
    assert marker == "value"
    with pytest.raises(TypeError, match="cannot pass a ScriptClassMeta"):
        from_script_value(script_globals["Thing"])


class _Remote:
    passes_by_reference = True


class _Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no")


def _named() -> None:
    pass


def test_shown_keeps_data_and_prints_the_rest() -> None:
    """``log``'s arguments: data as it is, anything else as its text (never a refusal)."""
    assert shown({"a": [1, "x", None]}) == {"a": [1, "x", None]}
    assert shown((1, 2)) == [1, 2]
    assert shown({"s": {3}, "e": KeyError("k"), "f": _named}) == {
        "s": "{3}",
        "e": "KeyError: 'k'",
        "f": "[Function: _named]",
    }
    assert shown([_Remote(), lambda: 1]) == ["[object]", "[Function: <lambda>]"]
    assert shown(_Unprintable()) == "<_Unprintable object>"
    cycle: list[Any] = [1]
    cycle.append(cycle)
    assert shown(cycle) == "[1, [...]]"  # refused as data, printed as text


class _NamelessCallable:
    """A callable whose ``__name__`` raises, as a script's object may."""

    def __call__(self) -> None:
        pass

    @property
    def __name__(self) -> str:
        raise RuntimeError("no name")


def test_a_function_whose_name_fails_is_still_shown() -> None:
    assert shown([_NamelessCallable()]) == ["[Function]"]


def test_text_of_names_exceptions_by_type() -> None:
    assert text_of(ValueError("bad")) == "ValueError: bad"
    assert text_of(StopIteration()) == "StopIteration"
    assert text_of(frozenset()) == "frozenset()"
