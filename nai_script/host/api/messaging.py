"""``messaging.send/broadcast/onMessage/unsubscribe`` between the scripts of one host.

A handler gets NovelAI's ``ScriptMessage``: ``{fromScriptId, toScriptId, channel, data,
timestamp}`` (``toScriptId`` None for a broadcast, ``channel`` None when none was given); an
``onMessage`` filter ``{fromScriptId?, channel?}`` picks which messages reach it. Delivery is
a host task per receiving handler, so ``send`` returns once delivery has started (two scripts
messaging each other from their handlers cannot deadlock). ``send``, ``broadcast`` and
``unsubscribe`` resolve to None and ``onMessage`` to the subscription's number, as NovelAI's
``Promise<void>`` / ``Promise<number>``.

Bounds, since each handler gets a copy (one script subscribing many handlers to itself and
sending big messages without awaiting took a host to 656 MB): a message's data is at most
``MAX_MESSAGE_BYTES`` as JSON, a script has at most ``MAX_SUBSCRIPTIONS`` handlers, and at most
``MAX_UNDELIVERED_BYTES`` of messages may wait for one script's handlers; past it a send fails
at once, delivering nothing.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
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
from nai_script.host.script import LoadedScript, Subscription
from sandbox.protocol import CallbackHandle, RemoteObject

#: The most data one message carries, as compact JSON.
MAX_MESSAGE_BYTES = 1 << 20
#: The most ``onMessage`` handlers one script has at a time.
MAX_SUBSCRIPTIONS = 100
#: The most message bytes that may wait for one script's handlers (each handler's copy counts).
MAX_UNDELIVERED_BYTES = 32 << 20


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
    _deliver(ctx, [target], data, to_script_id=target.id, channel=channel)


async def _broadcast(ctx: CallContext) -> None:
    bound = ctx.bind(("data", None), ("channel", None))
    data = _data(bound["data"], "messaging.broadcast data")
    channel = _channel(ctx, bound["channel"])
    others = [s for s in ctx.host.scripts if s is not ctx.script]
    _deliver(ctx, others, data, channel=channel)


def _size(ctx: CallContext, data: Any) -> int:
    size = len(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_MESSAGE_BYTES:
        raise ApiUsageError(
            f"data: {size:,} bytes as JSON; a message carries at most {MAX_MESSAGE_BYTES:,}"
        )
    return size


def _deliver(
    ctx: CallContext,
    targets: list[LoadedScript],
    data: Any,
    *,
    to_script_id: str | None = None,
    channel: str | None = None,
) -> None:
    """NovelAI's ``ScriptMessage`` to every handler of ``targets`` whose filter matches, each
    in a host task of the target's; all or nothing when a target has too much waiting."""
    size = _size(ctx, data)
    sender = ctx.script
    plan = [
        (target, [s.handle for s in target.subscriptions.values() if s.wants(sender.id, channel)])
        for target in targets
    ]
    for target, handles in plan:
        if handles and target.undelivered_bytes + size * len(handles) > MAX_UNDELIVERED_BYTES:
            raise ApiFailure(
                f"{ctx.label}: script {target.id!r} has {target.undelivered_bytes:,} bytes of"
                f" messages not yet handled (at most {MAX_UNDELIVERED_BYTES:,}); await earlier"
                " sends, or send less"
            )
    message = {
        "fromScriptId": sender.id,
        "toScriptId": to_script_id,
        "channel": channel,
        "data": data,
        "timestamp": int(time.time() * 1000),
    }
    for target, handles in plan:
        for handle in handles:
            target.undelivered_bytes += size
            task = asyncio.ensure_future(
                ctx.host.invoke_callback(target, handle, [message], what="message handler")
            )
            task.add_done_callback(functools.partial(_handled, target, size))
            target.track(task)


def _handled(target: LoadedScript, size: int, _task: asyncio.Future[Any]) -> None:
    target.undelivered_bytes -= size


async def _on_message(ctx: CallContext) -> int:
    bound = ctx.bind(("callback", REQUIRED), ("filter", None))
    handle = bound["callback"]
    if not isinstance(handle, CallbackHandle):
        raise ApiUsageError("messaging.onMessage callback: must be a function")
    try:
        wanted = MessageFilter.model_validate(bound["filter"] or {})
    except ValidationError as error:
        raise ApiUsageError(first_validation_problem(error, "filter")) from None
    if len(ctx.script.subscriptions) >= MAX_SUBSCRIPTIONS:
        raise ApiFailure(
            f"messaging.onMessage: a script has at most {MAX_SUBSCRIPTIONS} message handlers;"
            " unsubscribe one first"
        )
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
