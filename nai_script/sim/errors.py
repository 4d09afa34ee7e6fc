"""NovelAI-shaped errors: every failure leaves the simulator as ``{"statusCode", "message"}``."""

from __future__ import annotations

import json
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from nai_script.client.models import ErrorBody

M = TypeVar("M", bound=BaseModel)


class SimHTTPError(Exception):
    """Raised by a route to answer with a NovelAI error body."""

    def __init__(self, status: int, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


def error_response(status: int, message: str, *, retry_after: int | None = None) -> web.Response:
    """NovelAI's error body; ``retry_after`` (seconds) adds a ``Retry-After`` header."""
    body = ErrorBody(statusCode=status, message=message).to_wire()
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return web.json_response(body, status=status, headers=headers)


def validation_message(exc: ValidationError) -> str:
    """One line naming each bad field, e.g. ``max_tokens: Input should be ...``."""
    parts = []
    for error in exc.errors():
        location = ".".join(str(p) for p in error["loc"]) or "body"
        parts.append(f"{location}: {error['msg']}")
    return "; ".join(parts)


async def read_json_object(request: web.Request) -> dict[str, object]:
    """The request body as a JSON object, or a 400 saying what is wrong with it."""
    raw = await request.read()
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SimHTTPError(400, f"body: not valid JSON ({exc})") from None
    except RecursionError:  # '[[[[...' deeper than the parser's stack: a bad body, not our crash
        raise SimHTTPError(400, "body: JSON nested too deeply") from None
    if not isinstance(data, dict):
        raise SimHTTPError(400, "body: expected a JSON object")
    if b"\\u" in raw and _holds_lone_surrogate(data):
        raise SimHTTPError(400, "body: a string holds an unpaired surrogate escape, not text")
    return data


def _holds_lone_surrogate(data: object) -> bool:
    """JSON may escape half a surrogate pair (``"\\ud800"``); no tokenizer can take that."""
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def parse_body(model: type[M], data: object) -> M:
    """Validate a request body into its wire model; a 400 naming the bad fields otherwise."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise SimHTTPError(400, validation_message(exc)) from None
