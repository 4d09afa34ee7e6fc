"""Typed wire models for NovelAI's ``POST image.novelai.net/ai/generate-image``.

Every documented parameter carries its range, so an invalid request is refused *before* it is
sent, with the field and the allowed values named. Fields we do not model (NovelAI's web client
sends many: ``params_version``, ``characterPrompts``, ``prefer_brownian``, ...) are accepted and
passed through untouched, because NovelAI ignores what it does not know and so must we.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

MAX_SEED = 9_999_999_999
# Coordinates of a character centre: the grid's outermost cell centres (SPEC section 8).
MIN_COORD = 0.1
MAX_COORD = 0.9


class ImageModelName(StrEnum):
    """The image models this client knows; the V4 family takes ``v4_prompt``."""

    V4_5_FULL = "nai-diffusion-4-5-full"
    V4_5_CURATED = "nai-diffusion-4-5-curated"
    V4_FULL = "nai-diffusion-4-full"
    V3 = "nai-diffusion-3"
    V2 = "nai-diffusion-2"
    V1 = "nai-diffusion"


V4_MODELS: frozenset[ImageModelName] = frozenset(
    {ImageModelName.V4_5_FULL, ImageModelName.V4_5_CURATED, ImageModelName.V4_FULL}
)


def is_v4(model: ImageModelName) -> bool:
    """V4/V4.5 models take structured captions; V3 and older take ``negative_prompt``."""
    return model in V4_MODELS


class ImageAction(StrEnum):
    GENERATE = "generate"
    IMG2IMG = "img2img"
    INFILL = "infill"


class Sampler(StrEnum):
    """The 15 standard samplers. ``nai_smea``/``nai_smea_dyn`` are aliases the models never
    see: they become ``k_euler_ancestral`` with the ``sm``/``sm_dyn`` flags."""

    K_LMS = "k_lms"
    K_EULER = "k_euler"
    K_EULER_ANCESTRAL = "k_euler_ancestral"
    K_HEUN = "k_heun"
    PLMS = "plms"
    DDIM = "ddim"
    NAI_SMEA = "nai_smea"
    NAI_SMEA_DYN = "nai_smea_dyn"
    K_DPMPP_2M = "k_dpmpp_2m"
    K_DPMPP_2S_ANCESTRAL = "k_dpmpp_2s_ancestral"
    K_DPMPP_SDE = "k_dpmpp_sde"
    K_DPM_2 = "k_dpm_2"
    K_DPM_2_ANCESTRAL = "k_dpm_2_ancestral"
    K_DPM_ADAPTIVE = "k_dpm_adaptive"
    K_DPM_FAST = "k_dpm_fast"


class NoiseSchedule(StrEnum):
    NATIVE = "native"
    KARRAS = "karras"
    EXPONENTIAL = "exponential"
    POLYEXPONENTIAL = "polyexponential"


class _Open(BaseModel):
    """Wire models keep unknown fields: NovelAI clients send more than we model."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class V4Center(_Open):
    x: float = Field(ge=MIN_COORD, le=MAX_COORD)
    y: float = Field(ge=MIN_COORD, le=MAX_COORD)


class V4CharCaption(_Open):
    char_caption: str
    centers: list[V4Center] = Field(min_length=1)


class V4Caption(_Open):
    base_caption: str
    char_captions: list[V4CharCaption] = Field(default_factory=list)


class V4Prompt(_Open):
    caption: V4Caption
    use_coords: bool = False
    use_order: bool = True


class V4NegativePrompt(_Open):
    caption: V4Caption
    legacy_uc: bool = False


class ImageParameters(_Open):
    """``parameters`` of an image request, with NovelAI's ranges."""

    width: int = Field(832, ge=64, le=2048, multiple_of=64)
    height: int = Field(1216, ge=64, le=2048, multiple_of=64)
    scale: float = Field(5.0, ge=0, le=10)
    steps: int = Field(28, ge=1, le=50)
    seed: int = Field(0, ge=0, le=MAX_SEED)
    n_samples: int = Field(1, ge=1, le=4)
    sampler: Sampler = Sampler.K_EULER_ANCESTRAL
    noise_schedule: NoiseSchedule | None = None
    negative_prompt: str | None = None
    sm: bool = False
    sm_dyn: bool = False
    cfg_rescale: float = Field(0.0, ge=0, le=1)
    strength: float | None = Field(None, ge=0, le=1)
    noise: float | None = Field(None, ge=0, le=1)
    image: str | None = None
    mask: str | None = None
    extra_noise_seed: int | None = Field(None, ge=0, le=MAX_SEED)
    v4_prompt: V4Prompt | None = None
    v4_negative_prompt: V4NegativePrompt | None = None

    @model_validator(mode="after")
    def _expand_smea_aliases(self) -> ImageParameters:
        # The seed client's nai_smea samplers are k_euler_ancestral with SMEA switched on.
        if self.sampler is Sampler.NAI_SMEA:
            self.sampler, self.sm = Sampler.K_EULER_ANCESTRAL, True
        elif self.sampler is Sampler.NAI_SMEA_DYN:
            self.sampler, self.sm, self.sm_dyn = Sampler.K_EULER_ANCESTRAL, True, True
        return self


class ImageGenerationRequest(_Open):
    """The whole body of ``POST /ai/generate-image``."""

    input: str
    model: ImageModelName
    action: ImageAction = ImageAction.GENERATE
    parameters: ImageParameters = Field(default_factory=ImageParameters)

    @model_validator(mode="after")
    def _check_family_and_action(self) -> ImageGenerationRequest:
        problems = family_problems(self) + action_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def wire(self) -> dict[str, Any]:
        """The JSON body as sent: enums as strings, unset optional fields left out."""
        return self.model_dump(mode="json", exclude_none=True)


def v4_caption_problems(params: ImageParameters) -> list[str]:
    """Structural faults in V4 captions that NovelAI answers with 500: positive and negative
    char captions must match in number and centres."""
    if params.v4_prompt is None or params.v4_negative_prompt is None:
        return []
    pos = params.v4_prompt.caption.char_captions
    neg = params.v4_negative_prompt.caption.char_captions
    if len(pos) != len(neg):
        return [
            f"parameters.v4_negative_prompt.caption.char_captions: {len(neg)} negative char "
            f"caption(s) for {len(pos)} positive one(s); the counts must be equal"
        ]
    problems = []
    for i, (p, n) in enumerate(zip(pos, neg, strict=True)):
        if [(c.x, c.y) for c in p.centers] != [(c.x, c.y) for c in n.centers]:
            problems.append(
                f"parameters.v4_negative_prompt.caption.char_captions[{i}].centers: must equal "
                f"the centers of v4_prompt char caption {i}"
            )
    return problems


def family_problems(request: ImageGenerationRequest) -> list[str]:
    """V4 models need ``v4_prompt``; V3 and older take no v4 fields."""
    params = request.parameters
    if is_v4(request.model):
        problems = []
        if params.v4_prompt is None:
            problems.append(f"parameters.v4_prompt: required for {request.model.value}")
        if params.v4_negative_prompt is None:
            problems.append(f"parameters.v4_negative_prompt: required for {request.model.value}")
        return problems + v4_caption_problems(params)
    return [
        f"parameters.{name}: only V4 models ({', '.join(sorted(m.value for m in V4_MODELS))}) "
        f"take it, not {request.model.value}; use parameters.negative_prompt"
        for name in ("v4_prompt", "v4_negative_prompt")
        if getattr(params, name) is not None
    ]


def action_problems(request: ImageGenerationRequest) -> list[str]:
    """img2img needs a source image and strength; infill needs an image and a mask."""
    params = request.parameters
    problems = []
    if request.action in (ImageAction.IMG2IMG, ImageAction.INFILL) and not params.image:
        problems.append(f"parameters.image: required for action {request.action.value}")
    if request.action is ImageAction.IMG2IMG and params.strength is None:
        problems.append("parameters.strength: required for action img2img (0..1)")
    if request.action is ImageAction.INFILL and not params.mask:
        problems.append("parameters.mask: required for action infill")
    return problems


class ImageRequestError(ValueError):
    """An image request we refuse to send; ``problems`` name each field and what is allowed."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid image request: " + "; ".join(problems))
        self.problems = problems


def describe_validation_error(exc: ValidationError) -> list[str]:
    """Turn pydantic's errors into "field.path: what is wrong (got value)" lines."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(part) for part in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        if not loc:
            lines.extend(msg.split("; "))
            continue
        got = err.get("input")
        shown = (
            "" if isinstance(got, dict | list) or err["type"] == "missing" else f" (got {got!r})"
        )
        lines.append(f"{loc}: {msg}{shown}")
    return lines


def parse_image_request(data: Mapping[str, Any]) -> ImageGenerationRequest:
    """Validate a raw request body; raises :class:`ImageRequestError` naming every problem."""
    try:
        return ImageGenerationRequest.model_validate(dict(data))
    except ValidationError as exc:
        raise ImageRequestError(describe_validation_error(exc)) from None
