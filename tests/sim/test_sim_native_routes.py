"""/ai/generate and /ai/generate-stream: token codecs, status by model, SSE events."""

from __future__ import annotations

import base64
import json
import struct
from typing import Any

import aiohttp
import pytest

from nai_script.client.codec import pack_token_ids, unpack_token_ids
from nai_script.client.models import NewTokenEvent
from nai_script.sim.tokens import load_sim_tokenizer


def _request(model: str, input_: str, **params: Any) -> dict[str, Any]:
    return {"model": model, "input": input_, "parameters": params}


@pytest.mark.parametrize(
    ("model", "status"),
    [("kayra-v1", 200), ("llama-3-erato-v1", 200), ("clio-v1", 201), ("krake-v2", 201)],
)
@pytest.mark.parametrize("path", ["/ai/generate", "/ai/generate-stream"])
async def test_status_follows_the_host_that_serves_the_model(
    http: aiohttp.ClientSession, model: str, status: int, path: str
) -> None:
    resp = await http.post(path, json=_request(model, "Hi", use_string=True, max_length=3))
    assert resp.status == status
    await resp.read()


async def test_uint16_input_and_output(http: aiohttp.ClientSession) -> None:
    tokenizer = load_sim_tokenizer()
    ids = tokenizer.encode("The harbor was quiet")
    raw = base64.b64encode(struct.pack(f"<{len(ids)}H", *ids)).decode()
    resp = await http.post("/ai/generate", json=_request("kayra-v1", raw, max_length=10))
    assert resp.status == 200
    out = base64.b64decode((await resp.json())["output"])
    assert len(out) == 20  # ten little-endian uint16 ids
    out_ids = list(struct.unpack("<10H", out))
    assert all(0 <= i < tokenizer.vocab_size for i in out_ids)
    assert tokenizer.decode(out_ids).strip()


async def test_uint32_for_erato(http: aiohttp.ClientSession) -> None:
    ids = [128000, 70000, 5]  # beyond uint16, as Llama-3's vocabulary needs
    raw = base64.b64encode(struct.pack("<3I", *ids)).decode()
    resp = await http.post("/ai/generate", json=_request("llama-3-erato-v1", raw, max_length=6))
    assert resp.status == 200
    out = base64.b64decode((await resp.json())["output"])
    assert len(out) == 24
    assert unpack_token_ids((await resp.json())["output"], 4) == list(struct.unpack("<6I", out))


async def test_foreign_ids_are_opaque_and_deterministic(http: aiohttp.ClientSession) -> None:
    foreign = pack_token_ids([65535, 60000, 9], 2)  # far beyond the simulator's vocabulary
    first = await http.post("/ai/generate", json=_request("clio-v1", foreign, max_length=5))
    second = await http.post("/ai/generate", json=_request("clio-v1", foreign, max_length=5))
    assert first.status == 201
    assert (await first.json()) == (await second.json())


async def test_use_string_non_stream_returns_text(http: aiohttp.ClientSession) -> None:
    resp = await http.post(
        "/ai/generate", json=_request("kayra-v1", "Once", use_string=True, max_length=12)
    )
    output = (await resp.json())["output"]
    assert isinstance(output, str)
    assert len(load_sim_tokenizer().encode(output)) <= 12
    assert output.strip()


@pytest.mark.parametrize("use_string", [True, False])
async def test_stream_events_match_novelai_framing(
    http: aiohttp.ClientSession, sse: Any, use_string: bool
) -> None:
    input_ = "Hello" if use_string else pack_token_ids([1, 2, 3], 2)
    request = _request("kayra-v1", input_, use_string=use_string, max_length=8)
    plain = (await (await http.post("/ai/generate", json=request)).json())["output"]
    resp = await http.post("/ai/generate-stream", json=request)
    assert resp.headers["Content-Type"] == "text/event-stream"
    raw = await resp.text()
    events = sse(raw)
    assert len(events) == 8
    for index, event in enumerate(events):
        assert list(event) == ["event", "id", "data"]
        assert event["event"] == "newToken"
        assert event["id"] == str(index + 1)
        data = json.loads(event["data"])
        assert set(data) == {"token", "ptr", "final", "logprobs"}
        parsed = NewTokenEvent.model_validate(data)
        assert parsed.ptr == index
        assert parsed.final is (index == 7)
    tokens = [json.loads(e["data"])["token"] for e in events]
    if use_string:
        assert "".join(tokens) == plain
    else:
        ids = [i for t in tokens for i in unpack_token_ids(t, 2)]
        assert ids == unpack_token_ids(plain, 2)


async def test_stop_sequences_of_ids(http: aiohttp.ClientSession) -> None:
    request = _request("kayra-v1", pack_token_ids([7, 8], 2), max_length=60)
    full = unpack_token_ids(
        (await (await http.post("/ai/generate", json=request)).json())["output"], 2
    )
    request["parameters"]["stop_sequences"] = [full[10:12]]
    stopped = unpack_token_ids(
        (await (await http.post("/ai/generate", json=request)).json())["output"], 2
    )
    assert stopped == full[: len(stopped)]
    assert stopped[-2:] == full[10:12]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (_request("kayra-v1", "AA=="), "input: token id bytes (1) are not a multiple"),
        (_request("llama-3-erato-v1", "AAEC"), "input: token id bytes (3) are not a multiple"),
        (_request("kayra-v1", "!!!"), "input: token ids are not valid base64"),
        (_request("kayra-v1", "x", use_string=True, max_length=9999), "parameters.max_length"),
        (_request("kayra-v1", "x", use_string=True, max_length=0), "parameters.max_length"),
        (
            _request("kayra-v1", "x", use_string=True, max_length=5, min_length=9),
            "parameters.min_length",
        ),
        ({"model": "kayra-v1"}, "input: Field required"),
        (_request("gpt-5", "x", use_string=True), "model: unknown model 'gpt-5'"),
    ],
)
async def test_bad_native_requests_are_400(
    http: aiohttp.ClientSession, body: dict[str, Any], fragment: str
) -> None:
    resp = await http.post("/ai/generate", json=body)
    assert resp.status == 400
    error = await resp.json()
    assert error["statusCode"] == 400
    assert fragment in error["message"]
