"""Shared helpers for the limits tests (a plain module: conftest basenames must stay unique)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from nai_script.limits import FakeClock, Limits, LimitsConfig

T0 = 1_700_000_000.0


@asynccontextmanager
async def open_limits(
    path: Path, clock: FakeClock | None = None, **config: object
) -> AsyncIterator[Limits]:
    limits = Limits(path, LimitsConfig.model_validate(config), clock or FakeClock(T0))
    try:
        yield limits
    finally:
        await limits.close()


async def until(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    """Let the loop (and the writer thread) run until ``predicate`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.001)


async def spawn_python(code: str, *args: str) -> asyncio.subprocess.Process:
    """``python -c code args...`` with this checkout importable and its stdout piped (a writer
    the test kills with SIGKILL mid-way)."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        *args,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
