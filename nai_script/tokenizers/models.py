"""The model table: which tokenizer, chat template, wire width and context size each model has.

Tiers are NovelAI's subscription tiers (``/user/subscription`` reports them as 0..3).
Context sizes are the prompt tokens a model accepts at a tier (``api.v1.maxTokens``);
rollover tokens are the rolling window beyond that (``api.v1.rolloverTokens``). A model missing
a tier is not offered at that tier. Sources, quoted per row below:

* [ST] SillyTavern docs, NovelAI page (docs.sillytavern.app/usage/api-connections/novelai/):
  "Kayra (Tablet) - 3072 tokens; Kayra (Scroll) - 6144 tokens; Erato (Opus exclusive),
  Kayra (Opus) and Clio (all tiers) - 8192 tokens".
* [RG] rentry.org/AnotherSillyGuide: "the $15 tier [Scroll] gives you a 6k context like the
  trial" (the free trial is the Paper tier).
* [XL] Xialong release summary (r/NovelAi, 2026-04): "xialong-v1 ... Up to 36k tokens (28k base
  context + 8k rolling window) ... Exclusive to the Opus tier ... The base GLM-4.6 model remains
  available for all users." SPEC section 5 fixes the same 28k + 8k. "28k"/"8k" are read as
  28 x 1024 and 8 x 1024, like the 8192 of the older models.
* "assumed": no public number found; chosen and marked so.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from nai_script.client.models import SubscriptionTier as Tier  # as /user/subscription numbers them
from nai_script.tokenizers.errors import UnknownModelError

ChatTemplateKind = Literal["glm", "llama3", "plain"]


class ModelInfo(BaseModel):
    """One text model as the limits, the templates and the wire codec need it."""

    model_config = ConfigDict(frozen=True)

    id: str
    display_name: str
    tokenizer: str = Field(
        description="Tokenizer name: the stem of its file (``<name>.json``/``.model``/``.def``) "
        "in NAI_SCRIPT_TOKENIZER_DIR, the cache and NovelAI's tokenizer URL."
    )
    token_width: Literal[2, 4] = Field(
        default=2, description="Bytes per token id in /ai/generate base64 (uint16 or uint32)."
    )
    chat_template: ChatTemplateKind
    context_tokens: dict[Tier, int]
    rollover_tokens: dict[Tier, int] = Field(default_factory=dict)
    is_simulator: bool = False

    def tiers(self) -> list[Tier]:
        return sorted(self.context_tokens)


_ALL_TIERS = tuple(Tier)

# glm-4-6 per tier. [XL] available to all tiers; sizes assumed: Opus as Xialong, lower tiers
# 8192 (Paper/Tablet) and 16384 (Scroll), rollover 8192 on Opus only. The simulator's model
# mirrors it so the limits behave alike.
_GLM_CONTEXT = {Tier.PAPER: 8192, Tier.TABLET: 8192, Tier.SCROLL: 16384, Tier.OPUS: 28672}
_GLM_ROLLOVER = {Tier.OPUS: 8192}

MODELS: dict[str, ModelInfo] = {
    info.id: info
    for info in (
        ModelInfo(
            id="glm-4-6",
            display_name="GLM 4.6",
            # NovelAI's .def name for GLM is assumed (the GLM 4.5/4.6 vocabulary is shared).
            tokenizer="glm45_tokenizer",
            chat_template="glm",
            context_tokens=_GLM_CONTEXT,
            rollover_tokens=_GLM_ROLLOVER,
        ),
        ModelInfo(
            id="xialong-v1",
            display_name="Xialong",
            tokenizer="glm45_tokenizer",  # [XL] a GLM-4.6 fine-tune; .def name assumed
            chat_template="glm",
            context_tokens={Tier.OPUS: 28672},  # [XL] Opus only, 28k base
            rollover_tokens={Tier.OPUS: 8192},  # [XL] + 8k rolling window
        ),
        ModelInfo(
            id="llama-3-erato-v1",
            display_name="Llama 3 Erato",
            # NovelAI serves it as llama3nai_tokenizer.def (seen in community clients).
            tokenizer="llama3nai_tokenizer",
            token_width=4,  # SPEC 7: uint32 token ids on the wire
            chat_template="llama3",
            context_tokens={Tier.OPUS: 8192},  # [ST] Opus exclusive, 8192
        ),
        ModelInfo(
            id="kayra-v1",
            display_name="Kayra",
            tokenizer="nerdstash_tokenizer_v2",
            chat_template="plain",
            context_tokens={
                Tier.PAPER: 6144,  # [RG] trial context like Scroll
                Tier.TABLET: 3072,  # [ST]
                Tier.SCROLL: 6144,  # [ST]
                Tier.OPUS: 8192,  # [ST]
            },
        ),
        ModelInfo(
            id="clio-v1",
            display_name="Clio",
            tokenizer="nerdstash_tokenizer",
            chat_template="plain",
            context_tokens=dict.fromkeys(_ALL_TIERS, 8192),  # [ST] all tiers 8192
        ),
        ModelInfo(
            id="nai-sim-v1",
            display_name="nai-script simulator",
            tokenizer="nai-sim-v1",
            chat_template="glm",
            context_tokens=_GLM_CONTEXT,  # the simulator's own model mirrors glm-4-6
            rollover_tokens=_GLM_ROLLOVER,
            is_simulator=True,
        ),
    )
}


#: Models an OpenAI-compatible server serves, beside the table (``served.register_served``).
SERVED: dict[str, ModelInfo] = {}


def model_info(model_id: str) -> ModelInfo:
    """The table row for ``model_id`` (or the served model of that id); an unknown id names
    the known ones."""
    info = MODELS.get(model_id) or SERVED.get(model_id)
    if info is None:
        known = ", ".join([*MODELS, *SERVED])
        raise UnknownModelError(f"unknown model {model_id!r} (known models: {known})")
    return info


def _tier(tier: int | Tier) -> Tier:
    try:
        return Tier(tier)
    except ValueError:
        raise ValueError(f"tier: {tier!r} is not a NovelAI tier (0 Paper .. 3 Opus)") from None


def context_size(model_id: str, tier: int | Tier) -> int:
    """Prompt tokens ``model_id`` accepts at ``tier`` (``api.v1.maxTokens``)."""
    info = model_info(model_id)
    level = _tier(tier)
    size = info.context_tokens.get(level)
    if size is None:
        offered = ", ".join(t.name.title() for t in info.tiers())
        raise UnknownModelError(
            f"model {model_id!r} is not offered at tier {level.value} ({level.name.title()}); "
            f"it is offered at: {offered}"
        )
    return size


def rollover_tokens(model_id: str, tier: int | Tier) -> int:
    """The rolling window beyond the context (``api.v1.rolloverTokens``); 0 where none."""
    context_size(model_id, tier)  # same errors for unknown models and tiers
    return model_info(model_id).rollover_tokens.get(_tier(tier), 0)
