"""Permission prompts through the page: a script's header permissions are asked while it
loads (the server already listens), the page's answer decides, a stale answer is an error."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
from web_helpers import page_socket, served

WANTS_STORY_EDIT = (
    '"""\n---\nname: Editor\nid: wants\npermissions: [storyEdit]\n---\n"""\n'
    'api.v1.log("has storyEdit: " + str(await api.v1.permissions.has("storyEdit")))\n'
)


async def _answer_first_prompt(url: str, granted: bool, seen: list[dict[str, Any]]) -> None:
    ws_url = url.replace("http://", "ws://").replace("/?token=", "/ws?token=")
    async with aiohttp.ClientSession() as http, http.ws_connect(ws_url) as ws:
        while True:
            event = json.loads((await ws.receive(timeout=10)).data)
            seen.append(event)
            if event["type"] == "state" and event["permissions"]:
                request = event["permissions"][0]
                break
            if event["type"] == "permission.request":
                request = event
                break
        await ws.send_str(
            json.dumps({"type": "permission.answer", "id": request["id"], "granted": granted})
        )
        while event["type"] != "permission.resolved":
            event = json.loads((await ws.receive(timeout=10)).data)
            seen.append(event)


async def test_header_permissions_are_asked_on_the_page_while_loading(tmp_path: Path) -> None:
    for granted in (True, False):
        seen: list[dict[str, Any]] = []
        answers: list[asyncio.Task[None]] = []
        folder = tmp_path / str(granted)
        folder.mkdir()

        def listening(url: str) -> None:
            answers.append(asyncio.create_task(_answer_first_prompt(url, granted, seen)))  # noqa: B023

        async with served(folder, {"wants.py": WANTS_STORY_EDIT}, on_listening=listening) as server:
            await asyncio.gather(*answers)
            request = next(
                e
                for e in seen
                if e["type"] in ("permission.request", "state")
                and (e["type"] != "state" or e["permissions"])
            )
            prompt = (
                request if request["type"] == "permission.request" else request["permissions"][0]
            )
            assert prompt["scriptId"] == "wants"
            assert prompt["wanted"] == ["storyEdit"]
            resolved = next(e for e in seen if e["type"] == "permission.resolved")
            assert resolved["granted"] == (["storyEdit"] if granted else [])
            assert server.host is not None
            script = server.host.script_by_id("wants")
            assert script is not None
            assert ("storyEdit" in script.granted) is granted
            async with page_socket(server) as page:
                state = await page.next()
                assert state["permissions"] == []  # nothing left waiting
                await page.send({"type": "permission.answer", "id": prompt["id"], "granted": True})
                error = await page.next()
                assert error["message"] == (
                    f"permission.answer: request {prompt['id']!r} is not waiting for an answer"
                )
