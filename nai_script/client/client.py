"""`NovelAIClient`: typed methods for every text and account endpoint, over one session.

Generations (completions, chat, `/ai/generate`) are never retried; reads and logins are.
Streams are async generators: stop iterating and `aclose()` it (or use
`contextlib.aclosing`) and the HTTP connection closes, so the server stops generating.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import Any, TypeVar

import aiohttp
from pydantic import BaseModel, ValidationError

from nai_script.client import models
from nai_script.client.auth import derive_access_key
from nai_script.client.errors import NovelAIError, ProtocolError, ServerError, server_message
from nai_script.client.settings import ClientSettings, Host
from nai_script.client.sse import ServerSentEvent, SSEDecoder
from nai_script.client.transport import Transport

ModelT = TypeVar("ModelT", bound=BaseModel)

_DONE = "[DONE]"


def _parse(model: type[ModelT], raw: bytes | str, url: str) -> ModelT:
    """Validate a JSON body straight from bytes/str; a mismatch is the server's fault."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise ProtocolError(
            f"unexpected {model.__name__} from server: {where}: {first['msg']}", None, url
        ) from None


def _raise_stream_error(event: ServerSentEvent, url: str) -> None:
    """An `event: error`, or a `data: {"error": ...}` payload, ends the stream with an error."""
    message = server_message(event.data.encode("utf-8")) or "error event in stream"
    raise ServerError(f"stream error: {message}", None, url)


def _is_error_event(event: ServerSentEvent) -> bool:
    return event.event == "error" or event.data.startswith('{"error"')


def _is_error_chunk(chunk: BaseModel) -> bool:
    """A payload the fast `{"error"` check missed: `{ "error": ...}` spaced otherwise, or the
    bare `{"object": "error", "message": ...}` older vLLM sends. Only choice-less chunks are
    looked at, so the per-token path stays one attribute read."""
    if getattr(chunk, "choices", None):
        return False
    extra = chunk.model_extra or {}
    return "error" in extra or getattr(chunk, "object", None) == "error"


def _native_token(event: ServerSentEvent, url: str) -> models.NewTokenEvent | None:
    """The token an `/ai/generate-stream` event carries (None for events of other kinds)."""
    if _is_error_event(event):
        _raise_stream_error(event, url)
    if event.event != "newToken" and event.event != "message":
        return None
    return _parse(models.NewTokenEvent, event.data, url)


class NovelAIClient:
    """Async client for text.novelai.net, api.novelai.net, the simulator, or an
    OpenAI-compatible server. Use as `async with NovelAIClient(settings) as client:`."""

    def __init__(
        self,
        settings: ClientSettings | None = None,
        *,
        session: aiohttp.ClientSession | None = None,
        rand: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        now: Callable[[], float] | None = None,
    ) -> None:
        self.settings = settings or ClientSettings()
        self._transport = Transport(self.settings, session=session, rand=rand, sleep=sleep, now=now)

    async def __aenter__(self) -> NovelAIClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session if this client created it (a session passed in stays open)."""
        await self._transport.close()

    @property
    def token(self) -> str | None:
        """The bearer token in use (settings' token, or the one `login` obtained)."""
        return self._transport.token

    def _oa_path(self, name: str) -> str:
        prefix = "/v1/" if self.settings.openai_compatible else "/oa/v1/"
        return prefix + name

    # -- low level (public: the image and account code builds on these) -----------------------

    async def request_json(
        self, method: str, host: Host, path: str, *, json: Any = None, idempotent: bool
    ) -> Any:
        """The decoded JSON of a 2xx answer (a body that is not JSON is a `ProtocolError`)."""
        body, _ = await self._transport.request_bytes(
            method, host, path, json=json, idempotent=idempotent
        )
        try:
            return jsonlib.loads(body)
        except ValueError as exc:
            raise ProtocolError(
                f"response is not JSON: {exc}", None, self._transport.url(host, path)
            ) from None

    async def request_bytes(
        self, method: str, host: Host, path: str, *, json: Any = None, idempotent: bool
    ) -> tuple[bytes, str]:
        return await self._transport.request_bytes(
            method, host, path, json=json, idempotent=idempotent
        )

    def open_sse(self, host: Host, path: str, json: Any) -> AsyncGenerator[ServerSentEvent, None]:
        return self._transport.open_sse(host, path, json)

    async def _request_model(
        self,
        model: type[ModelT],
        method: str,
        host: Host,
        path: str,
        *,
        json: Any = None,
        idempotent: bool,
        authorize: bool = True,
    ) -> ModelT:
        body, _ = await self._transport.request_bytes(
            method, host, path, json=json, idempotent=idempotent, authorize=authorize
        )
        return _parse(model, body, self._transport.url(host, path))

    # -- OpenAI-like text endpoints -----------------------------------------------------------

    async def completions(self, request: models.CompletionRequest) -> models.CompletionResponse:
        return await self._post_openai(models.CompletionResponse, "completions", request)

    def stream_completions(
        self, request: models.CompletionRequest
    ) -> AsyncIterator[models.CompletionChunk]:
        return self._stream_openai(models.CompletionChunk, self._oa_path("completions"), request)

    async def chat_completions(
        self, request: models.ChatCompletionRequest
    ) -> models.ChatCompletionResponse:
        return await self._post_openai(models.ChatCompletionResponse, "chat/completions", request)

    def stream_chat_completions(
        self, request: models.ChatCompletionRequest
    ) -> AsyncIterator[models.ChatCompletionChunk]:
        return self._stream_openai(
            models.ChatCompletionChunk, self._oa_path("chat/completions"), request
        )

    async def _post_openai(
        self, response_model: type[ModelT], name: str, request: models.WireModel
    ) -> ModelT:
        """One non-streamed OpenAI-like generation (never retried)."""
        body = request.to_wire()
        body["stream"] = False
        return await self._request_model(
            response_model, "POST", "text", self._oa_path(name), json=body, idempotent=False
        )

    async def _stream_openai(
        self, chunk_model: type[ModelT], path: str, request: models.WireModel
    ) -> AsyncIterator[ModelT]:
        body = request.to_wire()
        body["stream"] = True
        url = self._transport.url("text", path)
        validate = chunk_model.model_validate_json
        async with self._transport.sse_body("text", path, body) as chunks:
            decoder = SSEDecoder()
            feed = decoder.feed
            async for raw in chunks:
                for event in feed(raw):
                    data = event.data
                    if data == _DONE:
                        return
                    if data.startswith('{"error"') or event.event == "error":
                        _raise_stream_error(event, url)
                    try:
                        chunk = validate(data)
                    except ValidationError:
                        chunk = _parse(chunk_model, data, url)  # raises, naming the field
                    if _is_error_chunk(chunk):
                        _raise_stream_error(event, url)
                    yield chunk
            if any(event.data == _DONE for event in decoder.flush()):
                return  # a server that ended with 'data: [DONE]' and no blank line
        raise ProtocolError("stream ended without 'data: [DONE]'", None, url)

    async def list_models(self) -> models.ModelList:
        return await self._request_model(
            models.ModelList, "GET", "text", self._oa_path("models"), idempotent=True
        )

    async def token_count(self, request: models.TokenCountRequest) -> models.TokenCountResponse:
        return await self._request_model(
            models.TokenCountResponse,
            "POST",
            "text",
            self._oa_path("internal/token-count"),
            json=request.to_wire(),
            idempotent=True,
        )

    # -- NovelAI native generation ------------------------------------------------------------

    async def generate(self, request: models.GenerateRequest) -> models.GenerateResponse:
        """`POST /ai/generate` (200 or 201 depending on the model; both are success)."""
        return await self._request_model(
            models.GenerateResponse,
            "POST",
            "text",
            "/ai/generate",
            json=request.to_wire(),
            idempotent=False,
        )

    async def generate_stream(
        self, request: models.GenerateRequest
    ) -> AsyncIterator[models.NewTokenEvent]:
        """`POST /ai/generate-stream`: one event per token, the last with `final=True`."""
        path = "/ai/generate-stream"
        url = self._transport.url("text", path)
        async with self._transport.sse_body("text", path, request.to_wire()) as chunks:
            decoder = SSEDecoder()
            async for raw in chunks:
                for event in decoder.feed(raw):
                    token = _native_token(event, url)
                    if token is not None:
                        yield token
                        if token.final:
                            return
            for event in decoder.flush():
                token = _native_token(event, url)
                if token is not None:
                    yield token
                    if token.final:
                        return
        raise ProtocolError("stream ended without a final token", None, url)

    # -- account (api host) -------------------------------------------------------------------

    async def login(self, access_key: str) -> str:
        """Exchange an access key for an access token, and use that token from now on."""
        result = await self._request_model(
            models.LoginResponse,
            "POST",
            "api",
            "/user/login",
            json=models.LoginRequest(key=access_key).to_wire(),
            idempotent=True,
            authorize=False,
        )
        self._transport.set_token(result.accessToken)
        return result.accessToken

    async def login_with_credentials(self, email: str, password: str) -> str:
        """Derive the access key (argon2, off the event loop) and log in with it."""
        access_key = await asyncio.to_thread(derive_access_key, email, password)
        return await self.login(access_key)

    async def subscription(self) -> models.Subscription:
        return await self._request_model(
            models.Subscription, "GET", "api", "/user/subscription", idempotent=True
        )

    async def user_information(self) -> models.UserInformation:
        return await self._request_model(
            models.UserInformation, "GET", "api", "/user/information", idempotent=True
        )


__all__ = ["ClientSettings", "NovelAIClient", "NovelAIError"]
