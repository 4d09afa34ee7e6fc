"""Fixtures for the simulator tests: a live simulator on loopback and a plain aiohttp session."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from nai_script.sim import SimServer, SimSettings

AUTH = {"Authorization": "Bearer pst-test-token"}


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    async with SimServer(SimSettings(), host="127.0.0.1", port=0) as server:
        yield server


@pytest.fixture
async def http(sim: SimServer) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=sim.base_url, headers=AUTH) as session:
        yield session


def parse_sse(raw: str) -> list[dict[str, Any]]:
    """Split an SSE body into events ({'event','id','data'}); insists on blank-line framing."""
    assert raw.endswith("\n\n"), f"stream does not end with a blank line: {raw[-40:]!r}"
    events = []
    for block in raw[:-2].split("\n\n"):
        event: dict[str, Any] = {}
        for line in block.split("\n"):
            field, sep, value = line.partition(": ")
            assert sep, f"malformed SSE line {line!r}"
            event[field] = value
        events.append(event)
    return events


def data_payloads(raw: str) -> list[Any]:
    """The JSON payloads of an OpenAI-style stream, checking it ends with ``data: [DONE]``."""
    events = parse_sse(raw)
    assert events[-1] == {"data": "[DONE]"}
    for event in events:
        assert set(event) == {"data"}
    return [json.loads(e["data"]) for e in events[:-1]]


@pytest.fixture
def sse() -> Any:
    return parse_sse


@pytest.fixture
def payloads() -> Any:
    return data_payloads
