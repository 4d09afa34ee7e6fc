"""OpenAI-like text endpoints, under ``/oa/v1`` (NovelAI) and ``/v1`` (OpenAI clients):
completions, chat completions (SSE or single body), models, token counting."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from aiohttp import web

from nai_script.client.models import (
    ChatChoice,
    ChatChunkChoice,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatCompletionResponse,
    ChatDelta,
    ChatMessage,
    ChatResponseMessage,
    CompletionChoice,
    CompletionChunk,
    CompletionRequest,
    CompletionResponse,
    ModelInfo,
    ModelList,
    TokenCountRequest,
    TokenCountResponse,
    Usage,
    WireModel,
)
from nai_script.sim.auth import require_bearer
from nai_script.sim.catalog import OWNED_BY, TEXT_MODELS
from nai_script.sim.errors import parse_body, read_json_object
from nai_script.sim.generation import (
    checked_max_tokens,
    generation_seed,
    resolve_model,
    serve_generation,
    stop_list,
)
from nai_script.sim.prose import GeneratedToken, Generation
from nai_script.sim.read_faults import apply_read_faults
from nai_script.sim.state import SimState, state_of
from nai_script.sim.streaming import SSE_DONE, sse_data
from nai_script.tokenizers import ChatTemplateError, TokenizerError, apply_chat_template

PREFIXES: tuple[str, ...] = ("/oa/v1", "/v1")
SIMULATED_NOTE = "SIMULATED by nai-script: pseudo-prose from a seeded word list, not a model"
_Req = TypeVar("_Req", CompletionRequest, ChatCompletionRequest, TokenCountRequest)


def register(app: web.Application, state: SimState) -> None:
    for prefix in PREFIXES:
        app.router.add_post(f"{prefix}/completions", completions)
        app.router.add_post(f"{prefix}/chat/completions", chat_completions)
        app.router.add_get(f"{prefix}/models", models)
        app.router.add_post(f"{prefix}/internal/token-count", token_count)


def _usage(prompt_tokens: int, generation: Generation) -> Usage:
    completion = len(generation.tokens)
    return Usage(
        prompt_tokens=prompt_tokens,
        completion_tokens=completion,
        total_tokens=prompt_tokens + completion,
    )


async def _accept(request: web.Request, kind: type[_Req]) -> tuple[SimState, str, _Req]:
    """Auth, then the body as ``kind``, then its model: the checks every text route makes."""
    state = state_of(request)
    token = require_bearer(request, state)
    req = parse_body(kind, await read_json_object(request))
    resolve_model(state, req.model)
    return state, token, req


def prompt_token_count(state: SimState, prompt: str | list[int]) -> int:
    if isinstance(prompt, list):
        return len(prompt)  # ids are opaque (maybe a foreign vocabulary): they only count
    return len(state.tokenizer.encode(prompt))


def chat_token_count(state: SimState, model: str, messages: list[ChatMessage]) -> int:
    """Chat prompts count as the model's chat template renders them (so the host's prefix-cache
    accounting and ``usage.prompt_tokens`` agree); models without a template (unknown ids the
    simulator was told to accept) count as the sum of the contents' tokens."""
    try:
        text = apply_chat_template(model, [m.model_dump() for m in messages])
    except (LookupError, TokenizerError, ChatTemplateError):
        return sum(len(state.tokenizer.encode(m.content)) for m in messages)
    return len(state.tokenizer.encode(text))


async def completions(request: web.Request) -> web.StreamResponse:
    state, token, req = await _accept(request, CompletionRequest)
    return await _serve_text(
        request,
        state,
        token,
        req,
        prompt_tokens=prompt_token_count(state, req.prompt),
        prompt_key=req.prompt,
        id_prefix="cmpl",
        chunk_type=CompletionChunk,
        chunk_choice=lambda index, tok, finish: CompletionChoice(
            text=tok.text, token_ids=[tok.id], finish_reason=finish
        ),
        answer_type=CompletionResponse,
        answer_choice=lambda generation: CompletionChoice(
            text=generation.text,
            token_ids=generation.token_ids,
            finish_reason=generation.finish_reason,
        ),
    )


async def chat_completions(request: web.Request) -> web.StreamResponse:
    state, token, req = await _accept(request, ChatCompletionRequest)
    return await _serve_text(
        request,
        state,
        token,
        req,
        prompt_tokens=chat_token_count(state, req.model, req.messages),
        prompt_key=[(m.role, m.content) for m in req.messages],
        id_prefix="chatcmpl",
        chunk_type=ChatCompletionChunk,
        chunk_choice=lambda index, tok, finish: ChatChunkChoice(
            delta=ChatDelta(role="assistant" if index == 0 else None, content=tok.text),
            token_ids=[tok.id],
            finish_reason=finish,
        ),
        answer_type=ChatCompletionResponse,
        answer_choice=lambda generation: ChatChoice(
            message=ChatResponseMessage(role="assistant", content=generation.text),
            token_ids=generation.token_ids,
            finish_reason=generation.finish_reason,
        ),
    )


async def _serve_text(
    request: web.Request,
    state: SimState,
    token: str,
    req: CompletionRequest | ChatCompletionRequest,
    *,
    prompt_tokens: int,
    prompt_key: object,
    id_prefix: str,
    chunk_type: Callable[..., WireModel],
    chunk_choice: Callable[[int, GeneratedToken, str | None], WireModel],
    answer_type: Callable[..., WireModel],
    answer_choice: Callable[[Generation], WireModel],
) -> web.StreamResponse:
    """What completions and chat completions share; they differ only in their choice shapes
    (``chunk_choice`` gets the token's index, the token and the finish reason of the last)."""
    max_tokens = checked_max_tokens(req.max_tokens)
    stops = stop_list(req.stop)
    seed = generation_seed(state, req.model, prompt_key, req.seed)
    answer_id = state.next_id(id_prefix)
    created = int(time.time())

    def produce() -> Generation:
        return state.prose.generate(seed, max_tokens, stops)

    def frames(generation: Generation) -> Iterator[bytes]:
        last = len(generation.tokens) - 1
        for index, tok in enumerate(generation.tokens):
            final = index == last
            chunk = chunk_type(
                id=answer_id,
                created=created,
                model=req.model,
                choices=[chunk_choice(index, tok, generation.finish_reason if final else None)],
                usage=_usage(prompt_tokens, generation) if final else None,
            )
            yield sse_data(chunk)

    def body(generation: Generation) -> dict[str, object]:
        return answer_type(
            id=answer_id,
            created=created,
            model=req.model,
            choices=[answer_choice(generation)],
            usage=_usage(prompt_tokens, generation),
        ).to_wire()

    return await serve_generation(
        request,
        state,
        token,
        stream=req.stream,
        status=200,
        produce=produce,
        frames=frames,
        body=body,
        trailer=SSE_DONE,
    )


async def models(request: web.Request) -> web.Response:
    await apply_read_faults(request, state_of(request))
    listing = ModelList(
        data=[
            ModelInfo(id=model_id, owned_by=OWNED_BY, description=SIMULATED_NOTE)
            for model_id in TEXT_MODELS
        ]
    )
    return web.json_response(listing.to_wire())


async def token_count(request: web.Request) -> web.Response:
    await apply_read_faults(request, state_of(request))
    state, _, req = await _accept(request, TokenCountRequest)
    if req.messages is not None:
        count = chat_token_count(state, req.model, req.messages)
    else:
        assert req.prompt is not None  # the model validator guarantees exactly one input
        count = prompt_token_count(state, req.prompt)
    return web.json_response(TokenCountResponse(count=count).to_wire())
