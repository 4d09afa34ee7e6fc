"""api.v1.ui from real sandboxed scripts, with a real UiState and EventBus standing in for the
page: registering, clicking, storage-bound inputs, windows closed from either side, errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from host_helpers import Env, drain, hosted, run_ui_event

from nai_script.editor.events import EventBus, Subscription
from nai_script.editor.ui_page import UiEventError
from nai_script.editor.ui_state import UiState
from sandbox.rlimits import WorkerLimits

HEADER = '"""\n---\nid: {id}\nname: UI test\n---\n"""\n'


@asynccontextmanager
async def with_page(
    tmp_path: Path, **host_kwargs: Any
) -> AsyncIterator[tuple[Env, UiState, Subscription]]:
    async with hosted(tmp_path, **host_kwargs) as env:
        bus = EventBus()
        state = UiState(env.host, bus)
        env.host.ui = state
        yield env, state, bus.subscribe()


def script(body: str, script_id: str = "uitest") -> str:
    return HEADER.format(id=script_id) + body


async def test_toolbar_button_click_runs_the_callback_and_counts_as_interaction(
    tmp_path: Path,
) -> None:
    async with with_page(tmp_path) as (env, state, sub):
        told: list[str | None] = []
        env.host.interaction_listeners.append(told.append)
        await env.run(
            script(
                "def clicked():\n    api.v1.log('clicked!')\n"
                "await api.v1.ui.register([{'type': 'toolbarButton', 'id': 'go', 'text': 'Go',"
                " 'callback': clicked}])\n"
            )
        )
        [event] = drain(sub, "ui.extensions")
        [button] = event["extensions"]
        assert event["scriptId"] == "uitest"
        assert button["id"] == "go"
        assert button["text"] == "Go"
        assert isinstance(button["callback"], str)
        assert button["callback"].startswith("cb:")
        assert state.snapshot()["extensions"] == {"uitest": [button]}
        assert await run_ui_event(state, "uitest", "go", None, "callback") is True
        assert env.lines("uitest") == ["clicked!"]
        assert told == ["uitest"]


async def test_panel_inputs_bind_to_storage_and_pass_values_to_callbacks(tmp_path: Path) -> None:
    body = (
        "def changed(v):\n    api.v1.log('name=' + v)\n"
        "def checked(v):\n    api.v1.log('checked=' + str(v))\n"
        "def slid(v):\n    api.v1.log('slider=' + str(v))\n"
        "def numbered(v):\n    api.v1.log('number=' + repr(v))\n"
        "await api.v1.storage.set('name', 'stored name')\n"
        "await api.v1.ui.register([{'type': 'scriptPanel', 'id': 'p', 'name': 'Panel', 'content': [\n"
        "  {'type': 'textInput', 'id': 'name', 'storageKey': 'name', 'onChange': changed},\n"
        "  {'type': 'row', 'content': [\n"
        "    {'type': 'checkboxInput', 'id': 'c', 'initialValue': False, 'onChange': checked,"
        "     'storageKey': 'story:flag'},\n"
        "    {'type': 'sliderInput', 'id': 's', 'min': 0, 'max': 10, 'onChange': slid},\n"
        "    {'type': 'numberInput', 'id': 'n', 'onSubmit': numbered, 'storageKey': 'num'},\n"
        "  ]},\n"
        "  {'type': 'text', 'text': 'Hello {{name}}!'},\n"
        "]}])\n"
    )
    async with with_page(tmp_path) as (env, state, sub):
        loaded = await env.run(script(body))
        [panel] = drain(sub, "ui.extensions")[0]["extensions"]
        name_input, row, text = panel["content"]
        assert name_input["value"] == "stored name"
        assert text["text"] == "Hello stored name!"
        assert row["id"].startswith("~")  # an id the page can address, given by the host
        assert [p["id"] for p in row["content"]] == ["c", "s", "n"]
        assert row["content"][0]["value"] is False

        for part, event, value in [
            ("name", "onChange", "Ann"),
            ("c", "onChange", True),
            ("s", "onChange", 7.5),
            ("n", "onSubmit", "42"),
        ]:
            await run_ui_event(state, "uitest", "p", part, event, value)
        assert env.lines("uitest") == ["name=Ann", "checked=True", "slider=7.5", "number='42'"]
        storage = env.host.storage_for(loaded, "storage")
        assert storage.get("name") == "Ann"
        assert storage.get("num") == 42
        assert env.host.storage_for(loaded, "storyStorage").get("flag") is True

        # the page's latest values survive a re-render (a new page sees them in the snapshot)
        await state.update(loaded, [{"id": "p", "name": "Panel 2"}])
        [panel] = state.snapshot()["extensions"]["uitest"]
        assert panel["name"] == "Panel 2"
        assert panel["content"][0]["value"] == "Ann"
        assert panel["content"][1]["content"][1]["value"] == 7.5
        assert panel["content"][2]["text"] == "Hello Ann!"


async def test_window_closed_by_the_page_resolves_closed_in_the_script(tmp_path: Path) -> None:
    body = (
        "win = await api.v1.ui.window.open({'title': 'W', 'id': 'w1', 'content': [\n"
        "  {'type': 'text', 'id': 't', 'text': 'one'}]})\n"
        "api.v1.log('open', win.isClosed(), win.id)\n"
        "await win.update({'title': 'W2'})\n"
        "await api.v1.ui.updateParts([{'id': 't', 'text': 'two'}])\n"
        "await win.closed\n"
        "api.v1.log('closed', win.isClosed())\n"
    )
    async with with_page(tmp_path) as (env, state, _sub):
        loading = asyncio.create_task(env.load(script(body)))  # its top level awaits `closed`
        for _ in range(500):
            window = state.window("uitest", "w1")
            if window is not None and window.rendered["content"][0]["text"] == "two":
                break
            await asyncio.sleep(0.02)
        assert state.windows_of("uitest")[0]["title"] == "W2"
        assert state.windows_of("uitest")[0]["kind"] == "window"
        assert not loading.done()
        assert await state.close_window_from_page("uitest", "w1") is True
        loaded = await asyncio.wait_for(loading, 10)
        await asyncio.wait_for(env.host.wait_idle(loaded), 10)
        assert env.lines("uitest") == ["open False w1", "closed True"]
        assert state.windows_of("uitest") == []
        assert await state.close_window_from_page("uitest", "w1") is False


async def test_window_events_are_published_in_order(tmp_path: Path) -> None:
    body = (
        "m = await api.v1.ui.modal.open({'title': 'M', 'size': 'small', 'content': [\n"
        "  {'type': 'button', 'id': 'b', 'text': 'x', 'callback': lambda: None}]})\n"
        "await m.update({'content': []})\n"
        "await m.close()\n"
        "api.v1.log(m.isClosed())\n"
        "await m.close()\n"  # closing twice is harmless
        "try:\n    await m.update({'title': 'again'})\nexcept Exception as e:\n    api.v1.log(str(e))\n"
    )
    async with with_page(tmp_path) as (env, _state, sub):
        await env.run(script(body))
        events = drain(sub)
        assert [e["type"] for e in events] == [
            "ui.window.open",
            "ui.window.update",
            "ui.window.close",
        ]
        opened = events[0]["window"]
        assert opened["kind"] == "modal"
        assert opened["size"] == "small"
        assert opened["id"].startswith("modal-")
        assert events[2]["windowId"] == opened["id"]
        assert events[1]["window"]["content"] == []
        assert env.lines("uitest")[0] == "True"
        assert "closed" in env.lines("uitest")[1]


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (
            "api.v1.ui.register([{'type': 'scriptPanel', 'name': 'P', 'content': ["
            "{'type': 'row', 'content': [{'type': 'sliderInput', 'max': 3}]}]}])",
            "ui.register extensions[0].content[0].content[0].min: Field required",
        ),
        (
            "api.v1.ui.register([{'type': 'toolbarButton', 'callback': 'not a function'}])",
            "ui.register extensions[0].callback: must be a function, got str",
        ),
        ("api.v1.ui.register([{'type': 'menuBar'}])", "unknown type 'menuBar'"),
        (
            "api.v1.ui.window.open({'content': [{'type': 'dropdown', 'id': 'x'}]})",
            "ui.window.open options.content[0]: unknown type 'dropdown'",
        ),
        (
            "api.v1.ui.window.open({'content': [{'type': 'codeEditor', 'initialValue': 'x'}]})",
            "ui.window.open options.content[0].id: Field required",
        ),
        (
            "api.v1.ui.window.open({'content': [{'type': 'codeEditor', 'id': 'c',"
            " 'language': 'python'}]})",
            "ui.window.open options.content[0].language: Input should be 'typescript'",
        ),
        (
            "api.v1.ui.register([{'type': 'scriptPanel', 'name': 'P', 'content': ["
            "{'type': 'codeEditor', 'id': 'c', 'height': 'tall'}]}])",
            "ui.register extensions[0].content[0].height: must be a number of pixels or a CSS"
            " length like '300px' or '50%', got 'tall'",
        ),
        (
            "api.v1.ui.window.open({'content': [{'type': 'button', 'text': 'b', 'onclick': 1,"
            " 'callback': print}]})",
            "ui.window.open options.content[0].onclick: Extra inputs are not permitted",
        ),
        ("api.v1.ui.toast(3)", "ui.toast message: must be a string"),
        ("api.v1.ui.toast('hi', {'type': 'loud'})", "ui.toast options.type"),
        ("api.v1.ui.update([{'id': 'nope', 'text': 'x'}])", "no extension with id 'nope'"),
        ("api.v1.ui.remove('abc')", "ui.remove ids: must be a list of strings"),
        ("api.v1.ui.openPanel('nope')", "ui.openPanel id: no panel with id 'nope'"),
        (
            "api.v1.ui.window.open({'content': [{'type': 'text', 'id': 'a'},"
            " {'type': 'text', 'id': 'a'}]})",
            "two parts have the id 'a'",
        ),
    ],
)
async def test_bad_ui_data_fails_naming_the_field(tmp_path: Path, call: str, expected: str) -> None:
    await assert_refused(tmp_path, call, expected)


async def assert_refused(tmp_path: Path, call: str, expected: str) -> None:
    """``await call`` in a script, with a page, raises a ValueError whose text has ``expected``."""
    body = f"try:\n    await {call}\nexcept ValueError as e:\n    api.v1.log('error: ' + str(e))\n"
    async with with_page(tmp_path) as (env, _state, _sub):
        await env.run(script(body))
        [line] = env.lines("uitest")
        assert line.startswith("error: ")
        assert expected in line


async def test_without_a_page_ui_calls_fail_clearly(tmp_path: Path) -> None:
    body = "try:\n    await api.v1.ui.toast('hi')\nexcept Exception as e:\n    api.v1.log(str(e))\n"
    async with hosted(tmp_path) as env:
        await env.run(script(body))
        [line] = env.lines()
        assert "api.v1.ui.toast: this call needs the editor page (nai-script serve)" in line


async def test_toast_update_remove_and_parts(tmp_path: Path) -> None:
    body = (
        "await api.v1.ui.toast('Saved', {'id': 't1', 'autoClose': 2000, 'type': 'success'})\n"
        "await api.v1.ui.register([\n"
        "  {'type': 'sidebarPanel', 'id': 'side', 'name': 'S', 'content': [\n"
        "    {'type': 'text', 'id': 'a', 'text': 'A'}, {'type': 'text', 'id': 'b', 'text': 'B'}]},\n"
        "  {'type': 'contextMenuButton', 'text': 'Ctx', 'callback': lambda a: api.v1.log(a)},\n"
        "])\n"
        "await api.v1.ui.updateParts([{'id': 'a', 'text': 'A2'}, {'id': 'ghost', 'text': 'x'}])\n"
        "await api.v1.ui.removeParts(['b'])\n"
        "await api.v1.ui.update([{'id': 'new', 'type': 'toolbarButton', 'text': 'N'}])\n"
        "await api.v1.ui.openPanel('side')\n"
        "await api.v1.ui.closePanel()\n"
    )
    async with with_page(tmp_path) as (env, state, sub):
        await env.run(script(body))
        events = drain(sub)
        toast = events[0]
        assert toast == {
            "type": "ui.toast",
            "scriptId": "uitest",
            "id": "t1",
            "message": "Saved",
            "autoClose": 2000,
            "toastType": "success",
        }
        extensions = state.extensions_of("uitest")
        assert [e["id"] for e in extensions] == ["side", "contextMenuButton-1", "new"]
        assert extensions[0]["content"] == [{"type": "text", "id": "a", "text": "A2"}]
        assert [e["panelId"] for e in events if e["type"] == "ui.panel"] == ["side", None]
        assert env.lines("uitest", "error") == ["ui.updateParts: no part with id 'ghost'"]
        await run_ui_event(
            state, "uitest", "contextMenuButton-1", None, "callback", {"from": 1, "to": 3}
        )
        assert env.lines("uitest") == ['{"selection": {"from": 1, "to": 3}}']


async def test_bad_page_events_are_refused_before_reaching_the_script(tmp_path: Path) -> None:
    body = (
        "await api.v1.ui.register([{'type': 'scriptPanel', 'id': 'p', 'name': 'P', 'content': [\n"
        "  {'type': 'checkboxInput', 'id': 'c', 'onChange': print},\n"
        "  {'type': 'sliderInput', 'id': 's', 'min': 0, 'max': 5, 'onChange': print},\n"
        "  {'type': 'button', 'id': 'off', 'text': 'x', 'disabled': True, 'callback': print},\n"
        "]}])\n"
    )
    async with with_page(tmp_path) as (env, state, _sub):
        await env.run(script(body))
        told: list[str | None] = []
        env.host.interaction_listeners.append(told.append)
        bad = [
            ("nobody", "p", "c", "onChange", True, "script 'nobody' has no UI"),
            ("uitest", "q", "c", "onChange", True, "no window or extension 'q'"),
            ("uitest", "p", "zz", "onChange", True, "has no part 'zz'"),
            ("uitest", "p", "c", "onSubmit", True, "no 'onSubmit' event"),
            ("uitest", "p", "c", "onChange", "yes", "must be true or false"),
            ("uitest", "p", "s", "onChange", 6, "above its max 5"),
            ("uitest", "p", "s", "onChange", float("nan"), "finite number"),
            ("uitest", "p", "off", "callback", None, "is disabled"),
        ]
        for script_id, target, part, event, value, message in bad:
            with pytest.raises(UiEventError, match=message):
                await state.handle_ui_event(script_id, target, part, event, value)
        assert told == []  # refused events are not interactions


async def test_reloading_a_script_drops_its_old_ui(tmp_path: Path) -> None:
    body = (
        "await api.v1.ui.register([{'type': 'toolbarButton', 'id': 'b', 'callback': print}])\n"
        "w = await api.v1.ui.window.open({'id': 'w', 'content': []})\n"
    )
    async with with_page(tmp_path) as (env, state, sub):
        first = await env.run(script(body))
        drain(sub)
        await env.host.unload_script(first.path)
        with pytest.raises(UiEventError, match="no longer loaded"):
            await state.handle_ui_event("uitest", "b", None, "callback")
        assert [e["type"] for e in drain(sub)] == ["ui.window.close", "ui.extensions"]
        assert state.snapshot() == {"extensions": {}, "windows": []}


async def test_part_and_extension_helpers_fill_in_the_type(tmp_path: Path) -> None:
    body = (
        "ui = api.v1.ui\n"
        "def go():\n    api.v1.log('went')\n"
        "text = ui.part.text({'text': 'hi', 'id': 't'})\n"
        "button = ui.part.button(text='Go', callback=go)\n"
        "panel = ui.extension.scriptPanel({'id': 'p', 'name': 'P', 'content': [text, button]})\n"
        "api.v1.log(text)\n"
        "await ui.register([panel])\n"
        "for bad in (lambda: ui.part.sliderInput({'min': 1}), lambda: ui.part.text(3),\n"
        "            lambda: ui.extension.toolbarButton({'callback': 'x'})):\n"
        "    try:\n        bad()\n    except ValueError as e:\n        api.v1.log(str(e))\n"
    )
    async with with_page(tmp_path) as (env, state, _sub):
        await env.run(script(body))
        assert env.lines("uitest") == [
            '{"text": "hi", "id": "t", "type": "text"}',
            "ui.part.sliderInput.max: Field required",
            "ui.part.text config: must be a dict, got int",
            "ui.extension.toolbarButton.callback: must be a function, got str",
        ]
        [panel] = state.extensions_of("uitest")
        assert [p["type"] for p in panel["content"]] == ["text", "button"]
        await run_ui_event(state, "uitest", "p", panel["content"][1]["id"], "callback")
        assert env.lines("uitest")[-1] == "went"


async def test_helpers_work_without_a_page(tmp_path: Path) -> None:
    async with hosted(tmp_path) as env:
        await env.run(script("api.v1.log(api.v1.ui.part.box(content=[])['type'])\n"))
        assert env.lines() == ["box"]


async def test_code_editor_binds_to_storage_and_passes_edits_to_on_change(tmp_path: Path) -> None:
    body = (
        "def changed(v):\n    api.v1.log('code=' + v)\n"
        "await api.v1.storyStorage.set('src', 'let a = 1')\n"
        "editor = api.v1.ui.part.codeEditor({'id': 'code', 'language': 'json', 'height': '50%',"
        " 'storageKey': 'story:src', 'onChange': changed, 'diagnosticCodesToIgnore': [2304]})\n"
        "api.v1.log(editor['type'])\n"
        "await api.v1.ui.window.open({'id': 'w', 'content': [editor,"
        " api.v1.ui.part.codeEditor(id='ro', readOnly=True, initialValue='fixed', fontSize=12)]})\n"
    )
    async with with_page(tmp_path) as (env, state, _sub):
        loaded = await env.run(script(body))
        [window] = state.snapshot()["windows"]
        code, read_only = window["content"]
        assert code["value"] == "let a = 1"  # the stored value wins over initialValue
        assert code["language"] == "json"
        assert code["height"] == "50%"
        assert read_only["value"] == "fixed"
        assert await run_ui_event(state, "uitest", "w", "code", "onChange", "x\n\ty") is True
        assert env.lines("uitest") == ["codeEditor", "code=x\n\ty"]
        assert env.host.storage_for(loaded, "storyStorage").get("src") == "x\n\ty"
        with pytest.raises(UiEventError, match="'ro' is read-only"):
            await state.handle_ui_event("uitest", "w", "ro", "onChange", "changed")
        with pytest.raises(UiEventError, match="no 'onSubmit' event"):
            await state.handle_ui_event("uitest", "w", "code", "onSubmit", "x")
        [window] = state.snapshot()["windows"]
        assert window["content"][0]["value"] == "x\n\ty"


async def test_larry_help_opens_a_modal_whose_buttons_run_their_callback_and_close_it(
    tmp_path: Path,
) -> None:
    body = (
        "def yes():\n    api.v1.log('chose yes')\n"
        "def later():\n    api.v1.log('chose later')\n"
        "result = api.v1.ui.larry.help({'question': 'Continue {{x}}?', 'mood': 'any key is fine',"
        " 'options': [{'text': 'Sure', 'callback': yes}, {'text': 'Later', 'callback': later}]})\n"
        "api.v1.log('returned', result)\n"
    )
    async with with_page(tmp_path) as (env, state, sub):
        await env.run(script(body))
        assert env.lines("uitest") == ["returned None"]  # sync: the modal is already open
        [opened] = [e["window"] for e in drain(sub, "ui.window.open")]
        assert opened["kind"] == "modal"
        assert opened["title"] == "Larry"
        assert opened["id"].startswith("larry-")
        text, row = opened["content"]
        assert (text["type"], text["text"]) == ("text", "Continue {{x}}?")
        assert row["type"] == "row"
        buttons = row["content"]
        assert [(b["type"], b["text"]) for b in buttons] == [
            ("button", "Sure"),
            ("button", "Later"),
        ]
        assert all(b["callback"].startswith("cb:") for b in buttons)

        assert await run_ui_event(state, "uitest", opened["id"], buttons[1]["id"], "callback")
        assert env.lines("uitest") == ["returned None", "chose later"]
        [closed] = drain(sub, "ui.window.close")
        assert closed["windowId"] == opened["id"]
        assert state.windows_of("uitest") == []
        with pytest.raises(UiEventError, match="no window or extension"):
            await state.handle_ui_event("uitest", opened["id"], buttons[0]["id"], "callback")


async def test_larry_help_without_options_shows_yes_and_no_that_just_close(
    tmp_path: Path,
) -> None:
    body = "api.v1.ui.larry.help(question='Need help?')\napi.v1.ui.larry.help({'question': 'Q2'})\n"
    async with with_page(tmp_path) as (env, state, sub):
        await env.run(script(body))
        first, second = [e["window"] for e in drain(sub, "ui.window.open")]
        for window, clicked in ((first, 0), (second, 1)):
            buttons = window["content"][1]["content"]
            assert [b["text"] for b in buttons] == ["Yes", "No"]
            assert all("callback" not in b for b in buttons)
            part = buttons[clicked]["id"]
            assert await state.handle_ui_event("uitest", window["id"], part, "callback") is None
        assert [e["windowId"] for e in drain(sub, "ui.window.close")] == [first["id"], second["id"]]
        assert state.windows_of("uitest") == []
        assert env.lines("uitest") == []


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        ("api.v1.ui.larry.help('hi')", "ui.larry.help config: must be a dict, got str"),
        ("api.v1.ui.larry.help({})", "ui.larry.help question: must be a string, got NoneType"),
        ("api.v1.ui.larry.help({'question': 3})", "ui.larry.help question: must be a string"),
        (
            "api.v1.ui.larry.help({'question': 'q', 'options': 'Yes'})",
            "ui.larry.help options: must be a list, got str",
        ),
        (
            "api.v1.ui.larry.help({'question': 'q', 'options': ["
            "{'text': 'a', 'callback': print}, {'text': 2, 'callback': print}]})",
            "ui.larry.help options[1].text: must be a string, got int",
        ),
        (
            "api.v1.ui.larry.help({'question': 'q', 'options': [{'text': 'a'}]})",
            "ui.larry.help options[0].callback: must be a function, got NoneType",
        ),
        (
            "api.v1.ui.larry.help({'question': 'q', 'options': ['a']})",
            "ui.larry.help options[0]: must be a dict, got str",
        ),
    ],
)
async def test_larry_help_refuses_bad_config_naming_the_field(
    tmp_path: Path, call: str, expected: str
) -> None:
    body = f"try:\n    {call}\nexcept ValueError as e:\n    api.v1.log('error: ' + str(e))\n"
    async with with_page(tmp_path) as (env, state, sub):
        await env.run(script(body))
        [line] = env.lines("uitest")
        assert expected in line
        assert drain(sub, "ui.window.open") == []
        assert state.windows_of("uitest") == []


async def test_a_window_past_the_host_object_cap_is_refused_before_it_opens(
    tmp_path: Path,
) -> None:
    """A window refused only when its handle was sent had already opened, and stayed open
    with no handle for the script to close it."""
    source = script(
        "held = [await api.v1.createCancellationSignal() for i in range(3)]\n"
        "try:\n"
        "    await api.v1.ui.window.open({'title': 'W'})\n"
        "except ApiError as error:\n"
        "    api.v1.log('refused', 'at most 3' in str(error))\n"
        "held = None\n"
        "win = await api.v1.ui.window.open({'title': 'W2'})\n"
        "api.v1.log('opened', win.isClosed())\n"
    )
    limits = WorkerLimits(max_remote_objects=3)
    async with with_page(tmp_path, worker_limits=limits) as (env, state, _sub):
        await env.run(source)
        assert env.lines() == ["refused True", "opened False"], env.lines(level="error")
        assert [window["title"] for window in state.windows_of("uitest")] == ["W2"]
