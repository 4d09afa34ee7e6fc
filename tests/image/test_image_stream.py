"""``/ai/generate-image-stream``: the client against the real simulator on loopback, the event
parser on hand-made events, and ``nai-script image --stream`` as a subprocess."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from image_helpers import client_for, post_raw, run_image_cli

from nai_script.client import NovelAIClient
from nai_script.client.errors import ConcurrencyLockedError, ProtocolError, ServerError
from nai_script.client.image import build_image_request, generate_image
from nai_script.client.image_models import ImageRequestError
from nai_script.client.image_stream import (
    ImageStreamEvent,
    parse_stream_event,
    stream_body,
    stream_final_images,
    stream_image,
)
from nai_script.client.image_zip import PNG_SIGNATURE, png_size
from nai_script.client.sse import ServerSentEvent
from nai_script.sim import SimServer
from nai_script.sim.image_stream_routes import preview_steps, sigma_at


async def _events(client: NovelAIClient, **kwargs: object) -> list[ImageStreamEvent]:
    request = build_image_request("a lighthouse", **kwargs)  # type: ignore[arg-type]
    return [event async for event in stream_image(client, request)]


async def test_events_in_order_per_sample_and_final_pngs(sim: SimServer) -> None:
    async with client_for(sim) as client:
        events = await _events(client, width=128, height=64, n_samples=3, steps=10, seed=9)
    for sample in range(3):
        mine = [e for e in events if e.samp_ix == sample]
        assert [e.event_type for e in mine] == ["intermediate"] * len(preview_steps(10)) + ["final"]
        steps = [e.step_ix for e in mine]
        assert steps == sorted(steps)
        assert len(set(steps)) == len(steps)
        assert steps[-1] == 9
        sigmas = [e.sigma for e in mine[:-1]]
        assert sigmas == sorted(sigmas, reverse=True)
        assert png_size(mine[-1].image) == (128, 64)
        assert all(png_size(e.image) == (16, 8) for e in mine[:-1])  # an eighth: previews
    assert len({e.gen_id for e in events}) == 1
    finals = [e for e in events if e.is_final]
    assert [e.samp_ix for e in finals] == [0, 1, 2]
    assert events[-3:] == finals  # the batch ends with every sample's final


async def test_finals_equal_the_zip_route(sim: SimServer) -> None:
    request = build_image_request("x", characters=["a@B2"], width=64, height=128, n_samples=2)
    async with client_for(sim) as client:
        streamed = await stream_final_images(client, request)
        zipped = await generate_image(client, request)
    assert streamed == zipped
    assert all(img.startswith(PNG_SIGNATURE) for img in streamed)


async def test_one_step_has_only_a_final(sim: SimServer) -> None:
    async with client_for(sim) as client:
        events = await _events(client, width=64, height=64, steps=1)
    assert [(e.event_type, e.step_ix) for e in events] == [("final", 0)]


def test_preview_steps_and_sigma() -> None:
    assert preview_steps(28) == [0, 7, 14, 21]
    assert preview_steps(2) == [0]
    assert preview_steps(1) == []
    assert sigma_at(0, 28) > sigma_at(27, 28) > 0


def test_stream_body_sets_sse_and_refuses_msgpack() -> None:
    request = build_image_request("x", width=64, height=64)
    assert stream_body(request)["parameters"]["stream"] == "sse"
    assert "stream" not in request.wire()["parameters"]  # the request itself is untouched
    msgpack = build_image_request("x", width=64, height=64, extra={"stream": "msgpack"})
    with pytest.raises(ImageRequestError, match=r"parameters\.stream: 'msgpack' is not supported"):
        stream_body(msgpack)
    odd = build_image_request("x", width=64, height=64, extra={"stream": "ws"})
    with pytest.raises(ImageRequestError, match=r"parameters\.stream: 'ws' is unknown"):
        stream_body(odd)


async def test_sim_refuses_msgpack_with_the_field_named(sim: SimServer) -> None:
    body = build_image_request("x", width=64, height=64).wire()
    body["parameters"]["stream"] = "msgpack"
    status, _, answer = await post_raw(sim, "/ai/generate-image-stream", body)
    assert status == 400
    assert "parameters.stream" in answer["message"]


async def test_sim_validates_like_the_zip_route(sim: SimServer) -> None:
    body = stream_body(build_image_request("x", characters=["a@B2"], width=64, height=64))
    body["parameters"]["v4_prompt"]["caption"]["char_captions"][0]["centers"] = []
    body["parameters"]["steps"] = 99
    status, _, answer = await post_raw(sim, "/ai/generate-image-stream", body)
    assert status == 500
    assert "centers" in answer["message"]
    assert "parameters.steps" in answer["message"]


async def test_concurrency_lock_holds_for_the_whole_stream(sim: SimServer) -> None:
    sim.settings.latency_ms = 300
    request = build_image_request("x", width=64, height=64)
    async with client_for(sim) as client:
        results = await asyncio.gather(
            stream_final_images(client, request),
            stream_final_images(client, request),
            generate_image(client, request),
            return_exceptions=True,
        )
    locked = [r for r in results if isinstance(r, ConcurrencyLockedError)]
    done = [r for r in results if isinstance(r, list)]
    assert len(locked) == 2
    assert len(done) == 1


@pytest.mark.parametrize("drop_after", [0, 3, 6])
async def test_drop_mid_stream_is_a_protocol_error(sim: SimServer, drop_after: int) -> None:
    sim.settings.faults = f"drop@{drop_after}"  # type: ignore[assignment]
    request = build_image_request("x", width=64, height=64, n_samples=2, steps=8)
    seen: list[ImageStreamEvent] = []

    async def consume(client: NovelAIClient) -> None:
        async for event in stream_image(client, request):
            seen.append(event)

    async with client_for(sim) as client:
        with pytest.raises(ProtocolError):
            await consume(client)
    assert len(seen) == drop_after
    # The lock was released: the next request goes through.
    sim.settings.faults = ""  # type: ignore[assignment]
    async with client_for(sim) as client:
        assert len(await stream_final_images(client, request)) == 2


def _sse(payload: object, event: str = "final") -> ServerSentEvent:
    return ServerSentEvent(event=event, data=json.dumps(payload))


def _good(**changes: object) -> dict[str, object]:
    payload: dict[str, object] = {
        "event_type": "final",
        "samp_ix": 0,
        "step_ix": 27,
        "gen_id": "g",
        "sigma": 0.0,
        "image": base64.b64encode(PNG_SIGNATURE + b"rest").decode(),
    }
    payload.update(changes)
    return payload


def test_parser_decodes_and_rejects_bad_events() -> None:
    parsed = parse_stream_event(_sse(_good(extra_field=1)), "here")
    assert parsed is not None
    assert parsed.is_final
    assert parsed.image.startswith(PNG_SIGNATURE)
    preview = parse_stream_event(
        _sse(_good(event_type="intermediate", image=base64.b64encode(b"\xff\xd8jpeg").decode())),
        "here",
    )
    assert preview is not None
    assert preview.image == b"\xff\xd8jpeg"
    assert parse_stream_event(ServerSentEvent(data=" "), "here") is None
    cases = {
        "not JSON": ServerSentEvent(data="{nope"),
        "image: missing": _sse(_good(image=None)),
        "not valid base64": _sse(_good(image="@@@")),
        "event_type": _sse(_good(event_type="middle")),
        "samp_ix": _sse(_good(samp_ix=-1)),
        "not a PNG": _sse(_good(image=base64.b64encode(b"\xff\xd8jpeg").decode())),
    }
    for expected, event in cases.items():
        with pytest.raises(ProtocolError, match=expected):
            parse_stream_event(event, "here")
    with pytest.raises(ServerError, match="boom"):
        parse_stream_event(ServerSentEvent(event="error", data='{"message":"boom"}'), "here")


class _FakeSSE:
    """Hands out prepared events through the same method the client core offers."""

    def __init__(self, events: list[ServerSentEvent]) -> None:
        self.events = events
        self.sent: object = None

    async def open_sse(self, host: str, path: str, json: object) -> AsyncIterator[ServerSentEvent]:
        self.sent = json
        for event in self.events:
            yield event


async def test_stream_without_all_finals_or_with_a_stray_sample_fails() -> None:
    request = build_image_request("x", width=64, height=64, n_samples=2)
    short = _FakeSSE([_sse(_good(samp_ix=1))])
    with pytest.raises(ProtocolError, match=r"sample\(s\) 0"):
        await stream_final_images(short, request)  # type: ignore[arg-type]
    assert short.sent["parameters"]["stream"] == "sse"  # type: ignore[index]
    stray = _FakeSSE([_sse(_good(samp_ix=2))])
    with pytest.raises(ProtocolError, match="samp_ix 2"):
        await stream_final_images(stray, request)  # type: ignore[arg-type]


def test_cli_stream_shows_progress_and_writes_pngs(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_image_cli(
        "--prompt",
        "a lighthouse",
        "--stream",
        "--size",
        "128x64",
        "--samples",
        "2",
        "--steps",
        "8",
        "--seed",
        "31",
        "--out",
        str(out),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["31_0.png", "31_1.png"]
    assert all(png_size((out / n).read_bytes()) == (128, 64) for n in ("31_0.png", "31_1.png"))
    assert "sample 1/2: step 1/8" in result.stderr
    assert "sample 2/2: done" in result.stderr
    assert "[2/2] wrote" in result.stderr


def test_cli_stream_dry_run_shows_the_stream_field(tmp_path: Path) -> None:
    result = run_image_cli("--prompt", "p", "--stream", "--seed", "3", "--dry-run", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["parameters"]["stream"] == "sse"
