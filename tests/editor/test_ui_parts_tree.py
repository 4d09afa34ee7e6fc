"""The UI vocabulary without a worker: validation messages, rendering (ids, callback tokens,
storage-bound values, templates), part surgery, and the checks on values the page sends."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nai_script.editor.ui_parts import (
    PART_TYPES,
    ModalOptions,
    ToastOptions,
    UiValidationError,
    WindowOptions,
    validate_extensions,
    validate_options,
    validate_parts,
)
from nai_script.editor.ui_storage import storage_slot
from nai_script.editor.ui_tree import (
    CallbackSlot,
    CallbackTable,
    dump,
    find_part,
    iter_parts,
    merge_part,
    remove_part,
    render_target,
)
from nai_script.editor.ui_values import MAX_TEXT_CHARS, PageValueError, page_value
from sandbox.protocol import CallbackHandle

CB = CallbackHandle(1)

EVERY_PART: list[dict[str, Any]] = [
    {"type": "text", "text": "**hi**", "markdown": True},
    {"type": "image", "src": "data:image/png;base64,AAAA", "width": 10},
    {"type": "button", "text": "b", "callback": CB, "disabledWhileCallbackRunning": True},
    {"type": "textInput", "placeholder": "p", "onChange": CB, "onSubmit": CB},
    {"type": "multilineTextInput", "initialValue": "x"},
    {"type": "codeEditor", "id": "ed", "language": "css", "height": "20em", "fontSize": 12.5},
    {"type": "numberInput", "initialValue": 3},
    {"type": "checkboxInput", "label": "c", "initialValue": True},
    {"type": "sliderInput", "min": 0, "max": 1, "step": 0.1},
    {"type": "row", "spacing": "space-between", "content": [None, {"type": "text"}]},
    {"type": "column", "alignment": "center", "content": []},
    {"type": "box", "style": {"color": "red"}, "content": []},
    {"type": "container", "content": []},
    {"type": "collapsibleSection", "title": "t", "initialCollapsed": True, "content": []},
]


async def no_storage(key: str) -> Any:
    return None


def test_every_part_type_validates_and_dumps_what_was_set() -> None:
    assert {p["type"] for p in EVERY_PART} == set(PART_TYPES)
    parts = validate_parts(copy.deepcopy(EVERY_PART), "content")
    dumped = [dump(p) for p in parts]
    assert dumped[2]["callback"] == CB  # handles survive the dump as handles
    assert dumped[9]["content"] == [None, {"type": "text"}]
    assert "markdown" not in dumped[1]  # unset fields stay out of what the page sees


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("nope", "content: must be a list, got str"),
        ([{"type": "sliderInput", "min": 0}], "content[0].max: Field required"),
        ([{"type": "sliderInput", "min": 0, "max": 1, "step": 0}], "content[0].step"),
        ([{"type": "row", "spacing": "wide"}], "content[0].spacing: Input should be"),
        ([{"type": "image", "src": "http://x/y.png"}], "content[0].src: String should match"),
        ([{"type": "button", "text": "b"}], "content[0].callback: Field required"),
        ([{"text": "no type"}], "content[0]: unknown type None"),
        ([{"type": "jsx"}], "content[0]: unknown type 'jsx'; expected one of text, image"),
        ([{"type": "text", "id": ""}], "content[0].id: String should have at least 1"),
        ([{"type": "codeEditor"}], "content[0].id: Field required"),
        ([{"type": "codeEditor", "id": "c", "language": "py"}], "content[0].language: Input"),
        ([{"type": "codeEditor", "id": "c", "height": "tall"}], "content[0].height: must be a"),
        ([{"type": "codeEditor", "id": "c", "height": 0}], "height: must be a positive number"),
        ([{"type": "codeEditor", "id": "c", "height": True}], "content[0].height: must be a"),
        ([{"type": "codeEditor", "id": "c", "fontSize": "big"}], "fontSize: must be a number"),
        ([{"type": "codeEditor", "id": "c", "readOnly": 1}], "content[0].readOnly: Input"),
        ([{"type": "codeEditor", "id": "c", "onSubmit": CB}], "onSubmit: Extra inputs"),
        (
            [{"type": "codeEditor", "id": "c", "diagnosticCodesToIgnore": [1, "2"]}],
            "content[0].diagnosticCodesToIgnore[1]: Input should be a valid integer",
        ),
        (
            [{"type": "box", "content": [{"type": "box", "content": [{"type": "text", "x": 1}]}]}],
            "content[0].content[0].content[0].x: Extra inputs are not permitted",
        ),
    ],
)
def test_part_errors_name_the_path(raw: Any, message: str) -> None:
    with pytest.raises(UiValidationError) as caught:
        validate_parts(raw, "content")
    assert message in str(caught.value)


def test_first_index_names_the_item_of_the_longer_list() -> None:
    with pytest.raises(UiValidationError, match=r"^parts\[7\]\.max: Field required"):
        validate_parts([{"type": "sliderInput", "min": 0}], "parts", first_index=7)
    with pytest.raises(UiValidationError, match=r"^ext\[3\]\.name: Field required"):
        validate_extensions([{"type": "scriptPanel"}], "ext", first_index=3)


def test_extension_errors_list_extension_types_at_the_top_and_part_types_inside() -> None:
    with pytest.raises(UiValidationError, match="expected one of toolbarButton"):
        validate_extensions([{"type": "button"}], "e")
    with pytest.raises(UiValidationError, match=r"e\[0\]\.content\[0\]: .*expected one of text"):
        validate_extensions([{"type": "scriptPanel", "name": "n", "content": [{"type": "x"}]}], "e")


def test_options_models() -> None:
    window = validate_options(WindowOptions, {"defaultWidth": "50%", "content": []}, "w")
    assert window.defaultWidth == "50%"
    with pytest.raises(UiValidationError, match=r"m\.size"):
        validate_options(ModalOptions, {"size": "huge"}, "m")
    with pytest.raises(UiValidationError, match="w: must be a dict"):
        validate_options(WindowOptions, [], "w")
    assert validate_options(ToastOptions, {"autoClose": False}, "t").autoClose is False


async def test_render_gives_ids_tokens_and_values() -> None:
    raw = {
        "type": "window",
        "content": [
            {"type": "textInput", "id": "name", "storageKey": "story:n", "onChange": CB},
            {"type": "row", "content": [None, {"type": "button", "text": "b", "callback": CB}]},
            {"type": "checkboxInput", "initialValue": True},
            {"type": "collapsibleSection", "title": "t", "storageKey": "open", "content": []},
            {"type": "text", "text": "{{ n }} and {{missing}} and {{obj}}"},
            {"type": "text", "text": "{{n}}", "noTemplate": True},
        ],
    }
    storage = {"story:n": "Ann", "open": True, "n": "N", "obj": {"a": 1}}

    async def read(key: str) -> Any:
        return storage.get(key)

    table = CallbackTable()
    page_values = {("w", "~2"): False}
    out = await render_target("w", raw, table, read, page_values)
    name, row, checkbox, section, text, raw_text = out["content"]
    assert out["id"] == "w"
    assert name["value"] == "Ann"
    assert name["onChange"] == table.tokens[CallbackSlot("w", "name", "onChange")]
    assert row["id"] == "~1"
    assert [p["id"] for p in row["content"]] == ["~1.1"]  # the None part is skipped
    assert row["content"][0]["callback"].startswith("cb:")
    assert checkbox["value"] is False  # what the page last sent beats initialValue
    assert section["collapsed"] is True
    assert text["text"] == 'N and  and {"a": 1}'
    assert raw_text["text"] == "{{n}}"
    assert raw["content"][0]["onChange"] is CB  # the raw tree keeps the handles

    again = await render_target("w", raw, table, read, page_values)
    assert again == out  # tokens are stable across re-renders
    assert len(table.handles) == 2
    table.drop_target("w")
    assert table.handles == {}
    assert table.tokens == {}


async def test_duplicate_part_ids_are_refused() -> None:
    raw = {"content": [{"type": "text", "id": "a"}, {"type": "row", "content": [{"id": "a"}]}]}
    with pytest.raises(UiValidationError, match="two parts have the id 'a'"):
        await render_target("t", raw, CallbackTable(), no_storage, {})


def test_merge_and_remove_nested_parts() -> None:
    raw: dict[str, Any] = {
        "content": [{"type": "row", "content": [{"type": "text", "id": "deep", "text": "a"}]}]
    }
    assert merge_part(raw, "deep", {"text": "b"}) is True
    assert raw["content"][0]["content"][0]["text"] == "b"
    assert merge_part(raw, "ghost", {}) is False
    assert find_part({"content": [{"id": "x", "content": [{"id": "y"}]}]}, "y") == {"id": "y"}
    assert remove_part(raw, "deep") is True
    assert raw["content"][0]["content"] == []
    assert remove_part(raw, "deep") is False


def test_storage_slots() -> None:
    assert storage_slot("story:a") == ("storyStorage", "a")
    assert storage_slot("history:b:c") == ("historyStorage", "b:c")
    assert storage_slot("plain") == ("storage", "plain")


@pytest.mark.parametrize(
    ("part", "event", "value", "args", "stored"),
    [
        ({"type": "button"}, "callback", "ignored", [], None),
        ({"type": "toolbarButton"}, "callback", None, [], None),
        (
            {"type": "contextMenuButton"},
            "callback",
            {"from": 1},
            [{"selection": {"from": 1}}],
            None,
        ),
        ({"type": "contextMenuButton"}, "callback", "junk", [{"selection": {}}], None),
        ({"type": "textInput"}, "onSubmit", "hi", ["hi"], "hi"),
        ({"type": "multilineTextInput"}, "onChange", "a\nb", ["a\nb"], "a\nb"),
        ({"type": "codeEditor"}, "onChange", "a\n\tb", ["a\n\tb"], "a\n\tb"),
        ({"type": "numberInput"}, "onChange", "42", ["42"], 42),
        ({"type": "numberInput"}, "onChange", "4.5", ["4.5"], 4.5),
        ({"type": "numberInput"}, "onChange", "", [""], ""),
        ({"type": "numberInput"}, "onChange", 7, ["7"], 7),
        ({"type": "checkboxInput"}, "onChange", True, [True], True),
        ({"type": "sliderInput", "min": 0, "max": 10}, "onChange", 2.5, [2.5], 2.5),
        ({"type": "sliderInput", "min": 0, "max": 10, "uncapMax": True}, "onChange", 99, [99], 99),
        (
            {"type": "sliderInput", "min": 0, "max": 9, "preventDecimal": True},
            "onChange",
            3.0,
            [3],
            3,
        ),
        ({"type": "collapsibleSection"}, "toggle", True, [], True),
    ],
)
def test_page_values_accepted(
    part: dict[str, Any], event: str, value: Any, args: list[Any], stored: Any
) -> None:
    result = page_value({"id": "p", **part}, event, value)
    assert result.call_args == args
    assert result.stored == stored


@pytest.mark.parametrize(
    ("part", "event", "value", "message"),
    [
        ({"type": "text"}, "callback", None, "has no 'callback' event"),
        ({"type": "button"}, "onChange", None, "events: callback"),
        ({"type": "button", "disabled": True}, "callback", None, "is disabled"),
        ({"type": "textInput"}, "onChange", 5, "must be a string, got int"),
        ({"type": "codeEditor"}, "onChange", None, "must be a string, got NoneType"),
        ({"type": "codeEditor"}, "onSubmit", "x", "events: onChange"),
        ({"type": "codeEditor", "readOnly": True}, "onChange", "x", "'p' is read-only"),
        ({"type": "textInput"}, "onChange", "x" * (MAX_TEXT_CHARS + 1), "limit 1000000"),
        ({"type": "checkboxInput"}, "onChange", 1, "must be true or false"),
        ({"type": "sliderInput", "min": 0, "max": 1}, "onChange", True, "finite number"),
        ({"type": "sliderInput", "min": 0, "max": 1}, "onChange", float("inf"), "finite number"),
        ({"type": "sliderInput", "min": 2, "max": 5}, "onChange", 1, "below its min 2"),
        (
            {"type": "sliderInput", "min": 0, "max": 5, "preventDecimal": True},
            "onChange",
            1.5,
            "whole",
        ),
        ({"type": "numberInput"}, "onChange", [1], "finite number"),
        ({"type": "collapsibleSection"}, "toggle", "open", "must be true or false"),
    ],
)
def test_page_values_refused(part: dict[str, Any], event: str, value: Any, message: str) -> None:
    with pytest.raises(PageValueError, match=message):
        page_value({"id": "p", **part}, event, value)


_leaf = st.fixed_dictionaries(
    {"type": st.just("button"), "callback": st.just(CB)},
    optional={"id": st.text("abc", min_size=1, max_size=3)},
)
_tree = st.recursive(
    _leaf,
    lambda children: st.fixed_dictionaries(
        {
            "type": st.sampled_from(["row", "column", "box"]),
            "content": st.lists(children, max_size=4),
        }
    ),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_tree, max_size=4))
async def test_any_tree_renders_with_unique_ids_and_one_token_per_callback(
    content: list[dict[str, Any]],
) -> None:
    given_ids = [p["id"] for p in iter_parts(content) if "id" in p]
    table = CallbackTable()
    raw = {"content": content}
    if len(given_ids) != len(set(given_ids)):
        with pytest.raises(UiValidationError, match="two parts have the id"):
            await render_target("t", raw, table, no_storage, {})
        return
    out = await render_target("t", raw, table, no_storage, {})
    rendered = list(iter_parts(out["content"]))
    ids = [p["id"] for p in rendered]
    assert len(ids) == len(set(ids)) == len(list(iter_parts(content)))
    buttons = [p for p in rendered if p["type"] == "button"]
    assert len(table.handles) == len(buttons)
    assert {p["callback"] for p in buttons} == set(table.tokens.values())
