"""What a generate charges when it is cancelled or fails at awkward moments (real simulator,
real workers, real SQLite files)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web
from host_helpers import REGISTRY, hosted
from loopback import serve_app
from test_api_editor import ran_with_all_edits

from nai_script.client import ClientSettings, NovelAIClient
from nai_script.host.host import ScriptHost
from nai_script.sim import SimSettings

#: Long enough (over 32 KiB) that the prompt is tokenized on a thread: the call waits there.
LONG = "'word ' * 7000"


async def test_a_cancel_while_the_prompt_is_counted_stops_the_generation(tmp_path: Path) -> None:
    """The signal's listener was added only once the stream started: a cancel that came while
    the prompt was tokenized (or the reserve queued) was lost, and the generation ran to
    max_tokens and was charged in full."""
    source = (
        "s = await api.v1.createCancellationSignal()\n"
        f"m = [{{'role': 'user', 'content': {LONG}}}]\n"
        "t = api.v1.generate(m, {'model': 'glm-4-6', 'max_tokens': 300}, None, 'background', s)\n"
        "await s.cancel()\n"
        "r = await t\n"
        "c = r.choices[0]\n"
        "api.v1.log(c.finish_reason, len(c.token_ids), api.v1.script.getAllowedOutput())\n"
    )
    async with hosted(tmp_path, SimSettings(latency_ms=2000)) as env:
        await env.run(source)
        assert env.lines() == ["cancelled 0 2048"], env.lines(level="error")
        assert env.host.limits.diagnostics("t").input.held == 0


WORDS = [" alpha", " beta", " gamma", " delta", " epsilon", " zeta"]


DROP = web.AppKey("drop", bool)


async def _text_only(request: web.Request) -> web.StreamResponse:
    """An OpenAI-compatible server that sends text without token ids (llama.cpp, Ollama), one
    token a chunk, then ends or (``DROP``) loses the connection."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for word in WORDS:
        chunk = {"choices": [{"index": 0, "delta": {"content": word}}]}
        await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
    if request.app[DROP]:
        assert request.transport is not None
        request.transport.abort()
    else:
        await response.write(b"data: [DONE]\n\n")
    return response


@asynccontextmanager
async def text_only_host(
    tmp_path: Path, *, drop: bool
) -> AsyncIterator[tuple[ScriptHost, list[str]]]:
    app = web.Application()
    app[DROP] = drop
    app.router.add_post("/v1/chat/completions", _text_only)
    lines: list[str] = []
    (tmp_path / "scripts").mkdir()
    async with serve_app(app) as url:
        settings = ClientSettings.for_base_url(url, token="pst-t", openai_compatible=True)
        async with (
            NovelAIClient(settings) as client,
            ScriptHost(
                client=client,
                tokenizers=REGISTRY,
                data_dir=tmp_path / "data",
                on_log=lambda script, level, text: lines.append(text),
            ) as host,
        ):
            yield host, lines


async def test_a_failed_text_only_stream_charges_the_text_it_streamed(tmp_path: Path) -> None:
    """Backends without token ids: a success counted the streamed text, a failure charged
    nothing at all (it counted token ids only), though six tokens had been generated."""
    source = (
        "try:\n"
        "    await api.v1.generate([{'role': 'user', 'content': 'Hi'}],"
        " {'model': 'glm-4-6', 'max_tokens': 50})\n"
        "except Exception as e:\n"
        "    api.v1.log('failed')\n"
    )
    async with text_only_host(tmp_path, drop=True) as (host, lines):
        path = tmp_path / "scripts" / "t.py"
        path.write_text(source)
        await host.wait_idle(await host.load_script(path))
        assert lines == ["failed"]
        streamed = len(REGISTRY.encode("glm-4-6", "".join(WORDS)))
        assert streamed > 0
        assert host.limits.allowed_output("t") == 2048 - streamed
        assert host.limits.diagnostics("t").input.held > 0  # the prompt was read


async def test_text_counted_output_is_never_charged_above_max_tokens(tmp_path: Path) -> None:
    """Counting the streamed text again with a tokenizer can give more tokens than the backend
    generated (here 22 for six one-token chunks); the backend never generates more than
    max_tokens, so the count is capped there (it was charged in full, over the reservation)."""
    source = (
        "r = await api.v1.generate([{'role': 'user', 'content': 'Hi'}],"
        " {'model': 'glm-4-6', 'max_tokens': 6})\n"
        "api.v1.log(r.choices[0].text, api.v1.script.getAllowedOutput())\n"
    )
    async with text_only_host(tmp_path, drop=False) as (host, lines):
        assert len(REGISTRY.encode("glm-4-6", "".join(WORDS))) > 6
        path = tmp_path / "scripts" / "t.py"
        path.write_text(source)
        await host.wait_idle(await host.load_script(path))
        assert lines == ["".join(WORDS) + " 2042"]


async def test_a_generate_made_while_generate_with_story_builds_its_context_fails_at_once(
    tmp_path: Path,
) -> None:
    """generateWithStory took the slot only once its context was built: a generate made
    meanwhile ran, and the first call failed late with 'already in progress'."""
    body = (
        "m = [{'role': 'user', 'content': 'Go on.'}]\n"
        "p = {'model': 'glm-4-6', 'max_tokens': 4}\n"
        "first = api.v1.generateWithStory(m, p)\n"
        "try:\n    await api.v1.generate(m, p)\n    api.v1.log('second ran')\n"
        "except Exception as e:\n    api.v1.log('second:', str(e))\n"
        "r = await first\n"
        "api.v1.log('first', len(r.choices[0].token_ids), api.v1.script.getAllowedOutput())\n"
    )
    async with ran_with_all_edits(tmp_path, body) as (env, _):
        assert env.lines() == [
            "second: A generation is already in progress",
            "first 4 2044",
        ], env.lines(level="error")
