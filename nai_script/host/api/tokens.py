"""``tokenizer.encode/decode``, ``maxTokens(model)`` and ``rolloverTokens(model)`` (async)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nai_script.host.dispatch import REQUIRED, ApiFailure, ApiUsageError, CallContext, Route
from nai_script.tokenizers import (
    TokenizerError,
    TokenizerUnavailableError,
    UnknownModelError,
    context_size,
    rollover_tokens,
)


def model_name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ApiUsageError(f"{what}: must be a model id string, got {value!r}")
    return value


def _tokenizer_errors(ctx: CallContext, argument: str, error: Exception) -> Exception:
    """An unknown model or what the tokenizer refuses is the script's mistake (naming the
    argument); a tokenizer the host cannot load is not."""
    if isinstance(error, TokenizerUnavailableError):
        return ApiFailure(f"{ctx.label}: {error}")
    which = "model" if isinstance(error, UnknownModelError) else argument
    return ApiUsageError(f"{ctx.label} {which}: {error}")


async def _encode(ctx: CallContext) -> list[int]:
    bound = ctx.bind(("text", REQUIRED), ("model", REQUIRED))
    if not isinstance(bound["text"], str):
        raise ApiUsageError("tokenizer.encode text: must be a string")
    model = model_name(bound["model"], "tokenizer.encode model")
    try:
        return ctx.host.tokenizers.encode(model, bound["text"])
    except (TokenizerError, UnknownModelError) as error:
        raise _tokenizer_errors(ctx, "text", error) from None


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
    except (TokenizerError, UnknownModelError, ValueError, OverflowError) as error:
        raise _tokenizer_errors(ctx, "tokens", error) from None


def _per_model(name: str, value: Callable[[str, int], int]) -> Route:
    """``maxTokens(model)`` / ``rolloverTokens(model)``: a number for the model at the host's
    tier; an unknown model is a usage error naming the call."""

    async def route(ctx: CallContext) -> int:
        model = model_name(ctx.bind(("model", REQUIRED))["model"], f"{name} model")
        try:
            return value(model, ctx.host.tier)
        except (TokenizerError, UnknownModelError) as error:
            raise ApiUsageError(f"{name} model: {error}") from None

    return route


ROUTES: dict[str, Route] = {
    "v1.tokenizer.encode": _encode,
    "v1.tokenizer.decode": _decode,
    "v1.maxTokens": _per_model("maxTokens", context_size),
    "v1.rolloverTokens": _per_model("rolloverTokens", rollover_tokens),
}
