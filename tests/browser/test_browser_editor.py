"""The editor in a real Chromium: token refusal, Send, a toolbar button opening a window whose
text streams in, a script's blocking generation greying Send out, a hook rewriting the
response, a broken save shown as file:line while the old version keeps running."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))

import itertools

from browser_helpers import browser_page
from web_helpers import base, served

from nai_script.sim import SimSettings

STREAMER = """
async def opened():
    await api.v1.ui.window.open({'id': 'story', 'title': 'Streaming',
        'content': [{'type': 'text', 'id': 'out', 'text': ''}]})
    pieces = []

    async def on_chunk(choices, final):
        if choices and choices[0]['text']:
            pieces.append(choices[0]['text'])
            await api.v1.ui.updateParts([{'id': 'out', 'text': ''.join(pieces)}])

    await api.v1.generate([{'role': 'user', 'content': 'Tell me a story'}],
        {'model': 'glm-4-6', 'max_tokens': 24}, on_chunk)
    api.v1.log('streamed')

await api.v1.ui.register([{'type': 'toolbarButton', 'id': 'go', 'text': 'Open story',
    'callback': opened}])
"""

SHOUT = """
def shout(params):
    return {'text': [piece.upper() for piece in params['text']]}

api.v1.hooks.register('onResponse', shout)
"""


async def test_a_page_without_the_token_is_refused(tmp_path: Path) -> None:
    async with (
        served(tmp_path) as server,
        browser_page("no_token", allowed=("403 (Forbidden)",)) as page,
    ):
        response = await page.goto(f"{base(server)}/")
        assert response is not None
        assert response.status == 403
        assert "token" in await page.content()
        response = await page.goto(server.url)
        assert response is not None
        assert response.status == 200
        await page.wait_for_selector('#status[data-state="open"]')


async def test_type_and_send_shows_user_and_ai_text(tmp_path: Path) -> None:
    async with served(tmp_path) as server, browser_page("send") as page:
        await page.goto(server.url)
        await page.wait_for_selector('#status[data-state="open"]')
        await page.locator("#backend", has_text="SIMULATOR").wait_for()
        await page.fill("#input", "The knight rode into the valley.")
        await page.click("#send")
        user = page.locator("#document .origin-user", has_text="The knight rode")
        await user.wait_for()
        ai = page.locator("#document .origin-ai")
        await ai.first.wait_for()
        await page.wait_for_function(
            "document.querySelector('#document .origin-ai')?.textContent.trim().length > 10"
        )


async def test_toolbar_button_opens_a_window_whose_text_streams_in(tmp_path: Path) -> None:
    paced = SimSettings(tokens_per_second=60)
    async with (
        served(tmp_path, {"streamer.py": STREAMER}, sim_settings=paced) as server,
        browser_page("stream_window") as page,
    ):
        await page.goto(server.url)
        # Record each text the window showed, as the updates arrive.
        await page.evaluate(
            """() => { window.shown = [];
                window.naiScript.onEvent = (e) => {
                    if (e.type === 'ui.window.update' && e.window.id === 'story') {
                        const node = document.querySelector('.window [data-part-id="out"]');
                        window.shown.push(node ? node.textContent : null);
                    }
                }; }"""
        )
        button = page.locator("#toolbar button", has_text="Open story")
        await button.click()
        window = page.locator('.window[data-window-id="story"]')
        await window.wait_for()
        assert await window.locator(".window-title span").text_content() == "Streaming"
        out = window.locator('[data-part-id="out"]')
        await page.wait_for_function("window.shown.length >= 3")
        shown: list[str] = await page.evaluate("window.shown")
        # It grew chunk by chunk, each update extending the last.
        assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(shown))
        assert len(set(shown)) >= 3, shown
        await page.wait_for_function(
            "document.querySelector('.window [data-part-id=\"out\"]')?.textContent.length > 20"
        )
        assert (await out.text_content() or "").strip()
        # Closing the window from the page removes it.
        await window.locator(".window-close").click()
        await window.wait_for(state="detached")


BLOCKER = """
async def run():
    await api.v1.generate([{'role': 'user', 'content': 'Tell me'}],
                          {'model': 'glm-4-6', 'max_tokens': 60})

await api.v1.ui.register([{'type': 'toolbarButton', 'id': 'go', 'text': 'Block', 'callback': run}])
"""


async def test_a_scripts_blocking_generation_greys_send_out(tmp_path: Path) -> None:
    """Send stayed enabled while a script's blocking generation ran (pressing it failed)."""
    paced = SimSettings(tokens_per_second=40)
    async with (
        served(tmp_path, {"blocker.py": BLOCKER}, sim_settings=paced) as server,
        browser_page("blocking_generation") as page,
    ):
        await page.goto(server.url)
        await page.wait_for_selector('#status[data-state="open"]')
        await page.locator("#toolbar button", has_text="Block").click()
        await page.wait_for_selector("#send:disabled")
        note = page.locator("#blocked")
        assert "script 'blocker' is generating" in (await note.text_content() or "")
        assert await note.is_visible()
        await page.wait_for_selector("#send:enabled", timeout=20_000)
        assert not await note.is_visible()


async def test_a_hook_rewrites_the_response(tmp_path: Path) -> None:
    async with served(tmp_path, {"shout.py": SHOUT}) as server, browser_page("hook") as page:
        await page.goto(server.url)
        await page.wait_for_selector('#status[data-state="open"]')
        await page.click("#send")
        ai = page.locator("#document .origin-ai").first
        await ai.wait_for()
        await page.wait_for_function(
            "document.querySelector('#document .origin-ai')?.textContent.trim().length > 10"
        )
        assert server.services is not None
        assert server.services.editor is not None
        # Wait for the generation to be committed, then compare with what was stored.
        sections = await server.services.editor.sections()
        stored = "".join(s.text for s in sections if s.origin == "ai")
        text = await ai.text_content() or ""
        assert any(c.isalpha() for c in text)
        assert text == text.upper()
        assert stored == stored.upper()
        assert stored.strip()


async def test_a_broken_save_shows_file_line_and_the_old_version_keeps_running(
    tmp_path: Path,
) -> None:
    async with (
        served(tmp_path, {"streamer.py": STREAMER}) as server,
        browser_page("broken_save") as page,
    ):
        await page.goto(server.url)
        row = page.locator('#scripts li[data-script-id="streamer"]')
        await row.locator(".state-running").wait_for()
        path = tmp_path / "scripts" / "streamer.py"
        path.write_text("x = 1\ndef broken(:\n")
        error = row.locator(".script-error")
        await error.wait_for()
        assert (await error.text_content() or "").startswith(f"{path}:2:")
        assert await row.locator(".script-state").text_content() == "running"
        # The old version still answers its toolbar button.
        await page.locator("#toolbar button", has_text="Open story").click()
        await page.locator('.window[data-window-id="story"]').wait_for()
