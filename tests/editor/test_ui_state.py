"""UiState against a real host and a real loaded script, driven directly (as the api routes and
the page do): all-or-nothing changes, concurrent calls, window replacement, callback events."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from nai_script.editor.events import EventBus, Subscription
from nai_script.editor.ui_page import UiEventError
from nai_script.editor.ui_parts import UiValidationError
from nai_script.editor.ui_script import MAX_EXTENSIONS, MAX_OPEN_WINDOWS
from nai_script.editor.ui_state import UiState
from nai_script.editor.ui_tree import MAX_PARTS_PER_TARGET
from nai_script.host.script import LoadedScript
from sandbox.protocol import CallbackHandle

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "host"))
from host_helpers import Env, drain, hosted, run_ui_event

SOURCE = '"""\n---\nid: st\nname: State\n---\n"""\n'


@asynccontextmanager
async def loaded(
    tmp_path: Path, body: str = ""
) -> AsyncIterator[tuple[Env, UiState, LoadedScript, Subscription]]:
    async with hosted(tmp_path) as env:
        bus = EventBus()
        state = UiState(env.host, bus)
        env.host.ui = state
        script = await env.run(SOURCE + body)
        yield env, state, script, bus.subscribe()


PANEL = {
    "type": "scriptPanel",
    "id": "p",
    "name": "P",
    "content": [{"type": "text", "id": "a", "text": "A"}, {"type": "text", "id": "b", "text": "B"}],
}


async def test_a_bad_change_leaves_everything_as_it_was(tmp_path: Path) -> None:
    async with loaded(tmp_path) as (_env, state, script, sub):
        await state.register(script, [dict(PANEL)])
        before = state.snapshot()
        drain(sub)
        bad_updates = [
            (state.update, [{"id": "p", "name": "ok"}, {"id": "p", "content": [{"type": "x"}]}]),
            (state.update_parts, [{"id": "a", "text": "A2"}, {"id": "b", "markdown": "yes"}]),
            (state.update_parts, [{"id": "a", "id2": 1}]),
            (state.update, [{"id": "p", "content": [{"type": "text", "id": "d"}] * 2}]),
        ]
        for method, change in bad_updates:
            with pytest.raises(UiValidationError):
                await method(script, change)
        assert state.snapshot() == before
        assert drain(sub) == []


async def test_update_parts_error_names_the_index_in_the_callers_list(tmp_path: Path) -> None:
    async with loaded(tmp_path) as (_env, state, script, _sub):
        await state.register(script, [dict(PANEL)])
        with pytest.raises(UiValidationError, match=r"^ui\.updateParts parts\[1\]\.markdown"):
            await state.update_parts(script, [{"id": "a", "text": "x"}, {"id": "b", "markdown": 3}])
        with pytest.raises(UiValidationError, match=r"^ui\.updateParts parts\[0\]: needs an 'id'"):
            await state.update_parts(script, [{"text": "x"}])


async def test_concurrent_calls_from_one_script_do_not_lose_changes(tmp_path: Path) -> None:
    async with loaded(tmp_path) as (_env, state, script, _sub):
        await asyncio.gather(
            *(
                state.register(script, [{"type": "toolbarButton", "id": f"b{n}", "text": str(n)}])
                for n in range(30)
            ),
            *(
                state.open_window(script, "window", {"id": f"w{n}", "content": []})
                for n in range(10)
            ),
        )
        await asyncio.gather(
            *(state.update(script, [{"id": f"b{n}", "text": f"t{n}"}]) for n in range(30))
        )
        extensions = state.extensions_of("st")
        assert sorted(e["id"] for e in extensions) == sorted(f"b{n}" for n in range(30))
        assert all(e["text"] == f"t{e['id'][1:]}" for e in extensions)
        assert len(state.windows_of("st")) == 10


async def test_opening_a_window_with_the_same_id_replaces_and_closes_the_old_one(
    tmp_path: Path,
) -> None:
    async with loaded(tmp_path) as (_env, state, script, sub):
        first = await state.open_window(script, "window", {"id": "w", "title": "1"})
        second = await state.open_window(script, "modal", {"id": "w", "title": "2"})
        assert first.closed.is_set()
        assert not second.closed.is_set()
        [window] = state.windows_of("st")
        assert window["title"] == "2"
        assert window["kind"] == "modal"
        await state.register(script, [{"type": "toolbarButton", "id": "tb"}])
        with pytest.raises(UiValidationError, match="already an extension's id"):
            await state.open_window(script, "window", {"id": "tb"})
        with pytest.raises(UiValidationError, match="already a window's id"):
            await state.register(script, [{"type": "toolbarButton", "id": "w"}])
        assert [e["type"] for e in drain(sub)][:2] == ["ui.window.open", "ui.window.open"]


async def test_callbacks_of_closed_windows_and_removed_extensions_are_released(
    tmp_path: Path,
) -> None:
    async with loaded(tmp_path) as (_env, state, script, _sub):
        button = {"type": "button", "text": "b", "callback": CallbackHandle(99)}
        for n in range(50):
            window = await state.open_window(script, "window", {"content": [dict(button)]})
            await state.close_window(script, window.id)
            await state.register(
                script, [{"type": "toolbarButton", "id": "t", "callback": CallbackHandle(n)}]
            )
            await state.remove(script, ["t"])
        table = state._scripts["st"].callbacks
        assert table.handles == {}
        assert table.tokens == {}


async def test_page_click_publishes_callback_running_then_done(tmp_path: Path) -> None:
    body = (
        "async def slow():\n    await api.v1.timers.sleep(10)\n    api.v1.log('done')\n"
        "await api.v1.ui.register([{'type': 'toolbarButton', 'id': 'go',"
        " 'disabledWhileCallbackRunning': True, 'callback': slow}])\n"
    )
    async with loaded(tmp_path, body) as (env, state, _script, sub):
        assert await run_ui_event(state, "st", "go", None, "callback") is True
        running = [e for e in drain(sub) if e["type"] == "ui.callback"]
        assert [e["running"] for e in running] == [True, False]
        assert running[0]["targetId"] == "go"
        assert running[0]["partId"] is None
        assert env.lines("st") == ["done"]


async def test_a_raising_callback_is_reported_not_propagated(tmp_path: Path) -> None:
    body = (
        "def boom(v):\n    raise RuntimeError('nope ' + v)\n"
        "await api.v1.ui.window.open({'id': 'w', 'content': ["
        "{'type': 'textInput', 'id': 'i', 'onSubmit': boom}]})\n"
    )
    async with loaded(tmp_path, body) as (env, state, script, _sub):
        assert await run_ui_event(state, "st", "w", "i", "onSubmit", "x") is False
        [line] = env.lines("st", "error")
        assert "ui onSubmit of w/i raised" in line
        assert "nope x" in line
        assert script.failures == 1


async def test_disabled_while_running_refuses_a_second_click_until_the_first_ends(
    tmp_path: Path,
) -> None:
    body = (
        "async def slow():\n    await api.v1.timers.sleep(300)\n    api.v1.log('done')\n"
        "await api.v1.ui.register([\n"
        "  {'type': 'toolbarButton', 'id': 'once', 'disabledWhileCallbackRunning': True,"
        "   'callback': slow},\n"
        "  {'type': 'toolbarButton', 'id': 'many', 'callback': slow}])\n"
    )
    async with loaded(tmp_path, body) as (env, state, _script, _sub):
        first = await state.handle_ui_event("st", "once", None, "callback")
        with pytest.raises(UiEventError, match="disabled while its callback runs"):
            await state.handle_ui_event("st", "once", None, "callback")
        others = [await state.handle_ui_event("st", "many", None, "callback") for _ in range(2)]
        assert first is not None
        await asyncio.wait_for(asyncio.gather(first, *others), 10)
        await run_ui_event(state, "st", "once", None, "callback")
        assert env.lines("st") == ["done"] * 4


async def test_what_a_callback_stores_shows_up_on_the_page(tmp_path: Path) -> None:
    body = (
        "async def bump():\n"
        "    n = await api.v1.storage.getOrDefault('count', 0)\n"
        "    await api.v1.storage.set('count', n + 1)\n"
        "    await api.v1.storage.set('name', 'bumped ' + str(n + 1))\n"
        "await api.v1.ui.window.open({'id': 'w', 'content': [\n"
        "  {'type': 'text', 'id': 't', 'text': 'Count: {{count}}'},\n"
        "  {'type': 'textInput', 'id': 'i', 'storageKey': 'name'},\n"
        "  {'type': 'button', 'id': 'b', 'text': '+1', 'callback': bump}]})\n"
        "await api.v1.ui.register([{'type': 'toolbarButton', 'id': 'plain', 'callback': bump}])\n"
    )
    async with loaded(tmp_path, body) as (_env, state, _script, sub):
        [window] = state.windows_of("st")
        assert window["content"][0]["text"] == "Count: "
        for expected in (1, 2):
            await run_ui_event(state, "st", "w", "b", "callback")
            [window] = state.windows_of("st")
            assert window["content"][0]["text"] == f"Count: {expected}"
            assert window["content"][1]["value"] == f"bumped {expected}"
        updates = [e for e in drain(sub) if e["type"] == "ui.window.update"]
        assert len(updates) == 2
        await run_ui_event(state, "st", "plain", None, "callback")
        assert state.windows_of("st")[0]["content"][0]["text"] == "Count: 3"
        # nothing bound changed: no needless re-publish
        task = await state.handle_ui_event("st", "w", "i", "onChange", "bumped 3")
        assert task is None
        assert [e["type"] for e in drain(sub) if e["type"].startswith("ui.window")] == [
            "ui.window.update"
        ]


async def test_limits_on_what_one_script_puts_on_the_page(tmp_path: Path) -> None:
    async with loaded(tmp_path) as (_env, state, script, sub):
        buttons = [{"type": "toolbarButton", "id": f"b{n}"} for n in range(MAX_EXTENSIONS)]
        await state.register(script, buttons)
        with pytest.raises(UiValidationError, match=f"more than the limit of {MAX_EXTENSIONS}"):
            await state.register(script, [{"type": "toolbarButton", "id": "one-more"}])
        await state.register(script, [{"type": "toolbarButton", "id": "b0", "text": "same id"}])

        for n in range(MAX_OPEN_WINDOWS):
            await state.open_window(script, "window", {"id": f"w{n}"})
        with pytest.raises(UiValidationError, match="windows are already open"):
            await state.open_window(script, "modal", {"id": "extra"})
        await state.open_window(script, "window", {"id": "w0", "title": "replaces"})
        await state.close_window(script, "w1")
        await state.open_window(script, "modal", {"id": "extra"})

        too_many = [{"type": "text"}] * (MAX_PARTS_PER_TARGET + 1)
        drain(sub)
        with pytest.raises(UiValidationError, match=f"{MAX_PARTS_PER_TARGET + 1} parts"):
            await state.update_window(script, "extra", {"content": too_many})
        assert drain(sub) == []
        await state.update_window(script, "extra", {"content": too_many[1:]})


async def test_values_the_page_sent_are_dropped_with_their_window(tmp_path: Path) -> None:
    body = (
        "for n in range(20):\n"
        "    w = await api.v1.ui.window.open({'id': 'w' + str(n), 'content': ["
        "{'type': 'textInput', 'id': 'i'}]})\n"
    )
    async with loaded(tmp_path, body) as (_env, state, script, _sub):
        for n in range(20):
            assert await state.handle_ui_event("st", f"w{n}", "i", "onChange", "x" * 1000) is None
            await state.close_window(script, f"w{n}")
        assert state._scripts["st"].page_values == {}


async def test_a_bound_input_without_callback_refreshes_what_reads_its_key(tmp_path: Path) -> None:
    body = (
        "await api.v1.ui.window.open({'id': 'w', 'content': [\n"
        "  {'type': 'text', 'id': 't', 'text': 'Hello {{name}}'},\n"
        "  {'type': 'textInput', 'id': 'i', 'storageKey': 'name'}]})\n"
    )
    async with loaded(tmp_path, body) as (_env, state, _script, sub):
        assert state.windows_of("st")[0]["content"][0]["text"] == "Hello "
        drain(sub)
        task = await state.handle_ui_event("st", "w", "i", "onChange", "Mira")
        assert task is None  # no callback: the host itself refreshes the bound text
        assert state.windows_of("st")[0]["content"][0]["text"] == "Hello Mira"
        assert [e["type"] for e in drain(sub) if e["type"].startswith("ui.window")] == [
            "ui.window.update"
        ]
