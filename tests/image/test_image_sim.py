"""The client against the real simulator on loopback: images, status codes, concurrency lock."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from image_helpers import TOKEN, client_for, post_raw

from nai_script.client import ClientSettings, NovelAIClient
from nai_script.client.errors import (
    AuthenticationError,
    BadRequestError,
    ConcurrencyLockedError,
    ConnectionFailedError,
    ServerError,
)
from nai_script.client.image import build_image_request, generate_image
from nai_script.client.image_stream import stream_final_images
from nai_script.client.image_zip import png_size
from nai_script.sim import SimServer


async def test_generates_right_count_and_size(sim: SimServer) -> None:
    request = build_image_request(
        "a lighthouse", characters=["keeper@C3"], width=128, height=64, n_samples=3, seed=11
    )
    async with client_for(sim) as client:
        images = await generate_image(client, request)
    assert len(images) == 3
    assert all(png_size(img) == (128, 64) for img in images)
    assert len(set(images)) == 3  # seed, seed+1, seed+2


async def test_same_seed_same_image(sim: SimServer) -> None:
    request = build_image_request("x", width=64, height=64, seed=5, model="nai-diffusion-3")
    async with client_for(sim) as client:
        first = await generate_image(client, request)
        second = await generate_image(client, request)
    assert first == second


async def _post(sim: SimServer, body: dict[str, Any], token: str | None = TOKEN) -> tuple[int, Any]:
    status, _, answer = await post_raw(sim, "/ai/generate-image", body, token)
    return status, answer


def _valid_body() -> dict[str, Any]:
    return build_image_request("x", characters=["a@B2"], width=64, height=64).wire()


async def test_status_codes(sim: SimServer) -> None:
    status, body = await _post(sim, _valid_body(), token=None)
    assert status == 401
    assert body["statusCode"] == 401

    bad = _valid_body()
    bad["parameters"]["steps"] = 99
    status, body = await _post(sim, bad)
    assert status == 400
    assert "parameters.steps" in body["message"]

    empty_centers = _valid_body()
    empty_centers["parameters"]["v4_prompt"]["caption"]["char_captions"][0]["centers"] = []
    status, body = await _post(sim, empty_centers)
    assert status == 500
    assert "centers" in body["message"]

    mismatched = _valid_body()
    mismatched["parameters"]["v4_negative_prompt"]["caption"]["char_captions"] = []
    status, body = await _post(sim, mismatched)
    assert status == 500

    outside = _valid_body()
    for key in ("v4_prompt", "v4_negative_prompt"):
        outside["parameters"][key]["caption"]["char_captions"][0]["centers"] = [
            {"x": 1.5, "y": 0.5}
        ]
    status, body = await _post(sim, outside)
    assert status == 500

    unknown_extra = _valid_body()
    unknown_extra["parameters"]["prefer_brownian"] = True
    unknown_extra["use_new_shared_trial"] = True
    status, content_type, _ = await post_raw(sim, "/ai/generate-image", unknown_extra)
    assert status == 200
    assert content_type == "application/x-zip-compressed"


@pytest.mark.parametrize("fetch", [generate_image, stream_final_images], ids=["zip", "stream"])
async def test_client_maps_errors(
    sim: SimServer, fetch: Callable[..., Awaitable[list[bytes]]]
) -> None:
    request = build_image_request("x", width=64, height=64)
    async with client_for(sim, token="not-a-pst-token") as client:
        with pytest.raises(AuthenticationError):
            await fetch(client, request)
    for fault, error in (("500", ServerError), ("429", ConcurrencyLockedError)):
        sim.settings.faults = fault  # type: ignore[assignment]
        async with client_for(sim) as client:
            with pytest.raises(error):
                await fetch(client, request)


async def test_concurrency_lock(sim: SimServer) -> None:
    sim.settings.latency_ms = 300
    request = build_image_request("x", width=64, height=64)
    async with client_for(sim) as client:
        results = await asyncio.gather(
            generate_image(client, request), generate_image(client, request), return_exceptions=True
        )
    locked = [r for r in results if isinstance(r, ConcurrencyLockedError)]
    done = [r for r in results if isinstance(r, list)]
    assert len(locked) == 1
    assert len(done) == 1
    assert "Concurrent generation is locked" in str(locked[0])


async def test_lock_is_per_token_and_can_be_off(sim: SimServer) -> None:
    sim.settings.latency_ms = 200
    request = build_image_request("x", width=64, height=64)
    async with client_for(sim) as one, client_for(sim, "pst-other") as two:
        results = await asyncio.gather(generate_image(one, request), generate_image(two, request))
    assert all(len(r) == 1 for r in results)
    sim.settings.image_concurrency_lock = False
    async with client_for(sim) as client:
        results = await asyncio.gather(
            generate_image(client, request), generate_image(client, request)
        )
    assert all(len(r) == 1 for r in results)


async def test_bad_request_error_class_for_400(sim: SimServer) -> None:
    # A request our builder would refuse, sent raw through the client, comes back as 400.
    body = _valid_body()
    body["parameters"]["n_samples"] = 9
    async with client_for(sim) as client:
        with pytest.raises(BadRequestError, match="n_samples"):
            await client.request_bytes(
                "POST", "image", "/ai/generate-image", json=body, idempotent=False
            )


@pytest.mark.parametrize("via_header", [True, False])
async def test_drop_fault_loses_the_answer(sim: SimServer, via_header: bool) -> None:
    # 'drop' on /ai/generate-image was ignored (the zip arrived): it must cut the connection,
    # and the client must not resend the generation.
    # With 'drop#1' a resent request would succeed, so the raise also shows it was not resent.
    request = build_image_request("x", width=64, height=64)
    headers = {"X-Sim-Fault": "drop"} if via_header else {}
    if not via_header:
        sim.settings.faults = "drop#1"  # type: ignore[assignment]
    settings = ClientSettings.for_base_url(sim.base_url, token=TOKEN, extra_headers=headers)
    async with NovelAIClient(settings) as client:
        with pytest.raises(ConnectionFailedError):
            await generate_image(client, request)
    async with client_for(sim) as client:  # the next request (no header, count spent) is answered
        assert len(await generate_image(client, request)) == 1


@pytest.mark.parametrize("path", ["/ai/generate-image", "/ai/generate-image-stream"])
async def test_a_refused_request_spends_no_fault(sim: SimServer, path: str) -> None:
    # As on the text routes, '#COUNT' faults are spent by requests that are served: a 400
    # before them used to eat '500#1', and the next valid request got through unharmed.
    sim.settings.faults = "500#1"  # type: ignore[assignment]
    bad = _valid_body()
    bad["parameters"]["steps"] = 99
    status, _, _ = await post_raw(sim, path, bad)
    assert status == 400
    status, _, _ = await post_raw(sim, path, _valid_body())
    assert status == 500
    status, _, _ = await post_raw(sim, path, _valid_body())
    assert status == 200
