"""Legacy ``/ai/generate`` parameter helpers, at parity with the seed client (novelai-api):
presets with their sampling order, global settings, ban lists, bias groups, modules/prefixes
and stop sequences. Every model serialises to the exact ``parameters`` names NovelAI reads.

Strings in ban lists, bias groups, stop sequences and the rep-pen whitelist are tokenized per
model with the tokenizer the caller passes (the registry's tokenizer for that model), so one
preset serves every model; token-id lists pass through unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import IntEnum
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator


class TextEncoder(Protocol):
    def encode(self, text: str) -> list[int]: ...


class SamplerId(IntEnum):
    """The ids ``order`` is sent as (the web client's preset files name them)."""

    TEMPERATURE = 0
    TOP_K = 1
    TOP_P = 2
    TFS = 3
    TOP_A = 4
    TYPICAL_P = 5
    CFG = 6
    TOP_G = 7
    MIROSTAT = 8
    MATH1 = 9  # "unified" sampling
    MIN_P = 10


SAMPLER_NAMES: dict[str, SamplerId] = {
    "temperature": SamplerId.TEMPERATURE,
    "top_k": SamplerId.TOP_K,
    "top_p": SamplerId.TOP_P,
    "tfs": SamplerId.TFS,
    "top_a": SamplerId.TOP_A,
    "typical_p": SamplerId.TYPICAL_P,
    "cfg": SamplerId.CFG,
    "top_g": SamplerId.TOP_G,
    "mirostat": SamplerId.MIROSTAT,
    "math1": SamplerId.MATH1,
    "min_p": SamplerId.MIN_P,
}

# The parameters each sampler owns: dropped from the request when the sampler is disabled.
SAMPLER_FIELDS: dict[SamplerId, tuple[str, ...]] = {
    SamplerId.TEMPERATURE: ("temperature",),
    SamplerId.TOP_K: ("top_k",),
    SamplerId.TOP_P: ("top_p",),
    SamplerId.TFS: ("tail_free_sampling",),
    SamplerId.TOP_A: ("top_a",),
    SamplerId.TYPICAL_P: ("typical_p",),
    SamplerId.CFG: ("cfg_scale", "cfg_uc"),
    SamplerId.TOP_G: ("top_g",),
    SamplerId.MIROSTAT: ("mirostat_tau", "mirostat_lr"),
    SamplerId.MATH1: ("math1_temp", "math1_quad", "math1_quad_entropy_scale"),
    SamplerId.MIN_P: ("min_p",),
}

PhraseRepPen = Literal["off", "very_light", "light", "medium", "aggressive", "very_aggressive"]


class OrderEntry(BaseModel):
    """One row of a preset file's ``order``: ``{"id": "top_k", "enabled": true}``."""

    id: str
    enabled: bool = True

    @field_validator("id")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in SAMPLER_NAMES:
            raise ValueError(f"unknown sampler {value!r} (allowed: {', '.join(SAMPLER_NAMES)})")
        return value


Sequenceish = str | list[int]


class Preset(BaseModel):
    """A text generation preset (the ``parameters`` of a ``.preset`` file)."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(default="<custom>", exclude=True)
    model: str | None = Field(default=None, exclude=True)
    textGenerationSettingsVersion: int | None = Field(default=None, exclude=True)

    temperature: float = Field(1.0, gt=0)
    max_length: int = Field(40, ge=1, le=2048)
    min_length: int = Field(1, ge=1, le=2048)
    top_k: int = Field(0, ge=0)
    top_p: float = Field(0.0, ge=0, le=1)
    top_a: float = Field(1.0, ge=0)
    typical_p: float = Field(0.0, ge=0, le=1)
    tail_free_sampling: float = Field(1.0, ge=0, le=1)
    min_p: float = Field(0.0, ge=0, le=1)
    top_g: int = Field(0, ge=0)
    cfg_scale: float = Field(1.0, ge=0)
    cfg_uc: str = ""
    mirostat_tau: float = Field(0.0, ge=0)
    mirostat_lr: float = Field(1.0, ge=0, le=1)
    math1_temp: float = 1.0
    math1_quad: float = 0.0
    math1_quad_entropy_scale: float = 0.0
    repetition_penalty: float = Field(1.0, ge=0)
    repetition_penalty_range: int = Field(0, ge=0)
    repetition_penalty_slope: float = Field(0.0, ge=0)
    repetition_penalty_frequency: float = 0.0
    repetition_penalty_presence: float = 0.0
    repetition_penalty_default_whitelist: bool | None = None
    repetition_penalty_whitelist: list[int] | None = None
    phrase_rep_pen: PhraseRepPen | None = None
    length_penalty: float | None = None
    diversity_penalty: float | None = None
    order: list[OrderEntry] = Field(
        default_factory=lambda: [OrderEntry(id=name) for name in list(SAMPLER_NAMES)[:6]]
    )

    @classmethod
    def from_preset_file(cls, data: Mapping[str, Any]) -> Preset:
        """A preset from a ``.preset`` file's JSON (``{"name", "model", "parameters"}``)."""
        params = dict(data.get("parameters", {}))
        # Token bans and biases in preset files are handled by BanList/BiasGroup instead.
        for key in ("bad_words_ids", "logit_bias_exp", "logit_bias_groups"):
            params.pop(key, None)
        return cls.model_validate(
            {**params, "name": data.get("name", "<?>"), "model": data.get("model")}
        )

    def enabled_samplers(self) -> list[SamplerId]:
        return [SAMPLER_NAMES[e.id] for e in self.order if e.enabled]

    def to_parameters(self) -> dict[str, Any]:
        """The preset's part of ``/ai/generate``'s ``parameters``.

        ``order`` becomes the ids of the enabled samplers; a disabled sampler's own fields are
        left out; ``repetition_penalty_range`` and ``repetition_penalty_slope`` at 0 are left out
        (NovelAI misbehaves on them, as the seed client notes).
        """
        params = self.model_dump(mode="json", exclude_none=True)
        for entry in self.order:
            if not entry.enabled:
                for name in SAMPLER_FIELDS[SAMPLER_NAMES[entry.id]]:
                    params.pop(name, None)
        params["order"] = [int(s) for s in self.enabled_samplers()]
        for name in ("repetition_penalty_range", "repetition_penalty_slope"):
            if params.get(name) == 0:
                del params[name]
        return params


def tokenize(sequence: Sequenceish, encoder: TextEncoder) -> list[int]:
    return list(sequence) if isinstance(sequence, list) else encoder.encode(sequence)


class BanList(BaseModel):
    """Sequences the model must never generate (``bad_words_ids``)."""

    sequences: list[Sequenceish] = Field(default_factory=list)
    enabled: bool = True

    def to_bad_words_ids(self, encoder: TextEncoder) -> list[list[int]]:
        if not self.enabled:
            return []
        return [ids for ids in (tokenize(s, encoder) for s in self.sequences) if ids]


class BiasGroup(BaseModel):
    """Phrases biased up (positive) or down (negative): entries of ``logit_bias_exp``."""

    model_config = ConfigDict(populate_by_name=True)

    bias: float
    phrases: list[Sequenceish] = Field(default_factory=list)
    ensure_sequence_finish: bool = Field(False, alias="ensureSequenceFinish")
    generate_once: bool = Field(False, alias="generateOnce")
    enabled: bool = True

    @field_validator("phrases", mode="before")
    @classmethod
    def _unwrap(cls, value: Any) -> Any:
        # NovelAI stores phrases as {"sequence": ...} or {"sequences": [[...]]} objects.
        if not isinstance(value, list):
            return value
        out = []
        for item in value:
            if isinstance(item, dict):
                item = item.get("sequence", (item.get("sequences") or [None])[0])
            out.append(item)
        return out

    def to_logit_bias_exp(self, encoder: TextEncoder) -> list[dict[str, Any]]:
        if not self.enabled:
            return []
        return [
            {
                "sequence": tokenize(p, encoder),
                "bias": self.bias,
                "ensure_sequence_finish": self.ensure_sequence_finish,
                "generate_once": self.generate_once,
            }
            for p in self.phrases
        ]


# Built-in modules (``prefix``) per model as the seed client knows them; ids containing ":"
# are user-trained modules and are accepted for any model.
MODULES: dict[str, tuple[str, ...]] = {
    "kayra-v1": ("vanilla", "special_instruct", "special_proseaugmenter", "special_openings"),
    "clio-v1": ("vanilla",),
    "llama-3-erato-v1": ("vanilla",),
    "euterpe-v2": ("vanilla", "general_crossgenre", "theme_textadventure"),
    "krake-v2": ("vanilla", "general_crossgenre", "theme_textadventure"),
    "6B-v4": ("vanilla", "general_crossgenre", "theme_textadventure"),
}

# Characters whose tokens the bracket ban removes (NovelAI's "ban brackets" setting).
BRACKET_CHARS = "[]{}"
# The rep-pen whitelist: punctuation and line breaks the penalty should not discourage.
REP_PEN_WHITELIST_TEXT: tuple[str, ...] = (",", ".", "!", "?", ":", ";", '"', "'", "\n", " ")


def check_module(model: str, prefix: str) -> str:
    if ":" in prefix:
        return prefix
    allowed = MODULES.get(model, ("vanilla",))
    if prefix not in allowed:
        raise ValueError(
            f"prefix: {prefix!r} is not a module of {model} (allowed: {', '.join(allowed)}, or a custom 'id:...' module)"
        )
    return prefix


def bracket_sequences() -> list[str]:
    return list(BRACKET_CHARS) + [" " + c for c in BRACKET_CHARS]


class GlobalSettings(BaseModel):
    """Account-wide generation settings the seed client applies to every request."""

    generate_until_sentence: bool = False
    num_logprobs: int = Field(10, ge=-1, le=30)  # -1: no logprobs
    ban_brackets: bool = True
    rep_pen_whitelist: bool = False
    bias_dinkus_asterism: bool = False

    def to_parameters(self, encoder: TextEncoder) -> dict[str, Any]:
        params: dict[str, Any] = {
            "generate_until_sentence": self.generate_until_sentence,
            "return_full_text": False,
            "use_cache": False,
            "bad_words_ids": [],
            "logit_bias_exp": [],
        }
        if self.num_logprobs != -1:
            params["num_logprobs"] = self.num_logprobs
        if self.ban_brackets:
            params["bad_words_ids"] = BanList(sequences=list(bracket_sequences())).to_bad_words_ids(
                encoder
            )
        if self.rep_pen_whitelist:
            ids = sorted({i for text in REP_PEN_WHITELIST_TEXT for i in encoder.encode(text)})
            params["repetition_penalty_whitelist"] = ids
        if self.bias_dinkus_asterism:
            params["logit_bias_exp"] = BiasGroup(
                bias=-0.12, phrases=["***", "⁂"]
            ).to_logit_bias_exp(encoder)
        return params


def build_generate_parameters(
    model: str,
    encoder: TextEncoder,
    *,
    preset: Preset | None = None,
    global_settings: GlobalSettings | None = None,
    ban_lists: Sequence[BanList] = (),
    bias_groups: Sequence[BiasGroup] = (),
    stop_sequences: Sequence[Sequenceish] = (),
    prefix: str = "vanilla",
    use_string: bool = False,
) -> dict[str, Any]:
    """The full ``parameters`` object of ``/ai/generate`` for ``model``, with every string
    tokenized by ``encoder`` (that model's tokenizer)."""
    params: dict[str, Any] = (global_settings or GlobalSettings()).to_parameters(encoder)
    params.update((preset or Preset()).to_parameters())
    for ban in ban_lists:
        params["bad_words_ids"].extend(ban.to_bad_words_ids(encoder))
    for group in bias_groups:
        params["logit_bias_exp"].extend(group.to_logit_bias_exp(encoder))
    if stop_sequences:
        params["stop_sequences"] = [tokenize(s, encoder) for s in stop_sequences]
    for key in ("bad_words_ids", "logit_bias_exp"):
        if not params[key]:
            del params[key]
    params["prefix"] = check_module(model, prefix)
    params["use_string"] = use_string
    return params
