"""``storage``, ``storyStorage``, ``historyStorage`` and ``tempStorage`` (all async).

``historyStorage``'s methods take NovelAI's optional ``nodeId`` last: the value is read at,
or written to, that history node instead of the current one.

The persistent three are slices of one SQLite file keyed by script id (and story / history
node for the scoped ones), so they survive reloads and restarts; ``tempStorage`` is per load.
A persistent write tells the script UI (``host.ui``), which re-renders bound values.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from nai_script.editor.store import StoryError
from nai_script.host.dispatch import REQUIRED, ApiFailure, ApiUsageError, CallContext, Route
from nai_script.host.storage import ScriptStorage, StorageError, StorageFull

NAMESPACES = ("storage", "storyStorage", "historyStorage", "tempStorage")
METHODS = ("get", "set", "remove", "list", "has", "getOrDefault", "setIfAbsent")
#: The methods that may change what a bound UI value shows (``setIfAbsent`` only when True).
WRITES = ("set", "remove", "setIfAbsent")


#: Each method's parameters, as NovelAI names them (``historyStorage`` adds ``nodeId``).
PARAMS: dict[str, tuple[str, ...]] = {
    "get": ("key",),
    "set": ("key", "value"),
    "remove": ("key",),
    "list": (),
    "has": ("key",),
    "getOrDefault": ("key", "defaultValue"),
    "setIfAbsent": ("key", "value"),
}


def _run(store: ScriptStorage, method: str, args: dict[str, Any]) -> Any:
    if method == "get":
        return store.get(args["key"])
    if method == "set":
        store.set(args["key"], args["value"])
        return None
    if method == "remove":
        store.remove(args["key"])
        return None
    if method == "list":
        return store.list()
    if method == "has":
        return store.has(args["key"])
    if method == "getOrDefault":
        return store.get_or_default(args["key"], args["defaultValue"])
    return store.set_if_absent(args["key"], args["value"])


def _bind(ctx: CallContext, namespace: str, method: str) -> tuple[dict[str, Any], str | None]:
    """The method's arguments, and for ``historyStorage`` the node it is about (None: the
    current node)."""
    params = [(name, REQUIRED) for name in PARAMS[method]]
    if namespace != "historyStorage":
        return ctx.bind(*params), None
    args = ctx.bind(*params, ("nodeId", None))
    node = args.pop("nodeId")
    if node is not None and not isinstance(node, str):
        raise ApiUsageError(
            f"historyStorage.{method} nodeId: must be a history node id string, got {node!r}"
        )
    return args, node


def _route(namespace: str, method: str) -> Callable[[CallContext], Awaitable[Any]]:
    async def route(ctx: CallContext) -> Any:
        args, node = _bind(ctx, namespace, method)
        try:
            store = ctx.host.storage_for(ctx.script, namespace, node)
            if namespace == "tempStorage":
                return _run(store, method, args)
            result = await ctx.host.storage_db.run(lambda: _run(store, method, args))
        except StorageFull as error:
            raise ApiFailure(f"{namespace}.{method}: {error}") from None
        except StorageError as error:  # a bad key or value: the script's mistake
            raise ApiUsageError(f"{namespace}.{method}: {error}") from None
        except StoryError:  # only a given nodeId can name a node the story does not have
            raise ApiUsageError(
                f"{namespace}.{method} nodeId: the story has no history node {node!r}"
            ) from None
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
