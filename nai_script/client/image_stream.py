"""``POST /ai/generate-image-stream``: the image endpoint that reports progress as it samples.

The body is that of ``/ai/generate-image`` with ``parameters.stream = "sse"``; the answer is
``text/event-stream`` whose events carry JSON: ``event_type`` (``"intermediate"`` per reported
step, ``"final"`` once per sample), ``samp_ix``, ``step_ix``, ``gen_id``, ``sigma`` and a base64
``image``. These facts come from public third-party NovelAI clients, not from NovelAI's docs,
so the parser is strict where it matters (every sample must end with a PNG) and lenient
elsewhere (unknown fields pass, the SSE event name is not relied on). NovelAI also offers
``stream = "msgpack"``; this client speaks ``"sse"`` only and says so before sending.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nai_script.client.errors import ProtocolError, ServerError, server_message
from nai_script.client.image_models import ImageGenerationRequest, ImageRequestError
from nai_script.client.image_zip import PNG_SIGNATURE
from nai_script.client.sse import ServerSentEvent

GENERATE_IMAGE_STREAM_PATH = "/ai/generate-image-stream"
STREAM_FORMAT = "sse"
_UNSUPPORTED_FORMATS = ("msgpack",)


class _SSEClient(Protocol):
    """The one method of the client core this module needs."""

    def open_sse(
        self, host: Literal["image"], path: str, json: Any
    ) -> AsyncGenerator[ServerSentEvent, None]: ...


class ImageStreamEvent(BaseModel):
    """One progress report. ``image`` is decoded: a preview (JPEG on NovelAI, a small PNG from
    the simulator) for ``intermediate``, the finished PNG for ``final``."""

    model_config = ConfigDict(extra="allow", frozen=True)

    event_type: Literal["intermediate", "final"]
    samp_ix: int = Field(ge=0)
    step_ix: int = Field(ge=0)
    gen_id: str = ""
    sigma: float = 0.0
    image: bytes

    @property
    def is_final(self) -> bool:
        return self.event_type == "final"


def stream_body(request: ImageGenerationRequest) -> dict[str, Any]:
    """The wire body with ``parameters.stream = "sse"``; refuses any other stream format."""
    body = request.wire()
    params = body["parameters"]
    wanted = params.get("stream", STREAM_FORMAT)
    if wanted != STREAM_FORMAT:
        why = "not supported" if wanted in _UNSUPPORTED_FORMATS else "unknown"
        raise ImageRequestError(
            [f"parameters.stream: {wanted!r} is {why} (this client streams 'sse' only)"]
        )
    params["stream"] = STREAM_FORMAT
    return body


def parse_stream_event(event: ServerSentEvent, where: str) -> ImageStreamEvent | None:
    """One SSE event as an :class:`ImageStreamEvent`; None for events that carry no image
    report (comments-only, keep-alives); error events raise :class:`ServerError`."""
    if event.event == "error" or event.data.startswith('{"error"'):
        message = server_message(event.data.encode("utf-8")) or "error event in stream"
        raise ServerError(f"image stream error: {message}", None, where)
    if not event.data.strip():
        return None
    return _decode(event.data, where)


def _decode(data: str, where: str) -> ImageStreamEvent:
    try:
        payload = json.loads(data)
    except ValueError:
        raise ProtocolError(f"image stream event is not JSON: {data[:80]!r}", None, where) from None
    if not isinstance(payload, dict):
        raise ProtocolError(f"image stream event is not an object: {data[:80]!r}", None, where)
    encoded = payload.get("image")
    if not isinstance(encoded, str):
        raise ProtocolError("image stream event: image: missing or not a string", None, where)
    try:
        payload["image"] = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError("image stream event: image: not valid base64", None, where) from None
    try:
        parsed = ImageStreamEvent.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "event"
        raise ProtocolError(f"image stream event: {field}: {first['msg']}", None, where) from None
    if parsed.is_final and not parsed.image.startswith(PNG_SIGNATURE):
        raise ProtocolError(
            f"image stream event: sample {parsed.samp_ix}: final image is not a PNG", None, where
        )
    return parsed


async def stream_image(
    client: _SSEClient, request: ImageGenerationRequest
) -> AsyncIterator[ImageStreamEvent]:
    """Generate ``request`` and yield each progress event as it arrives.

    Ends after every sample (``0..n_samples-1``) has had its ``final`` event; a stream that
    ends or drops before that raises :class:`ProtocolError`. HTTP failures arrive as the client
    core's error hierarchy (401, 429 "Concurrent generation is locked", 500, ...). Never
    retried: a generation costs Anlas. Stop iterating and the connection closes.
    """
    body = stream_body(request)
    expected = request.parameters.n_samples
    pending = set(range(expected))
    async with aclosing(client.open_sse("image", GENERATE_IMAGE_STREAM_PATH, body)) as events:
        async for event in events:
            parsed = parse_stream_event(event, GENERATE_IMAGE_STREAM_PATH)
            if parsed is None:
                continue
            if parsed.samp_ix >= expected:
                raise ProtocolError(
                    f"image stream event: samp_ix {parsed.samp_ix} outside 0..{expected - 1}",
                    None,
                    GENERATE_IMAGE_STREAM_PATH,
                )
            yield parsed
            if parsed.is_final:
                pending.discard(parsed.samp_ix)
                if not pending:
                    return
    missing = ", ".join(str(ix) for ix in sorted(pending))
    raise ProtocolError(
        f"image stream ended before the final image of sample(s) {missing}",
        None,
        GENERATE_IMAGE_STREAM_PATH,
    )


async def stream_final_images(client: _SSEClient, request: ImageGenerationRequest) -> list[bytes]:
    """Consume the stream and return the final PNGs in sample order (no progress shown)."""
    finals: dict[int, bytes] = {}
    async for event in stream_image(client, request):
        if event.is_final:
            finals[event.samp_ix] = event.image
    return [finals[ix] for ix in sorted(finals)]
