"""Playwright (async API) driving Debian's chromium against a real ``EditorServer``.

Tests skip with the reason when chromium or Playwright is missing (CI installs both). A
failing test leaves a screenshot in ``test-artifacts/``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from nai_script.editor.pipeline import Editor
from nai_script.web.compose import EditorServer

CHROMIUM = Path(os.environ.get("NAI_SCRIPT_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def require_browser() -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        pytest.skip("the playwright Python package is not installed")


#: Console errors no test needs to hear about: a page whose server a test stops on purpose
#: logs its WebSocket's failure.
EXPECTED_CONSOLE = ("WebSocket connection to",)


@asynccontextmanager
async def browser_page(name: str, *, allowed: tuple[str, ...] = ()) -> AsyncIterator[Any]:
    """A fresh chromium page; on an exception, a screenshot ``test-artifacts/<name>.png``.

    The test also fails if the page threw an uncaught error or logged a console error (a
    failed request included) not naming one of ``allowed``: a script error in the page, or a
    404 for one of its files, would otherwise pass every test that does not look there."""
    require_browser()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page()
            page.set_default_timeout(15_000)
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(f"uncaught {error}"))
            page.on("console", lambda message: _note_console(message, problems))
            try:
                yield page
            except BaseException:
                ARTIFACTS.mkdir(exist_ok=True)
                await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
                raise
            unexpected = [text for text in problems if not any(a in text for a in allowed)]
            assert not unexpected, f"the page reported: {unexpected}"
        finally:
            await browser.close()


def _note_console(message: Any, problems: list[str]) -> None:
    text = message.text
    if message.type == "error" and not any(known in text for known in EXPECTED_CONSOLE):
        problems.append(f"console.error {text} ({message.location.get('url')})")


def editor_of(server: EditorServer) -> Editor:
    """The served editor (present whenever ``serve`` composed it, as in every browser test)."""
    assert server.services is not None
    assert server.services.editor is not None
    return server.services.editor


def toolbar_button(page: Any, text: str) -> Any:
    """A script's toolbar button by its label."""
    return page.locator("#toolbar button", has_text=text)


async def open_tab(page: Any, name: str) -> Any:
    """Click a side tab (``scripts``, ``story``, ``lorebook``, ``diagnostics``); its body."""
    await page.wait_for_selector('#status[data-state="open"]')
    await page.click(f'#tabs button[data-tab="{name}"]')
    return page.locator(f"#tab-{name}")


#: Run on an open page: collects the text of every ``script.log`` event in ``window.__logs``.
COLLECT_LOGS = """() => {
  window.__logs = [];
  window.naiScript.onEvent = (e) => { if (e.type === 'script.log') window.__logs.push(e.text); };
}"""


async def wait_log(page: Any, text: str) -> None:
    """Until a script has logged ``text`` (``COLLECT_LOGS`` must have run); else an error
    listing what was logged."""
    try:
        await page.wait_for_function("(t) => window.__logs.includes(t)", arg=text)
    except Exception:
        raise AssertionError(
            f"no log {text!r}; logs: {await page.evaluate('window.__logs')}"
        ) from None
