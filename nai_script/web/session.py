"""One page's WebSocket: a ``state`` snapshot on connect, then every bus event, while the
page's commands run concurrently (a long Send must not hold up a click in a script window or
the answer to a permission prompt)."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aiohttp import WSMsgType, web

from nai_script.editor.events import DROPPED_EVENT_TYPE, Subscription
from nai_script.editor.pipeline import EditorBlocked
from nai_script.web.commands import CommandError, parse_command
from nai_script.web.services import MissingService, WebServices
from nai_script.web.snapshot import build_state

logger = logging.getLogger(__name__)


def encode(event: dict[str, Any]) -> str:
    """JSON for the page; anything not JSON-native (a path, a datetime) goes as its str."""
    return json.dumps(event, default=str, separators=(",", ":"))


class PageSession:
    def __init__(self, services: WebServices, ws: web.WebSocketResponse) -> None:
        self._services = services
        self._ws = ws
        self._send_lock = asyncio.Lock()
        self._commands: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        # Subscribe before taking the snapshot: an event in between is sent twice, never lost.
        # Events are forwarded only once the snapshot is sent: one forwarded while the snapshot
        # was being built reached the page first, and the older snapshot then undid it.
        subscription = self._services.bus.subscribe()
        forward: asyncio.Task[None] | None = None
        try:
            await self.send(await build_state(self._services))
            forward = asyncio.create_task(self._forward(subscription), name="page events")
            async for message in self._ws:
                if message.type is WSMsgType.TEXT:
                    self._start(message.data)
                elif message.type is WSMsgType.ERROR:
                    break
        finally:
            subscription.close()
            if forward is not None:
                forward.cancel()
                await asyncio.gather(forward, return_exceptions=True)

    async def send(self, event: dict[str, Any]) -> None:
        if self._ws.closed:
            return
        async with self._send_lock:
            try:
                await self._ws.send_str(encode(event))
            except (ConnectionError, RuntimeError):
                pass  # the page went away; its session ends with the read loop

    async def _forward(self, subscription: Subscription) -> None:
        async for event in subscription:
            if event.get("type") == DROPPED_EVENT_TYPE:
                # The page fell behind and lost events: redraw it from a fresh snapshot.
                await self.send(await build_state(self._services))
            else:
                await self.send(event)

    def _start(self, raw: str) -> None:
        task = asyncio.create_task(self._run_command(raw))
        self._commands.add(task)
        task.add_done_callback(self._commands.discard)

    async def _run_command(self, raw: str) -> None:
        kind: Any = None
        try:
            message = json.loads(raw)
            kind = message.get("type") if isinstance(message, dict) else None
            command, handler = parse_command(message)
            reply = await handler(self._services, command)
        except json.JSONDecodeError as error:
            await self.send({"type": "error", "message": f"command is not JSON: {error}"})
            return
        except (CommandError, MissingService, EditorBlocked, ValueError, KeyError) as error:
            await self.send({"type": "error", "command": kind, "message": _message(error)})
            return
        except Exception as error:  # a bug must reach the page as an error, not kill the socket
            logger.exception("page command %r failed", kind)
            await self.send({"type": "error", "command": kind, "message": _message(error)})
            return
        if reply is not None:
            await self.send(reply)


def _message(error: BaseException) -> str:
    if isinstance(error, KeyError) and error.args:
        return str(error.args[0])
    return str(error) or type(error).__name__
