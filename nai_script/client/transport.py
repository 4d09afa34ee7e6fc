"""The HTTP layer under `NovelAIClient`: one aiohttp session, error mapping, retries, SSE.

Kept apart from the endpoint methods so the rules live in one place: every failure becomes a
`NovelAIError`, only idempotent requests are retried, and a stream is never retried and is
closed (connection and all) as soon as its consumer stops reading.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from nai_script.client.errors import (
    ConnectionFailedError,
    NovelAIError,
    ProtocolError,
    RequestTimeoutError,
    error_for_status,
)
from nai_script.client.retry import RetryPolicy
from nai_script.client.settings import ClientSettings, Host
from nai_script.client.sse import ServerSentEvent, SSEDecoder

_EVENT_STREAM = "text/event-stream"


def translate_exception(exc: BaseException, url: str, *, streaming: bool) -> NovelAIError:
    """Map an aiohttp/asyncio failure to our hierarchy. `streaming` is True once a stream's
    response has begun: a drop then is a protocol failure, not a connection failure."""
    if isinstance(exc, NovelAIError):
        return exc
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return RequestTimeoutError("timed out connecting", None, url, phase="connect")
    if isinstance(exc, aiohttp.SocketTimeoutError):
        what = "between stream chunks" if streaming else "waiting for the response"
        return RequestTimeoutError(f"timed out {what}", None, url, phase="read")
    if isinstance(exc, TimeoutError):
        return RequestTimeoutError("timed out (total request time)", None, url, phase="total")
    detail = str(exc) or type(exc).__name__
    if streaming:
        return ProtocolError(f"connection dropped mid-stream: {detail}", None, url)
    if isinstance(exc, aiohttp.ClientError | OSError):
        return ConnectionFailedError(f"connection failed: {detail}", None, url)
    return ProtocolError(f"unexpected failure: {detail}", None, url)


class Transport:
    """Owns (or borrows) the session and performs requests with the client's settings."""

    def __init__(
        self,
        settings: ClientSettings,
        *,
        session: aiohttp.ClientSession | None = None,
        rand: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        now: Callable[[], float] | None = None,
    ) -> None:
        self.settings = settings
        self._session = session
        self._owns_session = session is None
        policy_kwargs: dict[str, Any] = {}
        if rand is not None:
            policy_kwargs["rand"] = rand
        if sleep is not None:
            policy_kwargs["sleep"] = sleep
        if now is not None:
            policy_kwargs["now"] = now
        self.retry = RetryPolicy(settings.retry, **policy_kwargs)
        self._token = settings.token.get_secret_value() if settings.token else None
        self._headers = self._build_headers()
        t = settings.timeouts
        # A non-streamed answer comes whole after the server did all its work (a generation of
        # 2048 tokens, an image): the silence before it is no stall, so `total` alone bounds it.
        self._plain_timeout = aiohttp.ClientTimeout(
            total=t.total, sock_connect=t.connect, sock_read=None
        )
        self._stream_timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=t.connect, sock_read=t.read
        )

    # -- session and auth ---------------------------------------------------------------------

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            if not self._owns_session:
                raise RuntimeError("the aiohttp session given to NovelAIClient is closed")
            self._session = aiohttp.ClientSession()
        return self._session

    async def close(self) -> None:
        if self._owns_session and self._session is not None and not self._session.closed:
            await self._session.close()

    @property
    def token(self) -> str | None:
        return self._token

    def set_token(self, token: str | None) -> None:
        self._token = token
        self._headers = self._build_headers()

    def _build_headers(self) -> dict[str, str]:
        headers = {"User-Agent": self.settings.user_agent, **self.settings.extra_headers}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    def url(self, host: Host, path: str) -> str:
        return self.settings.base_url(host) + path

    # -- plain requests -----------------------------------------------------------------------

    async def request_bytes(
        self,
        method: str,
        host: Host,
        path: str,
        *,
        json: Any = None,
        idempotent: bool,
        authorize: bool = True,
    ) -> tuple[bytes, str]:
        """The body and content type of a 2xx answer; retries only if `idempotent`."""
        url = self.url(host, path)
        attempt = 0
        while True:
            try:
                return await self._request_once(method, url, json, authorize)
            except NovelAIError as error:
                if not self.retry.should_retry(error, idempotent=idempotent, attempt=attempt):
                    raise
                self.retry.refuse_long_wait(error)
                retry_after = error.retry_after
            await self.retry.wait(attempt, retry_after)
            attempt += 1

    async def _request_once(
        self, method: str, url: str, json: Any, authorize: bool
    ) -> tuple[bytes, str]:
        headers = self._headers if authorize else self._anonymous_headers()
        try:
            async with self.session.request(
                method, url, json=json, headers=headers, timeout=self._plain_timeout
            ) as response:
                body = await response.read()
                if response.status >= 300:
                    raise self._status_error(response, body, url)
                return body, response.content_type
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise translate_exception(exc, url, streaming=False) from exc

    def _status_error(
        self, response: aiohttp.ClientResponse, body: bytes, url: str
    ) -> NovelAIError:
        retry_after = self.retry.parse_retry_after(response.headers.get("Retry-After"))
        return error_for_status(response.status, body, url, retry_after=retry_after)

    def _anonymous_headers(self) -> dict[str, str]:
        return {k: v for k, v in self._headers.items() if k != "Authorization"}

    # -- streams ------------------------------------------------------------------------------

    async def open_sse(
        self, host: Host, path: str, json: Any
    ) -> AsyncGenerator[ServerSentEvent, None]:
        """POST `json` and yield the response's events. Never retried. Closing the generator
        (`aclose()`, or leaving an `aclosing` block) closes the HTTP connection."""
        async with self.sse_body(host, path, json) as chunks:
            decoder = SSEDecoder()
            async for chunk in chunks:
                for event in decoder.feed(chunk):
                    yield event
            for event in decoder.flush():
                yield event

    @asynccontextmanager
    async def sse_body(
        self, host: Host, path: str, json: Any
    ) -> AsyncGenerator[AsyncIterator[bytes], None]:
        """POST `json`, check the answer is an event stream, and hand out its raw byte chunks.

        The streaming endpoints read these directly (no generator between them and the
        socket, which keeps the hot path cheap). Failures inside the block are translated;
        leaving the block before the body ended closes the connection, so the server stops
        generating for nobody.
        """
        url = self.url(host, path)
        headers = {**self._headers, "Accept": _EVENT_STREAM}
        try:
            response = await self.session.post(
                url, json=json, headers=headers, timeout=self._stream_timeout
            )
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise translate_exception(exc, url, streaming=False) from exc
        finished = False
        try:
            try:
                if response.status >= 300:
                    body = await response.read()
                    raise self._status_error(response, body, url)
                if response.content_type == "application/json":
                    body = await response.read()
                    raise ProtocolError(
                        f"expected an event stream, got JSON: {body[:200]!r}",
                        response.status,
                        url,
                    )
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                raise translate_exception(exc, url, streaming=False) from exc
            try:
                yield response.content.iter_any()
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                raise translate_exception(exc, url, streaming=True) from exc
            finished = response.content.at_eof()
        finally:
            if finished:
                response.release()
            else:
                response.close()
