"""The simulator for benchmarks: in this process, or in a child process (the realistic case:
NovelAI's servers are elsewhere, so their work does not compete with ours for this process's
CPU). Imported by the bench scripts, which run with ``bench/`` on ``sys.path``."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from nai_script.sim import SimServer, SimSettings

_CHILD = """
import asyncio, sys
from nai_script.sim import SimServer, SimSettings
async def main():
    async with SimServer(SimSettings(tokens_per_second=0)) as sim:
        print(sim.base_url, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
asyncio.run(main())
"""


@asynccontextmanager
async def simulator(in_process: bool) -> AsyncIterator[str]:
    """Yield the base URL of a simulator streaming at unlimited speed."""
    if in_process:
        async with SimServer(SimSettings(tokens_per_second=0)) as sim:
            yield sim.base_url
        return
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _CHILD, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    assert child.stdin is not None
    assert child.stdout is not None
    try:
        yield (await child.stdout.readline()).decode().strip()
    finally:
        child.stdin.close()
        await asyncio.wait_for(child.wait(), 10)
