"""The kinds of function an API description names (see ``sandbox.api_schema``); a module of
its own, free of pydantic, because the worker needs them and must start fast."""

from __future__ import annotations

from typing import Literal

FunctionKind = Literal["sync", "async", "display"]
SYNC: FunctionKind = "sync"
ASYNC: FunctionKind = "async"
DISPLAY: FunctionKind = "display"
#: A tuple, not a set: a namespace (a dict, unhashable) is tested against it too.
KINDS: tuple[FunctionKind, ...] = (SYNC, ASYNC, DISPLAY)


def blocks(kind: FunctionKind) -> bool:
    """Whether a call of this kind waits for the host's answer (every kind but async)."""
    return kind != ASYNC
