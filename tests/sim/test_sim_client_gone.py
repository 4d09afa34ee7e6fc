"""A client that leaves mid-stream is normal for a streaming server: nothing is logged."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest

from nai_script.sim import SimServer, SimSettings


async def test_client_closing_mid_stream_logs_no_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with SimServer(SimSettings(tokens_per_second=500)) as sim:
        async with aiohttp.ClientSession() as session:
            response = await session.post(
                f"{sim.base_url}/oa/v1/completions",
                json={"model": "glm-4-6", "prompt": "x", "max_tokens": 2000, "stream": True},
                headers={"Authorization": "Bearer pst-test"},
            )
            await response.content.readany()
            response.close()  # go away while the server is still writing
        await asyncio.sleep(0.3)  # the server's next writes hit the closed transport
        # Still serving after the drop.
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{sim.base_url}/oa/v1/models") as ok,
        ):
            assert ok.status == 200
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
