"""Script UI benchmarks: the event bus fan-out vs plain per-subscriber ``asyncio.Queue``s, and a
page click on a script's button (UiState check + interaction + callback in a real worker) vs a
plain ``invoke_callback`` of the same function.

Run: /tmp/venv/bin/python bench/bench_ui.py
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from nai_script.editor.events import EventBus
from nai_script.editor.ui_state import UiState

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "host"))
from host_helpers import hosted

EVENTS = 100_000
SUBSCRIBERS = 8
CLICKS = 300


async def bus_fanout() -> float:
    bus = EventBus(queue_size=EVENTS)
    subs = [bus.subscribe() for _ in range(SUBSCRIBERS)]

    async def drain(index: int) -> None:
        seen = 0
        async for _ in subs[index]:
            seen += 1
            if seen == EVENTS:
                return

    readers = [asyncio.create_task(drain(i)) for i in range(SUBSCRIBERS)]
    start = time.perf_counter()
    for n in range(EVENTS):
        bus.publish({"type": "doc.stream", "n": n})
        if n % 256 == 0:
            await asyncio.sleep(0)
    await asyncio.gather(*readers)
    return time.perf_counter() - start


async def queue_fanout() -> float:
    queues: list[asyncio.Queue[dict[str, Any]]] = [asyncio.Queue() for _ in range(SUBSCRIBERS)]

    async def drain(queue: asyncio.Queue[dict[str, Any]]) -> None:
        for _ in range(EVENTS):
            await queue.get()

    readers = [asyncio.create_task(drain(q)) for q in queues]
    start = time.perf_counter()
    for n in range(EVENTS):
        event = {"type": "doc.stream", "n": n}
        for queue in queues:
            queue.put_nowait(event)
        if n % 256 == 0:
            await asyncio.sleep(0)
    await asyncio.gather(*readers)
    return time.perf_counter() - start


async def clicks() -> tuple[float, float, float]:
    source = (
        '"""\n---\nid: bench\nname: Bench\n---\n"""\n'
        "def clicked():\n    return None\n"
        "await api.v1.ui.register([{'type': 'scriptPanel', 'id': 'p', 'name': 'P', 'content': ["
        "{'type': 'button', 'id': 'b', 'text': 'go', 'callback': clicked}]}])\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        async with hosted(Path(tmp)) as env:
            state = UiState(env.host, EventBus())
            env.host.ui = state
            script = await env.run(source)
            handle = next(iter(state._scripts["bench"].callbacks.handles.values()))
            ours, plain, interaction = [], [], []
            for _ in range(CLICKS):
                start = time.perf_counter()
                task = await state.handle_ui_event("bench", "p", "b", "callback")
                assert task is not None
                await task
                ours.append(time.perf_counter() - start)
                start = time.perf_counter()
                await env.host.invoke_callback(script, handle, [], what="bench")
                plain.append(time.perf_counter() - start)
                start = time.perf_counter()
                await env.host.record_interaction("bench")
                interaction.append(time.perf_counter() - start)
            medians = (statistics.median(x) for x in (ours, plain, interaction))
            return tuple(medians)  # type: ignore[return-value]


async def main() -> None:
    ours = min([await bus_fanout() for _ in range(3)])
    base = min([await queue_fanout() for _ in range(3)])
    print(f"fan-out of {EVENTS} events to {SUBSCRIBERS} subscribers (best of 3)")
    print(f"  EventBus (bounded, drop-oldest): {ours * 1e3:8.1f} ms")
    print(f"  plain asyncio.Queue per reader : {base * 1e3:8.1f} ms")
    print(f"  ratio ours/plain               : {ours / base:8.2f}x")
    click, invoke, interaction = await clicks()
    print(f"page click on a script button, median of {CLICKS} (real worker)")
    print(f"  UiState.handle_ui_event + callback: {click * 1e6:8.0f} us")
    print(f"  plain host.invoke_callback        : {invoke * 1e6:8.0f} us")
    print(f"  ratio ours/plain                  : {click / invoke:8.2f}x")
    print(f"  overhead per click                : {(click - invoke) * 1e6:8.0f} us")
    print(f"    of which record_interaction     : {interaction * 1e6:8.0f} us (durable SQLite)")


if __name__ == "__main__":
    asyncio.run(main())
