"""The aiohttp app: the page, its ES modules (no build step) and the ``/ws`` WebSocket.

Every request passes the Host and Origin checks; the page and the WebSocket also need the
per-run token (``?token=``). Static modules carry no secrets and are fetched by the browser
without the query string, so they need only the Host/Origin checks.
"""

from __future__ import annotations

import mimetypes
import weakref
from collections.abc import Awaitable, Callable
from importlib import resources

from aiohttp import WSCloseCode, web

from nai_script.web.security import AccessPolicy
from nai_script.web.services import WebServices
from nai_script.web.session import PageSession

STATIC_PACKAGE = "nai_script.web"
POLICY_KEY = web.AppKey("policy", AccessPolicy)
SERVICES_KEY = web.AppKey("services", WebServices)
SOCKETS_KEY = web.AppKey("sockets", weakref.WeakSet[web.WebSocketResponse])
_TOKEN_PATHS = ("/", "/ws")
_NO_STORE = {"Cache-Control": "no-store"}


def load_static() -> dict[str, tuple[bytes, str]]:
    """Every file in ``static/``, read once: name -> (bytes, content type). Serving from this
    table means no request path ever reaches the file system."""
    files: dict[str, tuple[bytes, str]] = {}
    folder = resources.files(STATIC_PACKAGE).joinpath("static")
    for entry in folder.iterdir():
        if entry.is_file():
            kind = "text/javascript" if entry.name.endswith(".js") else None
            kind = kind or mimetypes.guess_type(entry.name)[0] or "application/octet-stream"
            files[entry.name] = (entry.read_bytes(), kind)
    return files


@web.middleware
async def access_check(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    policy = request.app[POLICY_KEY]
    refusal = policy.refusal(
        host=request.headers.get("Host"),
        origin=request.headers.get("Origin"),
        token=request.query.get("token"),
        needs_token=request.path in _TOKEN_PATHS,
    )
    if refusal is not None:
        return web.Response(status=403, text=f"403 Forbidden: {refusal}\n", headers=_NO_STORE)
    return await handler(request)


def create_app(services: WebServices, policy: AccessPolicy) -> web.Application:
    app = web.Application(middlewares=[access_check])
    app[POLICY_KEY] = policy
    app[SERVICES_KEY] = services
    app[SOCKETS_KEY] = weakref.WeakSet()
    app.on_shutdown.append(_close_sockets)
    static = load_static()

    async def page(request: web.Request) -> web.Response:
        body, kind = static["index.html"]
        return web.Response(body=body, content_type=kind.split(";")[0], headers=_NO_STORE)

    async def asset(request: web.Request) -> web.Response:
        found = static.get(request.match_info["name"])
        if found is None:
            raise web.HTTPNotFound(text="no such file\n")
        body, kind = found
        return web.Response(body=body, content_type=kind, headers=_NO_STORE)

    async def websocket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=30, max_msg_size=4 * 1024 * 1024)
        await ws.prepare(request)
        request.app[SOCKETS_KEY].add(ws)
        await PageSession(request.app[SERVICES_KEY], ws).run()
        return ws

    async def favicon(request: web.Request) -> web.Response:
        # Browsers ask for it on every page, the 403 page too: answer, do not log a 404.
        body, kind = static["favicon.svg"]
        return web.Response(body=body, content_type=kind)

    app.router.add_get("/", page)
    app.router.add_get("/favicon.ico", favicon)
    app.router.add_get("/static/{name}", asset)
    app.router.add_get("/ws", websocket)
    return app


async def _close_sockets(app: web.Application) -> None:
    """An open page must not hold up shutdown until aiohttp's timeout: tell it we are going."""
    sockets = app[SOCKETS_KEY]
    for ws in list(sockets):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down")
