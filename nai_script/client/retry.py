"""When to try a request again, and how long to wait first.

Only idempotent requests are retried (GETs, token-count, login, subscription), and only after
failures that say nothing about the request itself: the connection failed, the connect timed
out, the server answered 5xx or 429. A generation is never resent (it could run, and be
charged, twice), nor is anything that already streamed; the concurrency lock is not retried
either, since it lasts as long as the other generation does.

Waits use "full jitter" exponential backoff: uniform in [0, min(max, base * 2**attempt)], so
many clients failing together do not retry together. The random source and the sleep are
injectable, so tests run instantly and deterministically.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

from pydantic import BaseModel, ConfigDict, Field

from nai_script.client.errors import (
    ConcurrencyLockedError,
    ConnectionFailedError,
    NovelAIError,
    RateLimitedError,
    RequestTimeoutError,
    ServerError,
)


class RetrySettings(BaseModel):
    """Backoff settings. `attempts` counts the first try: 1 means never retry."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    attempts: int = Field(default=4, ge=1, le=20)
    backoff_base: float = Field(default=0.5, ge=0, description="Seconds; the first cap.")
    backoff_max: float = Field(default=10.0, ge=0, description="Seconds; no wait exceeds this.")


def is_transient(error: NovelAIError) -> bool:
    """True when `error` says nothing about the request, so an idempotent one may be resent."""
    if isinstance(error, ConcurrencyLockedError):
        return False
    if isinstance(error, RequestTimeoutError):
        return error.phase == "connect"
    return isinstance(error, ConnectionFailedError | ServerError | RateLimitedError)


class RetryPolicy:
    """Decides whether to retry and waits the jittered backoff."""

    def __init__(
        self,
        settings: RetrySettings,
        *,
        rand: Callable[[], float] = random.random,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self._rand = rand
        self._sleep = sleep

    def should_retry(self, error: NovelAIError, *, idempotent: bool, attempt: int) -> bool:
        """`attempt` is the 0-based index of the try that just failed."""
        return idempotent and attempt + 1 < self.settings.attempts and is_transient(error)

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed try number `attempt` (0-based)."""
        cap = min(self.settings.backoff_max, self.settings.backoff_base * (2.0**attempt))
        return self._rand() * cap

    async def wait(self, attempt: int) -> None:
        await self._sleep(self.delay(attempt))
