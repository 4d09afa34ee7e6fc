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
        self._delivery: asyncio.Task[None] | None = None
        # Feeding, and no delivery task running: the next chunk starts one (one flag, read
        # per token, instead of two tests or a ``.done()`` call).
        self._start_delivery = self._feeding
        # Loop time the last delivery started; the stream's start counts as one, so a stream
        # shorter than the interval costs no round trip before its end.
        self._last_delivery = asyncio.get_running_loop().time()
        self._pause: asyncio.Future[None] | None = None  # the delivery task waiting its turn

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
        if self._start_delivery:
            self._start_delivery = False
            self._delivery = asyncio.ensure_future(self._deliver())

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

    async def _deliver(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._feeding:
                wait = self._last_delivery + DELIVERY_INTERVAL_S - loop.time()
                if wait > 0:  # chunks arriving meanwhile join this delivery
                    await self._wait_turn(loop, wait)
                news = self._take_news()
                if not news:  # ``finish_delivery`` took it
                    break
                self._last_delivery = loop.time()
                await self._invoke(news, False)
        finally:
            self._start_delivery = self._feeding

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
        ok = await self._ctx.host.invoke_callback(
            self._ctx.script, self._callback, [choices, final], what="generate callback"
        )
        if not ok:
            self._feeding = self._start_delivery = False

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
        if self._feeding:
            news = self._take_news()
            if news:
                calls.append(asyncio.ensure_future(self._invoke(news, False)))
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
                calls.append(asyncio.ensure_future(self._invoke(closing, True)))
        if not calls:
            return None
        await asyncio.sleep(0)  # the new calls run up to their send, in order, before we go on
        return asyncio.ensure_future(_all_of(calls))

    def abandon(self) -> None:
        if self._delivery is not None:
            self._delivery.cancel()


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
