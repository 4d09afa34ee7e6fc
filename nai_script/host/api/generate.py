"""``generate(messages, params, callback=None, behaviour="blocking", signal=None)``.

Validate, count the chat-templated prompt, reserve both buckets (a refusal costs nothing),
always stream from the backend, deliver chunks to the script's callback, settle: charge the
streamed output and the uncached input, cache the prompt's blocks only after a success.

Callback delivery (coalesced, paced, the closing call) is ``stream_collector``'s.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from nai_script.client import errors as client_errors
from nai_script.client import models as wire
from nai_script.host.api.signals import signal_of
from nai_script.host.api.stream_collector import StreamCollector
from nai_script.host.api.tokens import encode_messages
from nai_script.host.dispatch import (
    REQUIRED,
    ApiFailure,
    ApiUsageError,
    CallContext,
    Route,
    first_validation_problem,
)
from nai_script.host.script import Behaviour, GenerationState
from nai_script.limits import BudgetExceeded
from nai_script.tokenizers import ChatTemplateError, TokenizerError, UnknownModelError
from nai_script.tokenizers.chat import ChatMessage
from sandbox.invoke_order import chained_invokes
from sandbox.protocol import CallbackHandle

MAX_OUTPUT_TOKENS = 2048
DEFAULT_MAX_TOKENS = 150
IN_PROGRESS = "A generation is already in progress"


class Message(ChatMessage):
    """A script's message, checked strictly; a ``ChatMessage``, so the chat template takes it
    as it is (no second validation). As NovelAI's ``Message``, ``content`` may be left out
    (empty); its ``reasoning`` (thinking text) is refused: no template here renders it."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    content: str = ""
    reasoning: str | None = None

    @field_validator("reasoning")
    @classmethod
    def _no_reasoning(cls, value: str | None) -> None:
        if value is not None:
            raise ValueError("not supported (no chat template here renders thinking text)")
        return value


class GenerateParams(BaseModel):
    """NovelAI's generate parameters; unknown names are refused so typos do not pass."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1)
    max_tokens: int = DEFAULT_MAX_TOKENS
    temperature: float | None = Field(default=None, ge=0, le=100)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_k: int | None = Field(default=None, ge=0)
    min_p: float | None = Field(default=None, ge=0, le=1)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    stop: str | list[str] | None = None
    logit_bias: dict[int, float] | None = None
    seed: int | None = None
    #: NovelAI's thinking switch; only ``False`` (no backend here streams thinking tokens).
    enable_thinking: bool = False

    @field_validator("enable_thinking")
    @classmethod
    def _no_thinking(cls, value: bool) -> bool:
        if value:
            raise ValueError("thinking is not supported (no backend here streams thinking)")
        return value

    @field_validator("max_tokens")
    @classmethod
    def _max_tokens_in_range(cls, value: int) -> int:
        if not 1 <= value <= MAX_OUTPUT_TOKENS:
            raise ValueError(f"must be between 1 and {MAX_OUTPUT_TOKENS}")
        return value


def validate_request(messages: Any, params: Any) -> tuple[list[Message], GenerateParams]:
    if not isinstance(messages, list) or not messages:
        raise ApiUsageError("messages: must be a non-empty list of {role, content}")
    checked: list[Message] = []
    for index, message in enumerate(messages):
        try:
            checked.append(Message.model_validate(message))
        except ValidationError as error:
            raise ApiUsageError(first_validation_problem(error, f"messages[{index}]")) from None
    if not isinstance(params, dict):
        raise ApiUsageError("params: must be an object with at least a model")
    try:
        return checked, GenerateParams.model_validate(params)
    except ValidationError as error:
        raise ApiUsageError(first_validation_problem(error, "params")) from None


def _backend_message(error: client_errors.NovelAIError) -> str:
    if isinstance(error, client_errors.ConcurrencyLockedError):
        return f"the backend refused the generation (429 concurrent generation locked): {error}"
    if isinstance(error, client_errors.RateLimitedError):
        return f"the backend rate-limited the generation (429): {error}"
    if isinstance(error, client_errors.ServerError):
        return f"the backend failed (server error): {error}"
    return f"the generation failed: {error}"


def claim_slot(script: Any, behaviour: Behaviour, model: str) -> None:
    """Take the script's one generation slot, or fail at once (costing nothing)."""
    if script.generation is not None:
        raise ApiFailure(IN_PROGRESS)
    script.generation = GenerationState(behaviour, model, time.time())


async def _generate(ctx: CallContext) -> dict[str, Any]:
    script = ctx.script
    if script.generation is not None:
        raise ApiFailure(IN_PROGRESS)
    bound = ctx.bind(
        ("messages", REQUIRED),
        ("params", REQUIRED),
        ("callback", None),
        ("behaviour", "blocking"),
        ("signal", None),
    )
    messages, params = validate_request(bound["messages"], bound["params"])
    callback = bound["callback"]
    if callback is not None and not isinstance(callback, CallbackHandle):
        raise ApiUsageError("callback: must be a function (choices, final) or None")
    behaviour = bound["behaviour"]
    if behaviour not in ("blocking", "background"):
        raise ApiUsageError(f"behaviour: must be 'blocking' or 'background', got {behaviour!r}")
    signal = signal_of(bound["signal"])
    if bound["signal"] is not None and signal is None:
        raise ApiUsageError("signal: must come from api.v1.createCancellationSignal()")
    if signal is not None and signal.is_cancelled:
        raise ApiFailure("the generation was cancelled before it started")

    # Claim the slot before the first await: a concurrent second call fails at once.
    claim_slot(script, behaviour, params.model)
    script.last_behaviour = behaviour
    ctx.host.tell_generation(script)
    try:
        return await _run_generation(ctx, messages, params, callback, signal)
    finally:
        script.generation = None
        ctx.host.tell_generation(script)


async def _run_generation(
    ctx: CallContext,
    messages: list[Message],
    params: GenerateParams,
    callback: CallbackHandle | None,
    signal: Any,
) -> dict[str, Any]:
    script, host = ctx.script, ctx.host
    try:
        prompt_ids = await encode_messages(host.tokenizers, params.model, messages)
        capacity = host.input_capacity(params.model)
    except ChatTemplateError as error:
        raise ApiUsageError(str(error)) from None
    except (TokenizerError, UnknownModelError) as error:
        raise ApiUsageError(f"params.model: {error}") from None
    script.last_model = params.model
    try:
        budget = await host.limits.begin_generation(
            script.id, prompt_ids, params.max_tokens, input_capacity=capacity
        )
    except BudgetExceeded as error:
        raise ApiFailure(f"not enough budget: {error}") from None

    request = wire.ChatCompletionRequest(
        model=params.model,
        messages=[wire.ChatMessage(role=m.role, content=m.content) for m in messages],
        **params.model_dump(exclude={"model", "enable_thinking"}, exclude_none=True),
    )
    with chained_invokes():
        return await _stream_and_settle(ctx, params, request, budget, callback, signal)


async def _stream_and_settle(
    ctx: CallContext,
    params: GenerateParams,
    request: wire.ChatCompletionRequest,
    budget: Any,
    callback: CallbackHandle | None,
    signal: Any,
) -> dict[str, Any]:
    host = ctx.host
    collector = StreamCollector(ctx, callback)
    cancelled = False

    async def consume() -> None:
        add = collector.add  # once per token: no attribute lookup each time
        async for chunk in host.client.stream_chat_completions(request):
            add(chunk)

    stream = asyncio.ensure_future(consume())
    remove_listener = signal.on_cancel(stream.cancel) if signal is not None else None
    if signal is not None and signal.is_cancelled and not signal.disposed:
        stream.cancel()  # cancelled while the prompt was counted or reserved: never sent
    try:
        await stream
    except asyncio.CancelledError:
        current = asyncio.current_task()
        ours = current is not None and current.cancelling() > 0
        if signal is None or not signal.is_cancelled or ours:
            stream.cancel()
            await asyncio.shield(_settle_failure(host, params, collector, budget))
            raise
        cancelled = True
    except client_errors.NovelAIError as error:
        await _settle_failure(host, params, collector, budget)
        raise ApiFailure(_backend_message(error)) from None
    except Exception:
        await _settle_failure(host, params, collector, budget)
        raise
    finally:
        if remove_listener is not None:
            remove_listener()
    streamed = _streamed_tokens(host, params, collector)
    if cancelled:
        collector.mark_cancelled()
    # The last deliveries are queued before the settle: the settle's commit waits for the end
    # of a loop iteration, and the one ``finish_delivery`` yields for must not run it ahead
    # of the reply.
    try:
        trailing = await collector.finish_delivery(final=True)
    finally:
        await (budget.fail(streamed) if cancelled else budget.succeed(streamed))
    if trailing is not None:
        ctx.script.track(trailing)
    return collector.result()


async def _settle_failure(
    host: Any, params: GenerateParams, collector: StreamCollector, budget: Any
) -> None:
    collector.abandon()
    await budget.fail(_streamed_tokens(host, params, collector))


def _streamed_tokens(host: Any, params: GenerateParams, collector: StreamCollector) -> int:
    """The output tokens streamed: the token ids, or, from backends that send none
    (OpenAI-compatible servers), the streamed text counted with the model's tokenizer. A
    count of the text can exceed what was generated (tokenizing again need not split it as
    the backend did), never the backend's own bound: it is capped at max_tokens."""
    if collector.streamed_tokens:
        return collector.streamed_tokens
    text = collector.all_text()
    return min(len(host.tokenizers.encode(params.model, text)), params.max_tokens) if text else 0


ROUTES: dict[str, Route] = {"v1.generate": _generate}
