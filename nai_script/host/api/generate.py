"""``generate(messages, params, callback=None, behaviour="blocking", signal=None)``.

Validate, count the chat-templated prompt, reserve both buckets (a refusal costs nothing),
always stream from the backend, deliver chunks to the script's callback, settle: charge the
streamed output and the uncached input, cache the prompt's blocks only after a success.

Callback delivery coalesces: while the script's callback is still running, newly arrived
chunks are merged per choice index (text concatenated, token ids appended) and delivered as
one call when it returns. Deliveries also start at most once per ``DELIVERY_INTERVAL_S`` (one
display frame), counting from the stream's start: a stream faster than that (a local server,
the simulator at full speed) would otherwise spend more on worker round trips than on the
stream, while a callback could not show the difference; a stream slower than that (NovelAI's)
is delivered chunk by chunk. The stream's end is delivered at once. The final call is
``callback(choices, True)`` with every choice's ``finish_reason`` and empty
``text``/``token_ids`` (so a script that appends each delta never doubles the text); the full
text is the return value.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from nai_script.client import errors as client_errors
from nai_script.client import models as wire
from nai_script.host.api.signals import signal_of
from nai_script.host.dispatch import (
    REQUIRED,
    ApiFailure,
    ApiUsageError,
    CallContext,
    Route,
    first_validation_problem,
)
from nai_script.host.script import GenerationState
from nai_script.limits import BudgetExceeded
from nai_script.tokenizers import ChatTemplateError, TokenizerError, UnknownModelError
from sandbox.process import chained_invokes
from sandbox.protocol import CallbackHandle

MAX_OUTPUT_TOKENS = 2048
#: The shortest time between the starts of two callback deliveries (see the module doc).
DELIVERY_INTERVAL_S = 0.016
DEFAULT_MAX_TOKENS = 150
IN_PROGRESS = "A generation is already in progress"


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    role: Literal["system", "user", "assistant"]
    content: str


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


class _PendingChoice:
    """A choice's deltas not yet delivered (the callback's dict is built once, at delivery)."""

    __slots__ = ("finish_reason", "texts", "token_ids")

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.token_ids: list[int] = []
        self.finish_reason: str | None = None

    def as_choice(self, index: int) -> dict[str, Any]:
        return {
            "index": index,
            "text": "".join(self.texts),
            "token_ids": self.token_ids,
            "finish_reason": self.finish_reason,
        }


class StreamCollector:
    """Accumulates choices and feeds the script's callback, coalescing while it is busy.

    ``add`` runs once per streamed token, on the loop that also reads the stream: it only
    appends to lists; strings are joined and dicts built once per delivery, not per chunk.
    """

    def __init__(self, ctx: CallContext, callback: CallbackHandle | None) -> None:
        self._ctx = ctx
        self._callback = callback
        self.texts: dict[int, list[str]] = {}
        self.token_ids: dict[int, list[int]] = {}
        self.finish: dict[int, str | None] = {}
        self.streamed_tokens = 0
        self._pending: dict[int, _PendingChoice] = {}
        self._delivery: asyncio.Task[None] | None = None
        self._delivering = False  # a delivery task is running (cheaper than .done() per token)
        # Loop time the last delivery started; the stream's start counts as one, so a stream
        # shorter than the interval costs no round trip before its end.
        self._last_delivery = asyncio.get_running_loop().time()
        self._pause: asyncio.Future[None] | None = None  # the delivery task waiting its turn
        self.callback_failed = False
        self.deliveries = 0

    def add(self, chunk: wire.ChatCompletionChunk) -> None:
        delivering = self._callback is not None and not self.callback_failed
        for choice in chunk.choices:
            index = choice.index
            text = choice.delta.content or ""
            ids = choice.token_ids
            finish = choice.finish_reason
            texts = self.texts.get(index)
            if texts is None:
                texts = self.texts[index] = []
                self.token_ids[index] = []
            texts.append(text)
            if ids:
                self.token_ids[index] += ids
                self.streamed_tokens += len(ids)
            if finish is not None:
                self.finish[index] = finish
            if delivering:
                pending = self._pending.get(index)
                if pending is None:
                    pending = self._pending[index] = _PendingChoice()
                pending.texts.append(text)
                if ids:
                    pending.token_ids += ids
                if finish is not None:
                    pending.finish_reason = finish
        if self._pending and not self._delivering:
            self._delivering = True
            self._delivery = asyncio.ensure_future(self._deliver())

    async def _deliver(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending and not self.callback_failed:
                wait = self._last_delivery + DELIVERY_INTERVAL_S - loop.time()
                if wait > 0:  # chunks arriving meanwhile join this delivery
                    await self._wait_turn(loop, wait)
                    if not self._pending:  # the stream ended and ``finish_delivery`` took it
                        break
                pending, self._pending = self._pending, {}
                self._last_delivery = loop.time()
                await self._invoke([pending[i].as_choice(i) for i in sorted(pending)], False)
        finally:
            self._delivering = False

    async def _wait_turn(self, loop: asyncio.AbstractEventLoop, wait: float) -> None:
        """Sleep ``wait`` seconds, or less if ``finish_delivery`` ends the pause."""
        self._pause = pause = loop.create_future()
        timer = loop.call_later(wait, _resolve, pause)
        try:
            await pause
        finally:
            timer.cancel()
            self._pause = None

    async def _invoke(self, choices: list[dict[str, Any]], final: bool) -> None:
        assert self._callback is not None
        self.deliveries += 1
        ok = await self._ctx.host.invoke_callback(
            self._ctx.script, self._callback, [choices, final], what="generate callback"
        )
        if not ok:
            self.callback_failed = True

    async def finish_delivery(self, final: bool) -> asyncio.Task[None] | None:
        """Send what is pending and, with ``final``, the closing ``callback(choices, True)``;
        return the task that ends when every delivery has (for the caller to track).

        The stream is over, so the rest is sent at once behind the delivery in flight, not a
        round trip each: deliveries are chained (``chained_invokes``), so the worker runs each
        only after the one before returned and skips the rest once one raised. Nor does the
        api call's reply wait for them: it is ordered after the chain's last call in the worker
        (``sandbox.process``), so the script still sees every callback before its result.
        """
        calls: list[asyncio.Future[None]] = []
        if self._pause is not None:  # the delivery task waits for its turn: the rest goes now
            _resolve(self._pause)
        if self._delivery is not None:
            calls.append(self._delivery)
        if self._callback is not None and not self.callback_failed:
            if self._pending:
                pending, self._pending = self._pending, {}
                choices = [pending[i].as_choice(i) for i in sorted(pending)]
                calls.append(asyncio.ensure_future(self._invoke(choices, False)))
            if final:
                indexes = sorted(self.texts) or [0]
                closing: list[dict[str, Any]] = [
                    {"index": i, "text": "", "token_ids": [], "finish_reason": self.finish.get(i)}
                    for i in indexes
                ]
                calls.append(asyncio.ensure_future(self._invoke(closing, True)))
        if not calls:
            return None
        await asyncio.sleep(0)  # the new calls run up to their send, in order, before we go on
        return asyncio.ensure_future(_all_of(calls))

    def abandon(self) -> None:
        if self._delivery is not None:
            self._delivery.cancel()

    def result(self) -> dict[str, Any]:
        indexes = sorted(self.texts) or [0]
        return {
            "choices": [
                {
                    "text": "".join(self.texts.get(i, [])),
                    "index": i,
                    "token_ids": self.token_ids.get(i, []),
                    "finish_reason": self.finish.get(i),
                }
                for i in indexes
            ]
        }


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def _all_of(calls: list[asyncio.Future[None]]) -> None:
    """Await every call; if cancelled, cancel those still running (chained calls after a
    cancelled one are skipped by the worker anyway)."""
    try:
        await asyncio.gather(*calls)
    except BaseException:
        for call in calls:
            call.cancel()
        raise


def _backend_message(error: client_errors.NovelAIError) -> str:
    if isinstance(error, client_errors.ConcurrencyLockedError):
        return f"the backend refused the generation (429 concurrent generation locked): {error}"
    if isinstance(error, client_errors.RateLimitedError):
        return f"the backend rate-limited the generation (429): {error}"
    if isinstance(error, client_errors.ServerError):
        return f"the backend failed (server error): {error}"
    return f"the generation failed: {error}"


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
    script.generation = GenerationState(behaviour, params.model, time.time())
    script.last_behaviour = behaviour
    try:
        return await _run_generation(ctx, messages, params, callback, signal)
    finally:
        script.generation = None


async def _run_generation(
    ctx: CallContext,
    messages: list[Message],
    params: GenerateParams,
    callback: CallbackHandle | None,
    signal: Any,
) -> dict[str, Any]:
    script, host = ctx.script, ctx.host
    plain = [m.model_dump() for m in messages]
    try:
        prompt_ids = host.tokenizers.encode_chat(params.model, plain)
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
        **params.model_dump(exclude={"model"}, exclude_none=True),
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
        async for chunk in host.client.stream_chat_completions(request):
            collector.add(chunk)

    stream = asyncio.ensure_future(consume())
    remove_listener = signal.on_cancel(stream.cancel) if signal is not None else None
    try:
        await stream
    except asyncio.CancelledError:
        current = asyncio.current_task()
        ours = current is not None and current.cancelling() > 0
        if signal is None or not signal.is_cancelled or ours:
            collector.abandon()
            stream.cancel()
            await asyncio.shield(budget.fail(collector.streamed_tokens))
            raise
        cancelled = True
    except client_errors.NovelAIError as error:
        await _settle_failure(collector, budget)
        raise ApiFailure(_backend_message(error)) from None
    except Exception:
        await _settle_failure(collector, budget)
        raise
    finally:
        if remove_listener is not None:
            remove_listener()
    if collector.streamed_tokens == 0:
        collector.streamed_tokens = _count_text(host, params.model, collector)
    if cancelled:
        await budget.fail(collector.streamed_tokens)
        for index in collector.texts or {0: []}:
            collector.finish[index] = "cancelled"
    else:
        await budget.succeed(collector.streamed_tokens)
    trailing = await collector.finish_delivery(final=True)
    if trailing is not None:
        ctx.script.track(trailing)
    return collector.result()


async def _settle_failure(collector: StreamCollector, budget: Any) -> None:
    collector.abandon()
    await budget.fail(collector.streamed_tokens)


def _count_text(host: Any, model: str, collector: StreamCollector) -> int:
    """Backends that send no token ids (OpenAI-compatible servers): count the text."""
    text = "".join("".join(parts) for parts in collector.texts.values())
    return len(host.tokenizers.encode(model, text)) if text else 0


ROUTES: dict[str, Route] = {"v1.generate": _generate}
