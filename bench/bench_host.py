"""Host benchmarks: a sandboxed script's streaming ``generate`` vs the client core's direct
streaming call, and stream-chunk delivery into a script callback.

The script's generate is timed as the script sees it: the script runs ``BATCH`` generates in a
row inside one invocation, and the baseline runs ``BATCH`` direct streams in a row, both from
the same host process. (A host-side ``invoke`` per generate adds the benchmark's own
host->worker->host round trip; that figure is printed too.) The simulator streams at unlimited
speed, in a child process (the realistic case: NovelAI's servers are elsewhere) and in this
process (its work then competes with the host's for one CPU). Limits use their defaults
(``synchronous=FULL``) except an output bucket large enough for a batch; before each batch the
user "interacts" and a fake clock passes the windows, so spent entries return as they would
for a user (a real bucket holds a handful, not the thousands a long run would pile up).
The fixed cost of a generate (validation, tokenizing, the reserve and settle, the worker's
round trip, the closing callback) is printed from 1-token streams, where it is nearly all of
the time. Ratios are the median of per-round ratios, each round's time over the baseline measured next
to it: on a shared VM a slow stretch then slows both sides of a ratio alike (a ratio of two
medians taken from different rounds swung by +-0.05 between runs).

Run: python bench/bench_host.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import tempfile
import time
from pathlib import Path

from sim_process import simulator

from nai_script.client import ClientSettings, NovelAIClient
from nai_script.client import models as wire
from nai_script.host.host import ScriptHost
from nai_script.limits import FakeClock, LimitsConfig
from nai_script.tokenizers import TokenizerRegistry
from sandbox.process import ScriptWorker

TOKENS = 500
BATCH = 10
PROMPT = "Tell me a story about a lighthouse."
MESSAGES = [{"role": "user", "content": PROMPT}]
# Each generate sends a prompt of its own (numbered): the host remembers the ids of texts it
# tokenized lately, and a repeated prompt would skip the tokenizer, which real prompts do not.
SCRIPT = f"""
chunks = [0]
sent = [0]
def on_chunk(choices, final):
    chunks[0] += len(choices[0].token_ids)
async def gen_batch(n, k, with_callback):
    callback = on_chunk if with_callback else None
    total = 0
    for _ in range(k):
        sent[0] += 1
        messages = [{{"role": "user", "content": {PROMPT!r} + " #" + str(sent[0])}}]
        r = await api.v1.generate(messages, {{"model": "glm-4-6", "max_tokens": n}}, callback)
        total += len(r.choices[0].token_ids)
    return total
def delivered():
    return chunks[0]
"""


_NUMBERS = itertools.count(1)


def _request(max_tokens: int) -> wire.ChatCompletionRequest:
    """The direct stream's request: numbered like the script's prompts."""
    return wire.ChatCompletionRequest(
        model="glm-4-6",
        messages=[wire.ChatMessage(role="user", content=f"{PROMPT} #{next(_NUMBERS)}")],
        max_tokens=max_tokens,
    )


async def direct_batch(client: NovelAIClient, k: int, max_tokens: int = TOKENS) -> float:
    """``k`` direct streams in a row, as the script runs its ``k`` generates."""
    start = time.perf_counter()
    for _ in range(k):
        count = 0
        async for chunk in client.stream_chat_completions(_request(max_tokens)):
            count += len(chunk.choices[0].token_ids or []) if chunk.choices else 0
        assert count == max_tokens, count
    return time.perf_counter() - start


async def measure(in_process: bool, rounds: int) -> None:
    data = Path(tempfile.mkdtemp(prefix="bench-host-"))
    (data / "bench.py").write_text(SCRIPT)
    async with simulator(in_process) as url:
        settings = ClientSettings.for_base_url(url, token="pst-bench")
        async with NovelAIClient(settings) as client:
            host = ScriptHost(
                client=client,
                tokenizers=TokenizerRegistry(backend="sim"),
                data_dir=data / "data",
                limits_config=LimitsConfig(output_capacity=10**9),
                clock=(clock := FakeClock()),
            )
            async with host:
                script = await host.load_script(data / "bench.py")
                worker = script.worker
                assert worker is not None

                async def ours(k: int, with_callback: bool, max_tokens: int = TOKENS) -> float:
                    clock.advance(3600)
                    await host.record_interaction(script.id)
                    start = time.perf_counter()
                    total = await worker.invoke("gen_batch", max_tokens, k, with_callback)
                    assert total == k * max_tokens, total
                    return time.perf_counter() - start

                for _ in range(2):  # warm every path
                    await direct_batch(client, BATCH)
                    await ours(BATCH, True)
                    await ours(BATCH, False)
                base, cb, plain, base1, single, tiny_base, tiny = [], [], [], [], [], [], []
                for _ in range(rounds):  # interleaved, so drift hits every path alike
                    base.append(await direct_batch(client, BATCH) / BATCH)
                    cb.append(await ours(BATCH, True) / BATCH)
                    plain.append(await ours(BATCH, False) / BATCH)
                    base1.append(await direct_batch(client, 1))
                    single.append(await ours(1, True))
                    tiny_base.append(await direct_batch(client, BATCH, 1) / BATCH)
                    tiny.append(await ours(BATCH, True, 1) / BATCH)
                b, o, p = (statistics.median(x) for x in (base, cb, plain))
                s1 = statistics.median(single)
                where = "this process" if in_process else "a child process"
                print(f"generate {TOKENS} tokens, simulator in {where}, median of {rounds} rounds")
                print("  (ratio: median over rounds of each round's time / its own baseline's)")
                print(f"  client core direct stream        : {b * 1000:7.2f} ms")
                print(
                    f"  script generate, with callback   : {o * 1000:7.2f} ms"
                    f"   ratio {paired(cb, base):.2f}x  (target <= 1.15x)"
                )
                print(
                    f"  script generate, no callback     : {p * 1000:7.2f} ms"
                    f"   ratio {paired(plain, base):.2f}x"
                )
                print(
                    f"  host-invoked single generate     : {s1 * 1000:7.2f} ms"
                    f"   ratio {paired(single, base1):.2f}x"
                    "  (adds the bench's own invoke round trip)"
                )
                extra = [t - b for t, b in zip(tiny, tiny_base, strict=True)]
                print(
                    "  fixed cost per generate (1-token streams, with callback):"
                    f" direct {statistics.median(tiny_base) * 1000:.2f} ms,"
                    f" script {statistics.median(tiny) * 1000:.2f} ms,"
                    f" +{statistics.median(extra) * 1000:.2f} ms"
                )
                await delivery_rate(client, worker)


def paired(ours: list[float], base: list[float]) -> float:
    """The median of per-round ratios: each round's time against the baseline measured next
    to it, so a slow stretch of a shared VM slows both sides of a ratio alike."""
    return statistics.median(o / b for o, b in zip(ours, base, strict=True))


async def delivery_rate(client: NovelAIClient, worker: ScriptWorker) -> None:
    before = await worker.invoke("delivered")
    start = time.perf_counter()
    await worker.invoke("gen_batch", 2048, 10, True)
    elapsed = time.perf_counter() - start
    chunks = await worker.invoke("delivered") - before
    raw = await direct_batch(client, 10, 2048)
    print("  callback delivery, 10 x 2048-token streams (one chunk per token):")
    print(f"    client core, no callback       : {10 * 2048 / raw:10.0f} chunks/s")
    print(
        f"    into the script callback       : {chunks / elapsed:10.0f} chunks/s"
        "  (target >= 20,000; chunks arriving while the callback runs are coalesced)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    for in_process in (False, True):
        asyncio.run(measure(in_process, args.rounds))


if __name__ == "__main__":
    main()
