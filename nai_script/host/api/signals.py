"""``createCancellationSignal()``: a remote object with ``cancel()`` (async), ``isCancelled()``
(sync) and the awaitable ``cancelled`` (resolves ``True`` once cancelled). Pass it to
``generate(..., signal=...)`` to stop a stream; only what streamed is charged."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from nai_script.host.dispatch import CallContext, HostObject, Route
from sandbox.protocol import RemoteObject


class CancellationSignal(HostObject):
    label = "signal"

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self._listeners: list[Callable[[], None]] = []

    @property
    def is_cancelled(self) -> bool:
        return self.event.is_set()

    def on_cancel(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` on cancel; returns a function that removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def cancel(self) -> None:
        if self.event.is_set():
            return
        self.event.set()
        for listener in list(self._listeners):
            listener()

    async def api_cancel(self, ctx: CallContext) -> None:
        self.cancel()

    async def api_isCancelled(self, ctx: CallContext) -> bool:
        return self.is_cancelled

    async def api_cancelled(self, ctx: CallContext) -> bool:
        await self.event.wait()
        return True


def signal_of(value: object) -> CancellationSignal | None:
    """The host signal behind what a script passed as ``signal=`` (or ``None``)."""
    if isinstance(value, RemoteObject) and isinstance(value.target, CancellationSignal):
        return value.target
    return None


async def _create(ctx: CallContext) -> RemoteObject:
    ctx.bind()
    return RemoteObject(
        target=CancellationSignal(),
        methods={"cancel": "async", "isCancelled": "sync"},
        awaitables=("cancelled",),
    )


ROUTES: dict[str, Route] = {"v1.createCancellationSignal": _create}
