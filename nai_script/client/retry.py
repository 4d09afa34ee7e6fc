"""When to try a request again, and how long to wait first.

Only idempotent requests are retried (GETs, token-count, login, subscription), and only after
failures that say nothing about the request itself: the connection failed, the connect timed
out, the server answered 5xx or 429. A generation is never resent (it could run, and be
charged, twice), nor is anything that already streamed; the concurrency lock is not retried
either, since it lasts as long as the other generation does.

Waits use "full jitter" exponential backoff: uniform in [0, min(max, base * 2**attempt)], so
many clients failing together do not retry together. A 429 or 503 that sends `Retry-After`
(delta-seconds or an HTTP-date) is waited out at least that long; if it asks for more than
`backoff_max`, the request is not retried at all and fails at once, saying when to try again.
The random source, the clock and the sleep are injectable, so tests run instantly and
deterministically.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

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


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds a `Retry-After` header asks to wait: delta-seconds (`120`) or an HTTP-date
    (`Wed, 21 Oct 2015 07:28:00 GMT`, counted from `now()`; a past date means 0). None when the
    header is absent or unreadable: a garbled hint is no reason to fail the request."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isascii() and text.isdigit():
        return float(int(text))
    try:
        seconds = float(text)  # not RFC 9110, but servers do send '1.5'
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # HTTP-dates are GMT; a date without a zone is read as GMT too
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now())


class RetryPolicy:
    """Decides whether to retry and waits the jittered backoff (or the server's Retry-After)."""

    def __init__(
        self,
        settings: RetrySettings,
        *,
        rand: Callable[[], float] = random.random,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._rand = rand
        self._sleep = sleep
        self._now = now

    def should_retry(self, error: NovelAIError, *, idempotent: bool, attempt: int) -> bool:
        """`attempt` is the 0-based index of the try that just failed."""
        return idempotent and attempt + 1 < self.settings.attempts and is_transient(error)

    def parse_retry_after(self, value: str | None) -> float | None:
        return parse_retry_after(value, now=self._now)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed try number `attempt` (0-based): the jittered backoff,
        but never less than the server's `retry_after`."""
        cap = min(self.settings.backoff_max, self.settings.backoff_base * (2.0**attempt))
        backoff = self._rand() * cap
        return backoff if retry_after is None else max(backoff, retry_after)

    def refuse_long_wait(self, error: NovelAIError) -> None:
        """Raise `error` at once if its Retry-After exceeds `backoff_max`, its message saying
        when to try again (waiting that long inside one call would look like a hang)."""
        wait = error.retry_after
        if wait is None or wait <= self.settings.backoff_max:
            return
        at = datetime.fromtimestamp(self._now() + wait, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        error.message = (
            f"{error.message}; the server asks to wait {wait:g} s, longer than this client's "
            f"{self.settings.backoff_max:g} s retry limit: try again after {at}"
        )
        raise error

    async def wait(self, attempt: int, retry_after: float | None = None) -> None:
        await self._sleep(self.delay(attempt, retry_after))
