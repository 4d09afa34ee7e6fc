"""Editor benchmarks: a user Send through the whole pipeline (context build, hooks, durable
chunk-by-chunk writes, page events) vs streaming the same request straight from the client and
saving the text once; and context assembly of a long story vs one plain templated count.

Run: /tmp/venv/bin/python bench/bench_editor.py   (simulator at unlimited speed, loopback)
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from nai_script.client import ClientSettings, NovelAIClient
from nai_script.client import models as wire
from nai_script.editor.context import ContextInputs, assemble_context
from nai_script.editor.events import EventBus
from nai_script.editor.pipeline import Editor
from nai_script.editor.store import StoryStore
from nai_script.host.host import ScriptHost
from nai_script.sim import SimServer, SimSettings
from nai_script.tokenizers import TokenizerRegistry

TOKENS = 300
ROUNDS = 9
MODEL = "glm-4-6"
IDENTITY_HOOK = "api.v1.hooks.register('onResponse', lambda p: None)\n"


async def plain(client: NovelAIClient, editor: Editor) -> float:
    """The baseline: the same context, streamed directly, appended once at the end."""
    built = await editor.build_context(dry_run=False)
    request = wire.ChatCompletionRequest(
        model=MODEL,
        messages=[wire.ChatMessage(role=m.role, content=m.content) for m in built.messages],
        max_tokens=TOKENS,
    )
    start = time.perf_counter()
    parts: list[str] = []
    async for chunk in client.stream_chat_completions(request):
        if chunk.choices:
            parts.append(chunk.choices[0].delta.content or "")
    text = "".join(parts)
    await editor.store.run(lambda: editor.document.append(text, "ai"))
    return time.perf_counter() - start


async def ours(editor: Editor) -> float:
    start = time.perf_counter()
    result = await editor.send(None)
    assert result.error is None, result.error
    return time.perf_counter() - start


def line(name: str, ours_s: float, base_s: float) -> None:
    print(
        f"{name:<44} ours {ours_s * 1000:8.1f} ms   plain {base_s * 1000:8.1f} ms   "
        f"ratio {ours_s / base_s:5.2f}x"
    )


async def bench_send(tmp: Path) -> None:
    async with SimServer(SimSettings()) as sim:
        url = sim.base_url
        settings = ClientSettings(text_url=url, api_url=url, image_url=url, token="pst-b")
        async with NovelAIClient(settings) as client:
            registry = TokenizerRegistry(backend="sim")
            async with ScriptHost(client=client, tokenizers=registry, data_dir=tmp / "d") as host:
                store = StoryStore(tmp / "stories.sqlite3")
                bus = EventBus()
                sub = bus.subscribe(queue_size=100_000)
                editor = Editor(store, host, bus, tokenizers=registry, client=client)
                await editor.update_settings({"params": {"max_tokens": TOKENS}})
                await editor.edit(lambda doc: doc.append("The lighthouse keeper woke.", "user"))
                await ours(editor)  # warm up
                await plain(client, editor)
                pairs = [(await ours(editor), await plain(client, editor)) for _ in range(ROUNDS)]
                line(
                    f"Send, {TOKENS} tokens, no scripts (median)",
                    statistics.median(o for o, _ in pairs),
                    statistics.median(p for _, p in pairs),
                )
                script = tmp / "hook.py"
                script.write_text(IDENTITY_HOOK)
                await host.load_script(script)
                pairs = [(await ours(editor), await plain(client, editor)) for _ in range(ROUNDS)]
                line(
                    f"Send, {TOKENS} tokens, one onResponse hook",
                    statistics.median(o for o, _ in pairs),
                    statistics.median(p for _, p in pairs),
                )
                while sub.get_nowait() is not None:
                    pass
                store.close()


def bench_context() -> None:
    registry = TokenizerRegistry(backend="sim")
    story = "\n".join(f"Paragraph {n}: the keeper climbed the stair again." for n in range(20000))
    inputs = ContextInputs(
        systemPrompt="You are a novelist.",
        memory="Keeper: Ada.",
        authorsNote="[Tone: calm]",
        storyText=story,
    )
    messages = [
        {"role": "system", "content": "You are a novelist.\n\nKeeper: Ada."},
        {"role": "user", "content": story},
    ]
    rounds = 5
    start = time.perf_counter()
    for _ in range(rounds):
        built = assemble_context(inputs, model=MODEL, tier=3, tokenizers=registry)
    ours_s = (time.perf_counter() - start) / rounds
    start = time.perf_counter()
    for _ in range(rounds):
        registry.encode_chat(MODEL, messages)
    base_s = (time.perf_counter() - start) / rounds
    line(
        f"context of a {len(story) // 1000} KB story -> {built.token_count} tokens", ours_s, base_s
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(bench_send(Path(tmp)))
    bench_context()


if __name__ == "__main__":
    main()
