"""The steps every text generation goes through, whatever its wire format: model lookup,
limits, seeding, faults, the concurrency lock, pacing, and stream or single answer."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from aiohttp import web

from nai_script.sim.catalog import SimModel, lookup_model, unknown_model_message
from nai_script.sim.errors import SimHTTPError
from nai_script.sim.prose import Generation, seed_from
from nai_script.sim.state import SimState
from nai_script.sim.streaming import Pacer, drop_connection, open_event_stream, send_token_frames

MAX_OUTPUT_TOKENS = 2048
DEFAULT_MAX_TOKENS = 16


def resolve_model(state: SimState, model_id: str) -> SimModel:
    model = lookup_model(model_id, accept_unknown=state.settings.accept_unknown_models)
    if model is None:
        raise SimHTTPError(400, unknown_model_message(model_id))
    return model


def checked_max_tokens(value: int | None, field: str = "max_tokens") -> int:
    """``value`` within 1..MAX_OUTPUT_TOKENS (``None`` -> the default), else a 400."""
    if value is None:
        return DEFAULT_MAX_TOKENS
    if not 1 <= value <= MAX_OUTPUT_TOKENS:
        raise SimHTTPError(400, f"{field}: {value} is out of range (1..{MAX_OUTPUT_TOKENS})")
    return value


def generation_seed(state: SimState, model_id: str, prompt: Any, request_seed: int | None) -> int:
    """Same run seed + same model + same prompt (+ request seed) -> same text."""
    return seed_from(state.settings.seed, model_id, repr(prompt), repr(request_seed))


def stop_list(stop: str | list[str] | None) -> list[str]:
    if stop is None:
        return []
    return [stop] if isinstance(stop, str) else list(stop)


async def serve_generation(
    request: web.Request,
    state: SimState,
    token: str,
    *,
    stream: bool,
    status: int,
    produce: Callable[[], Generation],
    frames: Callable[[Generation], Iterable[bytes]],
    body: Callable[[Generation], dict[str, Any]],
    trailer: bytes = b"",
) -> web.StreamResponse:
    """Apply the request's faults and the lock, then answer as a stream or a single body."""
    plan = state.plan_faults(request)
    locked = state.settings.text_concurrency_lock
    async with state.generation_slot("text", token, locked=locked):
        pacer = Pacer(state, plan)
        await pacer.first_byte()
        if plan.status is not None:
            raise SimHTTPError(plan.status, plan.message, retry_after=plan.retry_after)
        generation = produce()
        if stream:
            response = await open_event_stream(request, status)
            await send_token_frames(request, response, pacer, plan, frames(generation), trailer)
            return response
        await pacer.run_through(len(generation.tokens))
        if plan.drop_after is not None:
            raise drop_connection(request)
        return web.json_response(body(generation), status=status)
