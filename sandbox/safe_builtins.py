"""The builtins a script sees: the everyday ones, with the reflective ones guarded or absent.

Absent on purpose: ``eval``, ``exec``, ``compile``, ``open``, ``input``, ``breakpoint``,
``help``, ``globals``, ``locals``, ``vars``, ``memoryview``, ``id``, ``exit``/``quit`` and the
real ``__import__`` (each reaches frames, the OS, the console or the import system). See
``docs/sandbox.md`` for why every present entry is safe.
"""

from __future__ import annotations

import builtins
import types
from collections.abc import Callable
from typing import Any

from sandbox.errors import SandboxError
from sandbox.guards import (
    MISSING,
    ScriptClassMeta,
    checked_getattr,
    safe_delattr,
    safe_dir,
    safe_hasattr,
    safe_setattr,
)
from sandbox.modules import ModuleView
from sandbox.values import JSObject

#: Plain builtins handed out as they are: pure functions and value types.
PLAIN_BUILTIN_NAMES: tuple[str, ...] = (
    "abs",
    "aiter",
    "all",
    "anext",
    "any",
    "ascii",
    "bin",
    "bool",
    "bytes",
    "callable",
    "chr",
    "classmethod",
    "complex",
    "dict",
    "divmod",
    "enumerate",
    "filter",
    "float",
    "format",
    "frozenset",
    "hash",
    "hex",
    "int",
    "isinstance",
    "issubclass",
    "iter",
    "len",
    "list",
    "map",
    "max",
    "min",
    "next",
    "object",
    "oct",
    "ord",
    "pow",
    "property",
    "range",
    "repr",
    "reversed",
    "round",
    "set",
    "slice",
    "sorted",
    "staticmethod",
    "str",
    "sum",
    "super",
    "tuple",
    "zip",
    "None",
    "True",
    "False",
    "Ellipsis",
    "NotImplemented",
)

EXCEPTION_NAMES: tuple[str, ...] = (
    "ArithmeticError",
    "AssertionError",
    "AttributeError",
    "BaseException",
    "Exception",
    "ExceptionGroup",
    "IndexError",
    "KeyError",
    "LookupError",
    "NameError",
    "NotImplementedError",
    "OverflowError",
    "RecursionError",
    "RuntimeError",
    "StopAsyncIteration",
    "StopIteration",
    "TimeoutError",
    "TypeError",
    "UnicodeDecodeError",
    "UnicodeEncodeError",
    "UnicodeError",
    "ValueError",
    "ZeroDivisionError",
    "ImportError",
)


#: Types whose constructors build interpreter internals (a function from a code object, a
#: bound method from anything...); ``type()`` does not hand them out.
_HIDDEN_TYPES: frozenset[type] = frozenset(
    {
        types.FunctionType,
        types.LambdaType,
        types.MethodType,
        types.CodeType,
        types.FrameType,
        types.TracebackType,
        types.CellType,
        types.GeneratorType,
        types.CoroutineType,
        types.AsyncGeneratorType,
        types.ModuleType,
        ModuleView,
    }
)


#: Packages whose classes are the host's stand-ins (api proxies, remote objects, pending
#: calls...). Their constructors trust their arguments: ``RemoteProxy({"$remote": n}, ...)``
#: forged a reference to any host object id, past the wire's ``$dict`` escaping.
_HOST_PACKAGES: frozenset[str] = frozenset({"sandbox", "nai_script"})


def _is_host_class(kind: type) -> bool:
    if kind is JSObject or issubclass(kind, BaseException) or isinstance(kind, ScriptClassMeta):
        return False
    module = getattr(kind, "__module__", None)
    return isinstance(module, str) and module.partition(".")[0] in _HOST_PACKAGES


def safe_type(obj: Any, /) -> type:
    """One-argument ``type``; the three-argument form, metaclasses and the classes of host
    objects stay out of reach."""
    kind = type(obj)
    if issubclass(kind, type):
        raise SandboxError("type() of a class is not available in scripts")
    if kind in _HIDDEN_TYPES:
        raise SandboxError(f"type() of a {kind.__name__} is not available in scripts")
    if _is_host_class(kind):
        raise SandboxError(f"type() of a host object ({kind.__name__}) is not available in scripts")
    return kind


def safe_getattr(obj: Any, name: str, default: Any = MISSING, /) -> Any:
    """``getattr`` that applies the attribute guard to computed names."""
    return checked_getattr(obj, name, default)


def make_builtins(import_function: Callable[..., Any]) -> dict[str, Any]:
    """A fresh builtins dict for one script (scripts cannot modify it: no name reaches it)."""
    table: dict[str, Any] = {name: getattr(builtins, name) for name in PLAIN_BUILTIN_NAMES}
    table.update({name: getattr(builtins, name) for name in EXCEPTION_NAMES})
    table.update(
        {
            "type": safe_type,
            "getattr": safe_getattr,
            "hasattr": safe_hasattr,
            "setattr": safe_setattr,
            "delattr": safe_delattr,
            "dir": safe_dir,
            "__import__": import_function,
            "__build_class__": builtins.__build_class__,
        }
    )
    return table
