"""Shared set-up for web tests: a real ``EditorServer`` (embedded simulator, script host,
workers, SQLite files in a tmp dir) on a free loopback port, and a WebSocket client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

from nai_script.backend import open_backend
from nai_script.config import BackendConfig
from nai_script.sim import SimServer, SimSettings
from nai_script.web.compose import EditorServer, ServeOptions


@asynccontextmanager
async def served(
    tmp_path: Path,
    scripts: dict[str, str] | None = None,
    *,
    sim_settings: SimSettings | None = None,
    **options: Any,
) -> AsyncIterator[EditorServer]:
    """The server on its own simulator (``sim_settings`` sets its pace and faults)."""
    folder = tmp_path / "scripts"
    folder.mkdir(exist_ok=True)
    for name, source in (scripts or {}).items():
        (folder / name).write_text(source)
    serve_options = ServeOptions(
        scripts_dir=folder, data_dir=tmp_path / "data", port=0, hook_timeout=5.0, **options
    )
    async with (
        SimServer(sim_settings or SimSettings()) as sim,
        open_backend(BackendConfig(base_url=sim.base_url)) as backend,
        EditorServer(backend, serve_options) as server,
    ):
        yield server


def base(server: EditorServer) -> str:
    return f"http://127.0.0.1:{server.policy.port}"


class PageSocket:
    """A page's WebSocket, with helpers to wait for a given event."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.seen: list[dict[str, Any]] = []

    async def send(self, command: dict[str, Any]) -> None:
        await self.ws.send_str(json.dumps(command))

    async def next(self, timeout: float = 10.0) -> dict[str, Any]:
        message = await self.ws.receive(timeout=timeout)
        assert message.type is aiohttp.WSMsgType.TEXT, message
        event: dict[str, Any] = json.loads(message.data)
        self.seen.append(event)
        return event

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10.0
    ) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                event = await self.next(timeout)
                if predicate(event):
                    return event

    async def wait_type(self, kind: str, timeout: float = 10.0) -> dict[str, Any]:
        """The next event of type ``kind``."""
        return await self.wait_for(lambda e: e["type"] == kind, timeout)


@asynccontextmanager
async def page_socket(server: EditorServer) -> AsyncIterator[PageSocket]:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{base(server)}/ws?token={server.policy.token}") as ws,
    ):
        yield PageSocket(ws)


def script_logs(events: list[dict[str, Any]], script_id: str) -> list[Any]:
    """What ``script_id`` logged among ``events``, each line read as JSON (a logged dict)."""
    return [
        json.loads(e["text"]) for e in events if e["type"] == "script.log" and e["id"] == script_id
    ]
