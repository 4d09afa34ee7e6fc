"""Where the fixed cost of a sandboxed ``generate`` goes: a timeline of the host's side.

``bench_host.py`` gives the ratio; this splits one generate into phases, each the median over
the run of the time since the phase before, as the host sees them: the script's call arriving,
the worker's status frame, tokenizing the prompt, the reserve, the request sent, its first
chunk, the stream's end, the reply written to the worker, and the worker's next call arriving
(the round trip through the worker: two process wake-ups and the worker's own work). The
direct stream's request -> first chunk -> end are printed next to it for comparison. The
simulator runs in a child process at unlimited speed. It wraps a few host functions to take
the timestamps (a benchmark tool, not a test: internal names may move).

Run: python bench/trace_generate.py [--tokens 500] [--generates 200] [--no-callback]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from bench_host import SCRIPT, _request
from sim_process import simulator

import sandbox.process as worker_side
from nai_script.client import ClientSettings, NovelAIClient
from nai_script.host.host import ScriptHost
from nai_script.limits import FakeClock, LimitsConfig
from nai_script.tokenizers import TokenizerRegistry
from sandbox.protocol import ApiCallMessage, Status

Events = list[tuple[float, str]]


def _instrument(events: Events, host: ScriptHost, client: NovelAIClient) -> None:
    """Wrap the host's pieces so each marks its phase in ``events``."""
    mark: Callable[[str], None] = lambda name: events.append((time.perf_counter(), name))  # noqa: E731
    handle, flush = worker_side.ScriptWorker._handle, worker_side.ScriptWorker._flush

    def handle_marked(self: Any, message: Any) -> None:
        if isinstance(message, ApiCallMessage):
            mark("call in")
        elif isinstance(message, Status):
            mark("status in")
        handle(self, message)

    def flush_marked(self: Any) -> None:
        if self._outbox:
            mark("reply out")
        flush(self)

    worker_side.ScriptWorker._handle = handle_marked  # type: ignore[method-assign]
    worker_side.ScriptWorker._flush = flush_marked  # type: ignore[method-assign]
    encode, begin = host.tokenizers.encode_async, host.limits.begin_generation

    async def encode_marked(*args: Any) -> list[int]:
        mark("tokenize start")
        ids = await encode(*args)
        mark("tokenized")
        return ids

    async def begin_marked(*args: Any, **kwargs: Any) -> Any:
        mark("reserve start")
        budget = await begin(*args, **kwargs)
        mark("reserved")
        return budget

    host.tokenizers.encode_async = encode_marked  # type: ignore[method-assign]
    host.limits.begin_generation = begin_marked  # type: ignore[method-assign]
    stream = client.stream_chat_completions

    def stream_marked(request: Any) -> AsyncIterator[Any]:
        async def chunks() -> AsyncIterator[Any]:
            mark("request")
            first = True
            async for chunk in stream(request):
                if first:
                    mark("first chunk")
                    first = False
                yield chunk
            mark("stream end")

        return chunks()

    client.stream_chat_completions = stream_marked  # type: ignore[method-assign]


def _phases(events: Events, starts_with: str) -> tuple[list[str], dict[str, float]]:
    """Cut ``events`` into cycles at ``starts_with``; the most common sequence's phases."""
    cycles: list[Events] = []
    for event in events:
        if event[1] == starts_with:
            cycles.append([])
        if cycles:
            cycles[-1].append(event)
    shapes: dict[tuple[str, ...], list[Events]] = {}
    for cycle in cycles:
        shapes.setdefault(tuple(name for _, name in cycle), []).append(cycle)
    names, chosen = max(shapes.items(), key=lambda item: len(item[1]))
    gaps = {
        names[i]: statistics.median((c[i][0] - c[i - 1][0]) * 1e6 for c in chosen)
        for i in range(1, len(names))
    }
    following = [
        (cycles[i + 1][0][0] - cycles[i][-1][0]) * 1e6
        for i in range(len(cycles) - 1)
        if tuple(name for _, name in cycles[i]) == names
    ]
    if following:
        gaps[f"next {starts_with}"] = statistics.median(following)
    return list(names), gaps


async def main(tokens: int, generates: int, with_callback: bool) -> None:
    folder = Path(tempfile.mkdtemp(prefix="trace-generate-"))
    (folder / "bench.py").write_text(SCRIPT)
    events: Events = []
    async with simulator(in_process=False) as url:
        settings = ClientSettings.for_base_url(url, token="pst-bench")
        async with NovelAIClient(settings) as client:
            clock = FakeClock()
            host = ScriptHost(
                client=client,
                tokenizers=TokenizerRegistry(backend="sim"),
                data_dir=folder / "data",
                limits_config=LimitsConfig(output_capacity=10**9),
                clock=clock,
            )
            async with host:
                script = await host.load_script(folder / "bench.py")
                assert script.worker is not None
                _instrument(events, host, client)
                for batch in (20, generates):  # the first warms every path
                    events.clear()
                    clock.advance(3600)
                    await host.record_interaction(script.id)
                    await script.worker.invoke("gen_batch", tokens, batch, with_callback)
                names, ours = _phases(events, "call in")
                events.clear()
                for _ in range(generates):
                    async for _chunk in client.stream_chat_completions(_request(tokens)):
                        pass
                _, direct = _phases(events, "request")
    how = "with a callback" if with_callback else "without a callback"
    print(f"one sandboxed generate of {tokens} tokens {how}, median us per phase")
    print("(each: time since the phase before; the direct stream's for comparison)")
    for name in [*names[1:], "next call in"]:
        line = f"  {name:>16}: {ours[name]:8.1f}"
        if name in direct:
            line += f"   direct {direct[name]:8.1f}"
        print(line)
    total = sum(ours[name] for name in [*names[1:], "next call in"])
    print(f"  {'cycle':>16}: {total:8.1f}   direct {sum(direct.values()):8.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=500)
    parser.add_argument("--generates", type=int, default=200)
    parser.add_argument(
        "--no-callback", action="store_true", help="generate without a stream callback"
    )
    args = parser.parse_args()
    asyncio.run(main(args.tokens, args.generates, not args.no_callback))
