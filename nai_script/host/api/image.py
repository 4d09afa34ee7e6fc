"""``image.generate(params)`` (async): an extension NovelAI's script api does not have.

Scripts get PNGs as ``data:image/png;base64,...`` URIs, ready for an ``image`` UI part. The
call needs the ``imageGeneration`` permission and spends the script's image budget
(``nai_script/host/image_budget.py``): images are reserved before sending, charged on success,
and refunded when the backend fails (a 429 or a 500 produced nothing).
"""

from __future__ import annotations

import base64
import random
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nai_script.client import errors as client_errors
from nai_script.client.image import (
    DEFAULT_IMAGE_MODEL,
    CharacterSpec,
    build_image_request,
    generate_image,
)
from nai_script.client.image_models import ImageRequestError
from nai_script.client.image_zip import ImageArchiveError
from nai_script.host.api.basics import require_permission
from nai_script.host.dispatch import (
    ApiFailure,
    ApiUsageError,
    CallContext,
    Route,
    first_validation_problem,
)
from nai_script.host.image_budget import ImageBudgetExceeded

PERMISSION = "imageGeneration"
NAME = "image.generate"
MAX_SEED = 4_294_967_295


class CharacterParam(BaseModel):
    """One character as a dict; the string form ``"desc@C3|negative"`` is accepted too."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1)
    negative: str = ""
    position: str | None = None


class ImageParams(BaseModel):
    """NovelAI-style options; ranges beyond these are checked by the image request builder."""

    model_config = ConfigDict(extra="forbid", strict=True)

    prompt: str = Field(min_length=1)
    negative: str = ""
    characters: list[CharacterParam | str] = Field(default_factory=list, max_length=5)
    model: str = DEFAULT_IMAGE_MODEL.value
    sampler: str = "k_euler_ancestral"
    width: int = 832
    height: int = 1216
    steps: int = 28
    scale: float | int = 5.0
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED, description="0/None: random.")
    samples: int = Field(default=1, ge=1, le=4)


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _params(ctx: CallContext) -> ImageParams:
    """``generate({...})`` or ``generate(prompt=..., ...)``: one dict, or keyword options."""
    raw = ctx.options("params")
    if not isinstance(raw, dict):
        raise ApiUsageError(f"{NAME} params: must be a dict, got {type(raw).__name__}")
    try:
        return ImageParams.model_validate(raw)
    except ValidationError as error:
        raise ApiUsageError(first_validation_problem(error, f"{NAME} params")) from None


def _builder_problem(problem: str) -> str:
    """The builder names wire fields (``parameters.n_samples``); scripts know ``samples``."""
    field = problem.removeprefix("parameters.").replace("n_samples", "samples")
    return f"{NAME} params.{field}" if ":" in field.split(" ")[0] else f"{NAME} params: {field}"


def _request(params: ImageParams, seed: int) -> Any:
    characters = [
        c if isinstance(c, str) else CharacterSpec(**c.model_dump()) for c in params.characters
    ]
    try:
        return build_image_request(
            params.prompt,
            negative=params.negative,
            characters=characters,
            model=params.model,
            sampler=params.sampler,
            width=params.width,
            height=params.height,
            steps=params.steps,
            scale=float(params.scale),
            seed=seed,
            n_samples=params.samples,
        )
    except ImageRequestError as error:
        raise ApiUsageError(_builder_problem(error.problems[0])) from None


def _backend_message(error: client_errors.NovelAIError) -> str:
    if isinstance(error, client_errors.ConcurrencyLockedError):
        return (
            "the backend refused the image (429 concurrent generation locked: another image "
            f"is generating on this account); nothing was charged: {error}"
        )
    if isinstance(error, client_errors.RateLimitedError):
        return f"the backend rate-limited the image (429); nothing was charged: {error}"
    return f"the image generation failed; nothing was charged: {error}"


async def _generate(ctx: CallContext) -> dict[str, Any]:
    """Check everything before reserving; reserve before sending; refund on any failure."""
    require_permission(ctx, PERMISSION)
    params = _params(ctx)
    seed = params.seed or random.randint(1, MAX_SEED)
    request = _request(params, seed)
    try:
        reservation = await ctx.host.image_budget.reserve(ctx.script.id, params.samples)
    except ImageBudgetExceeded as error:
        raise ApiFailure(f"not enough image budget: {error}") from None
    try:
        pngs = await generate_image(ctx.host.client, request)
    except client_errors.NovelAIError as error:
        await reservation.release()
        raise ApiFailure(_backend_message(error)) from None
    except ImageArchiveError as error:
        await reservation.release()
        raise ApiFailure(f"the backend answered no readable images: {error}") from None
    except BaseException:
        await reservation.release()
        raise
    await reservation.settle(len(pngs))
    return {"images": [data_uri(png) for png in pngs], "seed": seed}


ROUTES: dict[str, Route] = {"v1.image.generate": _generate}
