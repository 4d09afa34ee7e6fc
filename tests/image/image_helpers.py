"""Shared by the image tests: a client for the simulator, a raw POST that bypasses the client,
and ``nai-script image`` as a subprocess with no NovelAI settings from the environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp

from nai_script.client import ClientSettings, NovelAIClient
from nai_script.sim import SimServer

TOKEN = "pst-image-tests"


def client_for(sim: SimServer, token: str = TOKEN) -> NovelAIClient:
    return NovelAIClient(ClientSettings.for_base_url(sim.base_url, token=token))


async def post_raw(
    sim: SimServer, path: str, body: dict[str, Any], token: str | None = TOKEN
) -> tuple[int, str, Any]:
    """Status, content type and body (parsed if JSON, else bytes) of one plain POST."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{sim.base_url}{path}", json=body, headers=headers) as response,
    ):
        if response.content_type == "application/json":
            return response.status, response.content_type, await response.json()
        return response.status, response.content_type, await response.read()


def run_image_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NAI_TOKEN", "NAI_SCRIPT_"))}
    return subprocess.run(
        [sys.executable, "-m", "nai_script", "image", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=60,
    )
