"""``storage``, ``storyStorage``, ``historyStorage`` and ``tempStorage`` (all async).

The persistent three are slices of one SQLite file keyed by script id (and story / history
node for the scoped ones), so they survive reloads and restarts; ``tempStorage`` is per load.
A persistent write tells the script UI (``host.ui``), which re-renders bound values.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from nai_script.host.dispatch import REQUIRED, ApiFailure, ApiUsageError, CallContext, Route
from nai_script.host.storage import ScriptStorage, StorageError, StorageFull

NAMESPACES = ("storage", "storyStorage", "historyStorage", "tempStorage")
METHODS = ("get", "set", "remove", "list", "has", "getOrDefault", "setIfAbsent")
#: The methods that may change what a bound UI value shows (``setIfAbsent`` only when True).
WRITES = ("set", "remove", "setIfAbsent")


def _run(store: ScriptStorage, method: str, ctx: CallContext) -> Any:
    if method == "get":
        return store.get(ctx.bind(("key", REQUIRED))["key"])
    if method == "set":
        bound = ctx.bind(("key", REQUIRED), ("value", REQUIRED))
        store.set(bound["key"], bound["value"])
        return None
    if method == "remove":
        store.remove(ctx.bind(("key", REQUIRED))["key"])
        return None
    if method == "list":
        ctx.bind()
        return store.list()
    if method == "has":
        return store.has(ctx.bind(("key", REQUIRED))["key"])
    if method == "getOrDefault":
        bound = ctx.bind(("key", REQUIRED), ("defaultValue", REQUIRED))
        return store.get_or_default(bound["key"], bound["defaultValue"])
    bound = ctx.bind(("key", REQUIRED), ("value", REQUIRED))
    return store.set_if_absent(bound["key"], bound["value"])


def _route(namespace: str, method: str) -> Callable[[CallContext], Awaitable[Any]]:
    async def route(ctx: CallContext) -> Any:
        store = ctx.host.storage_for(ctx.script, namespace)
        try:
            if namespace == "tempStorage":
                return _run(store, method, ctx)
            result = await ctx.host.storage_db.run(lambda: _run(store, method, ctx))
        except StorageFull as error:
            raise ApiFailure(f"{namespace}.{method}: {error}") from None
        except StorageError as error:  # a bad key or value: the script's mistake
            raise ApiUsageError(f"{namespace}.{method}: {error}") from None
        if method in WRITES and result is not False and ctx.host.ui is not None:
            # Inputs bound by ``storageKey`` and ``{{key}}`` texts show the new value even
            # when the write came from a timer or a hook rather than a UI callback.
            await ctx.host.ui.storage_changed(ctx.script)
        return result

    return route


ROUTES: dict[str, Route] = {
    f"v1.{namespace}.{method}": _route(namespace, method)
    for namespace in NAMESPACES
    for method in METHODS
}
