"""The page's second-wave features in a real Chromium: the story list (create, open, delete),
a window with every part type wired to its script, context-menu buttons on the document
seeing the selection, script/sidebar panels opened by ``ui.openPanel``, a button disabled
while its callback runs, and Stop during a generation."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))

from browser_helpers import COLLECT_LOGS, browser_page, wait_log
from web_helpers import served

from nai_script.sim import SimSettings

PIXEL = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8"
    "z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)

ALL_PARTS = (
    """
def logger(name):
    def log(value=None):
        api.v1.log(name + ':' + repr(value))
    return log

def clicked():
    api.v1.log('button:clicked')

async def show_section():
    api.v1.log('sec:' + repr(await api.v1.storage.get('sec')))

await api.v1.ui.window.open({'id': 'all', 'title': 'All parts', 'defaultWidth': 520,
  'content': [
    {'type': 'text', 'id': 'md', 'markdown': True, 'text': '# Heading\\n**bold** and *em*'},
    {'type': 'image', 'id': 'img', 'src': '"""
    + PIXEL
    + """', 'alt': 'pixel', 'width': 8, 'height': 8},
    {'type': 'row', 'id': 'row', 'content': [
      {'type': 'button', 'id': 'btn', 'text': 'Press', 'callback': clicked},
      {'type': 'textInput', 'id': 'ti', 'label': 'Name',
       'onChange': logger('ti.change'), 'onSubmit': logger('ti.submit')}]},
    {'type': 'column', 'id': 'col', 'content': [
      {'type': 'multilineTextInput', 'id': 'ml', 'onChange': logger('ml.change'),
       'onSubmit': logger('ml.submit')},
      {'type': 'numberInput', 'id': 'num', 'onChange': logger('num.change'),
       'onSubmit': logger('num.submit')}]},
    {'type': 'box', 'id': 'box', 'content': [
      {'type': 'checkboxInput', 'id': 'cb', 'label': 'Check', 'onChange': logger('cb.change')}]},
    {'type': 'container', 'id': 'cont', 'content': [
      {'type': 'sliderInput', 'id': 'sl', 'min': 0, 'max': 10, 'step': 1, 'preventDecimal': True,
       'initialValue': 2, 'onChange': logger('sl.change')}]},
    {'type': 'collapsibleSection', 'id': 'sec', 'title': 'More', 'storageKey': 'sec',
     'content': [{'type': 'text', 'id': 'inner', 'text': 'inside'}]},
    {'type': 'button', 'id': 'show', 'text': 'Show section', 'callback': show_section},
  ]})
"""
)

EXTENSIONS = """
async def shout(info):
    text = await api.v1.document.textFromSelection(info['selection'])
    api.v1.log('menu:' + text)

async def slow():
    api.v1.log('slow:start')
    await api.v1.timers.sleep(1500)
    api.v1.log('slow:end')

async def show_panel():
    await api.v1.ui.openPanel('side')

async def show_main():
    await api.v1.ui.openPanel('main')

async def close_panel():
    await api.v1.ui.closePanel()

await api.v1.ui.register([
  {'type': 'contextMenuButton', 'id': 'shout', 'text': 'Shout it', 'callback': shout},
  {'type': 'toolbarButton', 'id': 'slow', 'text': 'Slow', 'callback': slow,
   'disabledWhileCallbackRunning': True},
  {'type': 'toolbarButton', 'id': 'panel', 'text': 'Panel', 'callback': show_panel},
  {'type': 'toolbarButton', 'id': 'main-open', 'text': 'Main', 'callback': show_main},
  {'type': 'toolbarButton', 'id': 'close', 'text': 'Close panel', 'callback': close_panel},
  {'type': 'sidebarPanel', 'id': 'side', 'name': 'Side panel',
   'content': [{'type': 'text', 'id': 'sidetext', 'text': 'side content'}]},
  {'type': 'scriptPanel', 'id': 'main', 'name': 'Main panel',
   'content': [{'type': 'text', 'id': 'maintext', 'text': 'main content'}]},
])
"""


async def _open(page: Any, url: str) -> None:
    await page.goto(url)
    await page.wait_for_selector('#status[data-state="open"]')
    await page.evaluate(COLLECT_LOGS)


async def test_a_window_with_every_part_type_renders_and_reports_each_input(
    tmp_path: Path,
) -> None:
    async with (
        served(tmp_path, {"parts.py": ALL_PARTS}) as server,
        browser_page("all_parts") as page,
    ):
        await _open(page, server.url)
        win = page.locator('.window[data-window-id="all"]')
        await win.wait_for()
        md = win.locator('[data-part-id="md"]')
        assert await md.locator("strong.md-h1").inner_text() == "Heading"
        assert await md.locator("em").inner_text() == "em"
        img = win.locator('img[data-part-id="img"]')
        assert await img.get_attribute("src") == PIXEL
        for layout in ("row", "col", "box", "cont"):
            assert await win.locator(f'[data-part-id="{layout}"]').count() == 1
        await win.locator('[data-part-id="btn"]').click()
        await wait_log(page, "button:clicked")
        text = win.locator('[data-part-id="ti"] input')
        await text.fill("Ada")
        await wait_log(page, "ti.change:'Ada'")
        await text.press("Enter")
        await wait_log(page, "ti.submit:'Ada'")
        multi = win.locator('textarea[data-part-id="ml"]')
        await multi.fill("two\nlines")
        await wait_log(page, "ml.change:'two\\nlines'")
        await multi.press("Control+Enter")
        await wait_log(page, "ml.submit:'two\\nlines'")
        number = win.locator('input[data-part-id="num"]')
        await number.fill("42")
        await wait_log(page, "num.change:'42'")
        await number.press("Enter")
        await wait_log(page, "num.submit:'42'")
        await win.locator('[data-part-id="cb"] input').check()
        await wait_log(page, "cb.change:True")
        slider = win.locator('[data-part-id="sl"] input')
        assert await slider.input_value() == "2"
        await slider.fill("7")
        await wait_log(page, "sl.change:7")
        section = win.locator('details[data-part-id="sec"]')
        assert await section.get_attribute("open") is not None
        await section.locator("summary").click()
        await page.wait_for_function(
            "document.querySelector('details[data-part-id=\"sec\"]')?.open === false"
        )
        # The collapsed state went to the server, stored under the section's storageKey.
        await win.locator('[data-part-id="show"]').click()
        await wait_log(page, "sec:True")


async def test_story_list_creates_opens_and_deletes_stories(tmp_path: Path) -> None:
    async with served(tmp_path) as server, browser_page("story_list") as page:
        page.on("dialog", lambda dialog: dialog.accept())
        await _open(page, server.url)
        await page.click('#tabs button[data-tab="stories"]')
        await page.fill("#new-story-title", "Second tale")
        await page.click("#new-story")
        await page.wait_for_function(
            "document.getElementById('story-title').textContent === 'Second tale'"
        )
        assert await page.locator("#story-list li").count() == 2
        await page.fill("#input", "In the second tale.")
        await page.click("#send")
        await page.locator("#document .origin-ai").first.wait_for()
        await page.wait_for_function("!document.body.classList.contains('generating')")
        await page.locator("#story-list li:not(.open) .story-open").click()
        await page.wait_for_function(
            "document.getElementById('story-title').textContent === 'Untitled'"
        )
        assert await page.locator("#document p").count() == 0
        await page.locator("#story-list li.open .story-delete").click()
        await page.wait_for_function("document.querySelectorAll('#story-list li').length === 1")
        await page.wait_for_function(
            "document.getElementById('story-title').textContent === 'Second tale'"
        )
        await page.locator("#document .origin-user", has_text="second tale").wait_for()


async def test_context_menu_panels_and_a_button_disabled_while_running(tmp_path: Path) -> None:
    async with (
        served(tmp_path, {"ext.py": EXTENSIONS}) as server,
        browser_page("extensions") as page,
    ):
        await _open(page, server.url)
        await page.locator('#toolbar button[data-extension-id="slow"]').wait_for()
        # Context-menu buttons are not in the toolbar: they appear on a right-click.
        assert await page.locator('#toolbar [data-extension-id="shout"]').count() == 0
        assert server.services is not None
        assert server.services.editor is not None
        await server.services.editor.edit(lambda doc: doc.append("The quick brown fox", "user"))
        paragraph = page.locator("#document p").first
        await paragraph.wait_for()
        box = await page.evaluate(
            """() => {
              const text = document.querySelector('#document p span').firstChild;
              const range = document.createRange();
              range.setStart(text, 4); range.setEnd(text, 9);
              getSelection().removeAllRanges(); getSelection().addRange(range);
              const r = range.getBoundingClientRect();
              return { x: r.x + r.width / 2, y: r.y + r.height / 2 };
            }"""
        )
        await page.mouse.click(box["x"], box["y"], button="right")  # inside the selection
        menu = page.locator("#context-menu")
        await menu.locator("button", has_text="Shout it").click()
        await wait_log(page, "menu:quick")
        assert await menu.is_hidden()
        # The selection was reported to the server too.
        editor = server.services.editor
        async with asyncio.timeout(5):
            while True:  # the page reports selection changes debounced
                selection = await editor.selection()
                if (selection["from"]["offset"], selection["to"]["offset"]) == (4, 9):
                    break
                await asyncio.sleep(0.05)

        slow = page.locator('#toolbar button[data-extension-id="slow"]')
        await slow.click()
        await wait_log(page, "slow:start")
        assert await slow.is_disabled()
        await wait_log(page, "slow:end")
        await page.wait_for_function(
            "document.querySelector('#toolbar button[data-extension-id=\"slow\"]')?.disabled === false"
        )

        assert await page.locator("#script-panel").is_hidden()
        await page.locator('#toolbar button[data-extension-id="panel"]').click()
        side = page.locator('#panels .ext-sidebarPanel[data-extension-id="side"]')
        await page.wait_for_function(
            "document.querySelector('#panels [data-extension-id=\"side\"]')"
            "?.classList.contains('panel-opened')"
        )
        assert await side.is_visible()
        assert "side content" in await side.inner_text()
        await page.locator('#toolbar button[data-extension-id="main-open"]').click()
        script_panel = page.locator("#script-panel")
        await script_panel.wait_for()  # shown under the document
        assert "main content" in await script_panel.inner_text()
        await page.locator('#toolbar button[data-extension-id="close"]').click()
        await script_panel.wait_for(state="hidden")
        assert await page.locator(".ext-panel.panel-opened").count() == 0


async def test_stop_button_ends_a_generation(tmp_path: Path) -> None:
    slow = SimSettings(tokens_per_second=15)
    async with served(tmp_path, sim_settings=slow) as server, browser_page("stop") as page:
        await _open(page, server.url)
        assert server.services is not None
        assert server.services.editor is not None
        await server.services.editor.update_settings({"params": {"max_tokens": 400}})
        stop = page.locator("#stop")
        assert await stop.is_hidden()
        await page.fill("#input", "Once upon a time")
        await page.click("#send")
        await page.locator("#document .origin-ai").first.wait_for()
        await stop.click()
        await page.wait_for_function("document.getElementById('stop').hidden")
        text = await server.services.editor.text()
        assert text.startswith("Once upon a time")
        assert len(text) < 400  # stopped well before the 400 tokens
