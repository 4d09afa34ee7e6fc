"""Assemble the simulator's aiohttp app from its route modules.

Each route module exposes ``register(app: web.Application, state: SimState) -> None``. Adding a
module is one line in ``ROUTE_MODULES`` (names are imported lazily, like the CLI's commands).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from typing import Protocol, cast

from aiohttp import web
from aiohttp.typedefs import Handler

from nai_script.sim.errors import SimHTTPError, error_response
from nai_script.sim.settings import SimSettings
from nai_script.sim.state import STATE_KEY, SimState
from nai_script.sim.streaming import STREAMS_OPEN, DroppedConnection, drop_connection

ROUTE_MODULES: tuple[str, ...] = (
    "text_routes",
    "native_routes",
    "user_routes",
    "image_routes",
    "image_stream_routes",
    "account_routes",
)

SIMULATOR_HEADER = "X-Simulator"
SIMULATOR_LABEL = "nai-script"

log = logging.getLogger(__name__)


class RouteModule(Protocol):
    def register(self, app: web.Application, state: SimState) -> None: ...


@web.middleware
async def novelai_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error, a bug's included, leaves as NovelAI's ``{"statusCode", "message"}``;
    drops stay drops."""
    try:
        return await handler(request)
    except SimHTTPError as exc:
        return error_response(exc.status, exc.message, retry_after=exc.retry_after)
    except (DroppedConnection, ConnectionResetError):
        # Our own ``drop`` fault, or a client that went away mid-stream (it cancelled, or its
        # reader closed): both are normal for a streaming server, not errors to log.
        return web.Response(status=499)  # never sent: the transport is already gone
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(exc.status, exc.reason)
    except Exception as exc:
        # A simulator bug still answers in NovelAI's shape, so a client sees a ServerError
        # naming the failure instead of aiohttp's text/plain page; the traceback goes to the log.
        log.exception("simulator failed on %s %s", request.method, request.path)
        if id(request) in request.app[STREAMS_OPEN]:
            # Headers (and maybe tokens) are out: a second response would corrupt the stream,
            # so end it the way a crashed server does, and the client sees a cut stream.
            drop_connection(request)
            return web.Response(status=499)  # never sent
        return error_response(500, f"Internal server error (simulator bug: {type(exc).__name__})")
    finally:
        request.app[STREAMS_OPEN].discard(id(request))


async def _label_response(request: web.Request, response: web.StreamResponse) -> None:
    response.headers[SIMULATOR_HEADER] = SIMULATOR_LABEL


def create_app(
    settings: SimSettings | None = None,
    *,
    state: SimState | None = None,
    route_modules: Sequence[str] = ROUTE_MODULES,
) -> web.Application:
    """A ready simulator app; pass ``state`` to share it or to inject a clock in tests."""
    if state is None:
        state = SimState(settings if settings is not None else SimSettings())
    app = web.Application(middlewares=[novelai_errors], client_max_size=64 * 1024 * 1024)
    app[STATE_KEY] = state
    app[STREAMS_OPEN] = set()
    app.on_response_prepare.append(_label_response)
    for name in route_modules:
        module = cast(RouteModule, importlib.import_module(f"nai_script.sim.{name}"))
        module.register(app, state)
    return app
