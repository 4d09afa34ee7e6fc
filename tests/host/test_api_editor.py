"""api.v1.editor/document/story/lorebook from real sandboxed scripts against a real editor."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from host_helpers import REGISTRY, Env, hosted

from nai_script.editor.events import EventBus
from nai_script.editor.pipeline import Editor, EditorBlocked
from nai_script.editor.store import StoryStore
from nai_script.host.permissions import grant_permissions
from nai_script.sim import SimSettings

ALL = "[documentEdit, storyEdit, lorebookEdit]"


@asynccontextmanager
async def with_editor(tmp_path: Path, **kw: Any) -> AsyncIterator[tuple[Env, Editor]]:
    async with hosted(tmp_path, **kw) as env:
        store = StoryStore(tmp_path / "stories.sqlite3")
        try:
            editor = Editor(
                store, env.host, EventBus(), tokenizers=REGISTRY, client=env.host.client
            )
            env.host.editor = editor
            await editor.update_settings({"params": {"max_tokens": 6}})
            yield env, editor
        finally:
            store.close()


@asynccontextmanager
async def ran_with_all_edits(tmp_path: Path, body: str) -> AsyncIterator[tuple[Env, Editor]]:
    """The editor after ``body`` ran as a script granted every edit permission."""
    async with with_editor(tmp_path, permission_policy=grant_permissions) as (env, editor):
        await env.run(script(body, ALL))
        yield env, editor


def script(body: str, permissions: str = "[]", script_id: str = "t") -> str:
    return f'"""\n---\nid: {script_id}\nname: T\npermissions: {permissions}\n---\n"""\n' + body


async def test_calls_without_an_editor_fail_clearly(tmp_path: Path) -> None:
    body = (
        "for call in (api.v1.editor.isBlocked, api.v1.document.sectionIds, api.v1.memory.get):\n"
        "    try:\n        await call()\n"
        "    except Exception as e:\n        api.v1.log(str(e))\n"
    )
    async with hosted(tmp_path) as env:
        await env.run(script(body))
        assert len(env.lines()) == 3
        assert all("needs the editor (nai-script serve)" in line for line in env.lines())


async def test_document_edits_need_document_edit(tmp_path: Path) -> None:
    body = (
        "try:\n    await api.v1.document.appendParagraph('x')\n"
        "except Exception as e:\n    api.v1.log(str(e))\n"
    )
    async with with_editor(tmp_path) as (env, editor):
        await env.run(script(body))
        assert "needs the 'documentEdit' permission" in env.lines()[0]
        assert await editor.text() == ""


async def test_document_read_write_round_trip(tmp_path: Path) -> None:
    body = (
        "await api.v1.document.appendParagraph({'text': 'First.'})\n"
        "await api.v1.document.appendParagraphs([{'text': 'Second.'}, {'text': 'Third.'}])\n"
        "await api.v1.document.append(' More.')\n"
        "ids = await api.v1.document.sectionIds()\n"
        "await api.v1.document.updateParagraph(ids[0], {'text': 'Uno.'})\n"
        "await api.v1.document.insertParagraphAfter(ids[0], {'text': 'Inserted.'})\n"
        "await api.v1.document.removeParagraph(ids[1])\n"
        "seen = []\n"
        "def visit(sid, section, index):\n    seen.append(section.text)\n"
        "sections = await api.v1.document.scan(visit)\n"
        "api.v1.log(seen == [s.section.text for s in sections], '|'.join(seen))\n"
        "api.v1.log(sections[0].section.origin[0].data)\n"
        "sel = {'from': {'sectionId': ids[0], 'offset': 1},"
        " 'to': {'sectionId': ids[2], 'offset': 5}}\n"
        "api.v1.log(repr(await api.v1.document.textFromSelection(sel)))\n"
    )
    async with ran_with_all_edits(tmp_path, body) as (env, editor):
        assert env.lines() == [
            "True Uno.|Inserted.|Third. More.",
            "script",
            "'no.\\nInserted.\\nThird'",
        ], env.lines(level="error")
        assert await editor.text() == "Uno.\nInserted.\nThird. More."


async def test_bad_document_arguments_name_the_field(tmp_path: Path) -> None:
    body = (
        "for call in (\n"
        "    lambda: api.v1.document.updateParagraph('nope', {'text': 'x'}),\n"
        "    lambda: api.v1.document.appendParagraphs([]),\n"
        "    lambda: api.v1.document.appendParagraph(5),\n"
        "    lambda: api.v1.document.textFromSelection({'from': {'sectionId': 'zz', 'offset': 0},"
        " 'to': {'sectionId': 'zz', 'offset': 0}}),\n"
        "    lambda: api.v1.document.textFromSelection({'from': {'offset': 0}}),\n"
        "):\n"
        "    try:\n        await call()\n"
        "    except ValueError as e:\n        api.v1.log(str(e))\n"
    )
    async with ran_with_all_edits(tmp_path, body) as (env, _):
        lines = env.lines()
        assert "no section 'nope'" in lines[0]
        assert lines[0].startswith("api.v1.document.updateParagraph: ")
        assert lines[1] == "document.appendParagraphs sections: must not be empty"
        assert lines[2] == (
            "document.appendParagraph section: must be a section {text, ...} or a string, got int"
        )
        assert lines[3] == "document.textFromSelection selection.from.sectionId: no section 'zz'"
        assert lines[4].startswith("document.textFromSelection selection.from.sectionId:")


async def test_history_undo_redo_jump_and_node_state(tmp_path: Path) -> None:
    body = (
        "await api.v1.document.appendParagraph('a')\n"
        "first = await api.v1.document.history.currentNodeId()\n"
        "await api.v1.document.appendParagraph('b')\n"
        "api.v1.log(await api.v1.document.history.undo())\n"
        "api.v1.log(await api.v1.document.history.currentNodeId() == first)\n"
        "api.v1.log(await api.v1.document.history.redo())\n"
        "await api.v1.document.history.jump(first)\n"
        "state = await api.v1.document.history.nodeState(first)\n"
        "api.v1.log(state.forwardPath == [], [s.section.text for s in state.sections],"
        " state.targetNode.kind)\n"
        "try:\n    await api.v1.document.history.jump('missing')\n"
        "except Exception as e:\n    api.v1.log('jump', 'missing' in str(e))\n"
    )
    async with ran_with_all_edits(tmp_path, body) as (env, editor):
        assert env.lines() == ["True", "True", "True", 'True ["a"] script', "jump True"]
        assert await editor.text() == "a"


async def test_settings_namespaces(tmp_path: Path) -> None:
    body = (
        "await api.v1.memory.set('mem')\n"
        "await api.v1.an.set('note')\n"
        "await api.v1.systemPrompt.set('sys')\n"
        "await api.v1.prefill.set('pre')\n"
        "await api.v1.story.title.set('My Story')\n"
        "api.v1.log(await api.v1.memory.get(), await api.v1.an.get(),"
        " await api.v1.systemPrompt.get(), await api.v1.prefill.get(),"
        " await api.v1.story.title.get())\n"
        "p = await api.v1.generationParameters.update({'temperature': 0.5})\n"
        "g = await api.v1.generationParameters.get()\n"
        "api.v1.log(p, g.temperature, g.max_tokens)\n"
        "for bad in ({'temperature': 99}, {'bogus': 1}):\n"
        "    try:\n        await api.v1.generationParameters.update(bad)\n"
        "    except ValueError as e:\n        api.v1.log(str(e))\n"
        "api.v1.log(len(await api.v1.story.id()) > 0)\n"
        "await api.v1.systemPrompt.set(None)\n"
        "await api.v1.prefill.set(None)\n"
        "api.v1.log(await api.v1.systemPrompt.get(), await api.v1.prefill.get())\n"
    )
    async with ran_with_all_edits(tmp_path, body) as (env, editor):
        lines = env.lines()
        assert lines[0] == "mem note sys pre My Story"
        assert lines[1] == "None 0.5 6"  # update is NovelAI's Promise<void>
        assert lines[2].startswith("generationParameters.update params.temperature:")
        assert lines[3] == "generationParameters.update params.bogus: not a generation parameter"
        assert lines[4] == "True"
        # NovelAI: systemPrompt/prefill.set(undefined) means the default (it was refused)
        assert lines[5] == " "
        settings = await editor.settings()
        assert (settings.memory, settings.title, settings.params.temperature) == (
            "mem",
            "My Story",
            0.5,
        )


async def test_settings_writes_need_story_edit(tmp_path: Path) -> None:
    body = (
        "try:\n    await api.v1.memory.set('x')\nexcept Exception as e:\n    api.v1.log(str(e))\n"
    )
    async with with_editor(tmp_path) as (env, editor):
        await env.run(script(body))
        assert "'storyEdit' permission" in env.lines()[0]
        assert (await editor.settings()).memory == ""


async def test_lorebook_crud(tmp_path: Path) -> None:
    body = (
        "cid = await api.v1.lorebook.createCategory({'name': 'People'})\n"
        "eid = await api.v1.lorebook.createEntry({'displayName': 'Ada', 'keys': ['ada'],"
        " 'text': 'Ada is a smith.', 'category': cid})\n"
        "await api.v1.lorebook.updateEntry(eid, {'text': 'Ada is a knight.'})\n"
        "e = await api.v1.lorebook.entry(eid)\n"
        "api.v1.log(e.text, e.category == cid, len(await api.v1.lorebook.entries(cid)))\n"
        "await api.v1.lorebook.updateCategory(cid, {'enabled': False})\n"
        "api.v1.log((await api.v1.lorebook.category(cid)).enabled)\n"
        "for call in (lambda: api.v1.lorebook.createEntry({'keys': ['/(/']}),\n"
        "             lambda: api.v1.lorebook.updateEntry('nope', {}),\n"
        "             lambda: api.v1.lorebook.createEntry({'bogus': 1}),\n"
        "             lambda: api.v1.lorebook.updateCategory('nope', {}),\n"
        "             lambda: api.v1.lorebook.updateCategory(cid, 'x')):\n"
        "    try:\n        await call()\n"
        "    except ValueError as e:\n        api.v1.log(str(e).split(' ', 1)[0], str(e).split(' ', 1)[1][:30])\n"
        "await api.v1.lorebook.removeEntry(eid)\n"
        "await api.v1.lorebook.removeCategory(cid)\n"
        "api.v1.log(len(await api.v1.lorebook.entries()), len(await api.v1.lorebook.categories()))\n"
    )
    async with ran_with_all_edits(tmp_path, body) as (env, _):
        lines = env.lines()
        assert lines[0] == "Ada is a knight. True 1", env.lines(level="error")
        assert lines[1] == "False"
        assert lines[2].startswith("lorebook.createEntry entry.keys:")
        assert lines[3].startswith("lorebook.updateEntry id: no lorebook entry")
        assert lines[4].startswith("lorebook.createEntry entry.bogus:")
        assert lines[5].startswith("lorebook.updateCategory id: no lorebook categ")
        assert lines[6].startswith("lorebook.updateCategory category: must be an object")
        assert lines[7] == "0 0"


async def test_build_context_and_generate_with_story(tmp_path: Path) -> None:
    body = (
        "await api.v1.memory.set('MEMORY')\n"
        "await api.v1.document.appendParagraph('Once upon a time.')\n"
        "ctx = await api.v1.buildContext()\n"
        "api.v1.log([m.role for m in ctx], ctx[0].content, ctx[1].content)\n"
        "r = await api.v1.generateWithStory([{'role': 'user', 'content': 'Go on.'}],"
        " {'model': 'glm-4-6', 'max_tokens': 4})\n"
        "api.v1.log(len(r.choices[0].token_ids))\n"
        "try:\n    await api.v1.buildContext({'contextLimitReduction': -1})\n"
        "except ValueError as e:\n    api.v1.log(str(e)[:45])\n"
    )
    async with ran_with_all_edits(tmp_path, body) as (env, _):
        assert env.lines() == [
            '["system", "user"] MEMORY Once upon a time.',
            "4",
            "buildContext options.contextLimitReduction: I",
        ], env.lines(level="error")


async def test_editor_generate_gate_and_reset_on_interaction(tmp_path: Path) -> None:
    body = (
        "async def go():\n"
        "    for n in range(4):\n"
        "        try:\n            await api.v1.editor.generate()\n            api.v1.log('ok')\n"
        "        except Exception as e:\n            api.v1.log(str(e)[:40])\n"
        "api.v1.hooks.register('onScriptsLoaded', go)\n"
    )
    async with with_editor(tmp_path) as (env, editor):
        loaded = await env.run(script(body))
        await env.host.fire_hook("onScriptsLoaded")
        assert env.lines() == ["ok", "ok", "ok", "editor.generate: 3 calls without a user "]
        assert editor.gate.remaining(loaded.id) == 0
        await env.host.record_interaction(loaded.id)
        assert editor.gate.remaining(loaded.id) == 3
        text = await editor.text()
        assert text


@pytest.mark.parametrize(("behaviour", "blocks"), [("blocking", True), ("background", False)])
async def test_blocking_script_generation_blocks_send(
    tmp_path: Path, behaviour: str, blocks: bool
) -> None:
    body = (
        "async def go():\n"
        "    await api.v1.generate([{'role': 'user', 'content': 'x'}],"
        f" {{'model': 'glm-4-6', 'max_tokens': 3}}, None, '{behaviour}')\n"
        "api.v1.hooks.register('onScriptsLoaded', go)\n"
    )
    slow = SimSettings(latency_ms=400)
    async with with_editor(tmp_path, sim_settings=slow) as (env, editor):
        loaded = await env.run(script(body))
        hook = asyncio.ensure_future(env.host.fire_hook("onScriptsLoaded"))
        for _ in range(200):
            if loaded.generation is not None:
                break
            await asyncio.sleep(0.005)
        assert loaded.generation is not None
        assert editor.is_blocked() is blocks
        if blocks:
            with pytest.raises(EditorBlocked, match="script 't' is generating"):
                await editor.send("typed")
        else:
            assert (await editor.send("typed")).text
        await hook
        assert not editor.is_blocked()


async def test_concurrent_editor_generate_one_runs_the_other_is_refused_free(
    tmp_path: Path,
) -> None:
    body = (
        "async def go():\n"
        "    try:\n        await api.v1.editor.generate()\n        api.v1.log('ok')\n"
        "    except Exception as e:\n        api.v1.log(str(e)[:40])\n"
        "api.v1.hooks.register('onScriptsLoaded', go)\n"
    )
    async with with_editor(tmp_path, sim_settings=SimSettings(latency_ms=200)) as (env, editor):
        a = await env.run(script(body, script_id="a"), "a.py")
        b = await env.run(script(body, script_id="b"), "b.py")
        first = asyncio.ensure_future(
            env.host.call_script(a, a.hooks["onScriptsLoaded"], [], what="go")
        )
        await asyncio.sleep(0.05)
        await env.host.call_script(b, b.hooks["onScriptsLoaded"], [], what="go")
        await first
        assert env.lines("b") == ["editor.generate: the editor is blocked: "]
        assert env.lines("a") == ["ok"]
        assert editor.gate.remaining("a") == 2
        assert editor.gate.remaining("b") == 3
