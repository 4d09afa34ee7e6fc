"""Routing of api.v1 calls from a worker to the host function that answers them.

Every route is ``async (CallContext) -> value``. ``CallContext.bind`` maps the script's
positional and keyword arguments onto the names NovelAI's signature uses, so errors name the
call and the argument (``api.v1.timers.setTimeout: missing argument 'ms'``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from sandbox.protocol import ApiCall

if TYPE_CHECKING:
    from nai_script.host.host import ScriptHost
    from nai_script.host.script import LoadedScript

REQUIRED: Any = object()


class ApiUsageError(ValueError):
    """The script called the api wrongly (reaches the script as a ``ValueError``)."""


class ApiFailure(Exception):
    """The call was well-formed but could not be done (reaches the script as ``ApiError``)."""


@dataclass
class CallContext:
    """One api call: who made it, with what, on which host."""

    host: ScriptHost
    script: LoadedScript
    call: ApiCall

    @property
    def name(self) -> str:
        return f"api.{self.call.path}" if self.call.path else self.label

    @property
    def label(self) -> str:
        """The call as error messages name it: ``document.append``, ``rolloverHelper.add``."""
        if self.call.path:
            return self.call.path.removeprefix("v1.")
        target = self.call.remote.target if self.call.remote is not None else None
        return f"{getattr(target, 'label', 'object')}.{self.call.method}"

    def named(self, message: str) -> str:
        """``message`` starting with the call's name, as docs/api.md promises every usage
        error does: ``text: must be a string`` -> ``document.append text: must be a string``."""
        if message.startswith((self.label, self.name)):
            return message
        head = message.split(" ", 1)[0]
        return f"{self.label}{' ' if head.endswith(':') else ': '}{message}"

    def bind(self, *params: tuple[str, Any]) -> dict[str, Any]:
        """Positional then keyword arguments onto ``params`` (``(name, default|REQUIRED)``)."""
        args, kwargs = self.call.args, dict(self.call.kwargs)
        if len(args) > len(params):
            raise ApiUsageError(
                f"{self.name}: takes at most {len(params)} arguments, got {len(args)}"
            )
        bound: dict[str, Any] = {}
        for (name, _default), value in zip(params, args, strict=False):
            bound[name] = value
            if name in kwargs:
                raise ApiUsageError(f"{self.name}: argument {name!r} given twice")
        for name, default in params[len(args) :]:
            if name in kwargs:
                bound[name] = kwargs.pop(name)
            elif default is REQUIRED:
                raise ApiUsageError(f"{self.name}: missing argument {name!r}")
            else:
                bound[name] = default
        if kwargs:
            raise ApiUsageError(f"{self.name}: unknown argument {sorted(kwargs)[0]!r}")
        return bound

    def options(self, name: str, default: Any = REQUIRED) -> Any:
        """The one options object: positional, as ``name=``, or spelled as keyword arguments
        (SPEC 4: ``window.open(title="Hi")`` for ``window.open({"title": "Hi"})``).

        Keywords are the object only when nothing is positional and ``name`` is not among
        them; anything else binds as ``(name, default)``, so a positional object plus stray
        keywords fails as ``unknown argument 'x'``. The caller validates the object."""
        if self.call.kwargs and not self.call.args and name not in self.call.kwargs:
            return dict(self.call.kwargs)
        return self.bind((name, default))[name]


Route = Callable[[CallContext], Awaitable[Any]]
RemoteMethod = Callable[[CallContext], Awaitable[Any]]


def routes_from(*tables: Mapping[str, Route]) -> dict[str, Route]:
    merged: dict[str, Route] = {}
    for table in tables:
        for path, route in table.items():
            if path in merged:
                raise ValueError(f"two routes for {path}")
            merged[path] = route
    return merged


class HostObject:
    """Base of the host objects handed to scripts as remote proxies.

    A subclass lists its methods in ``methods`` (``name -> "sync"|"async"``) and implements each
    as ``async def <name>(ctx)``; ``RemoteObject.target`` points back at the instance.
    ``label`` names the object in error messages (``rolloverHelper.remove n: ...``).
    """

    label = "object"

    async def call_method(self, ctx: CallContext, method: str) -> Any:
        handler = getattr(self, f"api_{method}", None)
        if handler is None:
            raise ApiUsageError(f"{ctx.name}: no such method")
        return await handler(ctx)


def first_validation_problem(error: ValidationError, prefix: str) -> str:
    """``params.max_tokens: must be between 1 and 2048`` from a pydantic error."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in (prefix, *first["loc"]) if part != "")
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}"


def as_list(value: Any, what: str) -> Sequence[Any]:
    if not isinstance(value, list):
        raise ApiUsageError(f"{what}: must be a list, got {type(value).__name__}")
    return value
