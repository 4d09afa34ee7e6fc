"""``POST /ai/generate-image-stream``: the zip route's images, reported step by step over SSE.

Same validation, auth, concurrency lock and faults as ``/ai/generate-image``. Samples are
generated as one batch, as on NovelAI: each reported step sends an ``intermediate`` event per
sample, then every sample gets its ``final`` event. Previews are small PNGs (an eighth of the
size; NovelAI sends JPEGs); finals are byte-identical to what the zip route returns for the same
request. ``drop@N`` cuts the connection after N events; only ``stream = "sse"`` is served.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import math

from aiohttp import web

from nai_script.client.image_models import ImageGenerationRequest
from nai_script.client.image_stream import GENERATE_IMAGE_STREAM_PATH
from nai_script.sim.auth import require_bearer
from nai_script.sim.errors import SimHTTPError, read_json_object
from nai_script.sim.image_routes import base_seed, parse_generation
from nai_script.sim.png import seed_picture
from nai_script.sim.state import SimState, state_of
from nai_script.sim.streaming import Pacer, drop_connection, open_event_stream, sse_event

PREVIEWS_PER_SAMPLE = 4
PREVIEW_DIVISOR = 8
_SIGMA_MAX = 14.6146
_SIGMA_MIN = 0.0292


def preview_steps(steps: int) -> list[int]:
    """The step indices reported as previews: about ``PREVIEWS_PER_SAMPLE``, never the last."""
    every = max(1, math.ceil(steps / PREVIEWS_PER_SAMPLE))
    return [step for step in range(0, steps - 1, every)]


def sigma_at(step: int, steps: int) -> float:
    """A Karras-like falling noise level, so ``sigma`` looks like NovelAI's."""
    if steps <= 1:
        return _SIGMA_MIN
    fraction = step / (steps - 1)
    return round(_SIGMA_MAX * (_SIGMA_MIN / _SIGMA_MAX) ** fraction, 4)


def _gen_id(request: ImageGenerationRequest, seed: int) -> str:
    digest = hashlib.blake2b(f"{seed}:{request.input}".encode(), digest_size=8)
    return digest.hexdigest()


def _payload(
    kind: str, sample: int, step: int, steps: int, gen_id: str, image: bytes
) -> dict[str, object]:
    return {
        "event_type": kind,
        "samp_ix": sample,
        "step_ix": step,
        "gen_id": gen_id,
        "sigma": 0.0 if kind == "final" else sigma_at(step, steps),
        "image": base64.b64encode(image).decode("ascii"),
    }


def _stream_format(body: dict[str, object]) -> None:
    params = body.get("parameters")
    wanted = params.get("stream", "sse") if isinstance(params, dict) else "sse"
    if wanted != "sse":
        raise SimHTTPError(
            400, f"parameters.stream: {wanted!r} is not supported by the simulator (only 'sse')"
        )


async def generate_image_stream(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    token = require_bearer(request, state)
    body = await read_json_object(request)
    parsed = parse_generation(body)
    _stream_format(body)
    plan = state.plan_faults(request)  # only a request that will be served spends a fault
    params = parsed.parameters
    async with state.generation_slot("image", token, locked=state.settings.image_concurrency_lock):
        pacer = Pacer(state, plan)
        await pacer.first_byte()
        if plan.status is not None:
            raise SimHTTPError(plan.status, plan.message, retry_after=plan.retry_after)
        seed = base_seed(state, parsed)
        gen_id = _gen_id(parsed, seed)
        label = parsed.model.value
        response = await open_event_stream(request)
        await pacer.first_token()
        pw = max(8, params.width // PREVIEW_DIVISOR)
        ph = max(8, params.height // PREVIEW_DIVISOR)
        sent = 0

        async def send(kind: str, sample: int, step: int, image: bytes) -> None:
            nonlocal sent
            if plan.drop_after is not None and sent >= plan.drop_after:
                raise drop_connection(request)
            payload = _payload(kind, sample, step, params.steps, gen_id, image)
            await response.write(sse_event(kind, sent, payload))
            sent += 1

        for step in preview_steps(params.steps):
            for sample in range(params.n_samples):
                preview = seed_picture(seed + sample, pw, ph, label=f"{label}:step{step}")
                await send("intermediate", sample, step, preview)
        for sample in range(params.n_samples):
            final = await asyncio.to_thread(
                seed_picture, seed + sample, params.width, params.height, label=label
            )
            await send("final", sample, params.steps - 1, final)
        if plan.drop_after is not None:
            raise drop_connection(request)
        await response.write_eof()
    return response


def register(app: web.Application, state: SimState) -> None:
    app.router.add_post(GENERATE_IMAGE_STREAM_PATH, generate_image_stream)
