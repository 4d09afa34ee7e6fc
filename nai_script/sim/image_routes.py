"""``POST /ai/generate-image``: validated like NovelAI, answered with a zip of real PNGs.

Validation uses the client's own request models, so client and simulator agree by
construction. Status codes follow NovelAI: 400 for a bad value, 500 for a malformed V4 character
structure (empty ``centers``, mismatched char caption counts, out-of-range coordinates), 401
without a valid token, and 429 "Concurrent generation is locked" for a second in-flight
generation with the same token while ``image_concurrency_lock`` is on. Faults apply as to text:
``drop`` answers nothing at all (the connection closes after the images are made).
"""

from __future__ import annotations

import asyncio
import hashlib

from aiohttp import web
from pydantic import ValidationError

from nai_script.client.image import GENERATE_IMAGE_PATH
from nai_script.client.image_models import ImageGenerationRequest, describe_validation_error
from nai_script.client.image_zip import SENT_CONTENT_TYPE, pack_images
from nai_script.sim.auth import require_bearer
from nai_script.sim.errors import SimHTTPError, read_json_object
from nai_script.sim.png import seed_picture
from nai_script.sim.state import SimState, state_of
from nai_script.sim.streaming import drop_connection

_STRUCTURE_MARKERS = ("v4_prompt", "v4_negative_prompt", "char_captions", "centers")


def _status_for(problems: list[str]) -> int:
    # NovelAI's image backend crashes (500) on a bad character structure and answers 400 for
    # plain bad values; the simulator keeps that split so clients meet the same codes.
    return 500 if any(m in p for p in problems for m in _STRUCTURE_MARKERS) else 400


def parse_generation(body: dict[str, object]) -> ImageGenerationRequest:
    """Validate a request body as NovelAI does; shared with the streaming route."""
    try:
        return ImageGenerationRequest.model_validate(body)
    except ValidationError as exc:
        problems = describe_validation_error(exc)
        raise SimHTTPError(_status_for(problems), "; ".join(problems)) from None


def base_seed(state: SimState, request: ImageGenerationRequest) -> int:
    seed = request.parameters.seed
    if seed:
        return seed
    # Seed 0 means "pick one": derive it from the run seed and the prompt, so runs repeat.
    digest = hashlib.blake2b(f"{state.settings.seed}:{request.input}".encode(), digest_size=4)
    return int.from_bytes(digest.digest(), "big") % 4_294_967_295 + 1


def _render(request: ImageGenerationRequest, seed: int) -> bytes:
    params = request.parameters
    pictures = [
        seed_picture(seed + i, params.width, params.height, label=request.model.value)
        for i in range(params.n_samples)
    ]
    return pack_images(pictures)


async def generate_image(request: web.Request) -> web.Response:
    state = state_of(request)
    token = require_bearer(request, state)
    body = await read_json_object(request)
    parsed = parse_generation(body)
    plan = state.plan_faults(request)  # only a request that will be served spends a fault
    async with state.generation_slot("image", token, locked=state.settings.image_concurrency_lock):
        delay_ms = state.settings.latency_ms + plan.slow_ms
        if delay_ms:
            await state.sleep(delay_ms / 1000)
        if plan.status is not None:
            raise SimHTTPError(plan.status, plan.message, retry_after=plan.retry_after)
        seed = base_seed(state, parsed)
        archive = await asyncio.to_thread(_render, parsed, seed)
        if plan.drop_after is not None:
            # The images were made (and, on NovelAI, paid for); the answer never arrives.
            raise drop_connection(request)
    return web.Response(body=archive, content_type=SENT_CONTENT_TYPE)


def register(app: web.Application, state: SimState) -> None:
    app.router.add_post(GENERATE_IMAGE_PATH, generate_image)
