"""Text adventure input from the page: ``send`` with a ``mode`` runs the scripts'
``onTextAdventureInput`` with NovelAI's params and writes the input as its own paragraph;
without one it is the plain Send; a bad mode is refused naming the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from web_helpers import PageSocket, page_socket, script_logs, served

SEEN = "api.v1.hooks.register('onTextAdventureInput', lambda p: api.v1.log(p))\n"


async def _send_and_finish(page: PageSocket, command: dict[str, Any]) -> list[dict[str, Any]]:
    """Send ``command``; the events up to its ``generation.end`` (which must carry no error)."""
    start = len(page.seen)
    await page.send(command)
    end = await page.wait_type("generation.end", timeout=15)
    assert "error" not in end, end
    return page.seen[start:]


def _added(events: list[dict[str, Any]]) -> list[str]:
    """The texts of the paragraphs these events added to the document, in order."""
    return [e["section"]["text"] for e in events if e["type"] == "doc.section" and e["op"] == "add"]


async def test_each_mode_reaches_the_hook_and_writes_its_paragraph(tmp_path: Path) -> None:
    async with served(tmp_path, {"seen.py": SEEN}) as server, page_socket(server) as page:
        await page.next()
        await page.send({"type": "settings.update", "settings": {"params": {"max_tokens": 2}}})
        await page.wait_type("settings.changed")
        cases = [
            ("action", "open\nthe door", "> open the door"),
            ("dialogue", "Hello there", '> "Hello there"'),
            ("story", "The wind rose.", "The wind rose."),
        ]
        for mode, typed, paragraph in cases:
            events = await _send_and_finish(page, {"type": "send", "text": typed, "mode": mode})
            (params,) = script_logs(events, "seen")
            assert set(params) == {"continuityId", "inputText", "rawInputText", "mode"}
            assert params["mode"] == mode
            assert params["rawInputText"] == typed
            assert params["inputText"] == typed.replace("\n", " ")
            assert params["continuityId"]
            start = next(e for e in events if e["type"] == "generation.start")
            assert start["source"] == "user"
            assert any(text.startswith(paragraph) for text in _added(events)), events
        assert server.services is not None
        assert server.services.editor is not None
        texts = [s.text for s in await server.services.editor.sections()]
        for _, _, paragraph in cases:
            assert any(text.startswith(paragraph) for text in texts), texts


async def test_without_a_mode_send_is_the_plain_send(tmp_path: Path) -> None:
    async with served(tmp_path, {"seen.py": SEEN}) as server, page_socket(server) as page:
        await page.next()
        await page.send({"type": "settings.update", "settings": {"params": {"max_tokens": 2}}})
        await page.wait_type("settings.changed")
        events = await _send_and_finish(page, {"type": "send", "text": "Once upon"})
        events += await _send_and_finish(page, {"type": "send", "text": " a time", "mode": None})
        assert script_logs(events, "seen") == []
        assert server.services is not None
        assert server.services.editor is not None
        text = await server.services.editor.text()
        assert text.startswith("Once upon"), text
        assert ">" not in text


async def test_a_bad_mode_is_refused_naming_the_field(tmp_path: Path) -> None:
    async with served(tmp_path, {"seen.py": SEEN}) as server, page_socket(server) as page:
        await page.next()
        await page.send({"type": "send", "text": "shout it", "mode": "shout"})
        error = await page.wait_type("error")
        assert error["message"].startswith("send: mode: "), error
        assert "'action', 'dialogue' or 'story'" in error["message"]
        assert error["command"] == "send"
        await page.send({"type": "send", "text": "x", "mode": 3})
        assert (await page.wait_type("error"))["message"].startswith("send: mode: ")
        # Nothing ran and nothing was written: a good send afterwards is the only one seen.
        await _send_and_finish(page, {"type": "send", "text": "go", "mode": "action"})
        assert [p["mode"] for p in script_logs(page.seen, "seen")] == ["action"]
        assert len([e for e in page.seen if e["type"] == "generation.start"]) == 1
        assert _added(page.seen)[0] == "> go"  # the document held nothing before it
