"""``tokenizer.encode/decode``, ``maxTokens(model)`` and ``rolloverTokens(model)`` (async)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from nai_script.host.dispatch import REQUIRED, ApiFailure, ApiUsageError, CallContext, Route
from nai_script.tokenizers import (
    ChatMessage,
    TokenizerError,
    TokenizerRegistry,
    TokenizerUnavailableError,
    UnknownModelError,
    apply_chat_template,
    context_size,
    rollover_tokens,
)

#: The most text one api call may have tokenized: about 300,000 tokens, more than twice the
#: largest context. A megabyte costs the tokenizer ~0.5 s and ~130 MB (off the event loop:
#: ``encode_async``); unbounded, one script's 15 MB took a host 18 s and 2.7 GB.
MAX_TOKENIZED_CHARS = 1 << 20


async def encode_text(tokenizers: TokenizerRegistry, model: str, text: str, what: str) -> list[int]:
    """A script's text as token ids, refused past ``MAX_TOKENIZED_CHARS`` (``what`` names the
    argument; the dispatcher puts the call's name first)."""
    if len(text) > MAX_TOKENIZED_CHARS:
        raise ApiUsageError(
            f"{what}: {len(text):,} characters to tokenize; one call may tokenize at most"
            f" {MAX_TOKENIZED_CHARS:,}"
        )
    return await tokenizers.encode_async(model, text)


async def encode_messages(
    tokenizers: TokenizerRegistry,
    model: str,
    messages: Sequence[ChatMessage | Mapping[str, Any]],
    what: str = "messages",
) -> list[int]:
    """A script's chat messages as the model's prompt ids (``encode_chat``, with the same
    bound as ``encode_text``)."""
    return await encode_text(tokenizers, model, apply_chat_template(model, messages), what)


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
        return await encode_text(ctx.host.tokenizers, model, bound["text"], "text")
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
