"""A script's ``lorebookPanel`` in a real Chromium: hidden until a lorebook entry (or category)
is selected; selecting one fires ``onLorebookEntrySelected``, whose ``ui.updateParts`` shows in
the lorebook's Script area (one tab per panel, by name); the panel's button runs the callback."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))

from browser_helpers import COLLECT_LOGS, browser_page, editor_of, open_tab
from web_helpers import served

from nai_script.editor.models import LorebookCategory, LorebookEntry

LORE_PANEL = """
def clicked():
    api.v1.log('lore button clicked')

async def selected(params):
    which = params.get('entryId') or ('category ' + params.get('categoryId', '?'))
    await api.v1.ui.updateParts([{'id': 'which', 'text': 'Selected: ' + which}])

await api.v1.ui.register([api.v1.ui.extension.lorebookPanel({'id': 'lore', 'name': 'Lore tools',
    'content': [
        {'type': 'text', 'id': 'which', 'text': 'nothing yet'},
        {'type': 'button', 'id': 'go', 'text': 'Do it', 'callback': clicked},
    ]})])
await api.v1.ui.register([{'type': 'lorebookPanel', 'id': 'second', 'name': 'Second',
    'content': [{'type': 'text', 'text': 'second panel'}]}])
api.v1.hooks.register('onLorebookEntrySelected', selected)
"""


async def test_selecting_an_entry_shows_the_script_panel_filled_by_the_hook(
    tmp_path: Path,
) -> None:
    async with (
        served(tmp_path, {"lore.py": LORE_PANEL}) as server,
        browser_page("lorebook_panel") as page,
    ):
        editor = editor_of(server)
        category = await editor.put_category(LorebookCategory(name="Places"))
        entry = await editor.put_entry(LorebookEntry(displayName="Bridge", text="A bridge."))
        await page.goto(server.url)
        lorebook = await open_tab(page, "lorebook")
        await page.evaluate(COLLECT_LOGS)
        area = page.locator("#lorebook-script")
        form = lorebook.locator(f'form.lore-entry[data-entry-id="{entry.id}"]')
        await form.wait_for()
        assert await area.is_hidden()  # nothing selected yet

        await form.locator('input[name="displayName"]').click()
        await area.wait_for()
        assert "Script" in await area.inner_text()
        tabs = area.get_by_role("tab")
        assert await tabs.all_inner_texts() == ["Lore tools", "Second"]
        await area.get_by_text(f"Selected: {entry.id}").wait_for()
        assert "lore-selected" in (await form.get_attribute("class") or "")

        await area.get_by_role("button", name="Do it").click()
        await page.wait_for_function("window.__logs.includes('lore button clicked')")

        await tabs.filter(has_text="Second").click()
        await area.get_by_text("second panel").wait_for()
        assert await area.get_by_text(f"Selected: {entry.id}").is_hidden()

        await lorebook.locator(f'button.lore-category[data-category-id="{category.id}"]').click()
        await tabs.filter(has_text="Lore tools").click()
        await area.get_by_text(f"Selected: category {category.id}").wait_for()

        # The selected entry deleted: nothing is selected, the Script area goes.
        await lorebook.locator(f'form.lore-entry[data-entry-id="{entry.id}"]').click()
        await area.get_by_text(f"Selected: {entry.id}").wait_for()
        await editor.delete_entry(entry.id)
        await area.wait_for(state="hidden")


async def test_no_script_area_without_a_lorebook_panel(tmp_path: Path) -> None:
    async with served(tmp_path) as server, browser_page("lorebook_panel_none") as page:
        entry = await editor_of(server).put_entry(LorebookEntry(displayName="Bridge"))
        await page.goto(server.url)
        lorebook = await open_tab(page, "lorebook")
        await lorebook.locator(f'form.lore-entry[data-entry-id="{entry.id}"]').click()
        await page.wait_for_function(
            "document.querySelector('form.lore-entry.lore-selected') !== null"
        )
        assert await page.locator("#lorebook-script").is_hidden()
