"""Typing into a script window while the script redraws that window: the field keeps the
person's text, the caret and the focus (every keystroke here makes the script update the
window, which re-renders all its parts)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))

from browser_helpers import browser_page
from web_helpers import served

ECHO = """
handle = None

def content(seen):
    return [
        {'type': 'text', 'id': 'seen', 'text': 'seen: ' + seen},
        {'type': 'multilineTextInput', 'id': 'box', 'onChange': changed, 'onSubmit': submitted},
    ]

async def changed(value):
    await handle.update({'content': content(value)})

async def submitted(value):
    await handle.update({'content': content('submitted ' + value)})

handle = await api.v1.ui.window.open({'id': 'echo', 'title': 'Echo', 'content': content('')})
"""


async def test_a_redraw_while_typing_keeps_the_text_the_caret_and_the_focus(
    tmp_path: Path,
) -> None:
    async with (
        served(tmp_path, {"echo.py": ECHO}) as server,
        browser_page("typing_redraw") as page,
    ):
        await page.goto(server.url)
        win = page.locator('.window[data-window-id="echo"]')
        box = win.locator('textarea[data-part-id="box"]')
        await box.click()
        seen = win.locator('[data-part-id="seen"]')
        for char in "hello":
            await page.keyboard.type(char)
            # Wait for the redraw this keystroke caused before typing the next one.
            await page.wait_for_function(
                "(t) => document.querySelector('.window [data-part-id=seen]')"
                "?.textContent.endsWith(t)",
                arg=char,
            )
        await page.keyboard.press("ArrowLeft")  # the caret is kept too: insert before 'o'
        await page.keyboard.type("X")
        await page.wait_for_function(
            "document.querySelector('.window [data-part-id=seen]')?.textContent === 'seen: hellXo'"
        )
        assert await box.input_value() == "hellXo"
        assert await box.evaluate("(node) => node === document.activeElement")
        await page.keyboard.press("Control+Enter")
        await page.wait_for_function(
            "document.querySelector('.window [data-part-id=seen]')"
            "?.textContent === 'seen: submitted hellXo'"
        )
        assert (await seen.text_content() or "") == "seen: submitted hellXo"
