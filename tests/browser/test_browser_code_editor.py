"""The ``codeEditor`` part in a real Chromium: a monospace textarea (the page bundles no Monaco)
with its initial value, size, font size and line numbers; ``readOnly`` honoured; typing (Tab
included) reaches the script's ``onChange`` and the part's ``storageKey``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))

from browser_helpers import COLLECT_LOGS, browser_page, wait_log
from web_helpers import served

CODE = """
def changed(value):
    api.v1.log('code:' + repr(value))

async def show():
    api.v1.log('stored:' + repr(await api.v1.storage.get('src')))

await api.v1.ui.window.open({'id': 'code', 'title': 'Code', 'defaultWidth': 480, 'content': [
  api.v1.ui.part.codeEditor({'id': 'ed', 'initialValue': 'one\\ntwo', 'language': 'json',
    'height': 200, 'fontSize': 16, 'wordWrap': False, 'storageKey': 'src',
    'onChange': changed}),
  {'type': 'codeEditor', 'id': 'ro', 'initialValue': 'fixed', 'readOnly': True,
   'height': '80px', 'lineNumbers': False, 'onChange': changed},
  {'type': 'button', 'id': 'show', 'text': 'Show', 'callback': show},
]})
"""


async def test_a_code_editor_is_a_monospace_textarea_wired_to_the_script(tmp_path: Path) -> None:
    async with (
        served(tmp_path, {"code.py": CODE}) as server,
        browser_page("code_editor") as page,
    ):
        await page.goto(server.url)
        await page.wait_for_selector('#status[data-state="open"]')
        await page.evaluate(COLLECT_LOGS)
        win = page.locator('.window[data-window-id="code"]')
        holder = win.locator('[data-part-id="ed"]')
        editor = holder.locator("textarea")
        await editor.wait_for()
        assert await editor.input_value() == "one\ntwo"
        assert await editor.get_attribute("data-language") == "json"
        assert await editor.get_attribute("wrap") == "off"
        font = await editor.evaluate("(n) => getComputedStyle(n).fontFamily")
        assert "monospace" in font
        assert await editor.evaluate("(n) => getComputedStyle(n).fontSize") == "16px"
        assert await holder.evaluate("(n) => n.getBoundingClientRect().height") == 200
        gutter = holder.locator(".part-code-gutter")
        assert await gutter.text_content() == "1\n2"

        await editor.click()
        await page.keyboard.press("Control+End")
        await page.keyboard.type("!")
        await wait_log(page, "code:'one\\ntwo!'")
        await page.keyboard.press("Enter")
        await page.keyboard.press("Tab")  # a tab character, not the next field
        await page.keyboard.type("x")
        await wait_log(page, "code:'one\\ntwo!\\n\\tx'")
        assert await editor.evaluate("(n) => n === document.activeElement")
        assert await gutter.text_content() == "1\n2\n3"
        await win.locator('[data-part-id="show"]').click()
        await wait_log(page, "stored:'one\\ntwo!\\n\\tx'")

        read_only = win.locator('[data-part-id="ro"] textarea')
        assert await read_only.evaluate("(n) => n.readOnly") is True
        assert await win.locator('[data-part-id="ro"] .part-code-gutter').count() == 0
        await read_only.click()
        await page.keyboard.type("zz")
        await page.keyboard.press("Tab")
        assert await read_only.input_value() == "fixed"
        logged = len(await page.evaluate("window.__logs"))
        await win.locator('[data-part-id="show"]').click()  # a later event, waited for:
        await page.wait_for_function("(n) => window.__logs.length > n", arg=logged)
        assert not [line for line in await page.evaluate("window.__logs") if "zz" in line]
