"""Streaming throughput: our client parsing a 2,000-token completion stream vs plain aiohttp
reading the same response bytes without parsing anything.

Both read from the simulator at unlimited speed (tokens_per_second=0), once with the simulator
in this process (parsing cost competes with the server for one CPU) and once with the
simulator in a child process (the realistic case: the server is elsewhere). Target: ours
>= 0.9 of raw.

    /tmp/venv/bin/python bench/bench_stream.py [--tokens 2000] [--rounds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import aiohttp
from sim_process import simulator

from nai_script.client import ClientSettings, NovelAIClient, models

MODEL = "glm-4-6"
TOKEN = "pst-bench"


async def raw_round(session: aiohttp.ClientSession, url: str, body: dict[str, object]) -> int:
    """Plain aiohttp: read every byte of the stream, parse nothing. Returns bytes read."""
    total = 0
    headers = {"Authorization": f"Bearer {TOKEN}", "Accept": "text/event-stream"}
    async with session.post(url, json=body, headers=headers) as response:
        response.raise_for_status()
        async for chunk in response.content.iter_any():
            total += len(chunk)
    return total


async def ours_round(client: NovelAIClient, request: models.CompletionRequest) -> int:
    """Our client: SSE decoding, JSON validation into CompletionChunk models. Returns tokens."""
    tokens = 0
    async for chunk in client.stream_completions(request):
        tokens += len(chunk.choices[0].token_ids or ()) if chunk.choices else 0
    return tokens


async def measure(in_process: bool, n_tokens: int, rounds: int) -> tuple[float, float]:
    request = models.CompletionRequest(model=MODEL, prompt="Once upon a time", max_tokens=n_tokens)
    body = {**request.to_wire(), "stream": True}
    async with simulator(in_process) as base_url:
        url = base_url + "/oa/v1/completions"
        raw_times: list[float] = []
        our_times: list[float] = []
        settings = ClientSettings.for_base_url(base_url, token=TOKEN)
        async with aiohttp.ClientSession() as session, NovelAIClient(settings) as client:
            await raw_round(session, url, body)  # warm up both paths
            assert await ours_round(client, request) == n_tokens
            for _ in range(rounds):  # interleave so drift affects both equally
                start = time.perf_counter()
                await raw_round(session, url, body)
                raw_times.append(time.perf_counter() - start)
                start = time.perf_counter()
                await ours_round(client, request)
                our_times.append(time.perf_counter() - start)
    return n_tokens / statistics.median(raw_times), n_tokens / statistics.median(our_times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    print(f"stream of {args.tokens} tokens, median of {args.rounds} rounds, tokens/second")
    print(f"{'simulator':<16}{'raw aiohttp':>14}{'nai-script':>14}{'ratio':>8}")
    for label, in_process in (("in-process", True), ("child process", False)):
        raw, ours = asyncio.run(measure(in_process, args.tokens, args.rounds))
        print(f"{label:<16}{raw:>14,.0f}{ours:>14,.0f}{ours / raw:>8.2f}")


if __name__ == "__main__":
    main()
