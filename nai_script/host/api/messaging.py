"""``messaging.send/broadcast/onMessage/unsubscribe`` between the scripts of one host.

A handler gets one object ``{data, fromScriptId}``. Delivery is a host task per receiving
handler, so ``send`` returns once delivery has started (two scripts messaging each other from
their handlers cannot deadlock); the number of handlers reached is the result.
"""

from __future__ import annotations

from typing import Any

from nai_script.host.dispatch import REQUIRED, ApiFailure, ApiUsageError, CallContext, Route
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


async def _send(ctx: CallContext) -> int:
    bound = ctx.bind(("toScriptId", REQUIRED), ("data", None))
    data = _data(bound["data"], "messaging.send data")
    if not isinstance(bound["toScriptId"], str):
        raise ApiUsageError(
            f"messaging.send toScriptId: must be a script id string, got {bound['toScriptId']!r}"
        )
    target = ctx.host.script_by_id(bound["toScriptId"])
    if target is None:
        raise ApiFailure(f"messaging.send: no loaded script has id {bound['toScriptId']!r}")
    return ctx.host.deliver_message(ctx.script, [target], data)


async def _broadcast(ctx: CallContext) -> int:
    data = _data(ctx.bind(("data", None))["data"], "messaging.broadcast data")
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
    subscription = ctx.bind(("subscriptionIndex", REQUIRED))["subscriptionIndex"]
    return ctx.script.subscriptions.pop(subscription, None) is not None


ROUTES: dict[str, Route] = {
    "v1.messaging.send": _send,
    "v1.messaging.broadcast": _broadcast,
    "v1.messaging.onMessage": _on_message,
    "v1.messaging.unsubscribe": _unsubscribe,
}
