"""Failures the routes do not foresee still leave the simulator in NovelAI's shape: a body too
deep to parse is a 400, a simulator bug a 500 ``{"statusCode", "message"}`` (or, once a stream
has begun, a cut connection), never aiohttp's text/plain page or a corrupted stream."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from nai_script.client import ClientSettings, NovelAIClient, errors, models
from nai_script.client.retry import RetrySettings
from nai_script.sim import SimServer, SimSettings
from nai_script.sim.state import SimState
from nai_script.sim.tokens import ByteTokenizer

AUTH = {"Authorization": "Bearer pst-test-token"}


class BrokenTokenizer(ByteTokenizer):
    """Stands in for a simulator bug: every prompt it is asked to count fails."""

    def encode(self, text: str) -> list[int]:
        raise RuntimeError("tokenizer broke")


class WideTokenizer(ByteTokenizer):
    """Ids beyond uint16: packing them for kayra-v1 fails after the stream has started."""

    vocab_size = 70_256

    def encode(self, text: str) -> list[int]:
        return [b + 70_000 for b in text.encode("utf-8")]

    def decode(self, ids: list[int]) -> str:
        return bytes(i - 70_000 for i in ids if 70_000 <= i < 70_256).decode("utf-8", "replace")


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    async with SimServer(SimSettings()) as server:
        yield server


async def test_json_nested_too_deeply_is_a_400(sim: SimServer) -> None:
    async with aiohttp.ClientSession(base_url=sim.base_url, headers=AUTH) as http:
        resp = await http.post("/oa/v1/completions", data=b"[" * 100_000)
        assert resp.status == 400
        assert await resp.json() == {"statusCode": 400, "message": "body: JSON nested too deeply"}


async def test_a_simulator_bug_is_a_500_in_novelais_shape() -> None:
    async with SimServer(state=SimState(SimSettings(), tokenizer=BrokenTokenizer())) as sim:
        settings = ClientSettings.for_base_url(
            sim.base_url, token="pst-test-token", retry=RetrySettings(attempts=1)
        )
        async with aiohttp.ClientSession(base_url=sim.base_url, headers=AUTH) as http:
            resp = await http.post(
                "/oa/v1/completions", json={"model": "glm-4-6", "prompt": "x", "max_tokens": 2}
            )
            assert resp.status == 500
            assert resp.content_type == "application/json"
            body = await resp.json()
        assert body["statusCode"] == 500
        assert "RuntimeError" in body["message"]
        async with NovelAIClient(settings) as client:  # the client reads it as a server error
            with pytest.raises(errors.ServerError, match="simulator bug: RuntimeError"):
                await client.token_count(models.TokenCountRequest(model="glm-4-6", prompt="x"))


async def test_a_bug_mid_stream_cuts_the_stream_instead_of_corrupting_it() -> None:
    async with SimServer(state=SimState(SimSettings(), tokenizer=WideTokenizer())) as sim:
        settings = ClientSettings.for_base_url(
            sim.base_url, token="pst-test-token", retry=RetrySettings(attempts=1)
        )
        request = models.GenerateRequest(
            input="", model="kayra-v1", parameters=models.GenerateParameters(max_length=4)
        )
        async with NovelAIClient(settings) as client:
            with pytest.raises(errors.ProtocolError):
                async for _ in client.generate_stream(request):
                    pass
