"""``hooks.register/unregister/isRegistered``: one callback per hook per script.

The host fires hooks with ``ScriptHost.fire_hook`` in script load order; this module only
keeps the handles.
"""

from __future__ import annotations

from nai_script.host.dispatch import REQUIRED, ApiUsageError, CallContext, Route
from sandbox.protocol import CallbackHandle

HOOK_NAMES = (
    "onGenerationRequested",
    "onBeforeContextBuild",
    "onContextBuilt",
    "onResponse",
    "onGenerationEnd",
    "onScriptsLoaded",
    "onLorebookEntrySelected",
    "onTextAdventureInput",
    "onHistoryNavigated",
    "onDocumentConvertedToText",
)


def _hook_name(ctx: CallContext, value: object) -> str:
    if value not in HOOK_NAMES:
        raise ApiUsageError(
            f"{ctx.label} hookName: unknown hook {value!r} (hooks: {', '.join(HOOK_NAMES)})"
        )
    return str(value)


async def _register(ctx: CallContext) -> None:
    bound = ctx.bind(("hookName", REQUIRED), ("callback", REQUIRED))
    name = _hook_name(ctx, bound["hookName"])
    if not isinstance(bound["callback"], CallbackHandle):
        raise ApiUsageError(f"hooks.register callback: must be a function (for {name})")
    ctx.script.hooks[name] = bound["callback"]


async def _unregister(ctx: CallContext) -> bool:
    name = _hook_name(ctx, ctx.bind(("hookName", REQUIRED))["hookName"])
    return ctx.script.hooks.pop(name, None) is not None


async def _is_registered(ctx: CallContext) -> bool:
    return _hook_name(ctx, ctx.bind(("hookName", REQUIRED))["hookName"]) in ctx.script.hooks


ROUTES: dict[str, Route] = {
    "v1.hooks.register": _register,
    "v1.hooks.unregister": _unregister,
    "v1.hooks.isRegistered": _is_registered,
}
