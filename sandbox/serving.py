"""Turning a worker's ``api_call`` frame into the ``ApiCall`` a host handler sees, and a
handler's exception into the reply the script raises.

The worker is untrusted, so the call is checked against the script's api description (a known
function, called sync or async as declared) or its registry of remote objects first.
"""

from __future__ import annotations

from sandbox.api_schema import ApiDescription
from sandbox.protocol import ApiCall, ApiCallMessage, RemoteRegistry, from_wire, reply_message

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
        if (kind == "sync") != message.sync:
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
