"""One error hierarchy for everything the client can fail with.

Callers catch `NovelAIError` for "the backend call failed" and the subclasses when they act
differently (re-login on auth, wait on rate limit, tell the user on a bad request). Every error
carries the HTTP status (None when there was no response), the message and the URL, and
prints as one line.
"""

from __future__ import annotations

import html
import json
import re
from typing import Literal

CONCURRENCY_LOCK_MESSAGE = "Concurrent generation is locked"


class NovelAIError(Exception):
    """Base of every client error. `retry_after` is the wait in seconds a 429 or 503 answer's
    `Retry-After` header asked for (None when it sent none)."""

    def __init__(
        self,
        message: str,
        status: int | None = None,
        url: str = "",
        *,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.url = url
        self.retry_after = retry_after

    def __str__(self) -> str:
        where = f" ({self.url})" if self.url else ""
        code = f"HTTP {self.status}: " if self.status is not None else ""
        one_line = " ".join(self.message.split())
        wait = f" [retry after {self.retry_after:g} s]" if self.retry_after is not None else ""
        return f"{code}{one_line}{wait}{where}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status!r}, url={self.url!r})"


class AuthenticationError(NovelAIError):
    """401/403: the token is missing, wrong or expired, or the access key was refused."""


class RateLimitedError(NovelAIError):
    """429: too many requests. Safe to retry later (after `retry_after` seconds if set)."""


class ConcurrencyLockedError(RateLimitedError):
    """429 "Concurrent generation is locked": another generation on this account is running."""


class BadRequestError(NovelAIError):
    """4xx other than auth and rate limit: the server rejected what we sent; its message says why."""


class ServerError(NovelAIError):
    """5xx: the server failed."""


class ProtocolError(NovelAIError):
    """The server answered something we cannot read: bad JSON, bad SSE, a stream cut short."""


class ConnectionFailedError(NovelAIError):
    """No usable response: the connection was refused, reset or closed before the answer came."""


TimeoutPhase = Literal["connect", "read", "total"]


class RequestTimeoutError(NovelAIError):
    """The connect, idle-read (between stream chunks) or total timeout ran out; `phase` says which."""

    def __init__(
        self, message: str, status: int | None = None, url: str = "", phase: TimeoutPhase = "total"
    ) -> None:
        super().__init__(message, status, url)
        self.phase: TimeoutPhase = phase


def server_message(body: bytes) -> str:
    """The `message` of a `{"statusCode", "message"}` body, else the body text (trimmed).
    NovelAI's servers are NestJS: a rejected body lists its field errors, joined here."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        parsed = json.loads(text)
    except ValueError:
        return _html_title(text) or text[:500]
    if isinstance(parsed, dict):
        message = parsed.get("message")
        if message is None and isinstance(parsed.get("error"), dict):
            message = parsed["error"].get("message")  # OpenAI-compatible servers
        elif message is None and isinstance(parsed.get("error"), str):
            message = parsed["error"]
        if isinstance(message, list):  # NestJS validation: one message per bad field
            return "; ".join(str(part) for part in message) or text[:500]
        if message is not None:
            return str(message)
    return text[:500]


_TITLE_RE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def _html_title(text: str) -> str | None:
    """The title of an HTML error page (a proxy's or CDN's '502 Bad Gateway', '524: A timeout
    occurred'), so the error is one readable line instead of 500 characters of markup."""
    if not text.startswith("<"):
        return None
    match = _TITLE_RE.search(text)
    title = " ".join(html.unescape(match[1]).split()) if match else ""
    return title or None


def error_for_status(
    status: int, body: bytes, url: str, *, retry_after: float | None = None
) -> NovelAIError:
    """Map an HTTP error response to the matching error class. `retry_after` (the parsed
    `Retry-After` header) is kept on 429 and 503 errors, where HTTP gives it a meaning."""
    message = server_message(body) or f"HTTP {status}"
    if status in (401, 403):
        return AuthenticationError(message, status, url)
    if status == 429:
        if CONCURRENCY_LOCK_MESSAGE.lower() in message.lower():
            return ConcurrencyLockedError(message, status, url, retry_after=retry_after)
        return RateLimitedError(message, status, url, retry_after=retry_after)
    if 500 <= status <= 599:
        wait = retry_after if status == 503 else None
        return ServerError(message, status, url, retry_after=wait)
    if 400 <= status <= 499:
        return BadRequestError(message, status, url)
    return ProtocolError(f"unexpected HTTP status {status}: {message}", status, url)
