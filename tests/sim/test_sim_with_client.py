"""The client core against the simulator: they agree by construction, and faults surface as
the client's typed errors."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from nai_script.client.client import NovelAIClient
from nai_script.client.codec import pack_token_ids, unpack_token_ids
from nai_script.client.errors import (
    AuthenticationError,
    ConcurrencyLockedError,
    NovelAIError,
    ServerError,
)
from nai_script.client.models import (
    ChatCompletionRequest,
    CompletionRequest,
    GenerateParameters,
    GenerateRequest,
)
from nai_script.client.retry import RetrySettings
from nai_script.client.settings import ClientSettings
from nai_script.sim import SimServer


def _settings(sim: SimServer, token: str = "pst-client") -> ClientSettings:
    return ClientSettings(
        text_url=sim.base_url,
        api_url=sim.base_url,
        image_url=sim.base_url,
        token=token,
        retry=RetrySettings(attempts=1),
    )


@pytest.fixture
async def client(sim: SimServer) -> AsyncIterator[NovelAIClient]:
    async with NovelAIClient(_settings(sim)) as client:
        yield client


async def test_streamed_and_single_completions_agree(client: NovelAIClient) -> None:
    request = CompletionRequest(model="glm-4-6", prompt="The lantern", max_tokens=25)
    single = await client.completions(request)
    chunks = [c async for c in client.stream_completions(request)]
    assert "".join(c.choices[0].text for c in chunks) == single.choices[0].text
    assert [i for c in chunks for i in c.choices[0].token_ids or []] == single.choices[0].token_ids


async def test_chat_stream(client: NovelAIClient) -> None:
    request = ChatCompletionRequest(
        model="glm-4-6",
        messages=[{"role": "user", "content": "Hi"}],
        max_tokens=6,  # type: ignore[list-item]
    )
    chunks = [c async for c in client.stream_chat_completions(request)]
    assert len(chunks) == 6
    assert chunks[-1].choices[0].finish_reason == "length"


async def test_native_stream_with_wide_ids(client: NovelAIClient) -> None:
    request = GenerateRequest(
        model="llama-3-erato-v1",
        input=pack_token_ids([128000, 9], 4),
        parameters=GenerateParameters(max_length=7),
    )
    events = [e async for e in client.generate_stream(request)]
    assert len(events) == 7
    assert events[-1].final
    ids = [i for e in events for i in unpack_token_ids(e.token, 4)]
    single = await client.generate(request)
    assert unpack_token_ids(single.output, 4) == ids


async def test_login_then_subscription(sim: SimServer) -> None:
    async with NovelAIClient(_settings(sim, token="pst-unused")) as client:
        await client.login("k" * 64)
        assert (await client.subscription()).tier == 3


async def test_faults_map_to_typed_errors(sim: SimServer, client: NovelAIClient) -> None:
    request = CompletionRequest(model="glm-4-6", prompt="x", max_tokens=5)
    sim.settings.faults = "429"  # type: ignore[assignment]
    with pytest.raises(ConcurrencyLockedError):
        await client.completions(request)
    sim.settings.faults = "500"  # type: ignore[assignment]
    with pytest.raises(ServerError):
        await client.completions(request)
    sim.settings.faults = "drop@2"  # type: ignore[assignment]
    received: list[object] = []

    async def consume() -> None:
        async for chunk in client.stream_completions(request):
            received.append(chunk)

    with pytest.raises(NovelAIError):
        await consume()
    assert len(received) == 2


async def test_bad_token_is_an_authentication_error(sim: SimServer) -> None:
    sim.settings.valid_tokens = ["pst-good"]
    async with NovelAIClient(_settings(sim, token="pst-bad")) as client:
        with pytest.raises(AuthenticationError):
            await client.completions(CompletionRequest(model="glm-4-6", prompt="x"))
