"""The scripts ``serve`` runs, with the state the page shows for each one.

It stands between the folder watcher and the host: it is the watcher's loader, so it sees
every load, reload and failure, and it remembers what the host alone cannot, a failed load
(the error as ``file:line: message``; on a failed reload the old version keeps running) and
scripts the user disabled. Every change is published as a ``script.state`` event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from nai_script.host.errors import LoadError
from nai_script.host.host import ScriptHost
from nai_script.host.script import LoadedScript

ScriptStateName = Literal["running", "error", "killed", "disabled"]
Publish = Callable[[dict[str, Any]], None]


class ScriptState(BaseModel):
    """One row of the page's scripts list."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    path: str
    state: ScriptStateName
    error: str | None = None
    reason: str | None = None
    #: The script's config options from its header, and their current values.
    config: list[dict[str, Any]] = []

    def event(self) -> dict[str, Any]:
        return {"type": "script.state", **self.model_dump(mode="json")}


def load_error_text(error: BaseException) -> str:
    """``file:line: message`` for the page: the first policy problem, else the message."""
    if isinstance(error, LoadError):
        return error.problems[0] if error.problems else error.message
    return str(error) or type(error).__name__


class ScriptRoster:
    """Loads, reloads, unloads, disables and enables scripts; fits ``ScriptLoader``."""

    def __init__(self, host: ScriptHost, publish: Publish) -> None:
        self._host = host
        self._publish = publish
        self._errors: dict[Path, str] = {}
        self._disabled: set[Path] = set()
        self._known: set[Path] = set()
        self._lock = asyncio.Lock()
        # Told the id of a script that stopped for good (unloaded, disabled): its UI goes.
        self.stopped_listeners: list[Callable[[str], None]] = []
        # Told a version whose worker stopped while its script lives on (a reload replaced
        # it, or it was killed): that version's UI goes, the script's grants stay.
        self.ended_listeners: list[Callable[[LoadedScript], None]] = []

    # -- ScriptLoader (the watcher calls these) ---------------------------------------------

    async def load_script(self, path: Path) -> object:
        return await self._apply(path)

    async def reload_script(self, path: Path) -> object:
        return await self._apply(path)

    async def unload_script(self, path: Path) -> object:
        resolved = _resolve(path)
        async with self._lock:
            script = self._loaded(resolved)
            self._known.discard(resolved)
            self._errors.pop(resolved, None)
            self._disabled.discard(resolved)
            await self._host.unload_script(resolved)
        if script is not None:
            self._tell_stopped(script.id)
        self._publish(
            {"type": "script.removed", "path": str(resolved), "id": script.id if script else None}
        )
        return None

    # -- what the page asks ------------------------------------------------------------------

    async def reload(self, script_id: str) -> ScriptState:
        path = self._path_for(script_id)
        await self._apply(path, raise_errors=False)
        return self.state_of(path)

    async def disable(self, script_id: str) -> ScriptState:
        path = self._path_for(script_id)
        async with self._lock:
            self._disabled.add(path)
            script = self._loaded(path)
            await self._host.unload_script(path)
        if script is not None:
            self._tell_stopped(script.id)
        state = self.state_of(path)
        self._publish(state.event())
        return state

    async def enable(self, script_id: str) -> ScriptState:
        path = self._path_for(script_id)
        self._disabled.discard(path)
        await self._apply(path, raise_errors=False)
        return self.state_of(path)

    async def configure(self, script_id: str, values: dict[str, Any]) -> ScriptState:
        """Set config values (checked against the header's options), then reload so the
        script's top level sees them."""
        path = self._path_for(script_id)
        script = self._loaded(path)
        if script is None:
            raise ValueError(f"script {script_id!r} is not running")
        names = {option.name for option in script.header.config}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"script {script_id!r} has no config option {unknown[0]!r}")
        self._host.config_overrides.setdefault(script.id, {}).update(values)
        return await self.reload(script_id)

    def states(self) -> list[ScriptState]:
        return [self.state_of(path) for path in sorted(self._known, key=lambda p: p.name)]

    def state_of(self, path: Path) -> ScriptState:
        script = self._loaded(path)
        stem = path.stem
        if path in self._disabled:
            return ScriptState(id=stem, name=stem, path=str(path), state="disabled")
        if script is None:
            return ScriptState(
                id=stem, name=stem, path=str(path), state="error", error=self._errors.get(path)
            )
        common: dict[str, Any] = {
            "id": script.id,
            "name": script.name,
            "path": str(path),
            "config": _config(script),
        }
        reason = script.exit_reason
        if reason is not None and reason.kind != "shutdown":
            return ScriptState(state="killed", reason=str(reason), **common)
        # A failed reload leaves the old version running: running, with the new error shown.
        return ScriptState(state="running", error=self._errors.get(path), **common)

    def notice_exit(self, script: LoadedScript) -> None:
        """Called when a worker may have died (an error log): republish its state."""
        if script.exit_reason is not None and script.path in self._known:
            self._tell_ended(script)
            self._publish(self.state_of(script.path).event())

    # -- internals ---------------------------------------------------------------------------

    def _tell_stopped(self, script_id: str) -> None:
        for listener in list(self.stopped_listeners):
            listener(script_id)

    def _tell_ended(self, script: LoadedScript) -> None:
        for listener in list(self.ended_listeners):
            listener(script)

    def _loaded(self, path: Path) -> LoadedScript | None:
        return next((s for s in self._host.scripts if s.path == path), None)

    def _path_for(self, script_id: str) -> Path:
        for path in self._known:
            script = self._loaded(path)
            if (script is not None and script.id == script_id) or path.stem == script_id:
                return path
        raise ValueError(f"no script {script_id!r}")

    async def _apply(self, path: Path, *, raise_errors: bool = True) -> object:
        """Load ``path``, or reload it when a version is running; record how it went."""
        resolved = _resolve(path)
        self._known.add(resolved)
        if resolved in self._disabled:
            self._publish(self.state_of(resolved).event())
            return None
        async with self._lock:
            previous = self._loaded(resolved)
            try:
                if previous is None:
                    await self._host.load_script(resolved)
                else:
                    await self._host.reload_script(resolved)
            except Exception as error:
                self._errors[resolved] = load_error_text(error)
                self._end_replaced(previous, resolved)
                self._publish(self.state_of(resolved).event())
                if raise_errors:
                    raise
                return None
            self._errors.pop(resolved, None)
            self._end_replaced(previous, resolved)
        self._publish(self.state_of(resolved).event())
        return None

    def _end_replaced(self, previous: LoadedScript | None, path: Path) -> None:
        """A reload stopped ``previous`` unless it failed before the swap (then it runs on)."""
        if previous is not None and self._loaded(path) is not previous:
            self._tell_ended(previous)


def _resolve(path: Path) -> Path:
    return path.resolve()


def _config(script: LoadedScript) -> list[dict[str, Any]]:
    return [
        {**option.model_dump(mode="json"), "value": script.config_values.get(option.name)}
        for option in script.header.config
    ]
