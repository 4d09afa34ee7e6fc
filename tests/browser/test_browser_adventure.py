"""Text adventure input in a real Chromium: the input-mode selector next to Send ("Normal",
"Do", "Say", "Story"); "Do" sends the text as an action, which the scripts'
``onTextAdventureInput`` sees and the document shows as ``> text``; the choice stays for the
tab's session."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))

import json
from typing import Any

from browser_helpers import browser_page, editor_of
from web_helpers import served

SEEN = "api.v1.hooks.register('onTextAdventureInput', lambda p: api.v1.log(p))\n"


async def record(page: Any) -> None:
    """From now on, ``window.logs``: the hook's params as logged; ``window.ends``: generations
    ended."""
    await page.evaluate(
        """() => { window.logs = []; window.ends = 0;
            window.naiScript.onEvent = (e) => {
                if (e.type === 'script.log' && e.id === 'seen') window.logs.push(e.text);
                if (e.type === 'generation.end') window.ends += 1;
            }; }"""
    )


async def test_do_sends_an_action_the_hook_sees(tmp_path: Path) -> None:
    async with served(tmp_path, {"seen.py": SEEN}) as server, browser_page("adventure") as page:
        await editor_of(server).update_settings({"params": {"max_tokens": 4}})
        await page.goto(server.url)
        await page.wait_for_selector('#status[data-state="open"]')
        await record(page)
        select = page.locator("#input-mode")
        assert await select.input_value() == ""  # Normal, the plain Send, by default
        labels = await select.locator("option").all_text_contents()
        assert labels == ["Normal", "Do", "Say", "Story"]
        await select.select_option(label="Do")
        await page.fill("#input", "open the door")
        await page.click("#send")
        action = page.locator("#document p.section", has_text="> open the door")
        await action.wait_for()
        await page.wait_for_function("window.ends >= 1")
        (params,) = [json.loads(text) for text in await page.evaluate("window.logs")]
        assert params["mode"] == "action"
        assert params["inputText"] == params["rawInputText"] == "open the door"
        first = await page.locator("#document p.section").all_text_contents()
        assert any(text.startswith("> open the door") for text in first), first
        # The choice stays (and survives a reload of the tab); Ctrl+Enter sends in it too.
        assert await select.input_value() == "action"
        await page.reload()
        await page.wait_for_selector('#status[data-state="open"]')
        assert await select.input_value() == "action"
        await record(page)
        await select.select_option(label="Say")
        await page.fill("#input", "Hello")
        await page.press("#input", "Control+Enter")
        await page.locator("#document p.section", has_text='> "Hello"').wait_for()
        await page.wait_for_function("window.ends >= 1")
        assert [json.loads(text)["mode"] for text in await page.evaluate("window.logs")] == [
            "dialogue"
        ]
        # Back to Normal: the plain Send, the hook does not run.
        await select.select_option(label="Normal")
        await page.fill("#input", " Then silence.")
        await page.click("#send")
        await page.locator("#document .origin-user", has_text="Then silence.").wait_for()
        await page.wait_for_function("window.ends >= 2")
        assert len(await page.evaluate("window.logs")) == 1
