"""``tokenizer.encode/decode``, ``maxTokens(model)`` and ``rolloverTokens(model)`` (async)."""

from __future__ import annotations

from typing import Any

from nai_script.host.dispatch import REQUIRED, ApiFailure, ApiUsageError, CallContext, Route
from nai_script.tokenizers import (
    TokenizerError,
    UnknownModelError,
    context_size,
    rollover_tokens,
)


def model_name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ApiUsageError(f"{what}: must be a model id string, got {value!r}")
    return value


async def _encode(ctx: CallContext) -> list[int]:
    bound = ctx.bind(("text", REQUIRED), ("model", REQUIRED))
    if not isinstance(bound["text"], str):
        raise ApiUsageError("tokenizer.encode text: must be a string")
    model = model_name(bound["model"], "tokenizer.encode model")
    try:
        return ctx.host.tokenizers.encode(model, bound["text"])
    except (TokenizerError, UnknownModelError) as error:
        raise ApiFailure(f"tokenizer.encode: {error}") from None


async def _decode(ctx: CallContext) -> str:
    bound = ctx.bind(("tokens", REQUIRED), ("model", REQUIRED))
    ids = bound["tokens"]
    if not isinstance(ids, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in ids
    ):
        raise ApiUsageError("tokenizer.decode tokens: must be a list of token ids (ints >= 0)")
    model = model_name(bound["model"], "tokenizer.decode model")
    try:
        return ctx.host.tokenizers.decode(model, ids)
    except (TokenizerError, ValueError, OverflowError) as error:
        raise ApiFailure(f"tokenizer.decode: {error}") from None


async def _max_tokens(ctx: CallContext) -> int:
    model = model_name(ctx.bind(("model", REQUIRED))["model"], "maxTokens model")
    try:
        return context_size(model, ctx.host.tier)
    except (TokenizerError, UnknownModelError) as error:
        raise ApiUsageError(f"maxTokens: {error}") from None


async def _rollover_tokens(ctx: CallContext) -> int:
    model = model_name(ctx.bind(("model", REQUIRED))["model"], "rolloverTokens model")
    try:
        return rollover_tokens(model, ctx.host.tier)
    except (TokenizerError, UnknownModelError) as error:
        raise ApiUsageError(f"rolloverTokens: {error}") from None


ROUTES: dict[str, Route] = {
    "v1.tokenizer.encode": _encode,
    "v1.tokenizer.decode": _decode,
    "v1.maxTokens": _max_tokens,
    "v1.rolloverTokens": _rollover_tokens,
}
