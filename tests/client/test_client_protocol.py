"""Odd server behaviour the simulator never produces, on tiny real loopback servers:
malformed bodies, truncated streams, retry sequences, headers, cancellation, timeouts."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import TypeVar

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from nai_script.client import ClientSettings, NovelAIClient, errors, models
from nai_script.client.retry import RetrySettings

T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Recorder:
    """What the tiny server saw."""

    hits: dict[str, int] = field(default_factory=dict)
    headers: list[dict[str, str]] = field(default_factory=list)
    bodies: list[object] = field(default_factory=list)
    disconnected: asyncio.Event = field(default_factory=asyncio.Event)

    def seen(self, request: web.Request, body: object = None) -> int:
        self.hits[request.path] = self.hits.get(request.path, 0) + 1
        self.headers.append(dict(request.headers))
        self.bodies.append(body)
        return self.hits[request.path]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[dict[str, Handler]], Awaitable[str]]]:
    servers: list[TestServer] = []

    async def start(routes: dict[str, Handler]) -> str:
        app = web.Application()
        for route, handler in routes.items():
            method, path = route.split(" ", 1)
            app.router.add_route(method, path, handler)
        server = TestServer(app)
        await server.start_server()
        servers.append(server)
        return str(server.make_url("")).rstrip("/")

    yield start
    for server in servers:
        await server.close()


class Sleeps:
    """Injected sleep: records the backoff instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def make_client(base: str, sleeps: Sleeps | None = None, **overrides: object) -> NovelAIClient:
    overrides.setdefault("token", "pst-secret")
    overrides.setdefault("retry", RetrySettings(attempts=3, backoff_base=1.0, backoff_max=4.0))
    return NovelAIClient(
        ClientSettings.for_base_url(base, **overrides), rand=lambda: 1.0, sleep=sleeps or Sleeps()
    )


async def collect(stream: AsyncIterator[T], into: list[T]) -> None:
    """Append each item of `stream` to `into` (so a test sees what came before a failure)."""
    async for item in stream:
        into.append(item)


def completion() -> models.CompletionRequest:
    return models.CompletionRequest(model="m", prompt="p", max_tokens=3)


def sse_response(request: web.Request) -> web.StreamResponse:
    return web.StreamResponse(headers={"Content-Type": "text/event-stream"})


def writes(*frames: bytes) -> Handler:
    """An event-stream handler that sends ``frames`` one write each, then ends the response."""

    async def handler(request: web.Request) -> web.StreamResponse:
        response = sse_response(request)
        await response.prepare(request)
        for frame in frames:
            await response.write(frame)
        return response

    return handler


CHUNK = json.dumps({"id": "c", "choices": [{"text": "é", "index": 0}]})
NATIVE_EVENT = 'event: newToken\ndata: {"token":"a","ptr":0,"final":false}\n\n'


# ---- bodies ----------------------------------------------------------------------------------


async def test_malformed_json_is_protocol_error(serve, recorder: Recorder) -> None:
    async def handler(request: web.Request) -> web.Response:
        recorder.seen(request)
        return web.Response(text="{not json", content_type="application/json")

    base = await serve({"POST /oa/v1/completions": handler, "GET /oa/v1/models": handler})
    async with make_client(base) as c:
        with pytest.raises(errors.ProtocolError, match="CompletionResponse"):
            await c.completions(completion())
        with pytest.raises(errors.ProtocolError, match="not JSON"):
            await c.request_json("GET", "text", "/oa/v1/models", idempotent=True)
    # a bad body is not transient: no retry even for the idempotent GET
    assert recorder.hits == {"/oa/v1/completions": 1, "/oa/v1/models": 1}


async def test_wrong_shape_names_the_field(serve) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"object": "model"}]})

    base = await serve({"GET /oa/v1/models": handler})
    async with make_client(base) as c:
        with pytest.raises(errors.ProtocolError, match=r"data\.0\.id"):
            await c.list_models()


async def test_unknown_fields_kept(serve) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response(
            {"choices": [{"text": "x", "index": 0, "vendor": 1}], "system_fingerprint": "fp"}
        )

    base = await serve({"POST /oa/v1/completions": handler})
    async with make_client(base) as c:
        response = await c.completions(completion())
    assert response.model_extra == {"system_fingerprint": "fp"}
    assert response.choices[0].model_extra == {"vendor": 1}


async def test_bad_request_carries_server_message(serve) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"statusCode": 400, "message": "max_tokens too big"}, status=400)

    base = await serve({"POST /oa/v1/chat/completions": handler})
    async with make_client(base) as c:
        with pytest.raises(errors.BadRequestError) as caught:
            await c.chat_completions(
                models.ChatCompletionRequest(model="m", messages=[{"role": "user", "content": "x"}])
            )
    assert caught.value.message == "max_tokens too big"
    assert caught.value.status == 400
    assert caught.value.url == base + "/oa/v1/chat/completions"


# ---- streams ---------------------------------------------------------------------------------


async def test_stream_split_into_tiny_writes(serve) -> None:
    """Bytes written one at a time, CRLF endings, a comment, é split mid-character."""
    payload = (": hi\r\n" + f"data: {CHUNK}\r\n\r\n" * 3 + "data: [DONE]\r\n\r\n").encode()

    async def handler(request: web.Request) -> web.StreamResponse:
        response = sse_response(request)
        await response.prepare(request)
        for i in range(len(payload)):
            await response.write(payload[i : i + 1])
        return response

    base = await serve({"POST /oa/v1/completions": handler})
    async with make_client(base) as c:
        chunks = [x async for x in c.stream_completions(completion())]
    assert [x.choices[0].text for x in chunks] == ["é"] * 3


async def test_stream_without_done_is_protocol_error(serve) -> None:
    base = await serve({"POST /oa/v1/completions": writes(f"data: {CHUNK}\n\n".encode())})
    async with make_client(base) as c:
        seen = []
        with pytest.raises(errors.ProtocolError, match=r"without 'data: \[DONE\]'"):
            await collect(c.stream_completions(completion()), seen)
    assert len(seen) == 1


async def test_stream_with_bad_json_event(serve) -> None:
    base = await serve({"POST /oa/v1/completions": writes(b"data: {oops\n\ndata: [DONE]\n\n")})
    async with make_client(base) as c:
        with pytest.raises(errors.ProtocolError):
            [x async for x in c.stream_completions(completion())]


@pytest.mark.parametrize(
    "error_frame",
    [
        b'data: {"error": {"message": "model crashed"}}\n\n',
        b'data: { "error": {"message": "model crashed"} }\n\n',  # other JSON spacing
        b'data: {"object": "error", "message": "model crashed", "code": 500}\n\n',  # old vLLM
        b'event: error\ndata: {"message": "model crashed"}\n\n',
    ],
)
async def test_error_event_mid_stream(serve, error_frame: bytes) -> None:
    # the server goes on to say [DONE]: without the error the text would be silently cut short
    handler = writes(f"data: {CHUNK}\n\n".encode(), error_frame, b"data: [DONE]\n\n")
    base = await serve(
        {"POST /oa/v1/completions": handler, "POST /oa/v1/chat/completions": handler}
    )
    async with make_client(base) as c:
        with pytest.raises(errors.ServerError, match="model crashed"):
            [x async for x in c.stream_completions(completion())]
        chat = models.ChatCompletionRequest(
            model="m", messages=[models.ChatMessage(role="user", content="hi")]
        )
        with pytest.raises(errors.ServerError, match="model crashed"):
            [x async for x in c.stream_chat_completions(chat)]


async def test_native_stream_without_final(serve) -> None:
    base = await serve({"POST /ai/generate-stream": writes(NATIVE_EVENT.encode())})
    async with make_client(base) as c:
        request = models.GenerateRequest(input="x", model="kayra-v1")
        with pytest.raises(errors.ProtocolError, match="final"):
            [x async for x in c.generate_stream(request)]


async def test_json_answer_to_stream_request(serve) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"choices": []})

    base = await serve({"POST /oa/v1/completions": handler})
    async with make_client(base) as c:
        with pytest.raises(errors.ProtocolError, match="expected an event stream"):
            [x async for x in c.stream_completions(completion())]


@pytest.mark.parametrize(
    ("path", "frame", "open_stream"),
    [
        ("/oa/v1/completions", f"data: {CHUNK}\n\n", lambda c: c.stream_completions(completion())),
        (
            "/ai/generate-stream",
            NATIVE_EVENT,
            lambda c: c.generate_stream(models.GenerateRequest(input="x", model="kayra-v1")),
        ),
        (
            "/oa/v1/completions",
            f"data: {CHUNK}\n\n",
            lambda c: c.open_sse("text", "/oa/v1/completions", {}),
        ),
    ],
    ids=["completions", "generate-stream", "open_sse"],
)
async def test_closing_stream_closes_connection(
    serve, recorder: Recorder, path: str, frame: str, open_stream
) -> None:
    """Stopping early must close the HTTP connection so the server stops generating."""

    async def handler(request: web.Request) -> web.StreamResponse:
        response = sse_response(request)
        await response.prepare(request)
        try:
            for _ in range(10_000):
                await response.write(frame.encode())
                await asyncio.sleep(0.005)
        except (ConnectionResetError, asyncio.CancelledError):
            recorder.disconnected.set()
            raise
        return response

    base = await serve({f"POST {path}": handler})
    async with make_client(base) as c:
        stream = open_stream(c)
        got = [await anext(stream), await anext(stream)]
        await stream.aclose()
        await asyncio.wait_for(recorder.disconnected.wait(), 2)
    assert len(got) == 2


async def test_cancelling_consumer_task_closes_connection(serve, recorder: Recorder) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = sse_response(request)
        await response.prepare(request)
        try:
            await response.write(f"data: {CHUNK}\n\n".encode())
            await asyncio.sleep(30)
        except (ConnectionResetError, asyncio.CancelledError):
            recorder.disconnected.set()
            raise
        return response

    base = await serve({"POST /oa/v1/completions": handler})
    async with make_client(base) as c:
        first = asyncio.Event()

        async def consume() -> None:
            async with aclosing(c.stream_completions(completion())) as stream:
                async for _ in stream:
                    first.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(first.wait(), 2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.wait_for(recorder.disconnected.wait(), 2)


async def test_idle_read_timeout_between_chunks(serve) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = sse_response(request)
        await response.prepare(request)
        await response.write(f"data: {CHUNK}\n\n".encode())
        await asyncio.sleep(1)
        return response

    base = await serve({"POST /oa/v1/completions": handler})
    async with make_client(base, timeouts={"read": 0.1}) as c:
        seen = []
        with pytest.raises(errors.RequestTimeoutError, match="between stream chunks") as caught:
            await collect(c.stream_completions(completion()), seen)
    assert caught.value.phase == "read"
    assert len(seen) == 1


async def test_total_timeout_non_stream(serve, recorder: Recorder) -> None:
    async def handler(request: web.Request) -> web.Response:
        recorder.seen(request)
        await asyncio.sleep(1)
        return web.json_response({"data": []})

    base = await serve({"GET /oa/v1/models": handler})
    async with make_client(base, timeouts={"total": 0.1, "read": 5}) as c:
        with pytest.raises(errors.RequestTimeoutError) as caught:
            await c.list_models()
    assert caught.value.phase == "total"
    assert recorder.hits["/oa/v1/models"] == 1  # a total timeout is not retried


# ---- retries ---------------------------------------------------------------------------------


async def test_get_503_then_200_is_retried_with_backoff(serve, recorder: Recorder) -> None:
    async def handler(request: web.Request) -> web.Response:
        if recorder.seen(request) < 3:
            return web.json_response({"statusCode": 503, "message": "busy"}, status=503)
        return web.json_response({"object": "list", "data": [{"id": "m"}]})

    base = await serve({"GET /oa/v1/models": handler})
    sleeps = Sleeps()
    async with make_client(base, sleeps) as c:
        listing = await c.list_models()
    assert [m.id for m in listing.data] == ["m"]
    assert recorder.hits["/oa/v1/models"] == 3
    assert sleeps.delays == [1.0, 2.0]  # rand()=1.0: the full exponential cap


async def test_retry_after_http_date_is_waited_out(serve, recorder: Recorder) -> None:
    async def handler(request: web.Request) -> web.Response:
        if recorder.seen(request) == 1:
            return web.json_response(
                {"statusCode": 503, "message": "maintenance"},
                status=503,
                headers={"Retry-After": "Tue, 14 Nov 2023 22:13:23 GMT"},
            )
        return web.json_response({"object": "list", "data": [{"id": "m"}]})

    base = await serve({"GET /oa/v1/models": handler})
    sleeps = Sleeps()
    settings = ClientSettings.for_base_url(base, retry=RetrySettings(backoff_base=0.5))
    async with NovelAIClient(settings, rand=lambda: 1.0, sleep=sleeps, now=lambda: 1.7e9) as c:
        assert (await c.list_models()).data
    assert sleeps.delays == [3.0]  # the date is 3 s after 'now'; the backoff would be 0.5


async def test_retries_give_up_after_attempts(serve, recorder: Recorder) -> None:
    async def handler(request: web.Request) -> web.Response:
        recorder.seen(request)
        return web.json_response({"statusCode": 429, "message": "slow down"}, status=429)

    base = await serve({"GET /user/subscription": handler})
    async with make_client(base) as c:
        with pytest.raises(errors.RateLimitedError, match="slow down"):
            await c.subscription()
    assert recorder.hits["/user/subscription"] == 3


@pytest.mark.parametrize(
    ("route", "call"),
    [
        ("POST /oa/v1/completions", lambda c: c.completions(completion())),
        (
            "POST /oa/v1/chat/completions",
            lambda c: c.chat_completions(
                models.ChatCompletionRequest(
                    model="m", messages=[models.ChatMessage(role="user", content="hi")]
                )
            ),
        ),
        ("POST /ai/generate", lambda c: c.generate(models.GenerateRequest(input="x", model="m"))),
        ("POST /oa/v1/completions", lambda c: anext(c.stream_completions(completion()))),
    ],
)
async def test_generation_500_is_never_retried(serve, recorder: Recorder, route, call) -> None:
    async def handler(request: web.Request) -> web.Response:
        recorder.seen(request)
        return web.json_response({"statusCode": 500, "message": "boom"}, status=500)

    base = await serve({route: handler})
    async with make_client(base) as c:
        with pytest.raises(errors.ServerError, match="boom"):
            await call(c)
    assert sum(recorder.hits.values()) == 1


async def test_login_and_token_count_are_retried(serve, recorder: Recorder) -> None:
    async def login(request: web.Request) -> web.Response:
        if recorder.seen(request, await request.json()) == 1:
            return web.Response(status=502, text="bad gateway")
        return web.json_response({"accessToken": "tok-1"}, status=201)

    async def count(request: web.Request) -> web.Response:
        if recorder.seen(request) == 1:
            return web.Response(status=500)
        return web.json_response({"count": 9})

    base = await serve({"POST /user/login": login, "POST /oa/v1/internal/token-count": count})
    async with make_client(base, token=None) as c:
        assert await c.login("k" * 64) == "tok-1"
        assert (await c.token_count(models.TokenCountRequest(model="m", prompt="x"))).count == 9
    assert recorder.bodies[0] == {"key": "k" * 64}
    assert recorder.hits == {"/user/login": 2, "/oa/v1/internal/token-count": 2}
    # after login, the issued token is the bearer
    assert recorder.headers[-1]["Authorization"] == "Bearer tok-1"


async def test_connection_refused_retried_then_raised() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sleeps = Sleeps()
    async with make_client(f"http://127.0.0.1:{port}", sleeps) as c:
        with pytest.raises(errors.ConnectionFailedError):
            await c.list_models()
        assert len(sleeps.delays) == 2
        with pytest.raises(errors.ConnectionFailedError):
            await c.completions(completion())
        assert len(sleeps.delays) == 2  # the generation was tried once


# ---- headers and settings --------------------------------------------------------------------


async def test_headers_auth_and_extras(serve, recorder: Recorder) -> None:
    async def handler(request: web.Request) -> web.Response:
        recorder.seen(request)
        return web.json_response({"accessToken": "t"}, status=201)

    base = await serve({"GET /user/information": handler, "POST /user/login": handler})
    async with make_client(base, extra_headers={"X-Trace": "1"}) as c:
        await c.user_information()
        await c.login("key")
    first, login = recorder.headers
    assert first["Authorization"] == "Bearer pst-secret"
    assert first["X-Trace"] == "1"
    assert first["User-Agent"].startswith("nai-script/")
    assert "Authorization" not in login  # the access key is the credential here


async def test_openai_compatible_paths(serve, recorder: Recorder) -> None:
    async def handler(request: web.Request) -> web.Response:
        recorder.seen(request, await request.json())
        return web.json_response({"choices": [{"text": "x"}]})

    base = await serve({"POST /v1/completions": handler})
    async with make_client(base, openai_compatible=True) as c:
        await c.completions(completion())
    assert recorder.hits == {"/v1/completions": 1}
    assert recorder.bodies[0] == {"model": "m", "prompt": "p", "max_tokens": 3, "stream": False}


async def test_shared_session_is_not_closed(serve) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"data": []})

    base = await serve({"GET /oa/v1/models": handler})
    async with aiohttp.ClientSession() as session:
        async with NovelAIClient(ClientSettings.for_base_url(base), session=session) as c:
            await c.list_models()
        assert not session.closed


def test_settings_validation() -> None:
    with pytest.raises(ValueError, match="text_url"):
        ClientSettings(text_url="ftp://x")
    settings = ClientSettings.for_base_url("http://h:1/", token="pst-x")
    assert settings.api_url == "http://h:1"
    assert "pst-x" not in repr(settings)
