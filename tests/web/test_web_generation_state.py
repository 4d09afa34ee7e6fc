"""What a page is told about generations it did not start: a script's blocking ``generate``
greys Send out on every page (and frees it when it ends), a background one does not, and a
page that connects mid-generation learns both from its ``state``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from web_helpers import page_socket, served

from nai_script.sim import SimSettings

GENERATOR = """
async def run(behaviour):
    await api.v1.generate([{'role': 'user', 'content': 'Tell me'}],
                          {'model': 'glm-4-6', 'max_tokens': 60}, behaviour=behaviour)
    api.v1.log(behaviour + ' done')

await api.v1.ui.register([
    {'type': 'toolbarButton', 'id': 'blocking', 'text': 'B', 'callback': lambda: run('blocking')},
    {'type': 'toolbarButton', 'id': 'background', 'text': 'G',
     'callback': lambda: run('background')},
])
"""


def _click(target: str) -> dict[str, Any]:
    return {"type": "ui.event", "scriptId": "gen", "targetId": target, "event": "callback"}


def _blocked(event: dict[str, Any]) -> bool:
    return event["type"] == "editor.blocked"


async def test_a_blocking_script_generation_blocks_send_on_the_page(tmp_path: Path) -> None:
    """The page was never told: Send stayed enabled and only failed when pressed."""
    slow = SimSettings(tokens_per_second=40)
    async with (
        served(tmp_path, {"gen.py": GENERATOR}, sim_settings=slow) as server,
        page_socket(server) as page,
    ):
        assert (await page.next())["blocked"] is None
        await page.send(_click("blocking"))
        blocked = await page.wait_for(_blocked)
        assert blocked["blocked"] is True
        assert blocked["reason"] == "script 'gen' is generating (blocking)"
        async with page_socket(server) as late:  # a second tab, opened meanwhile
            state = await late.next()
            assert state["type"] == "state"
            assert state["blocked"] == blocked["reason"]
            assert state["generating"] is False  # the editor's own Send is not running
        await page.send({"type": "send", "text": "Now"})
        assert "blocked" in (await page.wait_type("error"))["message"]
        freed = await page.wait_for(_blocked, timeout=15)
        assert freed == {"type": "editor.blocked", "blocked": False, "reason": None}
        assert (await page.wait_type("script.log"))["text"] == "blocking done"


async def test_a_background_script_generation_leaves_send_free(tmp_path: Path) -> None:
    slow = SimSettings(tokens_per_second=40)
    async with (
        served(tmp_path, {"gen.py": GENERATOR}, sim_settings=slow) as server,
        page_socket(server) as page,
    ):
        await page.next()
        await page.send(_click("background"))
        await page.send({"type": "send", "text": "Meanwhile"})
        start = await page.wait_type("generation.start")
        assert start["source"] == "user"
        async with page_socket(server) as late:
            state = await late.next()
            assert state["generating"] is True
            assert state["blocked"] == "a generation is in progress"
        await page.wait_type("generation.end", timeout=15)
        await page.wait_for(lambda e: e["type"] == "script.log" and "done" in e["text"], 15)
        events = [e for e in page.seen if _blocked(e)]
        assert all("'gen'" not in (e["reason"] or "") for e in events), events


async def test_an_edit_during_the_stream_does_not_end_the_generation(tmp_path: Path) -> None:
    """Fixing an earlier paragraph while the AI wrote ended the generation with "history node
    ... is no longer current" and lost the rest of it; the rest now follows the edit."""
    slow = SimSettings(tokens_per_second=40)
    async with served(tmp_path, sim_settings=slow) as server, page_socket(server) as page:
        await page.next()
        assert server.services is not None
        assert server.services.editor is not None
        editor = server.services.editor
        await editor.edit(lambda doc: doc.append_paragraph("First.\nSecond.", "user"))
        first = (await editor.sections())[0].id
        await page.send({"type": "settings.update", "settings": {"params": {"max_tokens": 60}}})
        await page.send({"type": "send", "text": None})
        await page.wait_type("doc.stream")
        await page.send({"type": "edit", "sectionId": first, "text": "First, fixed."})
        end = await page.wait_type("generation.end", timeout=15)
        assert "error" not in end
        text = await editor.text()
        assert text.startswith("First, fixed.\nSecond.")
        assert len(text) > len("First, fixed.\nSecond.") + 60  # 60 tokens streamed, not a few
        store, story = editor.store, editor.story_id

        def kinds() -> list[str]:
            chain = store.ancestors(story, store.current_node(story))
            return [store.node(story, node).kind for node in chain]

        assert (await store.run(kinds))[:3] == ["generation", "edit", "generation"]
