"""``clipboard.writeText``, ``file.save`` and ``file.prompt`` carried out by the page, over the
page's WebSocket: the page gets ``page.request``, answers with the ``page.answer`` command,
every page sees ``page.resolved``; a page that connects mid-request finds it in its
``state``; a page that does not answer fails the call; an oversize answer is refused."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from web_helpers import PageSocket, page_socket, served

from nai_script.editor.page_prompts import DEFAULT_TIMEOUT_S
from nai_script.host.api.page_io import MAX_READ_BYTES
from nai_script.limits import FakeClock

SCRIPT = (
    '"""\n---\nid: pio\nname: Page IO\n---\n"""\n'
    "async def go():\n"
    "    granted = await api.v1.permissions.request(['clipboardWrite', 'fileDownload',"
    " 'fileInput'])\n"
    "    api.v1.log('granted ' + str(granted))\n"
    "    for label, call in (\n"
    "        ('copy', lambda: api.v1.clipboard.writeText('copied text')),\n"
    "        ('save', lambda: api.v1.file.save('notes.txt', 'saved text')),\n"
    "        ('open', lambda: api.v1.file.prompt({'accept': '.txt'})),\n"
    "    ):\n"
    "        try:\n"
    "            api.v1.log(label + ' -> ' + repr(await call()))\n"
    "        except Exception as e:\n"
    "            api.v1.log(label + ' failed: ' + str(e))\n"
    "await api.v1.ui.register([{'type': 'toolbarButton', 'id': 'go', 'text': 'Go',"
    " 'callback': go}])\n"
)
CLICK = {"type": "ui.event", "scriptId": "pio", "targetId": "go", "event": "callback"}


def _log(page: PageSocket) -> Any:
    return page.wait_for(lambda e: e["type"] == "script.log" and e["id"] == "pio")


async def _start(page: PageSocket) -> None:
    """Click Go and grant the three permissions it asks for."""
    await page.wait_type("state")
    await page.send(CLICK)
    request = await page.wait_type("permission.request")
    await page.send({"type": "permission.answer", "id": request["id"], "granted": True})
    assert (await _log(page))["text"] == "granted True"


async def _answer(page: PageSocket, kind: str, **answer: Any) -> dict[str, Any]:
    request = await page.wait_type("page.request")
    assert request["kind"] == kind
    await page.send({"type": "page.answer", "id": request["id"], **answer})
    resolved = await page.wait_type("page.resolved")
    assert resolved["id"] == request["id"]
    return request


async def test_the_page_carries_out_each_request_and_answers_it(tmp_path: Path) -> None:
    async with served(tmp_path, {"pio.py": SCRIPT}) as server, page_socket(server) as page:
        await _start(page)
        copy = await _answer(page, "clipboard.writeText", ok=True)
        assert copy["text"] == "copied text"
        assert copy["scriptName"] == "Page IO"
        assert (await _log(page))["text"] == "copy -> None"
        save = await _answer(page, "file.save", ok=False, error="the user cancelled")
        assert (save["filename"], save["content"]) == ("notes.txt", "saved text")
        assert (await _log(page))["text"] == (
            "save failed: file.save: the page could not do it: the user cancelled"
        )
        request = await page.wait_type("page.request")
        assert request["kind"] == "file.prompt"
        assert request["accept"] == ".txt"
        assert request["maxBytes"] == MAX_READ_BYTES
        # A page opened now is shown the waiting request in its snapshot.
        async with page_socket(server) as late:
            state = await late.wait_type("state")
            assert [r["id"] for r in state["pageRequests"]] == [request["id"]]
            await late.send(
                {"type": "page.answer", "id": request["id"], "ok": True, "value": "file text"}
            )
            assert (await late.wait_type("page.resolved"))["ok"] is True
        assert (await page.wait_type("page.resolved"))["id"] == request["id"]
        assert (await _log(page))["text"] == "open -> 'file text'"
        # Answering again is an error for the answering page only.
        await page.send({"type": "page.answer", "id": request["id"], "ok": True})
        error = await page.wait_type("error")
        assert error["message"] == (
            f"page.answer: request {request['id']!r} is not waiting for an answer"
        )


async def test_an_unanswered_request_and_an_oversize_answer_fail_the_call(tmp_path: Path) -> None:
    clock = FakeClock()
    async with (
        served(tmp_path, {"pio.py": SCRIPT}, clock=clock) as server,
        page_socket(server) as page,
    ):
        await _start(page)
        await page.wait_type("page.request")  # the copy: left unanswered
        clock.advance(DEFAULT_TIMEOUT_S)
        resolved = await page.wait_type("page.resolved")
        assert resolved["timedOut"] is True
        assert (await _log(page))["text"] == (
            "copy failed: clipboard.writeText: the page did not answer within 120 s"
        )
        await _answer(page, "file.save", ok=True)
        assert (await _log(page))["text"] == "save -> None"
        await _answer(page, "file.prompt", ok=True, value="x" * (MAX_READ_BYTES + 1))
        assert (await _log(page))["text"] == (
            "open failed: file.prompt: the page's answer was refused: the files read are "
            f"{MAX_READ_BYTES + 1} bytes; at most 3 MiB"
        )


async def test_a_bad_answer_command_is_named(tmp_path: Path) -> None:
    async with served(tmp_path) as server, page_socket(server) as page:
        await page.wait_type("state")
        await page.send({"type": "page.answer", "id": "page-1"})
        error = await asyncio.wait_for(page.wait_type("error"), 10)
        assert error["message"].startswith("page.answer: ok: Field required")
