"""The client against the real simulator over loopback: every endpoint, auth, faults."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import TypeVar

import pytest

from nai_script.client import ClientSettings, NovelAIClient, codec, errors, models
from nai_script.client.retry import RetrySettings
from nai_script.sim import SimServer, SimSettings

T = TypeVar("T")
TOKEN = "pst-test-token"
MODEL = "glm-4-6"


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    async with SimServer(SimSettings(seed=7)) as server:
        yield server


def settings_for(sim: SimServer, **overrides: object) -> ClientSettings:
    overrides.setdefault("token", TOKEN)
    overrides.setdefault("retry", RetrySettings(attempts=3, backoff_base=0.0))
    return ClientSettings.for_base_url(sim.base_url, **overrides)


@pytest.fixture
async def client(sim: SimServer) -> AsyncIterator[NovelAIClient]:
    async with NovelAIClient(settings_for(sim)) as c:
        yield c


async def collect(stream: AsyncIterator[T], into: list[T]) -> None:
    """Append each item of `stream` to `into` (so a test sees what came before a failure)."""
    async for item in stream:
        into.append(item)


def completion(**kw: object) -> models.CompletionRequest:
    return models.CompletionRequest.model_validate(
        {"model": MODEL, "prompt": "Once upon a time", "max_tokens": 12, **kw}
    )


def chat(**kw: object) -> models.ChatCompletionRequest:
    return models.ChatCompletionRequest.model_validate(
        {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8, **kw}
    )


async def test_completion_stream_matches_non_stream(client: NovelAIClient) -> None:
    whole = await client.completions(completion(seed=3))
    assert whole.usage is not None
    assert whole.usage.completion_tokens == 12
    chunks = [c async for c in client.stream_completions(completion(seed=3))]
    assert "".join(c.choices[0].text for c in chunks) == whole.choices[0].text
    streamed_ids = [t for c in chunks for t in c.choices[0].token_ids or []]
    assert streamed_ids == whole.choices[0].token_ids
    assert chunks[-1].choices[0].finish_reason == whole.choices[0].finish_reason


async def test_prompt_as_token_ids(client: NovelAIClient) -> None:
    response = await client.completions(completion(prompt=[1, 2, 3, 4]))
    assert response.usage is not None
    assert response.usage.prompt_tokens == 4


async def test_chat_stream_matches_non_stream(client: NovelAIClient) -> None:
    whole = await client.chat_completions(chat(seed=1))
    chunks = [c async for c in client.stream_chat_completions(chat(seed=1))]
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == whole.choices[0].message.content
    assert chunks[0].choices[0].delta.role == "assistant"


async def test_models_and_token_count(client: NovelAIClient) -> None:
    listing = await client.list_models()
    assert MODEL in [m.id for m in listing.data]
    counted = await client.token_count(models.TokenCountRequest(model=MODEL, prompt=[5, 6, 7]))
    assert counted.count == 3


async def test_native_generate_text_and_ids(client: NovelAIClient) -> None:
    params = models.GenerateParameters(use_string=True, max_length=6)
    text = await client.generate(
        models.GenerateRequest(input="Hi", model="kayra-v1", parameters=params)
    )
    assert text.output
    # clio-v1 answers 201, like api.novelai.net; both are success
    older = await client.generate(
        models.GenerateRequest(input="Hi", model="clio-v1", parameters=params)
    )
    assert older.output
    erato = "llama-3-erato-v1"
    ids_in = codec.pack_token_ids([1, 70_000], codec.token_width(erato))
    ids = await client.generate(
        models.GenerateRequest(
            input=ids_in, model=erato, parameters=models.GenerateParameters(max_length=4)
        )
    )
    assert len(codec.unpack_token_ids(ids.output, 4)) == 4


async def test_native_generate_stream(client: NovelAIClient) -> None:
    request = models.GenerateRequest(
        input="Hi",
        model="kayra-v1",
        parameters=models.GenerateParameters(use_string=True, max_length=5),
    )
    events = [e async for e in client.generate_stream(request)]
    assert [e.ptr for e in events] == list(range(5))
    assert [e.final for e in events] == [False] * 4 + [True]


async def test_missing_token_is_authentication_error(sim: SimServer) -> None:
    async with NovelAIClient(settings_for(sim, token=None)) as anonymous:
        with pytest.raises(errors.AuthenticationError) as caught:
            await anonymous.completions(completion())
    assert caught.value.status == 401
    assert caught.value.url.endswith("/oa/v1/completions")


async def test_login_then_use_issued_token(sim: SimServer) -> None:
    sim.settings.valid_tokens = []  # only tokens from /user/login are accepted
    async with NovelAIClient(settings_for(sim, token=None)) as c:
        with pytest.raises(errors.AuthenticationError):
            await c.subscription()
        token = await c.login_with_credentials("Someone@Example.com", "password123")
        assert c.token == token
        sub = await c.subscription()
        assert sub.tier == 3
        assert sub.tier_name == "opus"
        assert sub.perks.contextTokens > 0
        info = await c.user_information()
        assert info.emailVerified
        # the same credentials in another case give the same key, hence the same token
        assert await c.login_with_credentials("someone@example.com", "password123") == token


async def test_openai_compatible_paths(sim: SimServer) -> None:
    async with NovelAIClient(settings_for(sim, openai_compatible=True)) as c:
        assert (await c.completions(completion())).choices
        assert [x async for x in c.stream_chat_completions(chat())]
        assert (await c.list_models()).data


async def test_concurrency_lock_on_generation_not_retried(sim: SimServer) -> None:
    sim.settings.faults = "429#1"  # type: ignore[assignment]
    async with NovelAIClient(settings_for(sim)) as c:
        with pytest.raises(errors.ConcurrencyLockedError):
            await c.completions(completion())
        assert (await c.completions(completion())).choices  # the fault fired only once


async def test_server_error_on_generation_never_resent(sim: SimServer) -> None:
    sim.settings.faults = "500#1"  # type: ignore[assignment]
    async with NovelAIClient(settings_for(sim)) as c:
        with pytest.raises(errors.ServerError) as caught:
            await c.completions(completion())
        assert caught.value.status == 500
        # had the client retried, the one-shot fault would have been absorbed silently
        assert (await c.completions(completion())).choices


async def test_per_request_fault_header(sim: SimServer) -> None:
    async with NovelAIClient(settings_for(sim, extra_headers={"X-Sim-Fault": "500"})) as c:
        with pytest.raises(errors.ServerError):
            await c.chat_completions(chat())
        with pytest.raises(errors.ServerError):
            [x async for x in c.stream_completions(completion())]


async def test_drop_mid_stream_is_protocol_error(sim: SimServer) -> None:
    async with NovelAIClient(settings_for(sim, extra_headers={"X-Sim-Fault": "drop@3"})) as c:
        received: list[models.CompletionChunk] = []
        with pytest.raises(errors.ProtocolError):
            await collect(c.stream_completions(completion()), received)
        assert 0 < len(received) <= 3
        native = models.GenerateRequest(
            input="x", model="kayra-v1", parameters=models.GenerateParameters(use_string=True)
        )
        with pytest.raises(errors.ProtocolError):
            [e async for e in c.generate_stream(native)]


async def test_slow_first_byte_hits_read_timeout(sim: SimServer) -> None:
    settings = settings_for(
        sim, extra_headers={"X-Sim-Fault": "slow@500"}, timeouts={"read": 0.1, "total": 5}
    )
    async with NovelAIClient(settings) as c:
        with pytest.raises(errors.RequestTimeoutError) as caught:
            [x async for x in c.stream_completions(completion())]
        assert caught.value.phase == "read"


async def test_slow_non_streamed_generation_is_bounded_by_total_not_read(sim: SimServer) -> None:
    """The server is silent until a non-streamed answer is whole: that silence is the
    generation, not a stall, so only `total` applies (here ~0.25 s of a 5 s total)."""
    sim.settings.tokens_per_second = 20
    async with NovelAIClient(settings_for(sim, timeouts={"read": 0.1, "total": 5})) as c:
        answer = await c.completions(completion(max_tokens=6))
        assert answer.usage is not None
        assert answer.usage.completion_tokens == 6
        # a stream that stalls longer than `read` between tokens still fails
        sim.settings.tokens_per_second = 4
        with pytest.raises(errors.RequestTimeoutError) as caught:
            [x async for x in c.stream_completions(completion(max_tokens=6))]
        assert caught.value.phase == "read"


async def test_stop_reading_stream_early(sim: SimServer) -> None:
    sim.settings.tokens_per_second = 200
    async with NovelAIClient(settings_for(sim)) as c:
        async with aclosing(c.stream_completions(completion(max_tokens=500))) as stream:
            async for _ in stream:
                break
        # the client is still healthy afterwards
        assert (await c.completions(completion(max_tokens=2))).choices


async def test_many_concurrent_streams_on_one_client(client: NovelAIClient) -> None:
    """One session, 20 interleaved streams: each gets exactly its own tokens."""
    expected = [await client.completions(completion(seed=s, max_tokens=20)) for s in range(20)]

    async def stream_text(seed: int) -> str:
        parts = [
            c.choices[0].text
            async for c in client.stream_completions(completion(seed=seed, max_tokens=20))
        ]
        return "".join(parts)

    texts = await asyncio.gather(*(stream_text(s) for s in range(20)))
    assert texts == [e.choices[0].text for e in expected]


async def test_unknown_model_is_rejected_before_streaming(client: NovelAIClient) -> None:
    with pytest.raises(errors.BadRequestError) as caught:
        await anext(client.stream_completions(completion(model="no-such-model")))
    assert "no-such-model" in caught.value.message


async def test_open_sse_low_level(client: NovelAIClient) -> None:
    body = {"model": MODEL, "prompt": "x", "max_tokens": 3, "stream": True}
    events = [e async for e in client.open_sse("text", "/oa/v1/completions", body)]
    assert events[-1].data == "[DONE]"
    assert len(events) == 4
    raw, content_type = await client.request_bytes(
        "GET", "api", "/user/subscription", idempotent=True
    )
    assert content_type == "application/json"
    assert b"perks" in raw


# ---- Retry-After on idempotent reads (the simulator's read_faults) ---------------------------


class RecordedSleeps:
    """Injected sleep: records each wait instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.mark.parametrize(
    ("faults", "kind"),
    [("limit@3#2", errors.RateLimitedError), ("503@2#2", errors.ServerError)],
    ids=["429", "503"],
)
async def test_retry_after_is_waited_out_before_retrying(
    sim: SimServer, faults: str, kind: type[errors.NovelAIError]
) -> None:
    sim.settings.read_faults = faults  # type: ignore[assignment]
    sleeps = RecordedSleeps()
    retry = RetrySettings(attempts=4, backoff_base=0.25, backoff_max=10.0)
    async with NovelAIClient(settings_for(sim, retry=retry), rand=lambda: 1.0, sleep=sleeps) as c:
        assert (await c.list_models()).data  # two faults, then served
    wanted = float(faults[faults.index("@") + 1])
    # at least the server's Retry-After each time, not the shorter backoff (0.25, 0.5)
    assert sleeps.delays == [wanted, wanted]
    # the error itself carries the parsed value
    sim.settings.read_faults = faults.replace("#2", "")  # type: ignore[assignment]
    async with NovelAIClient(settings_for(sim, retry=retry), sleep=RecordedSleeps()) as c:
        with pytest.raises(kind) as caught:
            await c.subscription()
    assert caught.value.retry_after == wanted
    assert f"retry after {wanted:g} s" in str(caught.value)


async def test_retry_after_beyond_the_backoff_max_fails_at_once(sim: SimServer) -> None:
    sim.settings.read_faults = "limit@3600"  # type: ignore[assignment]
    sleeps = RecordedSleeps()
    retry = RetrySettings(attempts=4, backoff_base=0.25, backoff_max=10.0)
    async with NovelAIClient(settings_for(sim, retry=retry), sleep=sleeps) as c:
        with pytest.raises(errors.RateLimitedError) as caught:
            await c.token_count(models.TokenCountRequest(model=MODEL, prompt="x"))
    assert sleeps.delays == []  # no retry, no wait
    assert caught.value.retry_after == 3600
    assert "try again after" in str(caught.value)
    assert "3600 s" in str(caught.value)


async def test_retry_after_never_makes_a_generation_retry(sim: SimServer) -> None:
    sim.settings.faults = "limit@1#1"  # type: ignore[assignment]
    sleeps = RecordedSleeps()
    async with NovelAIClient(settings_for(sim), sleep=sleeps) as c:
        with pytest.raises(errors.RateLimitedError) as caught:
            await c.completions(completion())
        assert caught.value.retry_after == 1
        assert sleeps.delays == []
        assert (await c.completions(completion())).choices  # the one-shot fault was not absorbed


async def test_login_retried_after_a_dropped_read(sim: SimServer) -> None:
    sim.settings.read_faults = "drop#1"  # type: ignore[assignment]
    async with NovelAIClient(settings_for(sim, token=None), sleep=RecordedSleeps()) as c:
        assert await c.login("k" * 64)
