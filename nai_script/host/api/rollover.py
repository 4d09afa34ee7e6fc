"""``createRolloverHelper({maxTokens, rolloverTokens, model})``: a remote object whose methods
have NovelAI's names (``add`` async, the rest sync) over ``host.rollover.RolloverHelper``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nai_script.host.api.tokens import encode_text
from nai_script.host.dispatch import (
    REQUIRED,
    ApiFailure,
    ApiUsageError,
    CallContext,
    HostObject,
    Route,
    first_validation_problem,
)
from nai_script.host.rollover import RolloverFull, RolloverHelper
from nai_script.tokenizers import TokenizerError, UnknownModelError
from sandbox.protocol import RemoteObject

METHODS: dict[str, Any] = {
    "add": "async",
    "read": "sync",
    "peek": "sync",
    "getAll": "sync",
    "totalTokens": "sync",
    "count": "sync",
    "remove": "sync",
    "clear": "sync",
    "compact": "sync",
    "getConfig": "sync",
}


class RolloverOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    maxTokens: int = Field(gt=0, strict=True)  # strict: ``True`` is not a token count
    rolloverTokens: int = Field(default=0, ge=0, strict=True)
    model: str = Field(min_length=1)


class RolloverObject(HostObject):
    """The host side of one helper a script created."""

    label = "rolloverHelper"

    def __init__(self, helper: RolloverHelper) -> None:
        self.helper = helper

    async def api_add(self, ctx: CallContext) -> None:
        items = ctx.bind(("item", REQUIRED))["item"]
        if not isinstance(items, Mapping | list | str):
            raise ApiUsageError(
                "rolloverHelper.add item: must be a string, an item {content, tokens?} or a "
                f"list of them, got {type(items).__name__}"
            )
        try:
            await self.helper.add(items)
        except ApiUsageError:
            raise  # already names the argument (too much text to tokenize)
        except RolloverFull as error:
            raise ApiFailure(f"rolloverHelper.add: {error}") from None
        except (TypeError, ValueError) as error:
            raise ApiUsageError(f"rolloverHelper.add: {error}") from None

    async def api_read(self, ctx: CallContext) -> list[dict[str, Any]]:
        return self.helper.read()

    async def api_peek(self, ctx: CallContext) -> list[dict[str, Any]]:
        return self.helper.peek()

    async def api_getAll(self, ctx: CallContext) -> list[dict[str, Any]]:
        return self.helper.get_all()

    async def api_totalTokens(self, ctx: CallContext) -> int:
        return self.helper.total_tokens()

    async def api_count(self, ctx: CallContext) -> int:
        return self.helper.count()

    async def api_remove(self, ctx: CallContext) -> None:
        n = ctx.bind(("n", 1))["n"]
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ApiUsageError(f"rolloverHelper.remove n: must be a whole number >= 0, got {n!r}")
        self.helper.remove(n)

    async def api_clear(self, ctx: CallContext) -> None:
        self.helper.clear()

    async def api_compact(self, ctx: CallContext) -> None:
        self.helper.compact()

    async def api_getConfig(self, ctx: CallContext) -> dict[str, Any]:
        config = self.helper.get_config()
        return {
            "maxTokens": config.max_tokens,
            "rolloverTokens": config.rollover_tokens,
            "model": config.model,
        }


async def _create(ctx: CallContext) -> RemoteObject:
    raw = ctx.options("config", None)
    if raw is None:
        raw = {}
    try:
        options = RolloverOptions.model_validate(raw)
    except ValidationError as error:
        raise ApiUsageError(first_validation_problem(error, "createRolloverHelper")) from None
    tokenizers = ctx.host.tokenizers
    try:
        tokenizers.get(options.model)  # an unknown model fails here, naming the known ones
    except (TokenizerError, UnknownModelError) as error:
        raise ApiUsageError(f"createRolloverHelper.model: {error}") from None

    async def count_tokens(text: str) -> int:
        return len(await encode_text(tokenizers, options.model, text, "content"))

    helper = RolloverHelper(
        options.maxTokens,
        options.rolloverTokens,
        options.model,
        count_tokens,
        ctx.script.rollover_items,
    )
    return RemoteObject(target=RolloverObject(helper), methods=dict(METHODS))


ROUTES: dict[str, Route] = {"v1.createRolloverHelper": _create}
