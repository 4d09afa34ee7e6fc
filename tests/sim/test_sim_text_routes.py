"""OpenAI-like endpoints over real loopback: shapes, SSE framing, usage, limits, errors."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from nai_script.client.models import (
    ChatCompletionChunk,
    ChatCompletionResponse,
    CompletionChunk,
    CompletionResponse,
    ModelList,
)
from nai_script.sim import SimServer
from nai_script.sim.tokens import load_sim_tokenizer
from nai_script.tokenizers import apply_chat_template

PREFIXES = ["/oa/v1", "/v1"]
CHAT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "A story?"}]


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_completion_non_stream_shape_and_usage(
    http: aiohttp.ClientSession, prefix: str
) -> None:
    prompt = "Once upon a time"
    resp = await http.post(
        f"{prefix}/completions", json={"model": "glm-4-6", "prompt": prompt, "max_tokens": 12}
    )
    assert resp.status == 200
    assert resp.headers["X-Simulator"] == "nai-script"
    body = CompletionResponse.model_validate(await resp.json())
    choice = body.choices[0]
    assert body.object == "text_completion"
    assert body.model == "glm-4-6"
    assert choice.finish_reason == "length"
    assert choice.token_ids is not None
    assert len(choice.token_ids) == 12
    tokenizer = load_sim_tokenizer()
    assert tokenizer.decode(choice.token_ids) == choice.text
    assert body.usage is not None
    assert body.usage.prompt_tokens == len(tokenizer.encode(prompt))
    assert body.usage.completion_tokens == 12
    assert body.usage.total_tokens == body.usage.prompt_tokens + 12


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_completion_stream_framing_matches_non_stream(
    http: aiohttp.ClientSession, prefix: str, payloads: Any
) -> None:
    request = {"model": "glm-4-6", "prompt": "The road", "max_tokens": 20}
    plain = await (await http.post(f"{prefix}/completions", json=request)).json()
    resp = await http.post(f"{prefix}/completions", json={**request, "stream": True})
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/event-stream"
    chunks = [CompletionChunk.model_validate(p) for p in payloads(await resp.text())]
    assert len(chunks) == 20
    assert all(len(c.choices[0].token_ids or []) == 1 for c in chunks)
    assert "".join(c.choices[0].text for c in chunks) == plain["choices"][0]["text"]
    ids = [i for c in chunks for i in c.choices[0].token_ids or []]
    assert ids == plain["choices"][0]["token_ids"]
    assert [c.choices[0].finish_reason for c in chunks] == [None] * 19 + ["length"]
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 20
    assert all(c.usage is None for c in chunks[:-1])
    assert len({c.id for c in chunks}) == 1


async def test_same_request_same_output_different_prompt_differs(
    http: aiohttp.ClientSession,
) -> None:
    async def text(prompt: str) -> str:
        r = await http.post(
            "/oa/v1/completions", json={"model": "glm-4-6", "prompt": prompt, "max_tokens": 30}
        )
        return str((await r.json())["choices"][0]["text"])

    assert await text("abc") == await text("abc")
    assert await text("abc") != await text("abd")


async def test_run_seed_changes_output(sim: SimServer, http: aiohttp.ClientSession) -> None:
    request = {"model": "glm-4-6", "prompt": "x", "max_tokens": 30}
    first = await (await http.post("/oa/v1/completions", json=request)).json()
    sim.settings.seed = 99
    second = await (await http.post("/oa/v1/completions", json=request)).json()
    assert first["choices"][0]["text"] != second["choices"][0]["text"]


async def test_prompt_as_token_ids_including_foreign_ones(http: aiohttp.ClientSession) -> None:
    foreign = [1, 2, 150000, 4_000_000_000]
    resp = await http.post(
        "/oa/v1/completions", json={"model": "glm-4-6", "prompt": foreign, "max_tokens": 3}
    )
    assert resp.status == 200
    body = await resp.json()
    assert body["usage"]["prompt_tokens"] == 4


@pytest.mark.parametrize("stream", [False, True])
async def test_stop_sequence_finishes_with_stop(
    http: aiohttp.ClientSession, stream: bool, payloads: Any
) -> None:
    request = {"model": "glm-4-6", "prompt": "p", "max_tokens": 400, "stop": ["."]}
    resp = await http.post("/oa/v1/completions", json={**request, "stream": stream})
    if stream:
        chunks = payloads(await resp.text())
        text = "".join(c["choices"][0]["text"] for c in chunks)
        reason = chunks[-1]["choices"][0]["finish_reason"]
    else:
        choice = (await resp.json())["choices"][0]
        text, reason = choice["text"], choice["finish_reason"]
    assert reason == "stop"
    assert text
    assert "." not in text


async def test_stop_as_single_string(http: aiohttp.ClientSession) -> None:
    resp = await http.post(
        "/oa/v1/completions",
        json={"model": "glm-4-6", "prompt": "p", "max_tokens": 400, "stop": "\n"},
    )
    choice = (await resp.json())["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert "\n" not in choice["text"]


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_chat_non_stream(http: aiohttp.ClientSession, prefix: str) -> None:
    resp = await http.post(
        f"{prefix}/chat/completions", json={"model": "glm-4-6", "messages": CHAT, "max_tokens": 9}
    )
    assert resp.status == 200
    body = ChatCompletionResponse.model_validate(await resp.json())
    assert body.object == "chat.completion"
    choice = body.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content
    assert choice.token_ids is not None
    assert len(choice.token_ids) == 9
    assert body.usage is not None
    assert body.usage.prompt_tokens > 0


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_chat_stream(http: aiohttp.ClientSession, prefix: str, payloads: Any) -> None:
    request = {"model": "glm-4-6", "messages": CHAT, "max_tokens": 7}
    plain = await (await http.post(f"{prefix}/chat/completions", json=request)).json()
    resp = await http.post(f"{prefix}/chat/completions", json={**request, "stream": True})
    chunks = [ChatCompletionChunk.model_validate(p) for p in payloads(await resp.text())]
    assert [c.object for c in chunks] == ["chat.completion.chunk"] * 7
    assert chunks[0].choices[0].delta.role == "assistant"
    assert (
        "".join(c.choices[0].delta.content or "" for c in chunks)
        == (plain["choices"][0]["message"]["content"])
    )
    assert chunks[-1].choices[0].finish_reason == "length"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 7


async def test_models_are_labelled_simulated(http: aiohttp.ClientSession) -> None:
    for prefix in PREFIXES:
        resp = await http.get(f"{prefix}/models")
        listing = ModelList.model_validate(await resp.json())
        ids = {m.id for m in listing.data}
        assert {"glm-4-6", "llama-3-erato-v1", "kayra-v1"} <= ids
        assert all(m.owned_by == "nai-script-simulator" for m in listing.data)
        assert all("SIMULATED" in str(m.model_extra) for m in listing.data)


async def test_token_count_prompt_and_messages(http: aiohttp.ClientSession) -> None:
    tokenizer = load_sim_tokenizer()
    resp = await http.post(
        "/oa/v1/internal/token-count", json={"model": "glm-4-6", "prompt": "Hello there"}
    )
    assert resp.status == 200
    assert (await resp.json()) == {"count": len(tokenizer.encode("Hello there"))}
    resp = await http.post(
        "/oa/v1/internal/token-count", json={"model": "glm-4-6", "messages": CHAT}
    )
    assert (await resp.json())["count"] > 0
    resp = await http.post("/oa/v1/internal/token-count", json={"model": "glm-4-6"})
    assert resp.status == 400
    assert "exactly one of 'prompt' or 'messages'" in (await resp.json())["message"]


@pytest.mark.parametrize(
    ("path", "body", "fragment"),
    [
        ("/oa/v1/completions", {"prompt": "x"}, "model: Field required"),
        ("/oa/v1/completions", {"model": "glm-4-6"}, "prompt: Field required"),
        (
            "/oa/v1/completions",
            {"model": "glm-4-6", "prompt": "x", "max_tokens": 5000},
            "max_tokens: 5000 is out of range",
        ),
        (
            "/oa/v1/completions",
            {"model": "glm-4-6", "prompt": "x", "max_tokens": 0},
            "max_tokens: 0 is out of range",
        ),
        (
            "/oa/v1/completions",
            {"model": "glm-4-6", "prompt": "x", "max_tokens": -1},
            "max_tokens:",
        ),
        ("/oa/v1/completions", {"model": "glm-4-6", "prompt": "x", "top_p": 3}, "top_p:"),
        (
            "/oa/v1/completions",
            {"model": "no-such-model", "prompt": "x"},
            "model: unknown model 'no-such-model'",
        ),
        ("/v1/chat/completions", {"model": "glm-4-6", "messages": []}, "messages:"),
        (
            "/v1/chat/completions",
            {"model": "glm-4-6", "messages": [{"role": "bot", "content": "x"}]},
            "messages.0.role",
        ),
        ("/oa/v1/completions", [1, 2], "body: expected a JSON object"),
    ],
)
async def test_bad_requests_are_400_naming_the_field(
    http: aiohttp.ClientSession, path: str, body: Any, fragment: str
) -> None:
    resp = await http.post(path, json=body)
    assert resp.status == 400
    error = await resp.json()
    assert error["statusCode"] == 400
    assert fragment in error["message"]


async def test_malformed_json_is_400(http: aiohttp.ClientSession) -> None:
    resp = await http.post("/oa/v1/completions", data=b"{not json")
    assert resp.status == 400
    assert (await resp.json())["message"].startswith("body: not valid JSON")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer nope"},
    ],
)
@pytest.mark.parametrize(
    "path",
    [
        "/oa/v1/completions",
        "/v1/chat/completions",
        "/ai/generate",
        "/ai/generate-stream",
        "/oa/v1/internal/token-count",
    ],
)
async def test_generation_paths_need_a_bearer_token(
    sim: SimServer, headers: dict[str, str], path: str
) -> None:
    async with aiohttp.ClientSession(base_url=sim.base_url, headers=headers) as session:
        resp = await session.post(path, json={"model": "glm-4-6", "prompt": "x"})
        assert resp.status == 401
        body = await resp.json()
        assert body["statusCode"] == 401
        assert body["message"].startswith("Unauthorized")


async def test_unknown_path_and_method_are_novelai_errors(http: aiohttp.ClientSession) -> None:
    resp = await http.get("/nope")
    assert resp.status == 404
    assert await resp.json() == {"statusCode": 404, "message": "Not Found"}
    resp = await http.get("/oa/v1/completions")
    assert resp.status == 405
    assert (await resp.json())["statusCode"] == 405


async def test_accept_unknown_models_setting(sim: SimServer, http: aiohttp.ClientSession) -> None:
    sim.settings.accept_unknown_models = True
    resp = await http.post(
        "/v1/completions", json={"model": "local-llama", "prompt": "x", "max_tokens": 2}
    )
    assert resp.status == 200


@pytest.mark.parametrize("model", ["glm-4-6", "llama-3-erato-v1"])
async def test_chat_prompt_tokens_follow_the_models_chat_template(
    http: aiohttp.ClientSession, model: str
) -> None:
    expected = len(load_sim_tokenizer().encode(apply_chat_template(model, CHAT)))
    resp = await http.post(
        "/oa/v1/chat/completions", json={"model": model, "messages": CHAT, "max_tokens": 2}
    )
    assert (await resp.json())["usage"]["prompt_tokens"] == expected
    resp = await http.post("/oa/v1/internal/token-count", json={"model": model, "messages": CHAT})
    assert (await resp.json())["count"] == expected


async def test_chat_for_an_accepted_unknown_model_counts_contents(
    sim: SimServer, http: aiohttp.ClientSession
) -> None:
    sim.settings.accept_unknown_models = True
    tokenizer = load_sim_tokenizer()
    expected = sum(len(tokenizer.encode(m["content"])) for m in CHAT)
    resp = await http.post(
        "/v1/chat/completions", json={"model": "local-llama", "messages": CHAT, "max_tokens": 2}
    )
    assert (await resp.json())["usage"]["prompt_tokens"] == expected


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/oa/v1/completions", '{"model": "glm-4-6", "prompt": "a \\ud800 b", "max_tokens": 3}'),
        (
            "/oa/v1/chat/completions",
            '{"model": "glm-4-6", "max_tokens": 3,'
            ' "messages": [{"role": "user", "content": "\\udfff"}]}',
        ),
    ],
)
async def test_an_unpaired_surrogate_is_a_400_not_a_500(
    http: aiohttp.ClientSession, path: str, body: str
) -> None:
    resp = await http.post(path, data=body, headers={"Content-Type": "application/json"})
    assert resp.status == 400
    assert "unpaired surrogate" in (await resp.json())["message"]


async def test_a_paired_surrogate_escape_is_text(http: aiohttp.ClientSession) -> None:
    body = '{"model": "glm-4-6", "prompt": "emoji \\ud83d\\ude00", "max_tokens": 3}'
    resp = await http.post("/oa/v1/completions", data=body)
    assert resp.status == 200
