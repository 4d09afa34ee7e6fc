"""One generation's stream: its totals, and its deliveries to the script's callback.

Delivery coalesces: while the script's callback is still running, newly arrived chunks are
merged per choice index (text concatenated, token ids appended) and delivered as one call when
it returns. Deliveries also start at most once per ``DELIVERY_INTERVAL_S`` (one display frame),
counting from the stream's start: a stream faster than that (a local server, the simulator at
full speed) would otherwise spend more on worker round trips than on the stream, while a
callback could not show the difference; a stream slower than that (NovelAI's) is delivered
chunk by chunk. The stream's end is delivered at once. The final call is
``callback(choices, True)`` with every choice's ``finish_reason`` and empty
``text``/``token_ids`` (so a script that appends each delta never doubles the text); the full
text is the generate call's return value.

``add`` runs once per streamed token, on the loop that also reads the stream: it only appends
to lists; strings are joined and dicts built once per delivery, not per chunk.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from nai_script.client import models as wire
from nai_script.host.dispatch import CallContext
from sandbox.protocol import CallbackHandle

#: The shortest time between the starts of two callback deliveries (see the module doc).
DELIVERY_INTERVAL_S = 0.016


class _Choice:
    """One choice's stream so far, and how much of it the callback has been given."""

    __slots__ = ("finish_reason", "sent_finish", "sent_ids", "sent_texts", "texts", "token_ids")

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.token_ids: list[int] = []
        self.finish_reason: str | None = None
        self.sent_texts = 0
        self.sent_ids = 0
        self.sent_finish: str | None = None

    @property
    def has_news(self) -> bool:
        return len(self.texts) > self.sent_texts or self.finish_reason != self.sent_finish

    def take_news(self, index: int) -> dict[str, Any]:
        """What arrived since the last delivery, as the callback's choice dict."""
        finish = self.finish_reason if self.finish_reason != self.sent_finish else None
        news = {
            "index": index,
            "text": "".join(self.texts[self.sent_texts :]),
            "token_ids": self.token_ids[self.sent_ids :],
            "finish_reason": finish,
        }
        self.sent_texts, self.sent_ids = len(self.texts), len(self.token_ids)
        self.sent_finish = self.finish_reason
        return news


class StreamCollector:
    """Accumulates a stream's choices and feeds the script's callback (see the module doc)."""

    def __init__(self, ctx: CallContext, callback: CallbackHandle | None) -> None:
        self._ctx = ctx
        self._callback = callback
        self._choices: dict[int, _Choice] = {}
        self._cancelled = False
        self._feeding = callback is not None  # until the callback raises
        self._loop = asyncio.get_running_loop()
        # Feeding, and no delivery waiting for its turn or running: the next chunk schedules
        # one (one flag, read per token).
        self._idle = self._feeding
        self._turn: asyncio.TimerHandle | None = None  # the next delivery's start
        self._delivery: asyncio.Task[None] | None = None  # the delivery running
        self._finished = False  # ``finish_delivery`` ran: what is left goes with it
        # Loop time the last delivery started; the stream's start counts as one, so a stream
        # shorter than the interval costs no round trip before its end.
        self._last_delivery = self._loop.time()

    # -- the stream ------------------------------------------------------------------------

    def add(self, chunk: wire.ChatCompletionChunk) -> None:
        """Fold one chunk into its choice: appends only, no per-chunk copies for the callback
        (a delivery slices what arrived since the last one).

        Done at once rather than in batches: a chunk kept alive for later survives garbage
        collections and drags their cost up (measured: a batched version was slower).
        """
        for choice in chunk.choices:
            acc = self._choices.get(choice.index) or self._new_choice(choice.index)
            acc.texts.append(choice.delta.content or "")
            if choice.token_ids:
                acc.token_ids += choice.token_ids
            if choice.finish_reason is not None:
                acc.finish_reason = choice.finish_reason
        if self._idle:
            self._idle = False
            self._schedule_delivery()

    def _new_choice(self, index: int) -> _Choice:
        acc = self._choices[index] = _Choice()
        return acc

    @property
    def streamed_tokens(self) -> int:
        """Token ids streamed so far (0 from backends that send none)."""
        return sum(len(acc.token_ids) for acc in self._choices.values())

    def all_text(self) -> str:
        return "".join("".join(acc.texts) for acc in self._choices.values())

    def mark_cancelled(self) -> None:
        """The script cancelled the stream: every choice ends ``cancelled``."""
        self._cancelled = True

    def _finish_reason(self, acc: _Choice) -> str | None:
        return "cancelled" if self._cancelled else acc.finish_reason

    def result(self) -> dict[str, Any]:
        choices = self._choices or {0: _Choice()}
        return {
            "choices": [
                {
                    "text": "".join(choices[i].texts),
                    "index": i,
                    "token_ids": choices[i].token_ids,
                    "finish_reason": self._finish_reason(choices[i]),
                }
                for i in sorted(choices)
            ]
        }

    def _take_news(self) -> list[dict[str, Any]]:
        """Every choice's news since the last delivery, by index (empty: nothing new)."""
        return [
            self._choices[i].take_news(i)
            for i in sorted(self._choices)
            if self._choices[i].has_news
        ]

    # -- deliveries ------------------------------------------------------------------------

    def _schedule_delivery(self) -> None:
        """Deliver what arrived at the next turn (a timer, not a sleeping task: a stream
        shorter than the interval then costs no task before its end)."""
        when = self._last_delivery + DELIVERY_INTERVAL_S
        if when <= self._loop.time():
            self._start_delivery()
        else:
            self._turn = self._loop.call_at(when, self._start_delivery)

    def _start_delivery(self) -> None:
        self._turn = None
        self._delivery = asyncio.ensure_future(self._deliver())

    async def _deliver(self) -> None:
        news = self._take_news()
        if not news:  # ``finish_delivery`` took it (it ran before this task's first step)
            return
        self._last_delivery = self._loop.time()
        await self._invoke([[news, False]])
        self._delivery = None
        if not self._feeding or self._finished:
            return
        if any(acc.has_news for acc in self._choices.values()):
            self._schedule_delivery()  # arrived while the callback ran
        else:
            self._idle = True

    async def _invoke(self, calls: list[list[Any]]) -> None:
        """``callback(choices, final)`` for each of ``calls``, in turn, in one invocation."""
        assert self._callback is not None
        ok = await self._ctx.host.invoke_callback(
            self._ctx.script, self._callback, calls[0], what="generate callback", then=calls[1:]
        )
        if not ok:
            self._feeding = self._idle = False

    async def finish_delivery(self, final: bool) -> asyncio.Task[None] | None:
        """Send what is pending and, with ``final``, the closing ``callback(choices, True)``;
        return the task that ends when every delivery has (for the caller to track).

        The stream is over, so the rest is sent at once, in one invocation calling the
        callback for each in turn, behind the delivery in flight: deliveries are chained
        (``chained_invokes``), so the worker runs it only after the one before returned and
        skips it if that one raised. Nor does the api call's reply wait for them: it is
        ordered after the chain's last call in the worker (``sandbox.invoke_order``), so the script
        still sees every callback before its result.
        """
        self._idle, self._finished = False, True
        if self._turn is not None:  # the next delivery waits for its turn: it goes now
            self._turn.cancel()
            self._turn = None
        waits: list[asyncio.Task[None]] = []
        if self._delivery is not None:
            waits.append(self._delivery)
        calls: list[list[Any]] = []
        if self._feeding:
            news = self._take_news()
            if news:
                calls.append([news, False])
            if final:
                choices = self._choices or {0: _Choice()}
                closing: list[dict[str, Any]] = [
                    {
                        "index": i,
                        "text": "",
                        "token_ids": [],
                        "finish_reason": self._finish_reason(choices[i]),
                    }
                    for i in sorted(choices)
                ]
                calls.append([closing, True])
        if calls:
            waits.append(asyncio.ensure_future(self._invoke(calls)))
        if not waits:
            return None
        await asyncio.sleep(0)  # the new call runs up to its send before we go on
        return waits[0] if len(waits) == 1 else asyncio.ensure_future(_all_of(waits))

    def abandon(self) -> None:
        self._idle = False
        if self._turn is not None:
            self._turn.cancel()
        if self._delivery is not None:
            self._delivery.cancel()


async def _all_of(calls: Sequence[asyncio.Future[None]]) -> None:
    """Await every call; if cancelled, cancel those still running (chained calls after a
    cancelled one are skipped by the worker anyway)."""
    try:
        await asyncio.gather(*calls)
    except BaseException:
        for call in calls:
            call.cancel()
        raise
