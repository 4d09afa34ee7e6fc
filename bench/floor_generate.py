"""The design's floor: what a sandboxed ``generate`` would cost with only the work its contract
makes unavoidable, next to the client core's direct stream and to ours (``bench_host.py``).

A bare child process stands in for the worker (no sandbox, no proxies: a loop that writes a
call frame, runs a plain callback on the final delivery, reads the reply), and a bare host
answers it: parse the frame, tokenize the chat-templated prompt (the reserve needs the count),
insert the reservation into a WAL SQLite file before sending, stream with the client core,
settle, and write the last delivery and the reply in one go. Missing on purpose: validation,
the prefix cache, group-committed fsyncs, watchdogs, diagnostics, cancellation, chains. The gap
between this and ``bench_host.py`` is what our own code costs; this against the direct stream
is what two processes and a durable reserve cost on this machine.

Run: python bench/floor_generate.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_host import MESSAGES, TOKENS, direct_batch, paired
from sim_process import simulator

from nai_script.client import ClientSettings, NovelAIClient
from nai_script.client import models as wire
from nai_script.tokenizers import TokenizerRegistry
from nai_script.tokenizers.chat import apply_chat_template

BATCH = 10
HEADER = struct.Struct(">I")

WORKER = f"""
import json, os, struct
HEADER = struct.Struct(">I")
def read_exactly(n):
    data = b""
    while len(data) < n:
        data += os.read(0, n - len(data))
    return data
def read_frame():
    return json.loads(read_exactly(HEADER.unpack(read_exactly(4))[0]))
def send(message):
    payload = json.dumps(message, separators=(",", ":")).encode()
    os.write(1, HEADER.pack(len(payload)) + payload)
seen = [0]
def on_chunk(choices, final):
    seen[0] += len(choices[0]["token_ids"])
while (run := read_frame())["t"] == "run":
    total = 0
    for _ in range(run["k"]):
        params = {{"model": "glm-4-6", "max_tokens": run["n"]}}
        send({{"t": "call", "messages": {MESSAGES!r}, "params": params, "cb": run["cb"]}})
        while (message := read_frame())["t"] == "invoke":
            for args in message["calls"]:
                on_chunk(*args)
        total += len(message["value"]["choices"][0]["token_ids"])
    send({{"t": "done", "total": total}})
"""


class BareHost:
    """Serves the bare worker's calls: tokenize, reserve, stream, settle, reply."""

    def __init__(self, client: NovelAIClient, data: Path) -> None:
        self.client = client
        self.tokenizers = TokenizerRegistry(backend="sim")
        self.db = sqlite3.connect(data / "limits.sqlite3", isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(
            "CREATE TABLE held (id INTEGER PRIMARY KEY, script TEXT, bucket TEXT,"
            " amount INTEGER, spent_at REAL)"
        )
        self.proc: asyncio.subprocess.Process

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            WORKER,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )

    def send(self, message: dict[str, Any]) -> None:
        payload = json.dumps(message, separators=(",", ":")).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(HEADER.pack(len(payload)) + payload)

    async def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        header = await self.proc.stdout.readexactly(HEADER.size)
        payload = await self.proc.stdout.readexactly(HEADER.unpack(header)[0])
        message: dict[str, Any] = json.loads(payload)
        return message

    async def batch(self, k: int, with_callback: bool, max_tokens: int = TOKENS) -> float:
        """``k`` generates in a row by the worker; seconds per generate."""
        start = time.perf_counter()
        self.send({"t": "run", "k": k, "cb": with_callback, "n": max_tokens})
        while (call := await self.read())["t"] == "call":
            await self.serve(call)
        assert call["total"] == k * max_tokens, call
        return (time.perf_counter() - start) / k

    async def serve(self, call: dict[str, Any]) -> None:
        model, max_tokens = call["params"]["model"], call["params"]["max_tokens"]
        prompt = self.tokenizers.get(model).encode(
            apply_chat_template(model, call["messages"])
        )  # the tokenizer itself: the floor keeps no ids of earlier prompts
        self.db.executemany(
            "INSERT INTO held (script, bucket, amount, spent_at) VALUES ('s', ?, ?, ?)",
            [("output", max_tokens, time.time()), ("input", len(prompt), time.time())],
        )
        request = wire.ChatCompletionRequest(
            model=model,
            messages=[wire.ChatMessage(**m) for m in call["messages"]],
            max_tokens=max_tokens,
        )
        texts: list[str] = []
        ids: list[int] = []
        async for chunk in self.client.stream_chat_completions(request):
            for choice in chunk.choices:
                texts.append(choice.delta.content or "")
                ids += choice.token_ids or []
        self.db.execute(
            "UPDATE held SET amount = ? WHERE id = last_insert_rowid() - 1", (len(ids),)
        )
        choice = {"index": 0, "text": "".join(texts), "token_ids": ids, "finish_reason": "length"}
        if call["cb"]:
            closing = {"index": 0, "text": "", "token_ids": [], "finish_reason": "length"}
            self.send({"t": "invoke", "calls": [[[choice], False], [[closing], True]]})
        self.send({"t": "reply", "value": {"choices": [choice]}})

    async def stop(self) -> None:
        self.send({"t": "stop"})
        await self.proc.wait()
        self.db.close()


async def measure(rounds: int) -> None:
    async with simulator(in_process=False) as url:
        settings = ClientSettings.for_base_url(url, token="pst-bench")
        async with NovelAIClient(settings) as client:
            host = BareHost(client, Path(tempfile.mkdtemp(prefix="bench-floor-")))
            await host.start()
            for _ in range(2):  # warm every path
                await direct_batch(client, BATCH)
                await host.batch(BATCH, True)
            base, cb, plain, tiny_base, tiny = [], [], [], [], []
            for _ in range(rounds):  # interleaved, so drift hits every path alike
                base.append(await direct_batch(client, BATCH) / BATCH)
                cb.append(await host.batch(BATCH, True))
                plain.append(await host.batch(BATCH, False))
                tiny_base.append(await direct_batch(client, BATCH, 1) / BATCH)
                tiny.append(await host.batch(BATCH, True, 1))
            await host.stop()
    extra = statistics.median(t - b for t, b in zip(tiny, tiny_base, strict=True))
    print(f"bare two-process generate of {TOKENS} tokens, simulator in a child process,")
    print(f"median of {rounds} rounds (ratio: median of per-round ratios)")
    print(f"  client core direct stream        : {statistics.median(base) * 1000:7.2f} ms")
    print(
        f"  bare generate, with callback     : {statistics.median(cb) * 1000:7.2f} ms"
        f"   ratio {paired(cb, base):.2f}x"
    )
    print(
        f"  bare generate, no callback       : {statistics.median(plain) * 1000:7.2f} ms"
        f"   ratio {paired(plain, base):.2f}x"
    )
    print(f"  fixed cost per generate (1-token streams): +{extra * 1000:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    asyncio.run(measure(parser.parse_args().rounds))


if __name__ == "__main__":
    main()
