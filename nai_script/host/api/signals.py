"""``createCancellationSignal()`` (async, as NovelAI's ``Promise<CancellationSignal>``): a remote
object with NovelAI's members: ``cancelled`` (a property read live from the host, so
``if signal.cancelled:`` works as in JS), ``cancel()`` (async) and ``dispose()`` (sync). Pass
it to ``generate(..., signal=...)`` to stop a stream; only what streamed is charged."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from nai_script.host.dispatch import CallContext, HostObject, Route
from sandbox.protocol import RemoteObject

SIGNAL_METHODS: dict[str, Any] = {"cancel": "async", "dispose": "sync"}


class CancellationSignal(HostObject):
    label = "signal"

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.disposed = False
        self._listeners: list[Callable[[], None]] = []

    @property
    def is_cancelled(self) -> bool:
        return self.event.is_set()

    def on_cancel(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` on cancel; returns a function that removes it. A disposed
        signal holds no listeners: it can no longer stop anything."""
        if self.disposed:
            return lambda: None
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def cancel(self) -> None:
        if self.event.is_set():
            return
        self.event.set()
        for listener in list(self._listeners):
            listener()

    async def api_cancel(self, ctx: CallContext) -> None:
        ctx.bind()
        self.cancel()

    async def api_dispose(self, ctx: CallContext) -> None:
        """Release the generations it watches: a later ``cancel()`` only sets the flag."""
        ctx.bind()
        self.disposed = True
        self._listeners.clear()

    async def api_cancelled(self, ctx: CallContext) -> bool:
        return self.is_cancelled


def signal_of(value: object) -> CancellationSignal | None:
    """The host signal behind what a script passed as ``signal=`` (or ``None``)."""
    if isinstance(value, RemoteObject) and isinstance(value.target, CancellationSignal):
        return value.target
    return None


async def _create(ctx: CallContext) -> RemoteObject:
    ctx.bind()
    return RemoteObject(
        target=CancellationSignal(), methods=dict(SIGNAL_METHODS), properties=("cancelled",)
    )


ROUTES: dict[str, Route] = {"v1.createCancellationSignal": _create}
