"""The Stop button for the whole of a generation, not only its stream.

Before the backend streams, the pipeline waits on hooks (``onGenerationRequested``,
``onDocumentConvertedToText``, ``onBeforeContextBuild``, ``onContextBuilt``), each allowed up
to the hook timeout; a script that generates inside ``onContextBuilt`` can take many seconds.
Stop pressed then must end the generation at once, not let it stream when the hooks return.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


class StopPressed(Exception):
    """Stop was pressed while the pipeline waited (the awaited step was abandoned)."""


class StopSwitch:
    """Pressed by the page's Stop; ``reset`` at the start of every generation."""

    def __init__(self) -> None:
        self._pressed = asyncio.Event()

    @property
    def pressed(self) -> bool:
        return self._pressed.is_set()

    def press(self) -> None:
        self._pressed.set()

    def reset(self) -> None:
        self._pressed = asyncio.Event()

    def check(self) -> None:
        if self.pressed:
            raise StopPressed

    async def unless_pressed(self, step: Awaitable[T]) -> T:
        """``await step``, abandoning it (cancelled) if Stop is pressed first or meanwhile."""
        self.check()
        task = asyncio.ensure_future(step)
        waiter = asyncio.ensure_future(self._pressed.wait())
        try:
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            task.cancel()  # no-op when it finished
            await asyncio.gather(task, return_exceptions=True)  # its failure is seen once
        self.check()
        return task.result()
