"""The side panels in a real Chromium: memory and a lorebook entry edited on the page persist
(reload: still there) and reach the built context a script's hook sees; the diagnostics tab
shows a script's buckets (held entries, countdowns, waiting for interaction) and its logs."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))

import asyncio
from typing import Any

from browser_helpers import browser_page, editor_of, open_tab, toolbar_button
from web_helpers import served

from nai_script.editor.models import LorebookEntry
from nai_script.limits import FakeClock, LimitsConfig

MEMORY = "Sir Marrow is the old knight of the north."
LORE_TEXT = "The glass bridge sings when the wind blows."

CONTEXT_WATCHER = f"""
def built(params):
    text = ' '.join(message['content'] for message in params['messages'])
    api.v1.log('memory in context: ' + str({MEMORY!r} in text))
    api.v1.log('lore in context: ' + str({LORE_TEXT!r} in text))

api.v1.hooks.register('onContextBuilt', built)
"""

SPENDER = """
async def spend():
    await api.v1.generate([{'role': 'user', 'content': 'Go on'}],
        {'model': 'glm-4-6', 'max_tokens': 16})
    api.v1.log('spent some output')

def touch():
    api.v1.log('touched')

await api.v1.ui.register([
    {'type': 'toolbarButton', 'id': 'spend', 'text': 'Spend', 'callback': spend},
    {'type': 'toolbarButton', 'id': 'touch', 'text': 'Touch', 'callback': touch},
])
"""


async def _save_memory(page: Any, text: str) -> None:
    story = await open_tab(page, "story")
    await story.locator('#settings-form textarea[name="memory"]').fill(text)
    await story.get_by_role("button", name="Save settings").click()


async def _add_lore_entry(page: Any) -> None:
    lorebook = await open_tab(page, "lorebook")
    new_entry = lorebook.locator("form.lore-entry").last
    await new_entry.locator('input[name="displayName"]').fill("Glass bridge")
    await new_entry.locator('input[name="keys"]').fill("bridge, glass")
    await new_entry.locator('textarea[name="text"]').fill(LORE_TEXT)
    await new_entry.get_by_role("button", name="Add entry").click()
    # The saved entry comes back from the server as its own form (with Delete).
    saved = lorebook.locator("form.lore-entry", has=page.get_by_role("button", name="Delete"))
    await saved.wait_for()


async def test_memory_and_a_lore_entry_persist_and_reach_the_context(tmp_path: Path) -> None:
    async with (
        served(tmp_path, {"watcher.py": CONTEXT_WATCHER}) as server,
        browser_page("panels_context") as page,
    ):
        await page.goto(server.url)
        await _save_memory(page, MEMORY)
        await _add_lore_entry(page)
        settings = await editor_of(server).settings()
        assert settings.memory == MEMORY

        # A fresh page load is drawn from the stored story.
        await page.reload()
        story = await open_tab(page, "story")
        memory = story.locator('#settings-form textarea[name="memory"]')
        await page.wait_for_function(
            "(el) => el.value.length > 0", arg=await memory.element_handle()
        )
        assert await memory.input_value() == MEMORY
        lorebook = await open_tab(page, "lorebook")
        saved = lorebook.locator("form.lore-entry").first
        assert await saved.locator('textarea[name="text"]').input_value() == LORE_TEXT
        assert await saved.locator('input[name="keys"]').input_value() == "bridge, glass"
        assert await lorebook.locator("form.lore-entry").count() == 2  # the entry + a blank one

        # Send text naming the key: the hook sees memory and the entry in the messages.
        await page.fill("#input", "They walked toward the bridge.")
        await page.click("#send")
        await page.locator("#document .origin-ai").first.wait_for()
        diagnostics = await open_tab(page, "diagnostics")
        log = diagnostics.locator('.diag-script[data-script-id="watcher"] .log')
        await log.get_by_text("memory in context: True", exact=True).wait_for()
        await log.get_by_text("lore in context: True", exact=True).wait_for()


async def test_editing_an_existing_lore_entry_persists_and_changes_the_context(
    tmp_path: Path,
) -> None:
    async with (
        served(tmp_path, {"watcher.py": CONTEXT_WATCHER}) as server,
        browser_page("panels_entry_edit") as page,
    ):
        editor = editor_of(server)
        await editor.put_entry(
            LorebookEntry(displayName="Bridge", keys=["bridge"], text="An old stone bridge.")
        )
        await page.goto(server.url)
        lorebook = await open_tab(page, "lorebook")
        entry = lorebook.locator("form.lore-entry").first
        text = entry.locator('textarea[name="text"]')
        await page.wait_for_function("(el) => el.value.length > 0", arg=await text.element_handle())
        assert await text.input_value() == "An old stone bridge."
        await text.fill(LORE_TEXT)
        await entry.get_by_role("button", name="Save").click()
        await page.wait_for_function(
            "(t) => window.naiScript.story.lorebook &&"
            " window.naiScript.story.lorebook.entries[0].text === t",
            arg=LORE_TEXT,
        )
        entries, _ = await editor.lorebook()
        assert [e.text for e in entries] == [LORE_TEXT]

        await page.reload()
        lorebook = await open_tab(page, "lorebook")
        text = lorebook.locator("form.lore-entry").first.locator('textarea[name="text"]')
        await page.wait_for_function("(el) => el.value.length > 0", arg=await text.element_handle())
        assert await text.input_value() == LORE_TEXT

        await page.fill("#input", "At the bridge they stopped.")
        await page.click("#send")
        diagnostics = await open_tab(page, "diagnostics")
        log = diagnostics.locator('.diag-script[data-script-id="watcher"] .log')
        await log.get_by_text("lore in context: True", exact=True).wait_for()


async def test_memory_edited_on_the_page_survives_a_restart(tmp_path: Path) -> None:
    async with served(tmp_path) as server, browser_page("panels_restart") as page:
        await page.goto(server.url)
        await _save_memory(page, MEMORY)
        await page.wait_for_function(
            "window.naiScript.story && window.naiScript.story.settings.memory.length > 0"
        )
    async with served(tmp_path) as server, browser_page("panels_restart_after") as page:
        await page.goto(server.url)
        story = await open_tab(page, "story")
        memory = story.locator('#settings-form textarea[name="memory"]')
        await page.wait_for_function(
            "(el) => el.value.length > 0", arg=await memory.element_handle()
        )
        assert await memory.input_value() == MEMORY


async def test_unsaved_typing_survives_a_change_made_elsewhere(tmp_path: Path) -> None:
    """Any change to the story (another tab's save, a script setting the author's note or
    adding an entry) redrew the panels and wiped what the user was typing; and a save sent
    every field, reverting changes made meanwhile under fields the user never touched."""
    async with served(tmp_path) as server, browser_page("panels_unsaved") as page:
        await page.goto(server.url)
        editor = editor_of(server)
        story = await open_tab(page, "story")
        memory = story.locator('#settings-form textarea[name="memory"]')
        await memory.fill(MEMORY)  # typed, not saved
        await editor.update_settings({"authorsNote": "[Style: terse]"})
        await page.wait_for_function(
            "document.querySelector('#settings-form textarea[name=authorsNote]').value"
            " === '[Style: terse]'"
        )
        assert await memory.input_value() == MEMORY
        assert await page.evaluate("document.activeElement.name") == "memory"
        await story.get_by_role("button", name="Save settings").click()
        await page.wait_for_function(f"window.naiScript.story.settings.memory === {MEMORY!r}")
        settings = await editor.settings()
        assert settings.memory == MEMORY
        assert settings.authorsNote == "[Style: terse]"

        lorebook = await open_tab(page, "lorebook")
        new_entry = lorebook.locator('form[data-key^="new-entry:"] textarea[name="text"]')
        await new_entry.fill(LORE_TEXT)
        await editor.put_entry(LorebookEntry(displayName="From a script", text="x"))
        await page.wait_for_function(
            "[...document.querySelectorAll('#tab-lorebook input[name=displayName]')]"
            ".some((input) => input.value === 'From a script')"
        )
        assert await new_entry.input_value() == LORE_TEXT
        # Unsaved typing stays with its story: another story opens with its own values.
        first = editor.story_id
        await editor.create_story("Second")
        await page.wait_for_function(f"window.naiScript.story.story.id === {editor.story_id!r}")
        assert await new_entry.input_value() == ""
        assert editor.story_id != first


async def test_diagnostics_show_held_entries_countdowns_and_logs(tmp_path: Path) -> None:
    clock = FakeClock()
    limits = LimitsConfig(output_capacity=200, output_window_s=60.0)
    async with (
        served(tmp_path, {"spender.py": SPENDER}, clock=clock, limits_config=limits) as server,
        browser_page("diagnostics") as page,
    ):
        await page.goto(server.url)
        diagnostics = await open_tab(page, "diagnostics")
        script = diagnostics.locator('.diag-script[data-script-id="spender"]')
        output = script.locator(".bucket-output")
        await output.get_by_text("output: 200 / 200 available, 0 held", exact=False).wait_for()
        await script.get_by_text("editor.generate calls left: 3").wait_for()

        await toolbar_button(page, "Spend").click()
        await script.locator(".log").get_by_text("spent some output").wait_for()
        # Held, its window running, and no interaction since: both conditions shown.
        entry = output.locator("tr").first
        await entry.get_by_text("window ends in 60.0 s, then waits for interaction").wait_for()
        held = int(await entry.locator("td").first.text_content() or "0")
        assert 0 < held <= 16
        header = output.locator("div").first
        assert "waiting for interaction" in (await header.text_content() or "")
        assert f"{200 - held} / 200 available, {held} held" in (await header.text_content() or "")
        # The input bucket shows its own held entry (the prompt's uncached tokens).
        await script.locator(".bucket-input tr").first.wait_for()

        # An interaction (after the spend): now only the window is left, counting down on
        # the host's clock.
        clock.advance(1)
        await toolbar_button(page, "Touch").click()
        await script.locator(".log").get_by_text("touched").wait_for()
        await entry.get_by_text("returns in 59.0 s", exact=True).wait_for()
        clock.advance(44)
        await entry.get_by_text("returns in 15.0 s", exact=True).wait_for()
        clock.advance(15)
        await output.get_by_text("output: 200 / 200 available, 0 held", exact=False).wait_for()
        assert await output.locator("tr").count() == 0
        assert editor_of(server) is not None


CACHER = """
PROMPT = [{'role': 'user', 'content': ' '.join('word%d' % n for n in range(150))}]

async def twice():
    for _ in range(2):
        await api.v1.generate(PROMPT, {'model': 'glm-4-6', 'max_tokens': 4})
    api.v1.log('generated twice')

await api.v1.ui.register([{'type': 'toolbarButton', 'id': 'go', 'text': 'Twice',
    'callback': twice}])
"""


async def test_diagnostics_show_cache_hits_and_misses_per_generation(tmp_path: Path) -> None:
    """The tab showed only totals over the recent generations, not each one's hits/misses."""
    async with (
        served(tmp_path, {"cacher.py": CACHER}) as server,
        browser_page("diagnostics_cache") as page,
    ):
        await page.goto(server.url)
        diagnostics = await open_tab(page, "diagnostics")
        script = diagnostics.locator('.diag-script[data-script-id="cacher"]')
        await toolbar_button(page, "Twice").click()
        await script.locator(".log").get_by_text("generated twice").wait_for()
        rows = script.locator(".cache tr")
        await page.wait_for_function(
            "document.querySelectorAll('.diag-script[data-script-id=\"cacher\"] .cache tr')"
            ".length === 2"
        )
        assert server.host is not None
        stats = server.host.diagnostics("cacher").limits.recent_generations
        assert stats[0].cached == 0
        assert stats[1].cached >= 64
        for row, stat in zip(await rows.all(), reversed(stats), strict=True):
            cells = [await cell.text_content() for cell in await row.locator("td").all()]
            assert cells[1] == (
                f"{stat.prompt_tokens} prompt tokens: {stat.cached} cached, "
                f"{stat.uncached} uncached"
            )
            assert cells[2] == "succeeded"


async def test_stopping_the_server_with_a_page_open_does_not_wait_for_the_page(
    tmp_path: Path,
) -> None:
    """An open page used to hold shutdown until aiohttp's 60 s timeout (Ctrl+C on ``serve``)."""
    async with browser_page("shutdown_with_page") as page:
        server_cm = served(tmp_path)
        server = await server_cm.__aenter__()
        try:
            await page.goto(server.url)
            await page.wait_for_selector('#status[data-state="open"]')
        finally:
            async with asyncio.timeout(20):  # a hang, not a speed check
                await server_cm.__aexit__(None, None, None)
        await page.wait_for_selector('#status[data-state="closed"]')
