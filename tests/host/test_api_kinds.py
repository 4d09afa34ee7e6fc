"""Sync or async, call by call, as NovelAI's type definitions (``script-types.d.ts``) have it:
what returns a Promise there is awaitable here, what returns a value there is a plain call
(SPEC section 4). The table is written out in full so any change of kind shows up here."""

from __future__ import annotations

from pathlib import Path

from host_helpers import hosted

from nai_script.host.api.rollover import METHODS as ROLLOVER_METHODS
from nai_script.host.api.signals import SIGNAL_METHODS
from nai_script.host.api.ui import WINDOW_METHODS
from nai_script.host.permissions import grant_permissions
from nai_script.host.surface import function_paths


def _kinds(namespace: str, kind: str, names: str) -> dict[str, str]:
    prefix = f"v1.{namespace}." if namespace else "v1."
    return {prefix + name: kind for name in names.split()}


_STORAGE = "get set remove list has getOrDefault setIfAbsent"
_PARTS = (
    "text image button textInput multilineTextInput codeEditor numberInput checkboxInput "
    "sliderInput row column box container collapsibleSection"
)
#: Every api.v1 function and its kind in NovelAI's d.ts (``image`` is our extension).
DTS_KINDS: dict[str, str] = {
    **_kinds("", "sync", "log error uuid createRolloverHelper"),
    **_kinds(
        "",
        "async",
        "generate generateWithStory buildContext maxTokens rolloverTokens createCancellationSignal",
    ),
    **_kinds(
        "script",
        "sync",
        "getAllowedOutput getAllowedInput getTimeUntilAllowedOutput getTimeUntilAllowedInput "
        "countUncachedInputTokens",
    ),
    **_kinds("script", "async", "waitForAllowedOutput waitForAllowedInput"),
    **_kinds("tokenizer", "async", "encode decode"),
    **_kinds("timers", "async", "setTimeout clearTimeout sleep"),
    **_kinds("random", "sync", "bool float int roll"),
    **_kinds("config", "async", "get"),
    **_kinds("permissions", "async", "has request list"),
    **_kinds("hooks", "sync", "register unregister isRegistered"),
    **_kinds("messaging", "async", "send broadcast onMessage unsubscribe"),
    **_kinds("image", "async", "generate"),
    **_kinds("clipboard", "async", "writeText"),
    **_kinds("file", "async", "prompt save"),
    **_kinds(
        "ui",
        "async",
        "register update remove updateParts removeParts toast openPanel closePanel",
    ),
    **_kinds("ui.window", "async", "open"),
    **_kinds("ui.modal", "async", "open"),
    **_kinds("ui.larry", "sync", "help"),
    **_kinds("ui.part", "sync", _PARTS),
    **_kinds(
        "ui.extension",
        "sync",
        "toolbarButton contextMenuButton scriptPanel sidebarPanel lorebookPanel",
    ),
    **_kinds("editor", "async", "generate isBlocked"),
    **_kinds("editor.selection", "async", "get"),
    **_kinds(
        "document",
        "async",
        "scan sectionIds textFromSelection append appendParagraph appendParagraphs "
        "insertParagraphAfter insertParagraphsAfter updateParagraph updateParagraphs "
        "removeParagraph removeParagraphs",
    ),
    **_kinds(
        "document.history",
        "async",
        "currentNodeId previousNodeId mostRecentGenerationNodeId undo redo jump nodeState",
    ),
    **_kinds("memory", "async", "get set"),
    **_kinds("an", "async", "get set"),
    **_kinds("systemPrompt", "async", "get set getDefault"),
    **_kinds("prefill", "async", "get set getDefault"),
    **_kinds("generationParameters", "async", "get update"),
    **_kinds("story", "async", "id"),
    **_kinds("story.title", "async", "get set"),
    **_kinds("story.description", "async", "get set"),
    **_kinds(
        "lorebook",
        "async",
        "entries entry categories category createEntry updateEntry removeEntry "
        "createCategory updateCategory removeCategory",
    ),
    **{
        path: kind
        for namespace in ("storage", "storyStorage", "historyStorage", "tempStorage")
        for path, kind in _kinds(namespace, "async", _STORAGE).items()
    },
}


def test_every_call_has_the_kind_the_dts_gives_it() -> None:
    assert function_paths() == DTS_KINDS


def test_methods_of_returned_objects_have_the_dts_kinds() -> None:
    """RolloverHelper: ``add`` a Promise, the rest values; the window/modal handle:
    ``update``/``close`` Promises, ``isClosed`` a value; CancellationSignal: ``cancel`` a
    Promise, ``dispose`` a value (``cancelled`` is a property)."""
    values = ("read", "peek", "getAll", "totalTokens", "count", "remove", "clear", "compact")
    helper = dict.fromkeys((*values, "getConfig"), "sync")
    assert dict(ROLLOVER_METHODS) == {"add": "async", **helper}
    assert WINDOW_METHODS == {"update": "async", "close": "async", "isClosed": "sync"}
    assert SIGNAL_METHODS == {"cancel": "async", "dispose": "sync"}


async def test_novelais_own_examples_of_promise_calls_run_as_written(tmp_path: Path) -> None:
    """``await api.v1.config.get(...)``, ``await permissions.has/list()``, ``await
    messaging.onMessage/unsubscribe(...)`` and ``await createCancellationSignal()`` failed:
    these were plain calls, and awaiting their value raised a TypeError."""
    source = (
        '"""\n---\nid: k\npermissions: [storyEdit]\nconfig:\n'
        "  - {name: player_name, type: string, default: Ann}\n---\n" + '"""\n'
        "name = await api.v1.config.get('player_name')\n"
        "has = await api.v1.permissions.has('storyEdit')\n"
        "held = await api.v1.permissions.list()\n"
        "sub = await api.v1.messaging.onMessage(lambda m: None, {'channel': 'events'})\n"
        "gone = await api.v1.messaging.unsubscribe(sub)\n"
        "signal = await api.v1.createCancellationSignal()\n"
        "await signal.cancel()\n"
        "api.v1.log(name, has, held, isinstance(sub, int), gone, signal.cancelled)\n"
    )
    async with hosted(tmp_path, permission_policy=grant_permissions) as env:
        await env.run(source)
        assert env.lines() == ['Ann True ["storyEdit"] True None True'], env.lines(level="error")
