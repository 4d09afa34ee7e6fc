"""The worker's event loop: a selector that says, just before each poll, whether the loop is
about to wait (the worker's cue to send its status and corked frames), and a loop whose
abandoned async generators are closed through the worker, which can step script code.

On the worker's import path, so pydantic-free (see ``sandbox.worker``).
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import AsyncGenerator, Callable
from typing import Any


class BlockAwareSelector(selectors.DefaultSelector):
    """Calls ``before_select(blocking)`` once per loop iteration, just before it polls;
    ``blocking`` is true when the loop is about to wait (timeout not zero)."""

    def __init__(self, before_select: Callable[[bool], None]) -> None:
        super().__init__()
        self._before_select = before_select

    def select(self, timeout: float | None = None) -> list[Any]:
        self._before_select(timeout is None or timeout > 0)
        return super().select(timeout)


class WorkerLoop(asyncio.SelectorEventLoop):
    """The worker's loop: an async generator the script drops mid-iteration is closed by
    ``close_abandoned`` instead of asyncio's own task, which cannot step script code (its
    awaits yield ``Suspension`` tokens, not futures)."""

    def __init__(
        self,
        selector: selectors.BaseSelector,
        close_abandoned: Callable[[AsyncGenerator[Any, Any]], None],
    ) -> None:
        super().__init__(selector)
        self._close_abandoned = close_abandoned

    def _asyncgen_finalizer_hook(self, agen: AsyncGenerator[Any, Any]) -> None:
        # Called by the garbage collector wherever it runs: defer, as asyncio does.
        self._asyncgens.discard(agen)  # type: ignore[attr-defined]
        if not self.is_closed():
            self.call_soon_threadsafe(self._close_abandoned, agen)
