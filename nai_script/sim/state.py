"""Everything one simulator app shares between requests: settings, tokenizer, fault injector,
issued tokens and the per-token generation locks. Route modules receive it in ``register``."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from aiohttp import web

from nai_script.sim.errors import SimHTTPError
from nai_script.sim.faults import (
    CONCURRENCY_LOCKED_MESSAGE,
    FaultInjector,
    FaultPlan,
    FaultSpec,
    FaultSpecError,
)
from nai_script.sim.prose import ProseGenerator
from nai_script.sim.settings import SimSettings
from nai_script.sim.tokens import SimTokenizer, load_sim_tokenizer

FAULT_HEADER = "X-Sim-Fault"

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class SimState:
    """Shared state of one simulator app. ``clock`` and ``sleep`` are injectable for tests."""

    def __init__(
        self,
        settings: SimSettings,
        *,
        tokenizer: SimTokenizer | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.tokenizer = tokenizer if tokenizer is not None else load_sim_tokenizer()
        self.prose = ProseGenerator(self.tokenizer)
        self.clock = clock
        self.sleep = sleep
        self.issued_tokens: set[str] = set()
        self._injector = FaultInjector(settings.seed)
        self._read_injector = FaultInjector(settings.seed)
        self._in_flight: dict[str, set[str]] = {}
        self._ids = itertools.count(1)

    def next_id(self, prefix: str) -> str:
        return f"{prefix}-sim-{next(self._ids)}"

    # -- auth ----------------------------------------------------------------------------------

    def token_is_valid(self, token: str) -> bool:
        if token in self.issued_tokens:
            return True
        allowed = self.settings.valid_tokens
        return token in allowed if allowed is not None else token.startswith("pst-")

    # -- faults --------------------------------------------------------------------------------

    def plan_faults(self, request: web.Request) -> FaultPlan:
        """This request's faults: the header's spec if sent, else the run's."""
        header = request.headers.get(FAULT_HEADER)
        request_spec = None
        if header is not None:
            try:
                request_spec = FaultSpec.parse(header)
            except FaultSpecError as exc:
                raise SimHTTPError(400, f"{FAULT_HEADER}: {exc}") from None
        self._injector.reseed(self.settings.seed)
        return self._injector.plan(self.settings.faults, request_spec)

    def plan_read_faults(self) -> FaultPlan:
        """The faults of one idempotent read (``settings.read_faults``; no header override)."""
        self._read_injector.reseed(self.settings.seed)
        return self._read_injector.plan(self.settings.read_faults)

    # -- concurrency lock ----------------------------------------------------------------------

    @asynccontextmanager
    async def generation_slot(self, kind: str, token: str, *, locked: bool) -> AsyncIterator[None]:
        """Hold ``token``'s ``kind`` slot ("text", "image") for one generation. With ``locked``,
        a second generation for the same token meanwhile gets NovelAI's 429."""
        if not locked:
            yield
            return
        busy = self._in_flight.setdefault(kind, set())
        if token in busy:
            raise SimHTTPError(429, CONCURRENCY_LOCKED_MESSAGE)
        busy.add(token)
        try:
            yield
        finally:
            busy.discard(token)


STATE_KEY = web.AppKey("nai_script_sim_state", SimState)


def state_of(request: web.Request) -> SimState:
    return request.app[STATE_KEY]
