"""Pacing, SSE framing and mid-stream drops, shared by every generating route.

Pacing follows the settings at the time of each token (so tests can change the speed mid-run):
the first byte waits for the ``slow`` fault, the first token for ``latency_ms``, and token k is
due ``k / tokens_per_second`` seconds after the first.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from nai_script.client.models import WireModel
from nai_script.sim.faults import FaultPlan
from nai_script.sim.state import SimState

# ids of the requests whose event stream has begun: a failure then can only cut the stream (the
# error middleware checks it; the stream is dropped from it when the request ends)
STREAMS_OPEN = web.AppKey("nai_script_sim_streams_open", set[int])

# With unlimited speed a stream would never yield the event loop; let other streams run.
_YIELD_EVERY = 32


class DroppedConnection(Exception):
    """The ``drop`` fault closed the connection; nothing more may be written."""


class Pacer:
    """Sleeps where a real server would be busy: slow first byte, latency, tokens per second."""

    def __init__(self, state: SimState, plan: FaultPlan) -> None:
        self._state = state
        self._plan = plan
        self._start = 0.0

    async def first_byte(self) -> None:
        if self._plan.slow_ms:
            await self._state.sleep(self._plan.slow_ms / 1000)

    async def first_token(self) -> None:
        latency = self._state.settings.latency_ms
        if latency:
            await self._state.sleep(latency / 1000)
        self._start = self._state.clock()

    async def token(self, index: int) -> None:
        rate = self._state.settings.tokens_per_second
        if rate > 0 and index > 0:
            delay = self._start + index / rate - self._state.clock()
            if delay > 0:
                await self._state.sleep(delay)
        elif index and index % _YIELD_EVERY == 0:
            await asyncio.sleep(0)

    async def run_through(self, count: int) -> None:
        """Spend the time a non-streamed answer of ``count`` tokens takes."""
        await self.first_token()
        for index in range(count):
            await self.token(index)


def sse_data(payload: WireModel) -> bytes:
    """One OpenAI-style SSE event: ``data: {...}`` (the payload's wire JSON, serialised
    straight from the model: no dict in between on the per-token path) and a blank line."""
    return b"data: " + payload.model_dump_json(exclude_none=True).encode() + b"\n\n"


SSE_DONE = b"data: [DONE]\n\n"


def sse_event(event: str, event_id: int, payload: Any) -> bytes:
    """One named SSE event as NovelAI's ``/ai/generate-stream`` sends it."""
    data = json.dumps(payload, separators=(",", ":"))
    return f"event: {event}\nid: {event_id}\ndata: {data}\n\n".encode()


async def open_event_stream(request: web.Request, status: int = 200) -> web.StreamResponse:
    response = web.StreamResponse(
        status=status,
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"},
    )
    await response.prepare(request)
    request.app[STREAMS_OPEN].add(id(request))
    return response


def drop_connection(request: web.Request) -> DroppedConnection:
    """Abort the TCP connection (no clean end of the chunked body) and return the exception
    the handler raises to stop; the app's middleware swallows it."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    return DroppedConnection()


async def send_token_frames(
    request: web.Request,
    response: web.StreamResponse,
    pacer: Pacer,
    plan: FaultPlan,
    frames: Iterable[bytes],
    trailer: bytes = b"",
) -> None:
    """Write one frame per token at the paced rate, then ``trailer``; honours ``drop@N``.
    ``frames`` may be lazy, so the first token leaves before the last frame is built."""
    await pacer.first_token()
    for index, frame in enumerate(frames):
        if plan.drop_after is not None and index >= plan.drop_after:
            raise drop_connection(request)
        await pacer.token(index)
        await response.write(frame)
    if plan.drop_after is not None:
        raise drop_connection(request)
    if trailer:
        await response.write(trailer)
    await response.write_eof()
