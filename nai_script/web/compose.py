"""``nai-script serve`` put together: backend, script host, story store, editor, script UI,
permission prompts, the folder watcher and the web app, started and stopped in order.

The order matters: the page's permission prompt must be the host's policy before the first
script loads (a header permission is asked for at load), and the editor must be on the host
before any script can call ``api.v1.editor``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal

from aiohttp import web

from nai_script.backend import Backend
from nai_script.editor.events import EventBus
from nai_script.editor.page_requests import PageRequests
from nai_script.editor.permissions import PagePermissions
from nai_script.editor.pipeline import Editor
from nai_script.editor.store import StoryStore
from nai_script.editor.ui_state import UiState
from nai_script.host.host import ScriptHost
from nai_script.host.script import LoadedScript
from nai_script.host.watcher import ScriptFolderWatcher
from nai_script.limits import Clock, LimitsConfig
from nai_script.tokenizers import Tier
from nai_script.web.app import create_app
from nai_script.web.roster import ScriptRoster
from nai_script.web.security import AccessPolicy, new_token
from nai_script.web.services import WebServices

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


@dataclass
class ServeOptions:
    scripts_dir: Path
    data_dir: Path
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    tier: int = int(Tier.OPUS)
    token: str = field(default_factory=new_token)
    hook_timeout: float = 10.0
    #: Watch with polling (tests on file systems without inotify).
    force_polling: bool | None = None
    #: Told the page's URL as soon as the server listens (before the scripts load).
    on_listening: Callable[[str], None] | None = None
    #: Time and budget sizes for the script limits (tests inject a ``FakeClock``).
    clock: Clock | None = None
    limits_config: LimitsConfig | None = None


class EditorServer:
    """``async with EditorServer(backend, options) as server:`` serves ``server.url``."""

    def __init__(self, backend: Backend, options: ServeOptions) -> None:
        self.backend = backend
        self.options = options
        self.bus = EventBus()
        self.policy = AccessPolicy(token=options.token, bound_host=options.host)
        self._stack = AsyncExitStack()
        self.host: ScriptHost | None = None
        self.services: WebServices | None = None
        self.watcher: ScriptFolderWatcher | None = None

    @property
    def url(self) -> str:
        return self.policy.url()

    async def __aenter__(self) -> EditorServer:
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()

    async def _start(self) -> None:
        options = self.options
        bus = self.bus
        permissions = PagePermissions(bus)
        host = ScriptHost(
            client=self.backend.client,
            tokenizers=self.backend.tokenizers,
            data_dir=options.data_dir,
            tier=options.tier,
            on_log=self._on_log,
            hook_timeout=options.hook_timeout,
            permission_policy=permissions.policy,
            clock=options.clock,
            limits_config=options.limits_config,
        )
        self.host = host
        await self._stack.enter_async_context(host)
        page_requests = PageRequests(bus, clock=options.clock)  # its timeout on the test clock
        host.page_requests = page_requests
        roster = ScriptRoster(host, bus.publish)
        services = WebServices(
            host=host,
            bus=bus,
            roster=roster,
            permissions=permissions,
            page_requests=page_requests,
            backend_label=self.backend.label,
        )
        self.services = services
        services.ui = self._make_ui(host)
        roster.stopped_listeners.append(services.ui.forget_script)
        roster.stopped_listeners.append(permissions.forget)
        roster.ended_listeners.append(services.ui.forget_version)
        services.editor = self._make_editor(host)
        self._stack.callback(bus.close)

        # Listen before loading: a script's header permissions are asked on the page, so the
        # page must be reachable while the scripts load.
        runner = web.AppRunner(create_app(services, self.policy), access_log=None)
        await runner.setup()
        self._stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, options.host, options.port)
        await site.start()
        self.policy.port = _bound_port(runner, options.port)
        if options.on_listening is not None:
            options.on_listening(self.url)

        watcher = ScriptFolderWatcher(
            options.scripts_dir, roster, force_polling=options.force_polling
        )
        await watcher.start()
        self._stack.push_async_callback(watcher.aclose)
        self.watcher = watcher
        await host.fire_hook("onScriptsLoaded")

    def _make_ui(self, host: ScriptHost) -> UiState:
        ui = UiState(host, self.bus)
        host.ui = ui
        return ui

    def _make_editor(self, host: ScriptHost) -> Editor:
        store = StoryStore(self.options.data_dir / "stories.sqlite3")
        self._stack.callback(store.close)
        editor = Editor(
            store,
            host,
            self.bus,
            tokenizers=self.backend.tokenizers,
            client=self.backend.client,
            tier=self.options.tier,
        )
        host.editor = editor
        return editor

    def _on_log(self, script: LoadedScript, level: Literal["log", "error"], text: str) -> None:
        self.bus.publish({"type": "script.log", "id": script.id, "level": level, "text": text})
        if level == "error" and self.services is not None:
            self.services.roster.notice_exit(script)


def _bound_port(runner: web.AppRunner, asked: int) -> int:
    """The port actually bound (``--port 0`` asks the OS for a free one)."""
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return asked
