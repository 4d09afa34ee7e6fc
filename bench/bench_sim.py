"""Simulator throughput: 50 concurrent streams of 500 tokens at unlimited speed.

Ours: the full simulator (auth, validation, prose + tokenizer, pydantic chunks, SSE).
Baseline: a bare aiohttp handler writing 500 pre-built SSE frames of the same size, i.e. the
floor set by aiohttp and the socket. Each server runs in its own process; the client (one
aiohttp session, here) counts tokens and times each stream.

Run: /tmp/venv/bin/python bench/bench_sim.py [--streams 50] [--tokens 500]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import statistics
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection

import aiohttp
from aiohttp import web

AUTH = {"Authorization": "Bearer pst-bench"}


def _serve_ours(conn: Connection) -> None:
    from nai_script.sim import SimServer, SimSettings

    async def main() -> None:
        async with SimServer(SimSettings(), port=0) as sim:
            conn.send(sim.base_url)
            await asyncio.get_running_loop().run_in_executor(None, conn.recv)

    asyncio.run(main())


def _serve_baseline(conn: Connection) -> None:
    frame = (
        "data: "
        + json.dumps(
            {
                "id": "cmpl-x",
                "object": "text_completion",
                "created": 0,
                "model": "glm-4-6",
                "choices": [{"text": " word", "index": 0, "token_ids": [1234]}],
            },
            separators=(",", ":"),
        )
        + "\n\n"
    ).encode()

    async def handler(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for index in range(int(body["max_tokens"])):
            await resp.write(frame)
            if index % 32 == 31:
                await asyncio.sleep(0)
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/oa/v1/completions", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        conn.send(f"http://127.0.0.1:{runner.addresses[0][1]}")
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        await runner.cleanup()

    asyncio.run(main())


@dataclass
class StreamResult:
    tokens: int
    first_token_s: float
    total_s: float
    done: bool


async def _one_stream(
    session: aiohttp.ClientSession, url: str, tokens: int, n: int
) -> StreamResult:
    body = {
        "model": "glm-4-6",
        "prompt": f"Stream {n} begins",
        "max_tokens": tokens,
        "stream": True,
    }
    start = time.perf_counter()
    first = 0.0
    count = 0
    done = False
    async with session.post(f"{url}/oa/v1/completions", json=body) as resp:
        resp.raise_for_status()
        async for line in resp.content:
            if not line.startswith(b"data: "):
                continue
            if line.startswith(b"data: [DONE]"):
                done = True
                continue
            payload = json.loads(line[6:])
            count += len(payload["choices"][0]["token_ids"])
            if count == 1:
                first = time.perf_counter() - start
    return StreamResult(count, first, time.perf_counter() - start, done)


async def _run_load(url: str, streams: int, tokens: int) -> tuple[float, list[StreamResult]]:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(headers=AUTH, connector=connector) as session:
        await _one_stream(session, url, 5, -1)  # warm up (tokenizer load, connections)
        start = time.perf_counter()
        results = await asyncio.gather(
            *(_one_stream(session, url, tokens, n) for n in range(streams))
        )
        return time.perf_counter() - start, list(results)


def _measure(target: str, streams: int, tokens: int) -> tuple[float, list[StreamResult]]:
    parent, child = mp.Pipe()
    proc = mp.get_context("spawn").Process(
        target=_serve_ours if target == "ours" else _serve_baseline, args=(child,)
    )
    proc.start()
    try:
        url = parent.recv()
        return asyncio.run(_run_load(url, streams, tokens))
    finally:
        parent.send("stop")
        proc.join(10)
        if proc.is_alive():
            proc.kill()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--tokens", type=int, default=500)
    args = parser.parse_args()
    rows = {}
    for target in ("ours", "baseline"):
        wall, results = _measure(target, args.streams, args.tokens)
        bad = [r for r in results if r.tokens != args.tokens or not r.done]
        total = sum(r.tokens for r in results)
        rows[target] = (wall, results, bad, total / wall)
    print(f"{args.streams} concurrent streams x {args.tokens} tokens, unlimited speed")
    print(f"{'':28}{'ours (simulator)':>18}{'baseline (bare)':>18}")
    ours, base = rows["ours"], rows["baseline"]
    print(f"{'errors / short streams':28}{len(ours[2]):>18}{len(base[2]):>18}")
    print(f"{'wall time (s)':28}{ours[0]:>18.3f}{base[0]:>18.3f}")
    print(f"{'total tokens/s':28}{ours[3]:>18.0f}{base[3]:>18.0f}")
    for label, attr in (("first token", "first_token_s"), ("stream total", "total_s")):
        for q in (0.5, 0.9, 0.99):
            o = _pct([getattr(r, attr) for r in ours[1]], q) * 1000
            b = _pct([getattr(r, attr) for r in base[1]], q) * 1000
            print(f"{f'{label} p{int(q * 100)} (ms)':28}{o:>18.1f}{b:>18.1f}")
    print(f"ratio tokens/s ours/baseline: {ours[3] / base[3]:.2f}")
    print(
        f"mean stream time ours/baseline: "
        f"{statistics.mean(r.total_s for r in ours[1]) / statistics.mean(r.total_s for r in base[1]):.2f}"
    )


if __name__ == "__main__":
    main()
