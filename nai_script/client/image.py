"""Image generation: build a valid ``/ai/generate-image`` request and turn the answer into PNGs.

The builder is pure (tests and ``--dry-run`` use it without a network); :func:`generate_image`
sends through the client core's ``request_bytes`` so auth, retries and the error hierarchy
(401, 429 "Concurrent generation is locked", 500 for bad character structure) are shared with
text generation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nai_script.client.image_grid import GridError, assign_cells, cell_center, normalize_cell
from nai_script.client.image_models import (
    ImageAction,
    ImageGenerationRequest,
    ImageModelName,
    ImageRequestError,
    NoiseSchedule,
    Sampler,
    describe_validation_error,
    is_v4,
)
from nai_script.client.image_zip import unpack_images

GENERATE_IMAGE_PATH = "/ai/generate-image"
DEFAULT_IMAGE_MODEL = ImageModelName.V4_5_FULL


class _BytesClient(Protocol):
    """The one method of the client core this module needs."""

    async def request_bytes(
        self, method: str, host: Literal["image"], path: str, *, json: Any = None, idempotent: bool
    ) -> tuple[bytes, str]: ...


#: What the text after a character's last ``@`` must look like to be read as its grid cell.
_CELL_SHAPED = re.compile(r"(?:[A-Za-z][0-9]+)?")


class CharacterSpec(BaseModel):
    """One character of a V4 prompt: its caption, its own negative, and an optional grid cell."""

    model_config = ConfigDict(frozen=True)

    prompt: str = Field(min_length=1)
    negative: str = ""
    position: str | None = None

    @classmethod
    def parse(cls, text: str) -> CharacterSpec:
        """``"desc"``, ``"desc@C3"``, ``"desc|negative"`` or ``"desc@C3|negative"``.

        The text after the last ``@`` is a cell only if it is shaped like one (a letter and
        digits: ``C3``, or a mistyped ``F1``, which is refused; nothing: no cell); otherwise
        the ``@`` belongs to the description (``"girl texting @sam"``)."""
        main, _, negative = text.partition("|")
        prompt, at, cell = main.rpartition("@")
        if not at or not _CELL_SHAPED.fullmatch(cell.strip()):
            prompt, cell = main, ""
        prompt = prompt.strip()
        if not prompt:
            raise ImageRequestError([f"character {text!r}: the description is empty"])
        position = None
        if cell.strip():
            try:
                position = normalize_cell(cell, field=f"character {text!r}")
            except GridError as exc:
                raise ImageRequestError([str(exc)]) from None
        return cls(prompt=prompt, negative=negative.strip(), position=position)


def _char_captions(texts: Sequence[str], cells: Sequence[str]) -> list[dict[str, Any]]:
    captions = []
    for text, cell in zip(texts, cells, strict=True):
        x, y = cell_center(cell)
        captions.append({"char_caption": text, "centers": [{"x": x, "y": y}]})
    return captions


def build_v4_prompts(
    prompt: str, negative: str, characters: Sequence[CharacterSpec]
) -> dict[str, Any]:
    """``v4_prompt``, ``v4_negative_prompt``, ``use_coords`` and ``characterPrompts`` for V4.

    Positive and negative char captions come out equal in number with the same centres;
    ``use_coords`` is true as soon as any character was given a cell; ``use_order`` is true (the
    order of the characters is meaningful, as in NovelAI's own client).
    """
    try:
        cells = assign_cells([c.position for c in characters])
    except GridError as exc:
        raise ImageRequestError([str(exc)]) from None
    use_coords = any(c.position is not None for c in characters)
    return {
        "v4_prompt": {
            "caption": {
                "base_caption": prompt,
                "char_captions": _char_captions([c.prompt for c in characters], cells),
            },
            "use_coords": use_coords,
            "use_order": True,
        },
        "v4_negative_prompt": {
            "caption": {
                "base_caption": negative,
                "char_captions": _char_captions([c.negative for c in characters], cells),
            },
            "legacy_uc": False,
        },
        "use_coords": use_coords,
        "characterPrompts": [
            {
                "prompt": c.prompt,
                "uc": c.negative,
                "center": dict(zip(("x", "y"), cell_center(cell), strict=True)),
                "enabled": True,
            }
            for c, cell in zip(characters, cells, strict=True)
        ],
    }


def build_image_request(
    prompt: str,
    *,
    negative: str = "",
    characters: Sequence[CharacterSpec | str] = (),
    model: ImageModelName | str = DEFAULT_IMAGE_MODEL,
    action: ImageAction | str = ImageAction.GENERATE,
    sampler: Sampler | str = Sampler.K_EULER_ANCESTRAL,
    width: int = 832,
    height: int = 1216,
    steps: int = 28,
    scale: float = 5.0,
    seed: int = 0,
    n_samples: int = 1,
    noise_schedule: NoiseSchedule | str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> ImageGenerationRequest:
    """A validated request; raises :class:`ImageRequestError` naming every bad field.

    V4/V4.5 models get structured captions built from ``prompt``, ``negative`` and
    ``characters`` (auto-placed A1, E5, C3, E1, A5 when they have no cell); V3 and older get a
    plain ``negative_prompt`` and refuse characters. ``extra`` is merged into ``parameters``
    last, for the many fields NovelAI clients send that we pass through.
    """
    problems: list[str] = []
    try:
        model_name = ImageModelName(model)
    except ValueError:
        allowed = ", ".join(m.value for m in ImageModelName)
        raise ImageRequestError(
            [f"model: {model!r} is not an image model (allowed: {allowed})"]
        ) from None
    specs = [c if isinstance(c, CharacterSpec) else CharacterSpec.parse(c) for c in characters]
    params: dict[str, Any] = {
        "width": width,
        "height": height,
        "scale": scale,
        "steps": steps,
        "seed": seed,
        "n_samples": n_samples,
        "sampler": sampler,
        "negative_prompt": negative,
    }
    if noise_schedule is not None:
        params["noise_schedule"] = noise_schedule
    if is_v4(model_name):
        params["params_version"] = 3
        params.setdefault("noise_schedule", NoiseSchedule.KARRAS.value)
        params.update(build_v4_prompts(prompt, negative, specs))
    elif specs:
        problems.append(
            f"characters: {model_name.value} takes no characters (only V4 models do: "
            f"{', '.join(m.value for m in ImageModelName if is_v4(m))})"
        )
    params.update(extra or {})
    if problems:
        raise ImageRequestError(problems)
    body = {"input": prompt, "model": model_name.value, "action": action, "parameters": params}
    try:
        return ImageGenerationRequest.model_validate(body)
    except ValidationError as exc:
        raise ImageRequestError(describe_validation_error(exc)) from None


async def generate_image(client: _BytesClient, request: ImageGenerationRequest) -> list[bytes]:
    """Send ``request`` to the image host and return the PNGs, one per sample.

    Never retried by the client core (a generation costs Anlas); errors arrive as the client's
    error hierarchy, a malformed answer as ``ImageArchiveError``.
    """
    body, content_type = await client.request_bytes(
        "POST", "image", GENERATE_IMAGE_PATH, json=request.wire(), idempotent=False
    )
    return unpack_images(body, content_type)
