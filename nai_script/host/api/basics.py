"""``log``, ``error``, ``uuid``, ``random.*``, ``config.get`` and ``permissions.*``."""

from __future__ import annotations

import json
import math
import random
import uuid
from typing import Any, Literal

from nai_script.host.api.dice import roll_dice
from nai_script.host.dispatch import REQUIRED, ApiFailure, ApiUsageError, CallContext, Route
from sandbox.protocol import CallbackHandle, RemoteObject

PERMISSIONS = (
    "storyEdit",
    "documentEdit",
    "lorebookEdit",
    "clipboardWrite",
    "fileDownload",
    "fileInput",
    "editorDecorations",
    "imageGeneration",  # our extension: api.v1.image.generate
)


def _stand_in(value: Any) -> str:
    """What a function or an api object shows as: never the host's class or address (and,
    like ``console.log``, logging one never fails)."""
    return "[Function]" if isinstance(value, CallbackHandle) else "[object]"


def format_log_args(args: list[Any]) -> str:
    """Like ``console.log``: strings as they are, data as JSON, joined by spaces."""
    parts: list[str] = []
    for arg in args:
        if isinstance(arg, str):
            parts.append(arg)
        elif isinstance(arg, dict | list):
            parts.append(json.dumps(arg, ensure_ascii=False, default=_stand_in))
        elif isinstance(arg, CallbackHandle | RemoteObject):
            parts.append(_stand_in(arg))
        else:
            parts.append(str(arg))
    return " ".join(parts)


async def _log(ctx: CallContext) -> None:
    _write_log(ctx, "log")


async def _error(ctx: CallContext) -> None:
    _write_log(ctx, "error")


def _write_log(ctx: CallContext, level: Literal["log", "error"]) -> None:
    """Through the worker's log bounds (line length, rate), as printed lines are."""
    text = format_log_args(ctx.call.args)
    worker = ctx.script.worker
    if worker is not None:
        worker.write_log(level, text)
    else:
        ctx.host.emit_log(ctx.script, level, text)


async def _uuid(ctx: CallContext) -> str:
    return str(uuid.uuid4())


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ApiUsageError(f"{what}: must be a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ApiUsageError(f"{what}: must be a finite number, got {value}")
    return float(value)


async def _random_bool(ctx: CallContext) -> bool:
    chance = _number(ctx.bind(("chance", 0.5))["chance"], "random.bool chance")
    if not 0 <= chance <= 1:
        raise ApiUsageError(f"random.bool chance: must be between 0 and 1, got {chance}")
    return random.random() < chance


async def _random_float(ctx: CallContext) -> float:
    """In ``[min, max)``: NovelAI's max is exclusive (``min == max`` gives ``min``)."""
    bound = ctx.bind(("min", REQUIRED), ("max", REQUIRED))
    low, high = _number(bound["min"], "random.float min"), _number(bound["max"], "random.float max")
    if low > high:
        raise ApiUsageError(f"random.float: min {low} is greater than max {high}")
    value = low + random.random() * (high - low)
    return value if value < high else low  # rounding can reach max; it must not


async def _random_int(ctx: CallContext) -> int:
    bound = ctx.bind(("min", REQUIRED), ("max", REQUIRED))
    low, high = bound["min"], bound["max"]
    for name, value in (("min", low), ("max", high)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ApiUsageError(f"random.int {name}: must be an integer, got {value!r}")
    if low > high:
        raise ApiUsageError(f"random.int: min {low} is greater than max {high}")
    return random.randint(low, high)


async def _random_roll(ctx: CallContext) -> dict[str, Any]:
    return roll_dice(ctx.bind(("expression", REQUIRED))["expression"])


async def _config_get(ctx: CallContext) -> Any:
    name = ctx.bind(("key", REQUIRED))["key"]
    if not isinstance(name, str):  # a dict or list is not even hashable
        raise ApiUsageError(f"config.get key: must be a string, got {type(name).__name__}")
    if name not in ctx.script.config_values:
        known = ", ".join(sorted(ctx.script.config_values)) or "none"
        raise ApiUsageError(f"config.get: no config option {name!r} (options: {known})")
    return ctx.script.config_values[name]


def _permission(ctx: CallContext, value: Any) -> str:
    if value not in PERMISSIONS:
        raise ApiUsageError(
            f"{ctx.label} permission: unknown permission {value!r} ({', '.join(PERMISSIONS)})"
        )
    return str(value)


def _permissions(ctx: CallContext, value: Any) -> list[str]:
    """One permission or a list of them, as NovelAI's ``ScriptPermission | ScriptPermission[]``."""
    return [_permission(ctx, item) for item in (value if isinstance(value, list) else [value])]


async def _permissions_has(ctx: CallContext) -> bool:
    """True when the script holds every permission asked about."""
    names = _permissions(ctx, ctx.bind(("permission", REQUIRED))["permission"])
    return all(name in ctx.script.granted for name in names)


async def _permissions_request(ctx: CallContext) -> bool:
    """Resolve through the host's policy; a list asks for several (all must be granted)."""
    bound = ctx.bind(("permission", REQUIRED), ("message", None))
    reason = bound["message"]
    if reason is not None and not isinstance(reason, str):
        # The reason is shown to the person on the page, as text.
        raise ApiUsageError(
            f"permissions.request message: must be a string, got {type(reason).__name__}"
        )
    names = _permissions(ctx, bound["permission"])
    missing = [name for name in names if name not in ctx.script.granted]
    if missing:
        granted = await ctx.host.ask_permissions(ctx.script, missing, reason)
        ctx.script.granted.update(granted)
    return all(name in ctx.script.granted for name in names)


async def _permissions_list(ctx: CallContext) -> list[str]:
    return [name for name in PERMISSIONS if name in ctx.script.granted]


def require_permission(ctx: CallContext, permission: str) -> None:
    """Calls that need a permission fail clearly until it is granted."""
    if permission not in ctx.script.granted:
        raise ApiFailure(
            f"{ctx.name} needs the {permission!r} permission; list it in the script header's "
            f"permissions and grant it (api.v1.permissions.request({permission!r}))"
        )


ROUTES: dict[str, Route] = {
    "v1.log": _log,
    "v1.error": _error,
    "v1.uuid": _uuid,
    "v1.random.bool": _random_bool,
    "v1.random.float": _random_float,
    "v1.random.int": _random_int,
    "v1.random.roll": _random_roll,
    "v1.config.get": _config_get,
    "v1.permissions.has": _permissions_has,
    "v1.permissions.request": _permissions_request,
    "v1.permissions.list": _permissions_list,
}
