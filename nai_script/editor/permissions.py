"""Permission prompts on the editor page: ``PagePermissions.policy`` is the host's
``permission_policy``.

A request is published as ``{"type": "permission.request", id, scriptId, scriptName, wanted,
reason}`` and waits for the page's ``answer(id, granted)``. Nobody answering is a "no": after
``timeout_s`` the request resolves to nothing granted. Every resolution is published as
``permission.resolved`` so every open page drops the prompt. Grants are remembered per script
id for the life of the server, so a hot reload does not ask again for what was already given.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nai_script.editor.events import EventBus
from nai_script.limits import Clock, SystemClock

if TYPE_CHECKING:
    from nai_script.host.script import LoadedScript

DEFAULT_TIMEOUT_S = 120.0


@dataclass
class _Pending:
    request: dict[str, Any]
    wanted: list[str]
    answer: asyncio.Future[list[str]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class PagePermissions:
    """Asks the person at the page; default-deny when nobody answers in time."""

    def __init__(
        self, bus: EventBus, *, timeout_s: float = DEFAULT_TIMEOUT_S, clock: Clock | None = None
    ) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        self.bus = bus
        self.timeout_s = timeout_s
        self.clock: Clock = clock or SystemClock()
        self._pending: dict[str, _Pending] = {}
        self._granted: dict[str, set[str]] = {}
        self._ids = itertools.count(1)

    def pending(self) -> list[dict[str, Any]]:
        """Open requests, for the ``state`` snapshot of a page that connects mid-question."""
        return [entry.request for entry in self._pending.values()]

    def granted_to(self, script_id: str) -> set[str]:
        return set(self._granted.get(script_id, ()))

    async def policy(
        self, script: LoadedScript, wanted: list[str], reason: str | None
    ) -> list[str]:
        """The ``ScriptHost.permission_policy``: the subset of ``wanted`` the person granted."""
        known = self._granted.get(script.id, set())
        missing = [name for name in dict.fromkeys(wanted) if name not in known]
        if not missing:
            return list(wanted)
        request_id = f"perm-{next(self._ids)}"
        request = {
            "type": "permission.request",
            "id": request_id,
            "scriptId": script.id,
            "scriptName": script.name,
            "wanted": missing,
            "reason": reason,
        }
        entry = _Pending(request, missing)
        self._pending[request_id] = entry
        self.bus.publish(request)
        timer: asyncio.Future[Any] = asyncio.ensure_future(self.clock.sleep(self.timeout_s))
        waiters: set[asyncio.Future[Any]] = {entry.answer, timer}
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timer
            self._pending.pop(request_id, None)
        timed_out = not entry.answer.done()
        if timed_out:
            entry.answer.cancel()
            granted: list[str] = []
        else:
            granted = entry.answer.result()
        self._granted.setdefault(script.id, set()).update(granted)
        self.bus.publish(
            {
                "type": "permission.resolved",
                "id": request_id,
                "scriptId": script.id,
                "granted": granted,
                "timedOut": timed_out,
            }
        )
        every = known | set(granted)
        return [name for name in wanted if name in every]

    def answer(self, request_id: str, granted: bool | list[str]) -> bool:
        """The page's reply: ``True`` grants all asked, ``False`` none, a list some of them.
        False when the request is unknown or already resolved (another page, the timeout)."""
        entry = self._pending.get(request_id)
        if entry is None or entry.answer.done():
            return False
        if isinstance(granted, bool):
            chosen = list(entry.wanted) if granted else []
        elif isinstance(granted, list) and all(isinstance(name, str) for name in granted):
            chosen = [name for name in entry.wanted if name in granted]
        else:
            raise ValueError(
                f"permission.answer granted: must be true, false or a list of permission names, "
                f"got {granted!r}"
            )
        entry.answer.set_result(chosen)
        return True

    def forget(self, script_id: str) -> None:
        """Drop remembered grants (the person revoked them, or the script was removed)."""
        self._granted.pop(script_id, None)
