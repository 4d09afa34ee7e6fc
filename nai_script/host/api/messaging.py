"""``messaging.send/broadcast/onMessage/unsubscribe`` between the scripts of one host.

A handler gets NovelAI's ``ScriptMessage``: ``{fromScriptId, toScriptId, channel, data,
timestamp}`` (``toScriptId`` None for a broadcast, ``channel`` None when none was given); an
``onMessage`` filter ``{fromScriptId?, channel?}`` picks which messages reach it. Delivery is
a host task per receiving handler, so ``send`` returns once delivery has started (two scripts
messaging each other from their handlers cannot deadlock). ``send``, ``broadcast`` and
``unsubscribe`` resolve to None and ``onMessage`` to the subscription's number, as NovelAI's
``Promise<void>`` / ``Promise<number>``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from nai_script.host.dispatch import (
    REQUIRED,
    ApiFailure,
    ApiUsageError,
    CallContext,
    Route,
    first_validation_problem,
)
from nai_script.host.script import Subscription
from sandbox.protocol import CallbackHandle, RemoteObject


def _data(value: Any, where: str) -> Any:
    """Data only, as a structured clone: a function or api object is the sender's own (its
    id means another function, or nothing, in the receiver's worker), so it cannot travel."""
    if isinstance(value, CallbackHandle | RemoteObject):
        what = "a function" if isinstance(value, CallbackHandle) else "an api object"
        raise ApiUsageError(f"{where}: cannot send {what} to another script (data only)")
    if isinstance(value, dict):
        for key, item in value.items():
            _data(item, f"{where}[{key!r}]")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _data(item, f"{where}[{index}]")
    return value


def _channel(ctx: CallContext, value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ApiUsageError(f"{ctx.label} channel: must be a string or None, got {value!r}")
    return value


class MessageFilter(BaseModel):
    """``onMessage(callback, filter)``: only messages from this script and/or channel."""

    model_config = ConfigDict(extra="forbid", strict=True)

    fromScriptId: str | None = None
    channel: str | None = None


async def _send(ctx: CallContext) -> None:
    bound = ctx.bind(("toScriptId", REQUIRED), ("data", None), ("channel", None))
    data = _data(bound["data"], "messaging.send data")
    channel = _channel(ctx, bound["channel"])
    if not isinstance(bound["toScriptId"], str):
        raise ApiUsageError(
            f"messaging.send toScriptId: must be a script id string, got {bound['toScriptId']!r}"
        )
    target = ctx.host.script_by_id(bound["toScriptId"])
    if target is None:
        raise ApiFailure(f"messaging.send: no loaded script has id {bound['toScriptId']!r}")
    ctx.host.deliver_message(ctx.script, [target], data, to_script_id=target.id, channel=channel)


async def _broadcast(ctx: CallContext) -> None:
    bound = ctx.bind(("data", None), ("channel", None))
    data = _data(bound["data"], "messaging.broadcast data")
    channel = _channel(ctx, bound["channel"])
    others = [s for s in ctx.host.scripts if s is not ctx.script]
    ctx.host.deliver_message(ctx.script, others, data, channel=channel)


async def _on_message(ctx: CallContext) -> int:
    bound = ctx.bind(("callback", REQUIRED), ("filter", None))
    handle = bound["callback"]
    if not isinstance(handle, CallbackHandle):
        raise ApiUsageError("messaging.onMessage callback: must be a function")
    try:
        wanted = MessageFilter.model_validate(bound["filter"] or {})
    except ValidationError as error:
        raise ApiUsageError(first_validation_problem(error, "filter")) from None
    ctx.script.next_subscription += 1
    ctx.script.subscriptions[ctx.script.next_subscription] = Subscription(
        handle, wanted.fromScriptId, wanted.channel
    )
    return ctx.script.next_subscription


async def _unsubscribe(ctx: CallContext) -> None:
    """An index that is not subscribed is ignored, as NovelAI does."""
    subscription = ctx.bind(("subscriptionIndex", REQUIRED))["subscriptionIndex"]
    ctx.script.subscriptions.pop(subscription, None)


ROUTES: dict[str, Route] = {
    "v1.messaging.send": _send,
    "v1.messaging.broadcast": _broadcast,
    "v1.messaging.onMessage": _on_message,
    "v1.messaging.unsubscribe": _unsubscribe,
}
