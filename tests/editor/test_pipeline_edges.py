"""Pipeline edges: faults, cancel, newline streaming as the page sees it, lorebook activation,
history and document hooks, the editor.generate gate."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from pipeline_helpers import editor_env

from nai_script.editor.gate import EditorGenerateGate, EditorGenerateRefused
from nai_script.editor.models import LorebookCategory, LorebookEntry
from nai_script.editor.pipeline import EditorBlocked
from nai_script.limits import FakeClock, Limits
from nai_script.sim import SimSettings


async def test_backend_fault_reports_an_error_and_keeps_what_streamed(tmp_path: Path) -> None:
    async with editor_env(tmp_path, SimSettings(faults="drop@3")) as e:
        await e.editor.update_settings({"params": {"max_tokens": 20}})
        result = await e.editor.send("Start.")
        assert result.error is not None
        end = [ev for ev in e.drain() if ev["type"] == "generation.end"][-1]
        assert end["error"] == result.error
        assert (await e.editor.text()).startswith("Start.")
        assert not e.editor.is_blocked()


async def test_500_reports_an_error_and_changes_nothing(tmp_path: Path) -> None:
    async with editor_env(tmp_path, SimSettings(faults="500")) as e:
        result = await e.editor.send(None)
        assert result.error
        assert result.nodeId is None
        assert await e.editor.text() == ""


async def test_cancel_stops_the_stream_and_keeps_the_text(tmp_path: Path) -> None:
    async with editor_env(tmp_path, SimSettings(tokens_per_second=200)) as e:
        await e.editor.update_settings({"params": {"max_tokens": 400}})
        task = asyncio.ensure_future(e.editor.send("Go."))
        for _ in range(400):
            if any(ev["type"] == "doc.stream" for ev in e.drain()):
                break
            await asyncio.sleep(0.005)
        assert e.editor.cancel()
        result = await task
        assert result.stopped
        assert result.error is None
        assert await e.editor.text() == "Go." + result.text
        assert not e.editor.cancel(), "nothing left to cancel"


async def test_page_can_rebuild_the_document_from_events(tmp_path: Path) -> None:
    """doc.stream and doc.section events replayed onto the snapshot give the stored document,
    also when the AI text opens new paragraphs."""
    hook = (
        "api.v1.hooks.register('onResponse',"
        " lambda p: {'text': [p.text[0].replace(' ', '\\n', 1)]})\n"
    )
    async with editor_env(tmp_path) as e:
        await e.env.run(hook)
        await e.editor.send("Para one.")
        page: list[dict[str, Any]] = [s.model_dump() for s in await e.editor.sections()]
        e.drain()
        await e.editor.update_settings({"params": {"max_tokens": 30}})
        result = await e.editor.send(None)
        assert "\n" in result.text
        for ev in e.drain():
            if ev["type"] == "doc.stream":
                target = next(s for s in page if s["id"] == ev["sectionId"])
                target["text"] += ev["text"]
            elif ev["type"] == "doc.section" and ev["op"] == "add":
                page.insert(ev["index"], dict(ev["section"]))
        stored = await e.editor.sections()
        assert [(s["id"], s["text"]) for s in page] == [(s.id, s.text) for s in stored]


async def test_active_lorebook_entries_reach_the_context(tmp_path: Path) -> None:
    log_context = (
        "api.v1.hooks.register('onContextBuilt', lambda p: api.v1.log(p.messages[0].content))\n"
    )
    async with editor_env(tmp_path) as e:
        await e.env.run(log_context)
        off = await e.editor.put_category(LorebookCategory(name="off", enabled=False))
        await e.editor.put_entry(LorebookEntry(keys=["dragon"], text="DRAGON LORE"))
        await e.editor.put_entry(LorebookEntry(keys=["castle"], text="CASTLE LORE"))
        await e.editor.put_entry(LorebookEntry(text="ALWAYS", forceActivation=True))
        await e.editor.put_entry(LorebookEntry(keys=["dragon"], text="HIDDEN", category=off.id))
        await e.editor.update_settings({"params": {"max_tokens": 2}})
        await e.editor.send("A Dragon slept.")
        assert e.env.lines() == ["DRAGON LORE\n\nALWAYS"]
        assert [ev["type"] for ev in e.drain()].count("lorebook.changed") == 5


async def test_document_converted_to_text_hook_rewrites_the_story(tmp_path: Path) -> None:
    hooks = (
        "def upper(p):\n"
        "    return {'sections': [{'sectionId': s.sectionId, 'text': s.text.upper()}"
        " for s in p.sections]}\n"
        "api.v1.hooks.register('onDocumentConvertedToText', upper)\n"
        "api.v1.hooks.register('onContextBuilt', lambda p: api.v1.log(p.messages[-1].content))\n"
    )
    async with editor_env(tmp_path) as e:
        await e.env.run(hooks)
        await e.editor.build_context()
        assert e.env.lines() == [""]  # no document yet: the user message is empty
        await e.editor.edit(lambda doc: doc.append("quiet words", "user"))
        built = await e.editor.build_context()
        assert built.messages[-1].content == "QUIET WORDS"
        assert e.env.lines() == ["", "QUIET WORDS"]
        assert await e.editor.text() == "quiet words", "the stored text is untouched"


async def test_history_navigation_fires_the_hook(tmp_path: Path) -> None:
    hook = (
        "api.v1.hooks.register('onHistoryNavigated',"
        " lambda p: api.v1.log(p.cause, p.direction, p.distance, p.nodeId != p.previousNodeId))\n"
    )
    async with editor_env(tmp_path) as e:
        await e.env.run(hook)
        await e.editor.edit(lambda doc: doc.append("a", "user"))
        assert await e.editor.undo() is not None
        assert await e.editor.undo() is None, "nothing before the root"
        assert await e.editor.redo() is not None
        await e.editor.edit(lambda doc: doc.append("b", "user"))
        first = (await e.editor.node_state()).node.parent
        assert first is not None
        await e.editor.undo()
        await e.editor.edit(lambda doc: doc.append("c", "user"))  # a sibling of "b"
        assert await e.editor.jump((await e.editor.node_state(first)).node.children[0])
        # NovelAI's {nodeId, previousNodeId, direction, distance, cause}; it was
        # {nodeId, previousNodeId, action}
        assert e.env.lines() == [
            "undo backward 1 True",
            "redo forward 1 True",
            "undo backward 1 True",
            "jump both 2 True",
        ]
        states = [ev for ev in e.drain() if ev["type"] == "story.state"]
        assert len(states) == 4  # one per move


async def test_context_too_large_is_an_error_not_a_crash(tmp_path: Path) -> None:
    async with editor_env(tmp_path) as e:
        await e.editor.update_settings({"memory": "word " * 40000})
        result = await e.editor.send("x")
        assert result.error is not None
        assert "context limit" in result.error
        assert not e.editor.is_blocked()


async def test_open_and_create_stories_rebind_the_host(tmp_path: Path) -> None:
    async with editor_env(tmp_path) as e:
        first = e.editor.story_id
        second = await e.editor.create_story("Second")
        assert e.env.host.story_id == second != first
        await e.editor.open_story(first)
        assert e.env.host.story_id == first
        snap = await e.editor.snapshot()
        assert snap["story"]["id"] == first
        assert {s["title"] for s in snap["stories"]} == {"Untitled", "Second"}


async def test_gate_counts_per_script_and_resets_on_interaction(tmp_path: Path) -> None:
    limits = Limits(tmp_path / "limits.db", clock=FakeClock())
    try:
        gate = EditorGenerateGate(limits, limit=2)
        await gate.take("a")
        await gate.take("a")
        await gate.take("b")
        with pytest.raises(EditorGenerateRefused, match="2 calls without a user interaction"):
            await gate.take("a")
        assert gate.remaining("a") == 0
        await limits.record_interaction("b")
        assert gate.remaining("a") == 0
        assert gate.remaining("b") == 2
        await gate.give_back("a")
        assert gate.remaining("a") == 1
        await limits.record_manual_generation()
        assert gate.remaining("a") == 2
        await gate.give_back("a")
        assert gate.remaining("a") == 2, "giving back never exceeds the limit"
        with pytest.raises(ValueError, match="at least 1"):
            EditorGenerateGate(limits, limit=0)
    finally:
        await limits.close()


async def test_gate_survives_a_restart_and_is_shared_by_two_hosts(tmp_path: Path) -> None:
    """SPEC 5: a reload or a restart refills nothing; the calls were kept in memory, so a
    restarted ``serve`` gave every script three fresh ones."""
    path = tmp_path / "limits.db"
    first = Limits(path, clock=FakeClock())
    second = Limits(path, clock=FakeClock())  # another process on the same --data
    try:
        await EditorGenerateGate(first).take("a")
        await EditorGenerateGate(second).take("a")
        assert EditorGenerateGate(first).remaining("a") == 1
    finally:
        await first.close()
    again = Limits(path, clock=FakeClock())
    try:
        gate = EditorGenerateGate(again)
        assert gate.remaining("a") == 1
        await gate.take("a")
        with pytest.raises(EditorGenerateRefused):
            await EditorGenerateGate(second).take("a")
        await second.record_interaction("a")
        assert gate.remaining("a") == 3
    finally:
        await again.close()
        await second.close()


async def test_text_adventure_input_hook_rewrites_or_stops(tmp_path: Path) -> None:
    hook = (
        "def adventure(p):\n"
        "    if p.inputText == 'quit':\n"
        "        return {'inputText': 'You rest.', 'stopGeneration': True}\n"
        "    return {'inputText': 'You ' + p.inputText + '.'}\n"
        "api.v1.hooks.register('onTextAdventureInput', adventure)\n"
    )
    async with editor_env(tmp_path) as e:
        script = await e.env.run(hook)
        await e.editor.update_settings({"params": {"max_tokens": 3}})
        result = await e.editor.send("open the door", adventure=True)
        assert (await e.editor.text()).startswith("> You open the door.")
        assert result.text
        before = await e.editor.text()
        stopped = await e.editor.send("quit", adventure=True)
        assert stopped.stopped
        assert stopped.stoppedBy == script.id
        assert not stopped.text
        # NovelAI's: the (changed) input still goes in; only the generation is stopped
        assert await e.editor.text() == before + "\n> You rest."


async def test_navigation_and_story_switch_wait_for_the_generation(tmp_path: Path) -> None:
    async with editor_env(tmp_path, SimSettings(latency_ms=300)) as e:
        await e.editor.edit(lambda doc: doc.append("a", "user"))
        task = asyncio.ensure_future(e.editor.send(None))
        await asyncio.sleep(0.05)
        with pytest.raises(EditorBlocked, match="undo: wait until the generation"):
            await e.editor.undo()
        with pytest.raises(EditorBlocked, match="creating a story"):
            await e.editor.create_story("other")
        result = await task
        assert result.error is None
        assert await e.editor.undo() is not None


async def test_a_hook_that_times_out_is_skipped(tmp_path: Path) -> None:
    hook = (
        "async def slow(p):\n    await api.v1.timers.sleep(5000)\n    return {'stopGeneration': True}\n"
        "api.v1.hooks.register('onGenerationRequested', slow)\n"
    )
    async with editor_env(tmp_path, hook_timeout=0.3) as e:
        await e.env.run(hook)
        await e.editor.update_settings({"params": {"max_tokens": 3}})
        result = await e.editor.send("x")
        assert not result.stopped
        assert result.text


async def test_on_response_calls_coalesce_while_a_hook_is_busy(tmp_path: Path) -> None:
    hook = (
        "calls = [0]\n"
        "async def seen(p):\n"
        "    calls[0] += 1\n"
        "    await api.v1.timers.sleep(20)\n"
        "def count():\n    return calls[0]\n"
        "api.v1.hooks.register('onResponse', seen)\n"
        "api.v1.hooks.register('onGenerationEnd', lambda p: api.v1.log(calls[0]))\n"
    )
    async with editor_env(tmp_path) as e:
        await e.env.run(hook)
        await e.editor.update_settings({"params": {"max_tokens": 200}})
        result = await e.editor.send("Go.")
        calls = int(e.env.lines()[0])
        assert 1 <= calls < 50, "200 streamed chunks must not cost 200 hook round trips"
        assert await e.editor.text() == "Go." + result.text
