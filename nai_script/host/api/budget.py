"""``script.*``: the script's token budgets as NovelAI exposes them.

Input capacity depends on the model (2 x its context size at the account's tier). NovelAI's
calls take no model, so the input calls use the model of the script's last ``generate`` (or
the host's default model); an optional trailing ``model`` argument picks another.
"""

from __future__ import annotations

from typing import Any

from nai_script.host.api.tokens import encode_messages, model_name
from nai_script.host.dispatch import REQUIRED, ApiUsageError, CallContext, Route
from nai_script.limits import NeverFits
from nai_script.tokenizers import ChatTemplateError, TokenizerError, UnknownModelError


def _needed(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ApiUsageError(f"{what}: must be a whole number of tokens >= 0, got {value!r}")
    return value


def _model(ctx: CallContext, value: Any) -> str:
    if value is None:
        return ctx.script.last_model or ctx.host.default_model
    return model_name(value, f"{ctx.label} model")


def _capacity(ctx: CallContext, model: str) -> int:
    try:
        return ctx.host.input_capacity(model)
    except (TokenizerError, UnknownModelError) as error:
        raise ApiUsageError(f"{ctx.label} model: {error}") from None


async def _allowed_output(ctx: CallContext) -> int:
    ctx.bind()
    return ctx.host.limits.allowed_output(ctx.script.id)


async def _allowed_input(ctx: CallContext) -> int:
    model = _model(ctx, ctx.bind(("model", None))["model"])
    return ctx.host.limits.allowed_input(ctx.script.id, _capacity(ctx, model))


async def _time_output(ctx: CallContext) -> int:
    needed = _needed(ctx.bind(("minTokens", REQUIRED))["minTokens"], f"{ctx.label} minTokens")
    try:
        return ctx.host.limits.time_until_allowed_output(ctx.script.id, needed)
    except NeverFits as error:
        raise ApiUsageError(f"{ctx.label} minTokens: {error}") from None


async def _time_input(ctx: CallContext) -> int:
    bound = ctx.bind(("minTokens", REQUIRED), ("model", None))
    needed = _needed(bound["minTokens"], f"{ctx.label} minTokens")
    capacity = _capacity(ctx, _model(ctx, bound["model"]))
    try:
        return ctx.host.limits.time_until_allowed_input(ctx.script.id, needed, capacity)
    except NeverFits as error:
        raise ApiUsageError(f"{ctx.label} minTokens: {error}") from None


async def _wait_output(ctx: CallContext) -> None:
    needed = _needed(ctx.bind(("minTokens", REQUIRED))["minTokens"], f"{ctx.label} minTokens")
    try:
        await ctx.host.limits.wait_for_allowed_output(ctx.script.id, needed)
    except NeverFits as error:
        raise ApiUsageError(f"{ctx.label} minTokens: {error}") from None


async def _wait_input(ctx: CallContext) -> None:
    bound = ctx.bind(("minTokens", REQUIRED), ("model", None))
    needed = _needed(bound["minTokens"], f"{ctx.label} minTokens")
    capacity = _capacity(ctx, _model(ctx, bound["model"]))
    try:
        await ctx.host.limits.wait_for_allowed_input(ctx.script.id, needed, capacity)
    except NeverFits as error:
        raise ApiUsageError(f"{ctx.label} minTokens: {error}") from None


async def _count_uncached(ctx: CallContext) -> int:
    bound = ctx.bind(("messages", REQUIRED), ("model", None))
    model = _model(ctx, bound["model"])
    try:
        ids = await encode_messages(ctx.host.tokenizers, model, bound["messages"])
    except ChatTemplateError as error:
        raise ApiUsageError(f"{ctx.label} {error}") from None
    except (TokenizerError, UnknownModelError) as error:
        raise ApiUsageError(f"{ctx.label} model: {error}") from None
    return ctx.host.limits.count_uncached(ctx.script.id, ids)


ROUTES: dict[str, Route] = {
    "v1.script.getAllowedOutput": _allowed_output,
    "v1.script.getAllowedInput": _allowed_input,
    "v1.script.getTimeUntilAllowedOutput": _time_output,
    "v1.script.getTimeUntilAllowedInput": _time_input,
    "v1.script.waitForAllowedOutput": _wait_output,
    "v1.script.waitForAllowedInput": _wait_input,
    "v1.script.countUncachedInputTokens": _count_uncached,
}
