"""Run the simulator on a real socket, in-process: ``async with SimServer(...) as sim``."""

from __future__ import annotations

from types import TracebackType

from aiohttp import web

from nai_script.sim.app import create_app
from nai_script.sim.settings import SimSettings
from nai_script.sim.state import SimState


class SimServer:
    """The simulator bound to ``host:port`` (port 0 picks a free one) while the context is
    open. ``settings`` is live: change a field and the next request sees it."""

    def __init__(
        self,
        settings: SimSettings | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        state: SimState | None = None,
    ) -> None:
        self.state = state if state is not None else SimState(settings or SimSettings())
        self.host = host
        self._requested_port = port
        self._runner: web.AppRunner | None = None
        self.port: int | None = None
        self.app: web.Application | None = None  # the running app (tests reach its data)

    @property
    def settings(self) -> SimSettings:
        return self.state.settings

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("the simulator is not running; use 'async with SimServer(...)'")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        app = create_app(state=self.state)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._requested_port)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        self.app = app
        self.port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            self.app = None
            self.port = None

    async def __aenter__(self) -> SimServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
