"""``clipboard.writeText``, ``file.save`` and ``file.prompt`` done by the page in a real
Chromium: the text reaches the clipboard, the save is a download with the script's file name
and content, and "Choose file…" opens a file chooser whose file the script reads."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))

from browser_helpers import browser_page, toolbar_button
from web_helpers import served

SCRIPT = """
async def show(text):
    api.v1.log(text)
    await api.v1.ui.window.open({'id': 'result', 'title': 'Result',
        'content': [{'type': 'text', 'id': 'message', 'text': text}]})

async def grant():
    granted = await api.v1.permissions.request(['clipboardWrite', 'fileDownload', 'fileInput'])
    await show('granted: ' + str(granted))

async def copy():
    await api.v1.clipboard.writeText('Copied by the script')
    await show('copied')

async def save():
    await api.v1.file.save('notes.txt', 'Saved by the script: déjà vu')
    await show('saved')

async def open_file():
    text = await api.v1.file.prompt({'accept': '.txt'})
    await show('read: ' + repr(text))

await api.v1.ui.register([
    {'type': 'toolbarButton', 'id': 'grant', 'text': 'Grant', 'callback': grant},
    {'type': 'toolbarButton', 'id': 'copy', 'text': 'Copy', 'callback': copy},
    {'type': 'toolbarButton', 'id': 'save', 'text': 'Save', 'callback': save},
    {'type': 'toolbarButton', 'id': 'open', 'text': 'Open', 'callback': open_file},
])
"""

REFUSE_FIRST_COPY = """() => {
  const clipboard = navigator.clipboard;
  const real = clipboard.writeText.bind(clipboard);
  let refused = false;
  clipboard.writeText = (text) => {
    if (refused) return real(text);
    refused = true;
    return Promise.reject(new DOMException("Document is not focused.", "NotAllowedError"));
  };
}"""
RESULT = '.window[data-window-id="result"] [data-part-id="message"]'


async def _shows(page: Any, text: str) -> None:
    await page.wait_for_function(
        f"document.querySelector({RESULT!r})?.textContent.trim() === {text!r}"
    )


async def test_clipboard_save_and_open_are_done_by_the_page(tmp_path: Path) -> None:
    chosen = tmp_path / "chosen.txt"
    chosen.write_text("Hello from a file\n", encoding="utf-8")
    async with (
        served(tmp_path, {"pageio.py": SCRIPT}) as server,
        browser_page("page_requests") as page,
    ):
        origin = server.url.split("/?")[0]
        await page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=origin)
        await page.goto(server.url)
        await page.wait_for_selector('#status[data-state="open"]')

        await toolbar_button(page, "Grant").click()
        await page.locator(".permission-prompt button.allow").click()
        await _shows(page, "granted: True")

        await toolbar_button(page, "Copy").click()
        await _shows(page, "copied")
        assert await page.evaluate("navigator.clipboard.readText()") == "Copied by the script"

        async with page.expect_download() as download_info:
            await toolbar_button(page, "Save").click()
        download = await download_info.value
        assert download.suggested_filename == "notes.txt"
        saved = Path(await download.path())
        assert saved.read_text(encoding="utf-8") == "Saved by the script: déjà vu"
        await _shows(page, "saved")

        await toolbar_button(page, "Open").click()
        prompt = page.locator('.page-prompt[data-kind="file.prompt"]')
        await prompt.wait_for()
        assert "wants to open a file" in (await prompt.text_content() or "")
        async with page.expect_file_chooser() as chooser_info:
            await prompt.locator("button.allow").click()
        chooser = await chooser_info.value
        await chooser.set_files(str(chosen))
        await _shows(page, "read: 'Hello from a file\\n'")
        assert await page.locator(".page-prompt").count() == 0

        # Cancel: the script gets None.
        await toolbar_button(page, "Open").click()
        await prompt.locator("button.deny").click()
        await _shows(page, "read: None")


async def test_a_refused_copy_is_asked_for_with_a_copy_button(tmp_path: Path) -> None:
    """When the browser refuses the copy (no clipboard permission and no recent click; here
    its first ``writeText`` is made to fail) the page asks, and its Copy button does it."""
    async with (
        served(tmp_path, {"pageio.py": SCRIPT}) as server,
        browser_page("page_request_copy") as page,
    ):
        await page.goto(server.url)
        await page.wait_for_selector('#status[data-state="open"]')
        await toolbar_button(page, "Grant").click()
        await page.locator(".permission-prompt button.allow").click()
        await _shows(page, "granted: True")
        await page.evaluate(REFUSE_FIRST_COPY)
        await toolbar_button(page, "Copy").click()
        prompt = page.locator('.page-prompt[data-kind="clipboard.writeText"]')
        await prompt.wait_for()
        assert "wants to copy text" in (await prompt.text_content() or "")
        await prompt.locator("button.allow").click()
        await _shows(page, "copied")
        origin = server.url.split("/?")[0]
        await page.context.grant_permissions(["clipboard-read"], origin=origin)
        assert await page.evaluate("navigator.clipboard.readText()") == "Copied by the script"
