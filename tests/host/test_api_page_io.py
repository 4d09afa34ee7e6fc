"""``clipboard.writeText``, ``file.save`` and ``file.prompt`` from real scripts on a real host,
with a ``PageRequests`` on an event bus standing in for the editor page: the permission is
checked first, bad arguments are named, no page fails at once, a page that does not answer
fails the call, and the page's answer is checked (shape, size) before the script sees it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from host_helpers import TRY, Env, hosted

from nai_script.editor.events import EventBus, Subscription
from nai_script.editor.page_requests import PageRequests
from nai_script.host.api.page_io import MAX_READ_BYTES, MAX_TEXT_BYTES
from nai_script.host.permissions import grant_permissions

BARE = '"""\n---\nid: pio\nname: Page IO\n---\n"""\n' + TRY
HEADER = (
    '"""\n---\nid: pio\nname: Page IO\n'
    "permissions: [clipboardWrite, fileDownload, fileInput]\n---\n" + '"""\n' + TRY
)
Answer = Callable[[dict[str, Any]], tuple[bool, Any, str | None]]


@asynccontextmanager
async def with_page(
    env: Env, answer: Answer | None = None, *, timeout_s: float = 10.0
) -> AsyncIterator[tuple[PageRequests, list[dict[str, Any]]]]:
    """``env.host.page_requests`` with one subscriber (a page) that answers each request
    with ``answer(request)`` -> ``(ok, value, error)``; ``None``: it never answers."""
    bus = EventBus()
    pages = PageRequests(bus, timeout_s=timeout_s)
    env.host.page_requests = pages
    sub = bus.subscribe()
    seen: list[dict[str, Any]] = []

    async def page(sub: Subscription) -> None:
        while (event := await sub.get()) is not None:
            seen.append(event)
            if event["type"] == "page.request" and answer is not None:
                pages.answer(event["id"], *answer(event))

    task = asyncio.create_task(page(sub))
    try:
        yield pages, seen
    finally:
        bus.close()
        await task


def _ok(value: Any = None) -> Answer:
    return lambda request: (True, value, None)


async def test_each_call_is_refused_until_its_permission_is_granted(tmp_path: Path) -> None:
    source = BARE + (
        "await ta('copy', lambda: api.v1.clipboard.writeText(5))\n"  # permission before args
        "await ta('save', lambda: api.v1.file.save('a.txt', 'x'))\n"
        "await ta('open', lambda: api.v1.file.prompt())\n"
        "api.v1.log('granted', await api.v1.permissions.request("
        "['clipboardWrite', 'fileDownload', 'fileInput']))\n"
        "await ta('copy', lambda: api.v1.clipboard.writeText('hi'))\n"
        "await ta('save', lambda: api.v1.file.save('a.txt', 'x'))\n"
        "await ta('open', lambda: api.v1.file.prompt())\n"
    )
    async with (
        hosted(tmp_path, permission_policy=grant_permissions) as env,
        with_page(env, _ok("read")) as (_, seen),
    ):
        await env.run(source)
        assert env.lines() == [
            *(
                f"{label} ApiError api.v1.{call} needs the {perm!r} permission; list it in the "
                f"script header's permissions and grant it (api.v1.permissions.request({perm!r}))"
                for label, call, perm in (
                    ("copy", "clipboard.writeText", "clipboardWrite"),
                    ("save", "file.save", "fileDownload"),
                    ("open", "file.prompt", "fileInput"),
                )
            ),
            "granted True",
            "copy -> None",
            "save -> None",
            "open -> read",
        ], env.lines(level="error")
        assert len([e for e in seen if e["type"] == "page.request"]) == 3  # after the grant


async def test_bad_arguments_are_named_and_reach_no_page(tmp_path: Path) -> None:
    big = MAX_TEXT_BYTES + 1
    source = HEADER + (
        "await ta('a', lambda: api.v1.clipboard.writeText(5))\n"
        "await ta('b', lambda: api.v1.clipboard.writeText())\n"
        f"await ta('c', lambda: api.v1.clipboard.writeText('x' * {big}))\n"
        "await ta('d', lambda: api.v1.file.save('dir/a.txt', 'x'))\n"
        "await ta('e', lambda: api.v1.file.save('  ', 'x'))\n"
        "await ta('f', lambda: api.v1.file.save('a.txt', ['x']))\n"
        "await ta('g', lambda: api.v1.file.save('..', 'x'))\n"
        "await ta('h', lambda: api.v1.file.save('a\\nb', 'x'))\n"
        "await ta('i', lambda: api.v1.file.prompt({'readAs': 'arrayBuffer'}))\n"
        "await ta('j', lambda: api.v1.file.prompt({'bogus': 1}))\n"
        "await ta('k', lambda: api.v1.file.prompt(multiple='yes'))\n"
        "await ta('l', lambda: api.v1.file.prompt({'encoding': 'no such; thing'}))\n"
        "await ta('m', lambda: api.v1.file.save('a\\\\b.txt', 'x'))\n"
        f"await ta('n', lambda: api.v1.file.save('a.txt', 'x' * {big}))\n"
        "await ta('o', lambda: api.v1.file.save('a' * 256, 'x'))\n"
        "await ta('p', lambda: api.v1.file.prompt({'accept': 5}))\n"
        "await ta('q', lambda: api.v1.file.prompt({'readAs': 'binary'}))\n"
        "await ta('r', lambda: api.v1.file.prompt('x'))\n"
    )
    async with (
        hosted(tmp_path, permission_policy=grant_permissions) as env,
        with_page(env, _ok()) as (_, seen),
    ):
        await env.run(source)
        lines = env.lines()
        assert lines == [
            "a ValueError clipboard.writeText text: must be a string, got int",
            "b ValueError api.v1.clipboard.writeText: missing argument 'text'",
            f"c ValueError clipboard.writeText text: is {big} bytes; at most 1 MiB",
            "d ValueError file.save filename: must be a file name, without '/' or '\\' "
            "('dir/a.txt')",
            "e ValueError file.save filename: must not be empty",
            "f ValueError file.save content: must be a string, got list",
            "g ValueError file.save filename: must be a file name, not '..'",
            "h ValueError file.save filename: must not hold control characters ('a\\nb')",
            "i ValueError file.prompt options.readAs: 'arrayBuffer' is not supported here (a "
            "script gets no ArrayBuffer); use 'dataURL': the bytes as base64 after the comma",
            "j ValueError file.prompt options.bogus: unknown option "
            "(options: multiple, accept, readAs, encoding)",
            "k ValueError file.prompt options.multiple: must be a bool, got str",
            "l ValueError file.prompt options.encoding: must be an encoding label like 'utf-8', "
            "got 'no such; thing'",
            "m ValueError file.save filename: must be a file name, without '/' or '\\' "
            "('a\\\\b.txt')",
            f"n ValueError file.save content: is {big} bytes; at most 1 MiB",
            "o ValueError file.save filename: at most 255 characters, got 256",
            "p ValueError file.prompt options.accept: must be a string of at most 1000 "
            "characters (like '.txt,text/plain'), got 5",
            "q ValueError file.prompt options.readAs: must be 'text' or 'dataURL', got 'binary'",
            "r ValueError file.prompt options: must be a dict, got str",
        ], lines
        assert seen == []  # nothing reached the page


async def test_without_a_page_each_call_fails_at_once(tmp_path: Path) -> None:
    source = HEADER + (
        "await ta('copy', lambda: api.v1.clipboard.writeText('hi'))\n"
        "await ta('save', lambda: api.v1.file.save('a.txt', 'x'))\n"
        "await ta('open', lambda: api.v1.file.prompt())\n"
    )
    async with hosted(tmp_path, permission_policy=grant_permissions) as env:
        await env.run(source)  # nai-script run: no page service at all
        assert env.lines() == [
            f"{label} ApiError {call}: no editor page is open (this call needs nai-script serve)"
            for label, call in (
                ("copy", "clipboard.writeText"),
                ("save", "file.save"),
                ("open", "file.prompt"),
            )
        ]
        env.logs.clear()
        bus = EventBus()  # serve, before any page connects: nobody subscribed
        env.host.page_requests = PageRequests(bus)
        await asyncio.wait_for(env.run(source.replace("id: pio", "id: pio2"), "t2.py"), 10)
        assert env.lines() == [
            "copy ApiError clipboard.writeText: no editor page is open",
            "save ApiError file.save: no editor page is open",
            "open ApiError file.prompt: no editor page is open",
        ]


async def test_the_page_gets_the_request_and_its_answer_is_the_value(tmp_path: Path) -> None:
    def answer(request: dict[str, Any]) -> tuple[bool, Any, str | None]:
        if request["kind"] == "file.prompt":
            return True, (["one", "two"] if request["multiple"] else None), None
        if request["kind"] == "file.save":
            errors = {"notes.txt": "the disk is full", "long.txt": "x" * 2000, "none.txt": ""}
            return False, None, errors[request["filename"]]
        return True, "ignored", None

    source = HEADER + (
        "await ta('copy', lambda: api.v1.clipboard.writeText('héllo'))\n"
        "await ta('save', lambda: api.v1.file.save('notes.txt', 'body'))\n"
        "await ta('long', lambda: api.v1.file.save('long.txt', 'body'))\n"
        "await ta('blank', lambda: api.v1.file.save('none.txt', 'body'))\n"
        "await ta('none', lambda: api.v1.file.prompt())\n"
        "await ta('many', lambda: api.v1.file.prompt(multiple=True, accept='.txt',"
        " readAs='dataURL', encoding='latin1'))\n"
    )
    async with (
        hosted(tmp_path, permission_policy=grant_permissions) as env,
        with_page(env, answer) as (pages, seen),
    ):
        await env.run(source)
        assert env.lines() == [
            "copy -> None",
            "save ApiError file.save: the page could not do it: the disk is full",
            "long ApiError file.save: the page could not do it: " + "x" * 500,  # cut
            "blank ApiError file.save: the page could not do it: it failed",
            "none -> None",
            'many -> ["one", "two"]',
        ]
        requests = [e for e in seen if e["type"] == "page.request"]
        del requests[2:4]  # 'long' and 'blank' are 'save' again
        assert [{k: v for k, v in r.items() if k != "id"} for r in requests] == [
            {
                "type": "page.request",
                "scriptId": "pio",
                "scriptName": "Page IO",
                "kind": "clipboard.writeText",
                "text": "héllo",
            },
            {
                "type": "page.request",
                "scriptId": "pio",
                "scriptName": "Page IO",
                "kind": "file.save",
                "filename": "notes.txt",
                "content": "body",
            },
            *(
                {
                    "type": "page.request",
                    "scriptId": "pio",
                    "scriptName": "Page IO",
                    "kind": "file.prompt",
                    "maxBytes": MAX_READ_BYTES,
                    **options,
                }
                for options in (
                    {"multiple": False, "accept": "", "readAs": "text", "encoding": "utf-8"},
                    {"multiple": True, "accept": ".txt", "readAs": "dataURL", "encoding": "latin1"},
                )
            ),
        ]
        resolved = [e for e in seen if e["type"] == "page.resolved"]
        assert [e["ok"] for e in resolved] == [True, False, False, False, True, True]
        assert pages.pending() == []
        assert not pages.answer(requests[0]["id"], True)  # already resolved


async def test_a_page_that_does_not_answer_fails_the_call(tmp_path: Path) -> None:
    source = HEADER + "await ta('save', lambda: api.v1.file.save('a.txt', 'x'))\n"
    async with (
        hosted(tmp_path, permission_policy=grant_permissions) as env,
        with_page(env, None, timeout_s=0.2) as (pages, seen),
    ):
        await asyncio.wait_for(env.run(source), 10)
        assert env.lines() == ["save ApiError file.save: the page did not answer within 0.2 s"]
        resolved = [e for e in seen if e["type"] == "page.resolved"]
        assert len(resolved) == 1
        assert resolved[0]["timedOut"] is True
        assert pages.pending() == []


async def test_an_answer_of_the_wrong_shape_or_size_is_refused(tmp_path: Path) -> None:
    answers = iter(
        [
            "x" * (MAX_READ_BYTES + 1),
            ["a", "b"],  # a list for a single file
            ["é" * (MAX_READ_BYTES // 4), "é" * (MAX_READ_BYTES // 4 + 1)],  # 2 bytes each
            "one",  # a string for several files
            "fits",
        ]
    )
    source = HEADER + (
        "await ta('big', lambda: api.v1.file.prompt())\n"
        "await ta('shape', lambda: api.v1.file.prompt())\n"
        "await ta('many', lambda: api.v1.file.prompt({'multiple': True}))\n"
        "await ta('one', lambda: api.v1.file.prompt({'multiple': True}))\n"
        "await ta('fits', lambda: api.v1.file.prompt())\n"
    )
    async with (
        hosted(tmp_path, permission_policy=grant_permissions) as env,
        with_page(env, lambda request: (True, next(answers), None)),
    ):
        await env.run(source)
        refused = "ApiError file.prompt: the page's answer was refused:"
        assert env.lines() == [
            f"big {refused} the files read are {MAX_READ_BYTES + 1} bytes; at most 3 MiB",
            f"shape {refused} the files must come as a string, got list",
            f"many {refused} the files read are {MAX_READ_BYTES + 2} bytes; at most 3 MiB",
            f"one {refused} the files must come as a list of strings, got str",
            "fits -> fits",
        ]


async def test_a_script_cannot_flood_the_page_with_waiting_requests(tmp_path: Path) -> None:
    source = HEADER + "for n in range(9):\n    api.v1.file.save('f.txt', str(n))\n"  # no await
    async with (
        hosted(tmp_path, permission_policy=grant_permissions) as env,
        with_page(env, None, timeout_s=0.5) as (_, seen),
    ):
        await asyncio.wait_for(env.run(source), 10)
        errors = env.lines(level="error")
        flood = (
            "file.save: 8 requests to the page are already waiting (at most 8); await them first"
        )
        timeout = "file.save: the page did not answer within 0.5 s"
        assert sorted(errors) == sorted(
            [f"v1.file.save failed (not awaited): {flood}"]
            + [f"v1.file.save failed (not awaited): {timeout}"] * 8
        ), errors
        assert len([e for e in seen if e["type"] == "page.request"]) == 8


async def test_a_script_that_stops_waiting_drops_its_prompt_from_every_page(
    tmp_path: Path,
) -> None:
    """Unloading a script that waits on the page cancels its call: the request is resolved
    for every page (or the prompt would stay on screen for ever), not as a timeout."""
    source = HEADER + "await api.v1.file.save('a.txt', 'x')\n"
    async with (
        hosted(tmp_path, permission_policy=grant_permissions) as env,
        with_page(env, None) as (pages, seen),
    ):
        (env.folder / "wait.py").write_text(source)
        loading = asyncio.create_task(env.host.load_script(env.folder / "wait.py"))
        for _ in range(200):
            if pages.pending():
                break
            await asyncio.sleep(0.01)
        assert len(pages.pending()) == 1
        await env.host.unload_script("pio")
        with contextlib.suppress(Exception):
            await loading
        for _ in range(200):
            if any(e["type"] == "page.resolved" for e in seen):
                break
            await asyncio.sleep(0.01)
        resolved = [e for e in seen if e["type"] == "page.resolved"]
        assert [(e["ok"], e["error"], e["timedOut"]) for e in resolved] == [
            (False, "the script stopped waiting", False)
        ]
        assert pages.pending() == []
