"""Scripts against their limits in a real Chromium: an output budget that refills only after
the window AND a click, the fourth ``editor.generate`` refused until a click, and a header
permission answered on the page (allow: ``document.append`` works; deny: it fails clearly)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))

import asyncio
from typing import Any

from browser_helpers import browser_page, editor_of, open_tab, toolbar_button
from web_helpers import served

from nai_script.limits import FakeClock, LimitsConfig

OUTPUT_CAPACITY = 100
OUTPUT_WINDOW_S = 60.0

SPENDER = """
async def report(label):
    allowed = api.v1.script.getAllowedOutput()
    await api.v1.ui.updateParts([{'id': 'allowed', 'text': label + ': ' + str(allowed)}])

async def spend():
    await api.v1.ui.window.open({'id': 'budget', 'title': 'Budget',
        'content': [{'type': 'text', 'id': 'allowed', 'text': 'spending'}]})
    await api.v1.generate([{'role': 'user', 'content': 'Go on'}],
        {'model': 'glm-4-6', 'max_tokens': 20})
    await report('after spending')

async def check():
    await report('after click')

await api.v1.ui.register([
    {'type': 'toolbarButton', 'id': 'spend', 'text': 'Spend', 'callback': spend},
    {'type': 'toolbarButton', 'id': 'check', 'text': 'Check', 'callback': check},
])
"""

CALLER = """
results = []

async def attempt(label):
    try:
        await api.v1.editor.generate()
        results.append(label + ' ok')
    except Exception as error:
        results.append(label + ' refused: ' + str(error))
    await api.v1.ui.updateParts([{'id': 'calls', 'text': ' | '.join(results)}])

async def later():
    await attempt('timer')

async def four():
    await api.v1.ui.window.open({'id': 'calls', 'title': 'Calls',
        'content': [{'type': 'text', 'id': 'calls', 'text': 'calling'}]})
    for n in range(1, 5):
        await attempt('call ' + str(n))
    await api.v1.timers.setTimeout(later, 20)

async def once():
    await attempt('after click')

await api.v1.ui.register([
    {'type': 'toolbarButton', 'id': 'four', 'text': 'Generate four', 'callback': four},
    {'type': 'toolbarButton', 'id': 'once', 'text': 'Generate once', 'callback': once},
])
"""

APPENDER = """
\"\"\"
---
name: Appender
id: appender
permissions: [documentEdit]
---
\"\"\"
async def append():
    try:
        await api.v1.document.append(' Appended by the script.')
        message = 'appended'
    except Exception as error:
        message = 'failed: ' + str(error)
    await api.v1.ui.toast(message)
    await api.v1.ui.window.open({'id': 'result', 'title': 'Result',
        'content': [{'type': 'text', 'id': 'message', 'text': message}]})

await api.v1.ui.register([
    {'type': 'toolbarButton', 'id': 'append', 'text': 'Append', 'callback': append},
])
"""

ASKS_AT_RUNTIME = """
async def report(message):
    await api.v1.ui.window.open({'id': 'result', 'title': 'Result',
        'content': [{'type': 'text', 'id': 'message', 'text': message}]})

async def ask():
    granted = await api.v1.permissions.request('documentEdit', 'to add a line')
    if not granted:
        await report('not granted')
        return
    await api.v1.document.append(' Added after asking.')
    await report('granted and appended')

await api.v1.ui.register([
    {'type': 'toolbarButton', 'id': 'ask', 'text': 'Ask', 'callback': ask},
])
"""


async def test_an_output_budget_refills_only_after_the_window_and_a_click(tmp_path: Path) -> None:
    clock = FakeClock()
    limits = LimitsConfig(output_capacity=OUTPUT_CAPACITY, output_window_s=OUTPUT_WINDOW_S)
    async with (
        served(tmp_path, {"spender.py": SPENDER}, clock=clock, limits_config=limits) as server,
        browser_page("budget_refill") as page,
    ):
        await page.goto(server.url)
        await toolbar_button(page, "Spend").click()
        allowed = page.locator('.window[data-window-id="budget"] [data-part-id="allowed"]')
        await page.wait_for_function(
            "document.querySelector('.window [data-part-id=\"allowed\"]')"
            "?.textContent.startsWith('after spending')"
        )
        spent_text = (await allowed.text_content() or "").strip()
        left = int(spent_text.rsplit(":", 1)[1])
        assert 0 < left < OUTPUT_CAPACITY, spent_text

        # Before the window: held, with a countdown in the diagnostics tab.
        diagnostics = await open_tab(page, "diagnostics")
        output = diagnostics.locator('.diag-script[data-script-id="spender"] .bucket-output')
        await output.get_by_text(
            "window ends in 60.0 s, then waits for interaction", exact=True
        ).wait_for()

        # The window passes without an interaction: still held, now waiting for the user.
        clock.advance(OUTPUT_WINDOW_S + 1)
        await output.get_by_text("waits for interaction", exact=True).wait_for()
        header = output.locator("div").first
        await page.wait_for_function(
            "(el) => el.textContent.includes('waiting for interaction')",
            arg=await header.element_handle(),
        )
        assert f"{left} / {OUTPUT_CAPACITY} available" in (await header.text_content() or "")
        assert (await allowed.text_content() or "").strip() == spent_text

        # A click on the script's own button is the interaction: the budget is back.
        await toolbar_button(page, "Check").click()
        await page.wait_for_function(
            "document.querySelector('.window [data-part-id=\"allowed\"]')"
            f"?.textContent.trim() === 'after click: {OUTPUT_CAPACITY}'"
        )
        await output.locator("div", has_text=f"{OUTPUT_CAPACITY} / {OUTPUT_CAPACITY}").wait_for()


async def test_a_fourth_editor_generate_is_refused_until_a_click(tmp_path: Path) -> None:
    async with (
        served(tmp_path, {"caller.py": CALLER}) as server,
        browser_page("editor_generate_gate") as page,
    ):
        await page.goto(server.url)
        await toolbar_button(page, "Generate four").click()
        calls = page.locator('.window[data-window-id="calls"] [data-part-id="calls"]')
        await calls.filter(has_text="timer").wait_for(timeout=30_000)
        shown = _results(await calls.text_content())
        assert shown[:3] == ["call 1 ok", "call 2 ok", "call 3 ok"], shown
        assert shown[3].startswith("call 4 refused: editor.generate: 3 calls"), shown
        # Time alone does not reset the gate: a timer's call is refused too.
        assert shown[4].startswith("timer refused: editor.generate:"), shown
        # The generations reached the document (consecutive AI text shares one section).
        sections = await editor_of(server).sections()
        assert "".join(s.text for s in sections if s.origin == "ai").strip()

        await toolbar_button(page, "Generate once").click()
        await calls.filter(has_text="after click").wait_for(timeout=30_000)
        assert _results(await calls.text_content())[-1] == "after click ok"


def _results(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split("|")]


async def _answer_header_prompt(page: Any, url: str, answer: str) -> None:
    """Open the page while the script loads and answer its permission prompt."""
    await page.goto(url)
    prompt = page.locator(".permission-prompt")
    await prompt.wait_for()
    text = await prompt.locator("p").text_content() or ""
    assert "documentEdit" in text, text
    await prompt.locator(f"button.{answer}").click()
    await prompt.wait_for(state="detached")


async def test_a_header_permission_is_answered_on_the_page(tmp_path: Path) -> None:
    for answer in ("allow", "deny"):
        folder = tmp_path / answer
        folder.mkdir()
        async with browser_page(f"permission_{answer}") as page:
            answered: list[asyncio.Task[None]] = []

            def listening(url: str) -> None:
                answered.append(asyncio.create_task(_answer_header_prompt(page, url, answer)))  # noqa: B023

            async with served(folder, {"appender.py": APPENDER}, on_listening=listening) as server:
                await asyncio.gather(*answered)
                await toolbar_button(page, "Append").click()
                message = page.locator('.window[data-window-id="result"] [data-part-id="message"]')
                await message.wait_for()
                text = (await message.text_content() or "").strip()
                stored = "".join(s.text for s in await editor_of(server).sections())
                if answer == "allow":
                    assert text == "appended"
                    await page.locator("#document", has_text="Appended by the script.").wait_for()
                    assert "Appended by the script." in stored
                else:
                    assert text.startswith("failed:"), text
                    assert "documentEdit" in text, text
                    assert "Appended by the script." not in stored


async def test_a_permission_asked_at_runtime_is_answered_on_the_page(tmp_path: Path) -> None:
    async with (
        served(tmp_path, {"asker.py": ASKS_AT_RUNTIME}) as server,
        browser_page("permission_runtime") as page,
    ):
        await page.goto(server.url)
        message = page.locator('.window[data-window-id="result"] [data-part-id="message"]')
        prompt = page.locator(".permission-prompt")
        # Deny first: the script is told, nothing is written.
        await toolbar_button(page, "Ask").click()
        await prompt.wait_for()
        assert "to add a line" in (await prompt.text_content() or "")
        await prompt.locator("button.deny").click()
        await message.filter(has_text="not granted").wait_for()
        # Asking again prompts again; allowing lets the edit through.
        await toolbar_button(page, "Ask").click()
        await prompt.locator("button.allow").click()
        await message.filter(has_text="granted and appended").wait_for()
        await page.locator("#document", has_text="Added after asking.").wait_for()
        sections = await editor_of(server).sections()
        assert "Added after asking." in "".join(s.text for s in sections)
