"""NovelAI's native text generation: ``POST /ai/generate`` and ``/ai/generate-stream``.

Input is base64 token ids (little-endian, width per model) or text with
``parameters.use_string``. Ids the simulator's vocabulary does not cover are opaque: they are
counted and seeded on, never decoded, so a foreign vocabulary cannot crash it. Answers carry
the simulator's own ids. Status is 200 or 201 by model, as NovelAI's two hosts answer.
"""

from __future__ import annotations

from collections.abc import Iterator

from aiohttp import web

from nai_script.client.models import GenerateRequest, GenerateResponse, NewTokenEvent
from nai_script.sim.auth import require_bearer
from nai_script.sim.errors import SimHTTPError, parse_body, read_json_object
from nai_script.sim.generation import generation_seed, resolve_model, serve_generation
from nai_script.sim.prose import Generation
from nai_script.sim.state import SimState, state_of
from nai_script.sim.streaming import sse_event
from nai_script.sim.tokens import TokenCodecError, decode_token_ids, encode_token_ids


def register(app: web.Application, state: SimState) -> None:
    app.router.add_post("/ai/generate", generate)
    app.router.add_post("/ai/generate-stream", generate_stream)


async def generate(request: web.Request) -> web.StreamResponse:
    return await _serve(request, stream=False)


async def generate_stream(request: web.Request) -> web.StreamResponse:
    return await _serve(request, stream=True)


async def _serve(request: web.Request, *, stream: bool) -> web.StreamResponse:
    state = state_of(request)
    token = require_bearer(request, state)
    req = parse_body(GenerateRequest, await read_json_object(request))
    model = resolve_model(state, req.model)
    params = req.parameters
    if params.min_length > params.max_length:
        raise SimHTTPError(
            400,
            f"parameters.min_length: {params.min_length} exceeds "
            f"parameters.max_length {params.max_length}",
        )
    if not params.use_string:
        try:
            decode_token_ids(req.input, model.id)  # validated and counted, never decoded
        except TokenCodecError as exc:
            raise SimHTTPError(400, str(exc)) from None
    seed = generation_seed(state, model.id, req.input, params.seed)
    stop_ids = params.stop_sequences or []

    def produce() -> Generation:
        return state.prose.generate(seed, params.max_length, stop_ids=stop_ids)

    def wire_token(ids: list[int], text: str) -> str:
        return text if params.use_string else encode_token_ids(ids, model.id)

    def frames(generation: Generation) -> Iterator[bytes]:
        last = len(generation.tokens) - 1
        for index, tok in enumerate(generation.tokens):
            event = NewTokenEvent(
                token=wire_token([tok.id], tok.text), ptr=index, final=index == last
            )
            yield sse_event("newToken", index + 1, event.model_dump(mode="json"))

    def body(generation: Generation) -> dict[str, object]:
        output = wire_token(generation.token_ids, generation.text)
        return GenerateResponse(output=output).to_wire()

    return await serve_generation(
        request,
        state,
        token,
        stream=stream,
        status=model.generate_status,
        produce=produce,
        frames=frames,
        body=body,
    )
