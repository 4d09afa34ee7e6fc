"""Send, retry and the hooks, end to end: real workers, the simulator, a real story file."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pipeline_helpers import editor_env

from nai_script.editor.pipeline import EditorBlocked


async def test_send_appends_user_text_then_streams_ai_text(tmp_path: Path) -> None:
    async with editor_env(tmp_path) as e:
        await e.editor.update_settings({"params": {"max_tokens": 12}})
        result = await e.editor.send("The door opened.")
        assert result.error is None
        assert not result.stopped
        assert result.text
        sections = await e.editor.sections()
        assert "\n".join(s.text for s in sections) == "The door opened." + result.text
        origins = {span.data for s in sections for span in s.origins}
        assert origins == {"user", "ai"}
        events = e.drain()
        types = [ev["type"] for ev in events]
        assert types.index("generation.start") < types.index("generation.end")
        streamed = "".join(ev["text"] for ev in events if ev["type"] == "doc.stream") + "".join(
            ev["section"]["text"]
            for ev in events
            if ev["type"] == "doc.section" and ev["section"]["origin"] == "ai"
        )
        assert len(streamed.replace("\n", "")) == len(result.text.replace("\n", ""))
        assert {"type": "editor.blocked", "blocked": False, "reason": None} in events
        assert events[-1]["type"] == "generation.end" or "history.changed" in types


async def test_hooks_fire_in_order_and_can_rewrite(tmp_path: Path) -> None:
    source = (
        "order = []\n"
        "def requested(p):\n"
        "    api.v1.log('requested', p.scriptInitiated)\n"
        "def before(p):\n"
        "    api.v1.log('before', p.memory.content, p.dryRun)\n"
        "    return {'memory': {'content': 'MEM'},\n"
        "            'temporaryLorebookEntries': [{'name': 't', 'content': 'TEMP ENTRY'}]}\n"
        "def built(p):\n"
        "    api.v1.log('built', p.messages[0].content, p.dryRun)\n"
        "def response(p):\n"
        "    return {'text': [p.text[0].upper()]}\n"
        "def end(p):\n"
        "    api.v1.log('end', p.stopped, p.text == p.text.upper())\n"
        "api.v1.hooks.register('onGenerationRequested', requested)\n"
        "api.v1.hooks.register('onBeforeContextBuild', before)\n"
        "api.v1.hooks.register('onContextBuilt', built)\n"
        "api.v1.hooks.register('onResponse', response)\n"
        "api.v1.hooks.register('onGenerationEnd', end)\n"
    )
    async with editor_env(tmp_path) as e:
        await e.env.run(source)
        await e.editor.update_settings({"memory": "orig", "params": {"max_tokens": 8}})
        result = await e.editor.send("hello")
        assert result.text == result.text.upper()
        assert (await e.editor.text()).endswith(result.text)
        assert e.env.lines() == [
            "requested False",
            "before orig False",
            "built MEM\n\nTEMP ENTRY False",
            "end False True",
        ]


async def test_stop_generation_from_a_hook(tmp_path: Path) -> None:
    source = "api.v1.hooks.register('onContextBuilt', lambda p: {'stopGeneration': True})\n"
    async with editor_env(tmp_path) as e:
        script = await e.env.run(source)
        result = await e.editor.send("typed")
        assert result.stopped
        assert result.stoppedBy == script.id
        assert await e.editor.text() == "typed"


async def test_a_raising_hook_is_reported_and_skipped(tmp_path: Path) -> None:
    async with editor_env(tmp_path) as e:
        await e.env.run("api.v1.hooks.register('onResponse', lambda p: 1 / 0)\n")
        await e.editor.update_settings({"params": {"max_tokens": 5}})
        result = await e.editor.send("x")
        assert result.text
        assert result.error is None
        assert any("onResponse" in line for line in e.env.lines(level="error"))


async def test_bad_hook_result_names_the_field(tmp_path: Path) -> None:
    async with editor_env(tmp_path) as e:
        await e.env.run(
            "api.v1.hooks.register('onBeforeContextBuild', lambda p: {'contextLimitReduction': -1})\n"
        )
        await e.editor.update_settings({"params": {"max_tokens": 5}})
        result = await e.editor.send("x")
        assert result.text
        errors = e.env.lines(level="error")
        assert any("result.contextLimitReduction" in line for line in errors), errors


async def test_second_send_while_generating_is_refused(tmp_path: Path) -> None:
    async with editor_env(tmp_path) as e:
        await e.editor.update_settings({"params": {"max_tokens": 40}})
        first = asyncio.ensure_future(e.editor.send("a"))
        await asyncio.sleep(0)
        assert e.editor.is_blocked()
        with pytest.raises(EditorBlocked, match="a generation is in progress"):
            await e.editor.send("SECOND")
        await first
        assert not e.editor.is_blocked()
        assert "SECOND" not in await e.editor.text()


async def test_retry_makes_a_sibling_and_undo_redo_move(tmp_path: Path) -> None:
    async with editor_env(tmp_path) as e:
        await e.editor.update_settings({"params": {"max_tokens": 6}})
        first = await e.editor.send("Start.")
        second = await e.editor.retry()
        assert first.nodeId != second.nodeId
        a = await e.editor.store.run(lambda: e.editor.store.node(e.editor.story_id, first.nodeId))
        b = await e.editor.store.run(lambda: e.editor.store.node(e.editor.story_id, second.nodeId))
        assert a.parent == b.parent
        assert await e.editor.text() == "Start." + second.text
        await e.editor.undo()
        assert await e.editor.text() == "Start."
        await e.editor.redo()
        assert await e.editor.text() == "Start." + second.text
        await e.editor.jump(first.nodeId)
        assert await e.editor.text() == "Start." + first.text
        assert e.env.host.history_node_id == first.nodeId
