"""The api.v1 description handed to every script: NovelAI's camelCase names, and for each
function whether it is a plain call (``sync``) or returns an awaitable (``async``), as
NovelAI's type definitions have it (SPEC section 4); ``log`` and ``error`` are ``display``
calls (sync, and their arguments need not be plain data: they are printed, like
``console.log``'s). ``script.*`` constants come from the header."""

from __future__ import annotations

from typing import Any

from nai_script.host.api import document_api, editor_api, page_io, story_api
from nai_script.host.api.storages import METHODS as STORAGE_METHODS
from nai_script.host.api.storages import NAMESPACES as STORAGE_NAMESPACES
from nai_script.host.api.ui import FUNCTIONS as UI_FUNCTIONS
from sandbox.api_schema import ASYNC, DISPLAY, SYNC, ApiDescription, Value, blocks
from sandbox.header import ScriptHeader

FUNCTIONS: dict[str, Any] = {
    "generate": ASYNC,
    "log": DISPLAY,
    "error": DISPLAY,
    "uuid": SYNC,
    "maxTokens": ASYNC,
    "rolloverTokens": ASYNC,
    "createRolloverHelper": SYNC,
    "createCancellationSignal": ASYNC,
    "script": {
        "getAllowedOutput": SYNC,
        "getAllowedInput": SYNC,
        "getTimeUntilAllowedOutput": SYNC,
        "getTimeUntilAllowedInput": SYNC,
        "waitForAllowedOutput": ASYNC,
        "waitForAllowedInput": ASYNC,
        "countUncachedInputTokens": SYNC,
    },
    "tokenizer": {"encode": ASYNC, "decode": ASYNC},
    "timers": {"setTimeout": ASYNC, "clearTimeout": ASYNC, "sleep": ASYNC},
    "random": {"bool": SYNC, "float": SYNC, "int": SYNC, "roll": SYNC},
    "config": {"get": ASYNC},
    "permissions": {"has": ASYNC, "request": ASYNC, "list": ASYNC},
    "hooks": {"register": SYNC, "unregister": SYNC, "isRegistered": SYNC},
    "image": {"generate": ASYNC},  # extension: NovelAI has no image api for scripts
    "messaging": {"send": ASYNC, "broadcast": ASYNC, "onMessage": ASYNC, "unsubscribe": ASYNC},
    "ui": UI_FUNCTIONS,
    **page_io.FUNCTIONS,
    **editor_api.FUNCTIONS,
    **document_api.FUNCTIONS,
    **story_api.FUNCTIONS,
    **{name: dict.fromkeys(STORAGE_METHODS, ASYNC) for name in STORAGE_NAMESPACES},
}


def function_paths(tree: dict[str, Any] = FUNCTIONS, prefix: str = "v1") -> dict[str, str]:
    """Every function's dotted path (``v1.script.getAllowedOutput``) and how a script calls
    it, as NovelAI's d.ts has it: ``sync`` (``display`` is a sync call) or ``async``."""
    paths: dict[str, str] = {}
    for name, node in tree.items():
        if isinstance(node, dict):
            paths.update(function_paths(node, f"{prefix}.{name}"))
        else:
            paths[f"{prefix}.{name}"] = SYNC if blocks(node) else ASYNC
    return paths


def script_constants(header: ScriptHeader, memory_limit_mb: int) -> dict[str, Value]:
    """``memoryLimit`` in bytes, as NovelAI's (the header gives megabytes)."""
    return {
        "id": Value(value=header.id),
        "name": Value(value=header.name),
        "version": Value(value=header.version),
        "author": Value(value=header.author or ""),
        "description": Value(value=header.description or ""),
        "memoryLimit": Value(value=memory_limit_mb * 1024 * 1024),
    }


def api_description(header: ScriptHeader, memory_limit_mb: int) -> ApiDescription:
    """The whole ``api`` tree for one script (``memoryLimit``: the MB it really gets)."""
    constants = script_constants(header, memory_limit_mb)
    v1 = {**FUNCTIONS, "script": {**FUNCTIONS["script"], **constants}}
    return ApiDescription.from_tree({"v1": v1})
