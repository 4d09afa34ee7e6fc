"""Wire models for every request and response the client sends or reads.

The simulator imports these same classes to parse what it receives and to shape what it
answers, so client and simulator agree by construction. Field names are the wire names
verbatim (snake_case for the OpenAI-like endpoints, camelCase for NovelAI's account
endpoints), so there are no aliases to forget when dumping.

Responses allow unknown fields (servers add fields over time; vLLM and llama.cpp add their
own). Requests allow them too, so a caller can pass a backend-specific sampler setting; the
simulator ignores what it does not know.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class WireModel(BaseModel):
    """Base for all wire payloads: unknown fields are kept, never rejected."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def to_wire(self) -> dict[str, Any]:
        """The JSON body to send: unset optional fields are left out, as NovelAI expects."""
        return self.model_dump(mode="json", exclude_none=True)


# ---------------------------------------------------------------------------------------------
# OpenAI-like text completions (text.novelai.net /oa/v1/..., or any OpenAI-compatible server)
# ---------------------------------------------------------------------------------------------


class SamplingParams(WireModel):
    """Sampling settings shared by completions and chat completions."""

    max_tokens: int | None = Field(default=None, ge=0)
    temperature: float | None = Field(default=None, ge=0)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_k: int | None = Field(default=None, ge=0)
    min_p: float | None = Field(default=None, ge=0, le=1)
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    stop: str | list[str] | None = None
    logit_bias: dict[int, float] | None = Field(
        default=None, description="Token id -> bias; sent with the ids as JSON object keys."
    )
    stream: bool = False
    seed: int | None = None
    n: int | None = Field(default=None, ge=1)


class CompletionRequest(SamplingParams):
    """`POST /oa/v1/completions` (or `/v1/completions`)."""

    model: str = Field(min_length=1)
    prompt: str | list[int]


class Usage(WireModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class CompletionChoice(WireModel):
    """One choice of a completion response or stream chunk (chunks carry the new text only)."""

    text: str = ""
    index: int = 0
    logprobs: Any | None = None
    finish_reason: str | None = None
    token_ids: list[int] | None = Field(
        default=None, description="Generated token ids; our simulator fills it, vLLM can."
    )


class CompletionResponse(WireModel):
    id: str = ""
    object: str = "text_completion"
    created: int = 0
    model: str = ""
    choices: list[CompletionChoice] = Field(default_factory=list)
    usage: Usage | None = None


class CompletionChunk(CompletionResponse):
    """One SSE `data:` payload of a streamed completion; the stream ends with `data: [DONE]`."""


ChatRole = Literal["system", "user", "assistant"]


class ChatMessage(WireModel):
    role: ChatRole
    content: str


class ChatCompletionRequest(SamplingParams):
    """`POST /oa/v1/chat/completions` (or `/v1/chat/completions`)."""

    model: str = Field(min_length=1)
    messages: list[ChatMessage] = Field(min_length=1)


class ChatResponseMessage(WireModel):
    role: str = "assistant"
    content: str | None = None


class ChatChoice(WireModel):
    index: int = 0
    message: ChatResponseMessage = Field(default_factory=ChatResponseMessage)
    logprobs: Any | None = None
    finish_reason: str | None = None
    token_ids: list[int] | None = None


class ChatCompletionResponse(WireModel):
    id: str = ""
    object: str = "chat.completion"
    created: int = 0
    model: str = ""
    choices: list[ChatChoice] = Field(default_factory=list)
    usage: Usage | None = None


class ChatDelta(WireModel):
    role: str | None = None
    content: str | None = None


class ChatChunkChoice(WireModel):
    index: int = 0
    delta: ChatDelta = Field(default_factory=ChatDelta)
    logprobs: Any | None = None
    finish_reason: str | None = None
    token_ids: list[int] | None = None


class ChatCompletionChunk(WireModel):
    id: str = ""
    object: str = "chat.completion.chunk"
    created: int = 0
    model: str = ""
    choices: list[ChatChunkChoice] = Field(default_factory=list)
    usage: Usage | None = None


class ModelInfo(WireModel):
    id: str
    object: str = "model"
    created: int = 0
    owned_by: str = ""


class ModelList(WireModel):
    """`GET /oa/v1/models`."""

    object: str = "list"
    data: list[ModelInfo] = Field(default_factory=list)


class TokenCountRequest(WireModel):
    """`POST /oa/v1/internal/token-count`: count a plain prompt or a chat-templated message list."""

    model: str = Field(min_length=1)
    prompt: str | list[int] | None = None
    messages: list[ChatMessage] | None = None

    @model_validator(mode="after")
    def _exactly_one_input(self) -> TokenCountRequest:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("token-count needs exactly one of 'prompt' or 'messages'")
        return self


class TokenCountResponse(WireModel):
    count: int = Field(ge=0)


# ---------------------------------------------------------------------------------------------
# NovelAI native generation: POST /ai/generate and /ai/generate-stream
# ---------------------------------------------------------------------------------------------


class LogitBiasExp(WireModel):
    """One entry of `logit_bias_exp`: bias a token sequence."""

    sequence: list[int]
    bias: float
    ensure_sequence_finish: bool = False
    generate_once: bool = False


class GenerateParameters(WireModel):
    """The `parameters` object of `/ai/generate`. Many more sampler knobs exist; they pass
    through as extra fields."""

    use_string: bool = False
    max_length: int = Field(default=40, ge=1, le=2048)
    min_length: int = Field(default=1, ge=1, le=2048)
    temperature: float | None = None
    top_k: int | None = None
    top_p: float | None = None
    top_a: float | None = None
    min_p: float | None = None
    typical_p: float | None = None
    tail_free_sampling: float | None = None
    repetition_penalty: float | None = None
    repetition_penalty_range: int | None = None
    repetition_penalty_slope: float | None = None
    repetition_penalty_frequency: float | None = None
    repetition_penalty_presence: float | None = None
    repetition_penalty_whitelist: list[int] | None = None
    stop_sequences: list[list[int]] | None = None
    bad_words_ids: list[list[int]] | None = None
    logit_bias_exp: list[LogitBiasExp] | None = None
    order: list[int] | None = None
    return_full_text: bool | None = None
    prefix: str | None = None
    num_logprobs: int | None = None
    generate_until_sentence: bool | None = None
    seed: int | None = None


class GenerateRequest(WireModel):
    """`input` is text when `parameters.use_string`, else base64 token ids (see `codec`)."""

    input: str
    model: str = Field(min_length=1)
    parameters: GenerateParameters = Field(default_factory=GenerateParameters)


class GenerateResponse(WireModel):
    """`output` is text when `use_string`, else base64 token ids."""

    output: str
    logprobs: Any | None = None


class NewTokenEvent(WireModel):
    """The data of one `event: newToken` SSE event of `/ai/generate-stream`."""

    token: str
    ptr: int = 0
    final: bool = False
    logprobs: Any | None = None


# ---------------------------------------------------------------------------------------------
# api.novelai.net: login, subscription, user information; errors
# ---------------------------------------------------------------------------------------------


class LoginRequest(WireModel):
    key: str = Field(min_length=1)


class LoginResponse(WireModel):
    accessToken: str


class SubscriptionTier(IntEnum):
    PAPER = 0
    TABLET = 1
    SCROLL = 2
    OPUS = 3


class SubscriptionPerks(WireModel):
    maxPriorityActions: int = 0
    startPriority: int = 0
    moduleTrainingSteps: int = 0
    unlimitedMaxPriority: bool = False
    voiceGeneration: bool = False
    imageGeneration: bool = False
    unlimitedImageGeneration: bool = False
    unlimitedImageGenerationLimits: list[dict[str, Any]] = Field(default_factory=list)
    contextTokens: int = Field(
        default=0, description="The context size the tier grants (per-model caps may be lower)."
    )


class TrainingStepsLeft(WireModel):
    fixedTrainingStepsLeft: int = 0
    purchasedTrainingSteps: int = 0


class Subscription(WireModel):
    """`GET /user/subscription`."""

    tier: int = Field(default=0, ge=0)
    active: bool = False
    expiresAt: int = 0
    perks: SubscriptionPerks = Field(default_factory=SubscriptionPerks)
    paymentProcessorData: Any | None = None
    trainingStepsLeft: TrainingStepsLeft | None = None
    accountType: int = 0
    isGracePeriod: bool = False

    @property
    def tier_name(self) -> str:
        """'paper', 'tablet', 'scroll', 'opus' (or 'tier-N' for a tier newer than this code)."""
        try:
            return SubscriptionTier(self.tier).name.lower()
        except ValueError:
            return f"tier-{self.tier}"


class UserInformation(WireModel):
    """`GET /user/information`."""

    emailVerified: bool = False
    emailVerificationLetterSent: bool = False
    trialActivated: bool = False
    trialActionsLeft: int = 0
    trialImagesLeft: int = 0
    accountCreatedAt: int = 0


class ErrorBody(WireModel):
    """NovelAI's error body: `{"statusCode": 429, "message": "..."}`."""

    statusCode: int
    message: str = ""
