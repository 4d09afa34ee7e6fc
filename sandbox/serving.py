"""Turning a worker's ``api_call`` frame into the ``ApiCall`` a host handler sees, and the
handler's result or exception into the reply the script gets.

The worker is untrusted, so the call is checked against the script's api description (a known
function, called sync or async as declared) or its registry of remote objects first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from sandbox.api_schema import ApiDescription, blocks
from sandbox.invoke_order import serving_reply
from sandbox.protocol import (
    ApiCall,
    ApiCallMessage,
    RemoteRegistry,
    from_wire,
    reply_message,
)

#: Handler exceptions the script sees under their own names; anything else is an ``ApiError``.
_ERROR_TYPES = {TypeError: "TypeError", ValueError: "ValueError"}


def api_call_of(
    message: ApiCallMessage, *, script_name: str, api: ApiDescription, remotes: RemoteRegistry
) -> ApiCall:
    """The validated call; ``ValueError`` names what the script got wrong."""
    remote = None
    if message.remote is not None:
        remote = remotes.get(message.remote)
        if remote is None:
            raise ValueError(f"unknown remote object {message.remote}")
    else:
        kind = api.kind_of(message.path)
        if kind is None:
            raise ValueError(f"api has no function {message.path!r}")
        if blocks(kind) != message.sync:
            raise ValueError(f"{message.path} is {kind}")
    return ApiCall(
        script_name=script_name,
        call_id=message.id,
        path=message.path,
        remote=remote,
        method=message.method,
        sync=message.sync,
        args=from_wire(message.args, remotes),
        kwargs=from_wire(message.keywords, remotes),
    )


def error_reply(call_id: int, error: Exception) -> dict[str, object]:
    """The reply frame for a failed call: the error's text and the type the script raises."""
    etype = next(
        (name for kind, name in _ERROR_TYPES.items() if isinstance(error, kind)), "ApiError"
    )
    return reply_message(call_id, error=str(error) or type(error).__name__, error_type=etype)


async def answer(
    worker: object,
    message: ApiCallMessage,
    call: ApiCall | Exception,
    handler: Callable[[ApiCall], Awaitable[Any]],
    remotes: RemoteRegistry,
) -> dict[str, Any]:
    """The reply to ``worker``'s call: ``handler``'s result, or the error it (or resolving the
    call, ``call`` being that error) raised. Run in a task of its own: invocations the handler
    chains are recorded in its context, and the reply names the newest as ``after``."""
    order = serving_reply(worker)
    try:
        if isinstance(call, Exception):
            raise call
        reply = reply_message(message.id, value=remotes.wire(await handler(call)))
    except asyncio.CancelledError:
        raise
    except Exception as error:
        reply = error_reply(message.id, error)
    if order.after is not None:
        reply["after"] = order.after
    return reply
