"""Faults, pacing and the concurrency lock, over real loopback with an injected clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from nai_script.client.image import build_image_request
from nai_script.sim import SimServer, SimSettings, SimState

AUTH = {"Authorization": "Bearer pst-test-token"}
COMPLETION = {"model": "glm-4-6", "prompt": "x", "max_tokens": 10}
NATIVE = {"model": "kayra-v1", "input": "x", "parameters": {"use_string": True, "max_length": 10}}


class FakeTime:
    """A clock that only moves when the simulator sleeps; records every sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds
        await asyncio.sleep(0)


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
async def timed_sim(fake_time: FakeTime) -> AsyncIterator[SimServer]:
    state = SimState(SimSettings(), clock=fake_time.clock, sleep=fake_time.sleep)
    async with SimServer(state=state) as server:
        yield server


@pytest.fixture
async def timed_http(timed_sim: SimServer) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=timed_sim.base_url, headers=AUTH) as session:
        yield session


async def _read_until_dropped(resp: aiohttp.ClientResponse) -> str:
    """What arrived before the connection broke; fails if the stream ended cleanly."""
    received = b""
    try:
        async for chunk in resp.content.iter_any():
            received += chunk
    except aiohttp.ClientPayloadError:
        return received.decode()
    raise AssertionError(f"the stream ended cleanly: {received[-80:]!r}")


@pytest.mark.parametrize(
    ("spec", "status", "message"),
    [("429", 429, "Concurrent generation is locked"), ("500", 500, "simulated fault")],
)
@pytest.mark.parametrize(
    ("path", "body"),
    [("/oa/v1/completions", COMPLETION), ("/ai/generate-stream", NATIVE), ("/ai/generate", NATIVE)],
)
async def test_status_faults_per_run_and_per_request(
    sim: SimServer,
    http: aiohttp.ClientSession,
    spec: str,
    status: int,
    message: str,
    path: str,
    body: dict[str, Any],
) -> None:
    resp = await http.post(path, json=body, headers={"X-Sim-Fault": spec})
    assert resp.status == status
    error = await resp.json()
    assert error["statusCode"] == status
    assert message in error["message"]
    assert (await http.post(path, json=body)).status in (200, 201)  # header was per request
    sim.settings.faults = spec  # type: ignore[assignment]
    resp = await http.post(path, json=body)
    assert resp.status == status
    assert (await resp.json())["statusCode"] == status


async def test_header_none_overrides_run_faults(
    sim: SimServer, http: aiohttp.ClientSession
) -> None:
    sim.settings.faults = "500"  # type: ignore[assignment]
    resp = await http.post("/oa/v1/completions", json=COMPLETION, headers={"X-Sim-Fault": "none"})
    assert resp.status == 200


async def test_bad_fault_header_is_400_naming_the_header(http: aiohttp.ClientSession) -> None:
    resp = await http.post("/oa/v1/completions", json=COMPLETION, headers={"X-Sim-Fault": "zap"})
    assert resp.status == 400
    assert (await resp.json())["message"].startswith("X-Sim-Fault: fault spec rule 1 'zap'")


@pytest.mark.parametrize("via_header", [True, False])
async def test_drop_mid_stream_after_n_tokens(
    sim: SimServer, http: aiohttp.ClientSession, via_header: bool
) -> None:
    headers = {"X-Sim-Fault": "drop@3"} if via_header else {}
    if not via_header:
        sim.settings.faults = "drop@3"  # type: ignore[assignment]
    resp = await http.post(
        "/oa/v1/completions", json={**COMPLETION, "stream": True}, headers=headers
    )
    assert resp.status == 200
    received = await _read_until_dropped(resp)
    assert received.count("data: ") == 3
    assert "[DONE]" not in received


async def test_drop_beyond_the_answer_still_drops_before_done(http: aiohttp.ClientSession) -> None:
    resp = await http.post(
        "/oa/v1/completions",
        json={**COMPLETION, "stream": True},
        headers={"X-Sim-Fault": "drop@50"},
    )
    received = await _read_until_dropped(resp)
    assert received.count("data: ") == 10
    assert "[DONE]" not in received


async def test_drop_native_stream(http: aiohttp.ClientSession) -> None:
    resp = await http.post("/ai/generate-stream", json=NATIVE, headers={"X-Sim-Fault": "drop@2"})
    received = await _read_until_dropped(resp)
    assert received.count("event: newToken") == 2


async def _post_and_read(session: aiohttp.ClientSession, path: str, **kwargs: Any) -> bytes:
    async with session.post(path, **kwargs) as resp:
        return await resp.read()


async def test_drop_non_stream_gives_no_response(http: aiohttp.ClientSession) -> None:
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await _post_and_read(http, "/ai/generate", json=NATIVE, headers={"X-Sim-Fault": "drop@2"})


async def test_server_survives_drops(http: aiohttp.ClientSession) -> None:
    for _ in range(5):
        resp = await http.post(
            "/oa/v1/completions",
            json={**COMPLETION, "stream": True},
            headers={"X-Sim-Fault": "drop@1"},
        )
        await _read_until_dropped(resp)
    assert (await http.post("/oa/v1/completions", json=COMPLETION)).status == 200


async def test_count_limited_fault_then_success(
    sim: SimServer, http: aiohttp.ClientSession
) -> None:
    sim.settings.faults = "500#2"  # type: ignore[assignment]
    statuses = [(await http.post("/oa/v1/completions", json=COMPLETION)).status for _ in range(4)]
    assert statuses == [500, 500, 200, 200]


async def _statuses(seed: int) -> list[int]:
    async with (
        SimServer(SimSettings(seed=seed, faults="429%0.5")) as server,  # type: ignore[arg-type]
        aiohttp.ClientSession(base_url=server.base_url, headers=AUTH) as session,
    ):
        return [
            (await session.post("/oa/v1/completions", json=COMPLETION)).status for _ in range(30)
        ]


async def test_probabilistic_faults_reproduce_with_the_seed() -> None:
    first = await _statuses(3)
    assert first == await _statuses(3)
    assert set(first) == {200, 429}


async def test_faults_spare_account_paths(sim: SimServer, http: aiohttp.ClientSession) -> None:
    sim.settings.faults = "500,drop"  # type: ignore[assignment]
    assert (await http.get("/user/subscription")).status == 200
    assert (await http.post("/user/login", json={"key": "abc"})).status == 201


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/oa/v1/models", None),
        ("GET", "/v1/models", None),
        ("POST", "/oa/v1/internal/token-count", {"model": "glm-4-6", "prompt": "x"}),
        ("POST", "/user/login", {"key": "abc"}),
        ("GET", "/user/subscription", None),
        ("GET", "/user/information", None),
        ("GET", "/user/keystore", None),
        ("GET", "/user/objects/stories", None),
    ],
)
async def test_read_faults_hit_idempotent_reads_with_retry_after(
    sim: SimServer, http: aiohttp.ClientSession, method: str, path: str, body: Any
) -> None:
    sim.settings.read_faults = "limit@7#1"  # type: ignore[assignment]
    first = await http.request(method, path, json=body)
    assert first.status == 429
    assert first.headers["Retry-After"] == "7"
    assert (await first.json())["statusCode"] == 429
    assert (await http.request(method, path, json=body)).status in (200, 201)


async def test_read_faults_spare_generations_and_faults_spare_reads(
    sim: SimServer, http: aiohttp.ClientSession
) -> None:
    sim.settings.read_faults = "503@1"  # type: ignore[assignment]
    assert (await http.post("/oa/v1/completions", json=COMPLETION)).status == 200
    sim.settings.read_faults = "none"  # type: ignore[assignment]
    sim.settings.faults = "503@4"  # type: ignore[assignment]
    assert (await http.get("/oa/v1/models")).status == 200
    failed = await http.post("/oa/v1/completions", json=COMPLETION)
    assert (failed.status, failed.headers["Retry-After"]) == (503, "4")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/oa/v1/completions", {**COMPLETION, "stream": True}),
        (
            "/ai/generate-image-stream",
            build_image_request("x", width=64, height=64, steps=1).wire(),
        ),
    ],
    ids=["text-stream", "image-stream"],
)
async def test_slow_and_latency_delay_the_start(
    timed_sim: SimServer,
    timed_http: aiohttp.ClientSession,
    fake_time: FakeTime,
    path: str,
    body: dict[str, Any],
) -> None:
    timed_sim.settings.latency_ms = 100
    resp = await timed_http.post(path, json=body, headers={"X-Sim-Fault": "slow@250"})
    assert resp.status == 200
    await resp.read()
    assert fake_time.sleeps == [0.25, 0.1]


async def test_tokens_per_second_paces_the_stream(
    timed_sim: SimServer, timed_http: aiohttp.ClientSession, fake_time: FakeTime
) -> None:
    timed_sim.settings.tokens_per_second = 50
    resp = await timed_http.post("/oa/v1/completions", json={**COMPLETION, "stream": True})
    await resp.read()
    assert fake_time.sleeps == [0.02] * 9  # first token at once, then one per 20 ms
    fake_time.sleeps.clear()
    resp = await timed_http.post("/oa/v1/completions", json=COMPLETION)  # not streamed
    await resp.read()
    assert sum(fake_time.sleeps) == pytest.approx(0.18)


async def test_unlimited_speed_never_sleeps(
    timed_http: aiohttp.ClientSession, fake_time: FakeTime
) -> None:
    await (await timed_http.post("/oa/v1/completions", json={**COMPLETION, "stream": True})).read()
    assert fake_time.sleeps == []


class Gate:
    """A sleep that parks until released, so a generation stays in flight on demand."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        self.entered.set()
        await self.release.wait()


async def test_text_concurrency_lock_per_token() -> None:
    gate = Gate()
    state = SimState(SimSettings(latency_ms=1, text_concurrency_lock=True), sleep=gate.sleep)
    async with (
        SimServer(state=state) as server,
        aiohttp.ClientSession(base_url=server.base_url) as session,
    ):
        other = {"Authorization": "Bearer pst-other"}
        first = asyncio.create_task(
            session.post("/oa/v1/completions", json=COMPLETION, headers=AUTH)
        )
        await asyncio.wait_for(gate.entered.wait(), 5)
        second = await session.post("/oa/v1/completions", json=COMPLETION, headers=AUTH)
        assert second.status == 429
        assert await second.json() == {
            "statusCode": 429,
            "message": "Concurrent generation is locked",
        }
        native = await session.post("/ai/generate", json=NATIVE, headers=AUTH)
        assert native.status == 429
        gate.release.set()  # the other token is never blocked
        assert (
            await session.post("/oa/v1/completions", json=COMPLETION, headers=other)
        ).status == 200
        assert (await first).status == 200
        assert (
            await session.post("/oa/v1/completions", json=COMPLETION, headers=AUTH)
        ).status == 200


async def test_text_lock_is_off_by_default() -> None:
    gate = Gate()
    state = SimState(SimSettings(latency_ms=1), sleep=gate.sleep)
    async with (
        SimServer(state=state) as server,
        aiohttp.ClientSession(base_url=server.base_url, headers=AUTH) as session,
    ):
        first = asyncio.create_task(session.post("/oa/v1/completions", json=COMPLETION))
        await asyncio.wait_for(gate.entered.wait(), 5)
        second = asyncio.create_task(session.post("/oa/v1/completions", json=COMPLETION))
        await asyncio.sleep(0.05)
        gate.release.set()
        assert [(await first).status, (await second).status] == [200, 200]


async def test_lock_is_released_after_a_dropped_stream() -> None:
    state = SimState(SimSettings(text_concurrency_lock=True))
    async with (
        SimServer(state=state) as server,
        aiohttp.ClientSession(base_url=server.base_url, headers=AUTH) as session,
    ):
        resp = await session.post(
            "/oa/v1/completions",
            json={**COMPLETION, "stream": True},
            headers={"X-Sim-Fault": "drop@1"},
        )
        await _read_until_dropped(resp)
        assert (await session.post("/oa/v1/completions", json=COMPLETION)).status == 200
