"""Things only the editor page can do for a script (``clipboard.writeText``, ``file.save``,
``file.prompt``): ``PageRequests.ask`` publishes the request and waits for the page's answer.

A request is published as ``{"type": "page.request", id, scriptId, scriptName, kind, ...}``
(the kind's own fields beside) and resolved by the page's ``answer(id, ok, value, error)``
(the ``page.answer`` command); every resolution is published as ``{"type": "page.resolved",
id, scriptId, ok, error, timedOut}`` so every open page drops the prompt.

With no page open the call fails at once; a page that does not answer within ``timeout_s``
fails it too. The page is less trusted than the host: ``ask``'s ``check`` validates the
value it sends (its size, its shape) before the script sees it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nai_script.editor.page_prompts import PagePrompts

if TYPE_CHECKING:
    from nai_script.host.script import LoadedScript

#: Requests of one script waiting at once (a loop of un-awaited calls must not flood the page).
MAX_PENDING_PER_SCRIPT = 8
#: The page's error text is cut to this many characters before the script sees it.
MAX_ERROR_CHARS = 500


class PageRequestFailed(Exception):
    """No page, no answer in time, the page could not do it, or its answer was refused."""


@dataclass
class _Pending:
    request: dict[str, Any]
    check: Callable[[Any], Any] | None
    answer: asyncio.Future[Any] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class PageRequests(PagePrompts[_Pending]):
    """Asks whichever editor page is open (each subscriber of the bus is a page's session,
    ``web.session.PageSession``)."""

    async def ask(
        self,
        script: LoadedScript,
        kind: str,
        fields: dict[str, Any],
        *,
        check: Callable[[Any], Any] | None = None,
    ) -> Any:
        """The page's value for the request, through ``check`` (which raises ``ValueError``
        to refuse it; without one, what the page sends along is dropped and the answer is
        None); ``PageRequestFailed`` says why there is none."""
        if self.bus.subscriber_count == 0:
            raise PageRequestFailed("no editor page is open")
        waiting = sum(1 for e in self._pending.values() if e.request["scriptId"] == script.id)
        if waiting >= MAX_PENDING_PER_SCRIPT:
            raise PageRequestFailed(
                f"{waiting} requests to the page are already waiting "
                f"(at most {MAX_PENDING_PER_SCRIPT}); await them first"
            )
        request: dict[str, Any] = {
            **fields,
            "type": "page.request",
            "id": f"page-{next(self._ids)}",
            "scriptId": script.id,
            "scriptName": script.name,
            "kind": kind,
        }
        entry = _Pending(request, check)
        self._pending[request["id"]] = entry
        self.bus.publish(request)
        timed_out = False  # stays so if the call is cancelled (the script stopped)
        try:
            timed_out = not await self._answered_in_time(entry.answer)
        finally:
            # Still open (``answer`` takes an entry out before it resolves it): timed out, or
            # the call was cancelled (the script stopped). Drop the prompt.
            if self._pending.pop(request["id"], None) is not None:
                entry.answer.cancel()
                why = "no answer in time" if timed_out else "the script stopped waiting"
                self._resolved(entry, False, why, timed_out=timed_out)
        if entry.answer.cancelled():
            raise PageRequestFailed(f"the page did not answer within {self.timeout_s:g} s")
        return entry.answer.result()

    def answer(self, request_id: str, ok: bool, value: Any = None, error: Any = None) -> bool:
        """The page's reply. False when the request is unknown or already resolved (another
        page answered, or the time ran out)."""
        entry = self._pending.pop(request_id, None)
        if entry is None:
            return False
        try:
            if not ok:
                text = error if isinstance(error, str) and error else "it failed"
                raise PageRequestFailed(f"the page could not do it: {text[:MAX_ERROR_CHARS]}")
            try:
                checked = entry.check(value) if entry.check is not None else None
            except ValueError as refusal:
                raise PageRequestFailed(f"the page's answer was refused: {refusal}") from None
        except PageRequestFailed as failure:
            entry.answer.set_exception(failure)
            self._resolved(entry, False, str(failure), timed_out=False)
            return True
        entry.answer.set_result(checked)
        self._resolved(entry, True, None, timed_out=False)
        return True

    def _resolved(self, entry: _Pending, ok: bool, error: str | None, *, timed_out: bool) -> None:
        self.bus.publish(
            {
                "type": "page.resolved",
                "id": entry.request["id"],
                "scriptId": entry.request["scriptId"],
                "ok": ok,
                "error": error,
                "timedOut": timed_out,
            }
        )
