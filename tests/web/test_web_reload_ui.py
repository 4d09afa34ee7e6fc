"""Script UI over the page's WebSocket when scripts change under it: a reload (or a dead
worker) takes the old version's extensions and windows off the page, and storage writes from
anywhere (timers, top level, history navigation) refresh ``storageKey``-bound values."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

from web_helpers import PageSocket, page_socket, served

from nai_script.web.compose import EditorServer

HEADER = '"""\n---\nid: uis\nname: UI script\n---\n"""\n'
WITH_UI = HEADER + (
    "def go():\n    pass\n"
    "await api.v1.ui.register([{'type': 'toolbarButton', 'id': 'old', 'text': 'Old',"
    " 'callback': go}])\n"
    "await api.v1.ui.window.open({'id': 'w', 'title': 'Old window', 'content': []})\n"
    "api.v1.log('v1 ready')\n"
)
WITHOUT_UI = HEADER + "api.v1.log('v2 ready')\n"
NEW_UI = HEADER + (
    "def go():\n    pass\n"
    "await api.v1.ui.register([{'type': 'toolbarButton', 'id': 'new', 'text': 'New',"
    " 'callback': go}])\n"
)


def _is(kind: str, script_id: str = "uis") -> Any:
    return lambda e: e["type"] == kind and e.get("scriptId") == script_id


async def save_and_reload(page: PageSocket, tmp_path: Path, source: str) -> None:
    """Save a new version of uis.py and ask the page's server to reload it."""
    (tmp_path / "scripts" / "uis.py").write_text(source)
    await page.send({"type": "script.reload", "id": "uis"})


async def fresh_ui(server: EditorServer) -> dict[str, Any]:
    """The UI snapshot a page opened now is given."""
    async with page_socket(server) as fresh:
        ui: dict[str, Any] = (await fresh.next())["ui"]
        return ui


async def test_a_reload_takes_the_old_versions_ui_off_the_page(tmp_path: Path) -> None:
    async with served(tmp_path, {"uis.py": WITH_UI}) as server, page_socket(server) as page:
        state = await page.next()
        assert [b["id"] for b in state["ui"]["extensions"]["uis"]] == ["old"]
        assert [w["id"] for w in state["ui"]["windows"]] == ["w"]
        await save_and_reload(page, tmp_path, WITHOUT_UI)
        closed = await page.wait_for(_is("ui.window.close"))
        assert closed["windowId"] == "w"
        emptied = await page.wait_for(_is("ui.extensions"))
        assert emptied["extensions"] == []
        snapshot = await fresh_ui(server)
        assert snapshot == {"extensions": {}, "windows": []}


async def test_a_reload_that_brings_its_own_ui_shows_only_the_new_one(tmp_path: Path) -> None:
    async with served(tmp_path, {"uis.py": WITH_UI}) as server, page_socket(server) as page:
        await page.next()
        await save_and_reload(page, tmp_path, NEW_UI)
        await page.wait_for(lambda e: _is("ui.extensions")(e) and e["extensions"] != [])
        # The folder watcher may reload the same save once more: between its stop and the
        # next version's register the script has no UI, never the old one.
        async with asyncio.timeout(10):
            while True:
                snapshot = await fresh_ui(server)
                assert snapshot["windows"] == []
                if "uis" in snapshot["extensions"]:
                    assert [b["id"] for b in snapshot["extensions"]["uis"]] == ["new"]
                    break
                await asyncio.sleep(0.05)


async def test_a_reload_that_fails_to_compile_keeps_the_running_versions_ui(
    tmp_path: Path,
) -> None:
    async with served(tmp_path, {"uis.py": WITH_UI}) as server, page_socket(server) as page:
        await page.next()
        await save_and_reload(page, tmp_path, HEADER + "def f(:\n")
        event = await page.wait_type("script.state")
        assert event["state"] == "running"
        assert event["error"]
        snapshot = await fresh_ui(server)
        assert [b["id"] for b in snapshot["extensions"]["uis"]] == ["old"]
        assert [w["id"] for w in snapshot["windows"]] == ["w"]


async def test_a_killed_worker_takes_its_ui_with_it(tmp_path: Path) -> None:
    async with served(tmp_path, {"uis.py": WITH_UI}) as server, page_socket(server) as page:
        await page.next()
        assert server.host is not None
        [script] = server.host.scripts
        assert script.worker is not None
        os.kill(script.worker.pid, signal.SIGKILL)
        emptied = await page.wait_for(_is("ui.extensions"))
        assert emptied["extensions"] == []
        killed = await page.wait_type("script.state")
        assert killed["state"] == "killed"


BOUND = HEADER + (
    "await api.v1.ui.register([{'type': 'scriptPanel', 'id': 'p', 'name': 'P', 'content': [\n"
    "  {'type': 'textInput', 'id': 'count', 'storageKey': 'count'},\n"
    "  {'type': 'text', 'id': 'mood', 'text': 'mood: {{history:mood}}'},\n"
    "]}])\n"
    "async def later():\n"
    "    await api.v1.storage.set('count', 'from a timer')\n"
    "async def on_end(p):\n"
    "    await api.v1.historyStorage.set('mood', 'bright')\n"
    "async def arm():\n"
    "    await api.v1.timers.setTimeout(later, 50)\n"
    "api.v1.hooks.register('onGenerationEnd', on_end)\n"
    "await api.v1.ui.register([{'type': 'toolbarButton', 'id': 'arm', 'callback': arm}])\n"
)


def _panel(event: dict[str, Any]) -> dict[str, str]:
    panel = event["extensions"][0]
    return {part["id"]: part.get("value", part.get("text")) for part in panel["content"]}


async def test_storage_written_outside_ui_callbacks_refreshes_bound_values(
    tmp_path: Path,
) -> None:
    async with served(tmp_path, {"uis.py": BOUND}) as server, page_socket(server) as page:
        state = await page.next()
        assert _panel({"extensions": state["ui"]["extensions"]["uis"][:1]})["count"] is None
        # The callback only arms a timer: the write comes after the callback has returned.
        await page.send({"type": "ui.event", "scriptId": "uis", "targetId": "arm",
                         "event": "callback"})  # fmt: skip
        timer = await page.wait_for(
            lambda e: _is("ui.extensions")(e) and _panel(e)["count"] == "from a timer"
        )
        assert _panel(timer)["mood"] == "mood: "
        await page.send({"type": "settings.update", "settings": {"params": {"max_tokens": 4}}})
        await page.send({"type": "send", "text": "Hello."})
        hooked = await page.wait_for(
            lambda e: _is("ui.extensions")(e) and _panel(e)["mood"] == "mood: bright"
        )
        assert _panel(hooked)["count"] == "from a timer"
        await page.wait_for(lambda e: e["type"] == "editor.blocked" and not e["blocked"])
        await page.send({"type": "undo"})  # back before the generation the hook ran after
        undone = await page.wait_for(_is("ui.extensions"))
        assert _panel(undone)["mood"] == "mood: "


async def test_a_reload_whose_top_level_raises_takes_the_stopped_versions_ui_off(
    tmp_path: Path,
) -> None:
    async with served(tmp_path, {"uis.py": WITH_UI}) as server, page_socket(server) as page:
        await page.next()
        await save_and_reload(page, tmp_path, HEADER + "raise ValueError('no')\n")
        emptied = await page.wait_for(_is("ui.extensions"))
        assert emptied["extensions"] == []
        event = await page.wait_type("script.state")
        assert event["state"] == "error"
        assert "no" in event["error"]
