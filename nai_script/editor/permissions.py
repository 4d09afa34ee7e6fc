"""Permission prompts on the editor page: ``PagePermissions.policy`` is the host's
``permission_policy``.

A request is published as ``{"type": "permission.request", id, scriptId, scriptName, wanted,
reason, atLoad}`` and resolved by the page's ``answer(id, granted)``; every resolution is
published as ``permission.resolved`` so every open page drops the prompt. Grants are
remembered per script id for the life of the server, so a hot reload does not ask again.

Two kinds of asking:
- ``api.v1.permissions.request(...)`` from a running script waits for the answer; nobody
  answering within ``timeout_s`` is a "no" (default-deny).
- The header's ``permissions`` at load time do not wait: a server starting with no page open
  must not stall every script load. The load goes on with what was already granted, the prompt
  stays open until answered, and a later "yes" is granted to the running script on the spot.
  A reload while the prompt is open reuses it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nai_script.editor.events import EventBus
from nai_script.editor.page_prompts import DEFAULT_TIMEOUT_S, PagePrompts
from nai_script.limits import Clock

if TYPE_CHECKING:
    from nai_script.host.script import LoadedScript


@dataclass
class _Pending:
    request: dict[str, Any]
    script: LoadedScript
    wanted: list[str]
    at_load: bool
    answer: asyncio.Future[list[str]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class PagePermissions(PagePrompts[_Pending]):
    """Asks the person at the page; default-deny when nobody answers a script's request."""

    def __init__(
        self, bus: EventBus, *, timeout_s: float = DEFAULT_TIMEOUT_S, clock: Clock | None = None
    ) -> None:
        super().__init__(bus, timeout_s=timeout_s, clock=clock)
        self._granted: dict[str, set[str]] = {}

    def granted_to(self, script_id: str) -> set[str]:
        return set(self._granted.get(script_id, ()))

    async def policy(
        self, script: LoadedScript, wanted: list[str], reason: str | None
    ) -> list[str]:
        """The ``ScriptHost.permission_policy``: the subset of ``wanted`` granted."""
        known = self._granted.get(script.id, set())
        missing = [name for name in dict.fromkeys(wanted) if name not in known]
        if not missing:
            return list(wanted)
        at_load = script.worker is None  # the host asks for header permissions before starting
        if at_load:
            self._ask_at_load(script, missing)
            return [name for name in wanted if name in known]
        entry = self._open(script, missing, reason, at_load=False)
        try:
            await self._answered_in_time(entry.answer)
        finally:
            self._pending.pop(entry.request["id"], None)
        if not entry.answer.done():
            entry.answer.cancel()
            self._resolved(entry, [], timed_out=True)
        every = known | self._granted.get(script.id, set())
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
        if entry.at_load:
            self._pending.pop(request_id, None)
            entry.script.granted.update(chosen)  # the script is already running
        self._resolved(entry, chosen, timed_out=False)
        return True

    def forget(self, script_id: str) -> None:
        """Drop remembered grants (the person revoked them, or the script was removed)."""
        self._granted.pop(script_id, None)

    def _ask_at_load(self, script: LoadedScript, missing: list[str]) -> None:
        for entry in self._pending.values():
            if entry.at_load and entry.script.id == script.id and entry.wanted == missing:
                entry.script = script  # a reload: the open prompt now grants to the new load
                return
        self._open(script, missing, None, at_load=True)

    def _open(
        self, script: LoadedScript, wanted: list[str], reason: str | None, *, at_load: bool
    ) -> _Pending:
        request: dict[str, Any] = {
            "type": "permission.request",
            "id": f"perm-{next(self._ids)}",
            "scriptId": script.id,
            "scriptName": script.name,
            "wanted": wanted,
            "reason": reason,
            "atLoad": at_load,
        }
        entry = _Pending(request, script, wanted, at_load)
        self._pending[request["id"]] = entry
        self.bus.publish(request)
        return entry

    def _resolved(self, entry: _Pending, granted: list[str], *, timed_out: bool) -> None:
        self._granted.setdefault(entry.script.id, set()).update(granted)
        self.bus.publish(
            {
                "type": "permission.resolved",
                "id": entry.request["id"],
                "scriptId": entry.script.id,
                "granted": granted,
                "timedOut": timed_out,
            }
        )
