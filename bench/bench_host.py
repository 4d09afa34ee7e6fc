"""Host benchmarks: a sandboxed script's streaming ``generate`` vs the client core's direct
streaming call, and stream-chunk delivery into a script callback.

Run: /tmp/venv/bin/python bench/bench_host.py   (simulator at unlimited speed, loopback)
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from nai_script.client import ClientSettings, NovelAIClient
from nai_script.client import models as wire
from nai_script.host.host import ScriptHost
from nai_script.limits import LimitsConfig
from nai_script.sim import SimServer, SimSettings
from nai_script.tokenizers import TokenizerRegistry

TOKENS = 500
ROUNDS = 15
MESSAGES = [{"role": "user", "content": "Tell me a story about a lighthouse."}]
SCRIPT = f"""
chunks = [0]
def on_chunk(choices, final):
    chunks[0] += len(choices[0].token_ids)
async def gen(n):
    r = await api.v1.generate({MESSAGES!r}, {{"model": "glm-4-6", "max_tokens": n}}, on_chunk)
    return len(r.choices[0].token_ids)
async def gen_plain(n):
    r = await api.v1.generate({MESSAGES!r}, {{"model": "glm-4-6", "max_tokens": n}})
    return len(r.choices[0].token_ids)
def delivered():
    return chunks[0]
"""


async def direct(client: NovelAIClient) -> float:
    request = wire.ChatCompletionRequest(
        model="glm-4-6",
        messages=[wire.ChatMessage(**m) for m in MESSAGES],
        max_tokens=TOKENS,
    )
    start = time.perf_counter()
    count = 0
    async for chunk in client.stream_chat_completions(request):
        count += len(chunk.choices[0].token_ids or []) if chunk.choices else 0
    assert count == TOKENS, count
    return time.perf_counter() - start


async def main() -> None:
    data = Path(tempfile.mkdtemp(prefix="bench-host-"))
    (data / "bench.py").write_text(SCRIPT)
    async with SimServer(SimSettings()) as sim:
        url = sim.base_url
        settings = ClientSettings(text_url=url, api_url=url, image_url=url, token="pst-bench")
        async with NovelAIClient(settings) as client:
            host = ScriptHost(
                client=client,
                tokenizers=TokenizerRegistry(backend="sim"),
                data_dir=data / "data",
                limits_config=LimitsConfig(output_capacity=10**9, synchronous="NORMAL"),
            )
            async with host:
                script = await host.load_script(data / "bench.py")
                worker = script.worker
                assert worker is not None
                for _ in range(3):  # warm both paths
                    await direct(client)
                    await worker.invoke("gen", TOKENS)
                    await worker.invoke("gen_plain", TOKENS)
                ours, plain, base = [], [], []
                for _ in range(ROUNDS):
                    base.append(await direct(client))
                    start = time.perf_counter()
                    assert await worker.invoke("gen", TOKENS) == TOKENS
                    ours.append(time.perf_counter() - start)
                    start = time.perf_counter()
                    assert await worker.invoke("gen_plain", TOKENS) == TOKENS
                    plain.append(time.perf_counter() - start)
                b, o = statistics.median(base), statistics.median(ours)
                p = statistics.median(plain)
                # Paired differences are steadier than the ratio on a loaded machine.
                extra = statistics.median(x - y for x, y in zip(ours, base, strict=True))
                extra_plain = statistics.median(x - y for x, y in zip(plain, base, strict=True))
                print(f"generate {TOKENS} tokens, median of {ROUNDS} (simulator, unlimited speed)")
                print(f"  client core direct stream : {b * 1000:8.2f} ms")
                print(
                    f"  sandboxed script generate : {o * 1000:8.2f} ms   ratio {o / b:.2f}x"
                    "  (target <= 1.15x)"
                )
                print(
                    f"  ... same, no callback      : {p * 1000:8.2f} ms   ratio {p / b:.2f}x"
                    "  (the rest is the callback's deliveries to the worker)"
                )
                print(
                    f"  overhead per generate (median of paired differences): "
                    f"{extra * 1000:.2f} ms with callback, {extra_plain * 1000:.2f} ms without"
                )

                before = await worker.invoke("delivered")
                start = time.perf_counter()
                for _ in range(10):
                    await worker.invoke("gen", 2048)
                elapsed = time.perf_counter() - start
                chunks = await worker.invoke("delivered") - before
                stream_start = time.perf_counter()
                for _ in range(10):
                    request = wire.ChatCompletionRequest(
                        model="glm-4-6",
                        messages=[wire.ChatMessage(**m) for m in MESSAGES],
                        max_tokens=2048,
                    )
                    async for _chunk in client.stream_chat_completions(request):
                        pass
                raw = time.perf_counter() - stream_start
                print("callback delivery, 10 x 2048-token streams (one chunk per token)")
                print(f"  client core, no callback  : {10 * 2048 / raw:10.0f} chunks/s")
                print(
                    f"  into the script callback  : {chunks / elapsed:10.0f} chunks/s"
                    f"   ratio {raw / elapsed:.2f}x of raw  (target >= 20,000 chunks/s;"
                    " chunks arriving while the callback runs are coalesced)"
                )


if __name__ == "__main__":
    asyncio.run(main())
