"""Page commands for several stories (list, create, open, delete; all surviving a restart),
Stop while a generation streams, and the selection the page reports."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

from web_helpers import PageSocket, page_socket, served

from nai_script.editor.pipeline import Editor
from nai_script.editor.store import StoryStore
from nai_script.host.storage import Scope, ScriptStorage
from nai_script.sim import SimSettings
from nai_script.web.compose import EditorServer


def _story_state(event: dict[str, Any]) -> bool:
    return event["type"] == "story.state"


def _editor(server: EditorServer) -> Editor:
    assert server.services is not None
    editor = server.services.editor
    assert editor is not None
    return editor


def _lacks(event: dict[str, Any], story_id: str) -> bool:
    return story_id not in {s["id"] for s in event["story"]["stories"]}


async def _list(page: PageSocket) -> dict[str, Any]:
    await page.send({"type": "story.list"})
    return await page.wait_type("story.list")


async def test_create_open_delete_and_a_restart_keeps_every_story(tmp_path: Path) -> None:
    async with served(tmp_path) as server, page_socket(server) as page:
        first = (await page.next())["story"]
        first_id = first["story"]["id"]
        await page.send({"type": "send", "text": "Alpha begins."})
        await page.wait_type("generation.end")
        await page.send({"type": "story.create", "title": "Second tale"})
        second = (await page.wait_for(_story_state))["story"]
        assert second["story"]["title"] == "Second tale"
        assert second["sections"] == []
        assert {s["id"] for s in second["stories"]} == {first_id, second["story"]["id"]}
        await page.send({"type": "story.create", "title": "Doomed"})
        doomed = (await page.wait_for(_story_state))["story"]["story"]["id"]
        listed = await _list(page)
        assert listed["openId"] == doomed
        assert listed["stories"][0]["title"] == "Doomed"
        await page.send({"type": "story.delete", "id": first_id})  # not the open one
        after = (await page.wait_for(lambda e: _story_state(e) and _lacks(e, first_id)))["story"]
        assert after["story"]["id"] == doomed
        assert first_id not in {s["id"] for s in after["stories"]}
        await page.send({"type": "story.delete", "id": doomed})  # the open one: next opens
        after = (await page.wait_for(lambda e: _story_state(e) and _lacks(e, doomed)))["story"]
        assert after["story"]["id"] == second["story"]["id"]
        assert [s["title"] for s in after["stories"]] == ["Second tale"]
        await page.send({"type": "send", "text": "Beta goes on."})
        await page.wait_type("generation.end")
    async with served(tmp_path) as server, page_socket(server) as page:
        state = (await page.next())["story"]
        assert [s["title"] for s in state["stories"]] == ["Second tale"]
        assert state["story"]["title"] == "Second tale"
        assert state["sections"][0]["text"].startswith("Beta goes on.")


async def test_a_restart_reopens_the_story_that_was_open(tmp_path: Path) -> None:
    """Not the most recently changed one: the user opened an older story, and a restart of
    ``serve`` showed them the other (its storyStorage with it)."""
    async with served(tmp_path) as server, page_socket(server) as page:
        first_id = (await page.next())["story"]["story"]["id"]
        await page.send({"type": "story.create", "title": "Second tale"})
        second = (await page.wait_for(_story_state))["story"]["story"]["id"]
        await page.send({"type": "send", "text": "The second changes last."})
        await page.wait_type("generation.end")
        await page.send({"type": "story.open", "id": first_id})
        opened = (await page.wait_for(_story_state))["story"]
        assert opened["story"]["id"] == first_id
        assert opened["stories"][0]["id"] == second  # the most recently changed
    async with served(tmp_path) as server, page_socket(server) as page:
        assert (await page.next())["story"]["story"]["id"] == first_id
        await page.send({"type": "story.delete", "id": first_id})
        await page.wait_for(lambda e: _story_state(e) and _lacks(e, first_id))
    async with served(tmp_path) as server, page_socket(server) as page:
        assert (await page.next())["story"]["story"]["id"] == second  # gone: the latest


async def test_deleting_the_last_story_opens_a_new_empty_one(tmp_path: Path) -> None:
    async with served(tmp_path) as server, page_socket(server) as page:
        only = (await page.next())["story"]["story"]["id"]
        await page.send({"type": "story.delete", "id": only})
        after = (await page.wait_for(lambda e: _story_state(e) and _lacks(e, only)))["story"]
        assert after["story"]["id"] != only
        assert [s["id"] for s in after["stories"]] == [after["story"]["id"]]


async def test_deleting_a_story_forgets_the_scripts_story_and_history_storage(
    tmp_path: Path,
) -> None:
    """A deleted story's ``storyStorage`` and ``historyStorage`` rows stayed in the storage
    file for good (nothing can open the story again to reach them); the other story's stay."""
    async with served(tmp_path) as server, page_socket(server) as page:
        editor = _editor(server)
        assert server.host is not None
        db = server.host.storage_db
        doomed = (await page.next())["story"]["story"]["id"]
        await page.send({"type": "send", "text": "Alpha begins."})
        await page.wait_type("generation.end")

        def write(story: str) -> None:
            ScriptStorage.persistent(db, Scope.STORY, "s", story).set("k", story)
            nodes = editor.store.ancestors(story, editor.store.current_node(story))
            for node in nodes:  # the root and the generation's node
                ScriptStorage.persistent(db, Scope.HISTORY, "s", node).set("k", node)

        await db.run(lambda: write(doomed))
        await page.send({"type": "story.create", "title": "Kept"})
        kept = (await page.wait_for(_story_state))["story"]["story"]["id"]
        await db.run(lambda: write(kept))
        await page.send({"type": "story.delete", "id": doomed})
        await page.wait_for(lambda e: _story_state(e) and _lacks(e, doomed))
    with sqlite3.connect(tmp_path / "data" / "storage.sqlite3") as conn:
        values = {json.loads(row[0]) for row in conn.execute("SELECT value FROM kv")}
    store = StoryStore(tmp_path / "data" / "stories.sqlite3")
    assert values == {kept, *store.ancestors(kept, store.current_node(kept))}
    store.close()


async def test_story_commands_name_what_is_wrong(tmp_path: Path) -> None:
    async with served(tmp_path) as server, page_socket(server) as page:
        await page.next()
        await page.send({"type": "story.open", "id": "nope"})
        error = await page.wait_type("error")
        assert error["command"] == "story.open"
        assert "nope" in error["message"]
        await page.send({"type": "story.delete", "id": "nope"})
        error = await page.wait_type("error")
        assert "story.delete" in error["message"]
        await page.send({"type": "story.open"})
        error = await page.wait_type("error")
        assert error["message"].startswith("story.open: id:")
        await page.send({"type": "story.create", "title": 5})
        error = await page.wait_type("error")
        assert "title" in error["message"]


async def test_stop_ends_a_running_generation_and_keeps_its_text(tmp_path: Path) -> None:
    slow = SimSettings(tokens_per_second=20)
    async with served(tmp_path, sim_settings=slow) as server, page_socket(server) as page:
        await page.next()
        await page.send({"type": "settings.update", "settings": {"params": {"max_tokens": 400}}})
        await page.send({"type": "send", "text": "Once"})
        await page.wait_type("doc.stream")
        await page.send({"type": "stop"})
        end = await page.wait_type("generation.end", timeout=5)
        assert end["stopped"] is True
        editor = _editor(server)
        text = await editor.text()
        assert text.startswith("Once")
        assert len(text) > len("Once")
        await page.send({"type": "stop"})  # idle: nothing to stop, no error
        await page.send({"type": "undo"})
        undone = await page.wait_for(_story_state)
        assert [s["text"] for s in undone["story"]["sections"]] == ["Once"]


SLOW_HOOK = """
async def slow(params):
    await api.v1.timers.sleep(3000)
api.v1.hooks.register('onContextBuilt', slow)
api.v1.hooks.register('onGenerationEnd', lambda p: api.v1.log('end stopped', p['stopped']))
"""


async def test_stop_while_hooks_run_ends_the_generation_before_it_streams(
    tmp_path: Path,
) -> None:
    """Stop pressed while a hook held the pipeline was ignored: the stream began when the
    hook returned, as if Stop had never been pressed."""
    async with served(tmp_path, {"slow.py": SLOW_HOOK}) as server, page_socket(server) as page:
        await page.next()
        await page.send({"type": "send", "text": "Once"})
        await page.wait_type("generation.start")
        await asyncio.sleep(0.2)  # inside onContextBuilt
        await page.send({"type": "stop"})
        end = await page.wait_type("generation.end", timeout=1.5)  # not after the hook's 3 s
        assert end["stopped"] is True
        assert "error" not in end
        log = await page.wait_type("script.log")
        assert log["text"] == "end stopped True"
        await page.wait_for(lambda e: e["type"] == "editor.blocked" and not e["blocked"])
        assert await _editor(server).text() == "Once"


async def test_deleting_or_creating_a_story_is_refused_while_a_generation_runs(
    tmp_path: Path,
) -> None:
    slow = SimSettings(tokens_per_second=20)
    async with served(tmp_path, sim_settings=slow) as server, page_socket(server) as page:
        state = await page.next()
        await page.send({"type": "settings.update", "settings": {"params": {"max_tokens": 400}}})
        await page.send({"type": "send", "text": "Once"})
        await page.wait_type("doc.stream")
        await page.send({"type": "story.delete", "id": state["story"]["story"]["id"]})
        error = await page.wait_type("error")
        assert error["command"] == "story.delete"
        # Creating one is refused too, and leaves no story behind (it used to be created,
        # then refused when it was to be opened).
        await page.send({"type": "story.create", "title": "Stray"})
        error = await page.wait_type("error")
        assert error["command"] == "story.create"
        assert [s["title"] for s in (await _list(page))["stories"]] == ["Untitled"]
        await page.send({"type": "stop"})
        await page.wait_type("generation.end", timeout=5)


SELECTION_SCRIPT = """
async def show():
    selection = await api.v1.editor.selection.get()
    api.v1.log('selected: ' + await api.v1.document.textFromSelection(selection))

await api.v1.ui.register([{'type': 'toolbarButton', 'id': 'show', 'text': 'Show',
    'callback': show}])
"""


async def test_the_reported_selection_reaches_scripts(tmp_path: Path) -> None:
    scripts = {"sel.py": SELECTION_SCRIPT}
    async with served(tmp_path, scripts) as server, page_socket(server) as page:
        await page.next()
        editor = _editor(server)
        await editor.edit(lambda doc: doc.append("The quick brown fox", "user"))
        section = (await editor.sections())[0].id
        selection = {
            "from": {"sectionId": section, "offset": 4},
            "to": {"sectionId": section, "offset": 9},
        }
        await page.send({"type": "selection", "selection": selection})
        await page.send(
            {
                "type": "ui.event",
                "scriptId": "sel",
                "targetId": "show",
                "partId": "",
                "event": "callback",
            }
        )
        log = await page.wait_type("script.log")
        assert log["text"] == "selected: quick"
        assert (await editor.selection())["anchor"] == selection["from"]
        await page.send({"type": "selection", "selection": None})
        await page.send({"type": "selection", "selection": {"from": {"offset": -1}}})
        error = await page.wait_type("error")
        assert error["message"].startswith("selection: selection.from.")
        await asyncio.sleep(0)
        caret = await editor.selection()
        assert caret["from"] == {"sectionId": section, "offset": len("The quick brown fox")}
