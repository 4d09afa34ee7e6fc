"""``messaging.send/broadcast/onMessage/unsubscribe`` between the scripts of one host.

A handler gets one object ``{data, fromScriptId}``. Delivery is a host task per receiving
handler, so ``send`` returns once delivery has started (two scripts messaging each other from
their handlers cannot deadlock); the number of handlers reached is the result.
"""

from __future__ import annotations

from typing import Any

from nai_script.host.dispatch import REQUIRED, ApiFailure, ApiUsageError, CallContext, Route
from sandbox.protocol import CallbackHandle


async def _send(ctx: CallContext) -> int:
    bound = ctx.bind(("toScriptId", REQUIRED), ("data", None))
    target = ctx.host.script_by_id(str(bound["toScriptId"]))
    if target is None:
        raise ApiFailure(f"messaging.send: no loaded script has id {bound['toScriptId']!r}")
    return ctx.host.deliver_message(ctx.script, [target], bound["data"])


async def _broadcast(ctx: CallContext) -> int:
    data: Any = ctx.bind(("data", None))["data"]
    others = [s for s in ctx.host.scripts if s is not ctx.script]
    return ctx.host.deliver_message(ctx.script, others, data)


async def _on_message(ctx: CallContext) -> int:
    handle = ctx.bind(("callback", REQUIRED))["callback"]
    if not isinstance(handle, CallbackHandle):
        raise ApiUsageError("messaging.onMessage callback: must be a function")
    ctx.script.next_subscription += 1
    ctx.script.subscriptions[ctx.script.next_subscription] = handle
    return ctx.script.next_subscription


async def _unsubscribe(ctx: CallContext) -> bool:
    subscription = ctx.bind(("subscriptionId", REQUIRED))["subscriptionId"]
    return ctx.script.subscriptions.pop(subscription, None) is not None


ROUTES: dict[str, Route] = {
    "v1.messaging.send": _send,
    "v1.messaging.broadcast": _broadcast,
    "v1.messaging.onMessage": _on_message,
    "v1.messaging.unsubscribe": _unsubscribe,
}
