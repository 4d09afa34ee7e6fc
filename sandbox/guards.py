"""Run-time guards: the functions the policy's rewritten code calls instead of raw operations.

``a.b`` runs as ``_getattr_(a, "b")``, ``a[k]`` as ``_getitem_(a, k)``, ``a.b = v`` as
``_write_(a).b = v`` and so on. The common path of every guard is one or two cheap checks and
then the real operation, because scripts do attribute access in tight loops and the stock
RestrictedPython ``safer_getattr`` costs 12-16x. Anything unusual (a private name, a frame
attribute, ``str.format``) drops into a slow path that explains the refusal.
"""

from __future__ import annotations

import operator
from collections import ChainMap, Counter, OrderedDict, defaultdict, deque
from collections.abc import AsyncIterator, Callable, Iterator
from types import BuiltinMethodType, MappingProxyType
from typing import Any

from RestrictedPython.Guards import guarded_unpack_sequence
from RestrictedPython.transformer import INSPECT_ATTRIBUTES

from sandbox.errors import ForbiddenAttributeError, ForbiddenWriteError, SandboxError
from sandbox.values import JSObject

#: Attributes no script may read, whatever the object: they reach frames, code objects,
#: tracebacks or the class hierarchy, which is how every known escape starts.
BLOCKED_ATTRIBUTES: frozenset[str] = INSPECT_ATTRIBUTES | frozenset(
    {
        "mro",
        "func_globals",
        "func_code",
        "func_closure",
        "f_trace_lines",
        "f_trace_opcodes",
        "co_consts",
        "co_names",
    }
)

#: Attributes that are fine on most objects but dangerous on a few types; checked by value.
_FORMAT_NAMES: frozenset[str] = frozenset({"format", "format_map"})
_CONDITIONAL_ATTRIBUTES: frozenset[str] = _FORMAT_NAMES | {"mapping"}
_SLOW_NAMES: frozenset[str] = BLOCKED_ATTRIBUTES | _CONDITIONAL_ATTRIBUTES
_STR_FORMAT_DESCRIPTORS = (str.format, str.format_map)

#: Dunder methods a script class may define (and reach through ``super()``); each is only a
#: protocol hook that runs the script's own restricted code.
SCRIPT_DUNDER_METHODS: frozenset[str] = frozenset(
    {
        "__init__",
        "__contains__",
        "__lt__",
        "__le__",
        "__eq__",
        "__ne__",
        "__gt__",
        "__ge__",
        "__hash__",
        "__repr__",
        "__str__",
        "__len__",
        "__bool__",
        "__iter__",
        "__next__",
        "__aiter__",
        "__anext__",
        "__enter__",
        "__exit__",
        "__aenter__",
        "__aexit__",
        "__getitem__",
        "__setitem__",
        "__delitem__",
        "__call__",
    }
)

#: Names Python itself puts in a class body namespace.
_CLASS_BODY_NAMES: frozenset[str] = frozenset(
    {
        "__module__",
        "__qualname__",
        "__doc__",
        "__classcell__",
        "__orig_bases__",
        "__firstlineno__",
        "__static_attributes__",
    }
)

MISSING: Any = object()


class ScriptClassMeta(type):
    """Metaclass of every class a script defines (RestrictedPython's ``__metaclass__``).

    It marks the class as script-made, so ``_write_`` lets the script set attributes on it and
    on its instances, and refuses any private name in the namespace that did not come from a
    plain ``def`` of an allowed protocol method (``type(C)("X", (), {"__del__": f})``).
    """

    def __new__(
        mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **kwargs: Any
    ) -> ScriptClassMeta:
        for key in namespace:
            if (
                type(key) is str
                and key[:1] == "_"
                and key not in SCRIPT_DUNDER_METHODS
                and key not in _CLASS_BODY_NAMES
            ):
                raise SandboxError(f"class {name!r} may not define {key!r}")
        if kwargs:
            raise SandboxError(f"class {name!r}: class keyword arguments are not supported")
        if any(isinstance(base, type) and issubclass(base, type) for base in bases):
            raise SandboxError(f"class {name!r}: script classes may not be metaclasses")
        return super().__new__(mcs, name, bases, namespace)


def is_script_class(cls: object) -> bool:
    """True for classes defined by a script (their metaclass is :class:`ScriptClassMeta`)."""
    return isinstance(cls, ScriptClassMeta)


# --- attribute reads ------------------------------------------------------------------------


#: Names that already passed the full check and need no per-object rule. One set lookup is the
#: whole common path of ``_getattr_`` (names are compile-time literals, so the set stays small).
_VERIFIED_NAMES: set[str] = set()
_VERIFIED_NAMES_CAP = 4096


def guarded_getattr(obj: Any, name: str) -> Any:
    """``_getattr_``: the compiled form of every ``obj.name`` read."""
    if name in _VERIFIED_NAMES:
        return getattr(obj, name)
    value = checked_getattr(obj, name)
    if name not in _SLOW_NAMES and len(_VERIFIED_NAMES) < _VERIFIED_NAMES_CAP:
        _VERIFIED_NAMES.add(name)
    return value


def checked_getattr(obj: Any, name: str, default: Any = MISSING) -> Any:
    """The full check, for unusual names and for the ``getattr`` builtin."""
    if type(name) is not str:
        raise TypeError(f"attribute name must be a str, not {type(name).__name__}")
    if name[:1] == "_":
        raise ForbiddenAttributeError(obj, name, "names starting with '_' are private")
    if name in BLOCKED_ATTRIBUTES:
        raise ForbiddenAttributeError(
            obj, name, "it exposes interpreter internals (frames, code, class hierarchy)"
        )
    value = getattr(obj, name) if default is MISSING else getattr(obj, name, default)
    if name in _CONDITIONAL_ATTRIBUTES:
        _refuse_conditional(obj, name, value)
    return value


def _refuse_conditional(obj: Any, name: str, value: Any) -> None:
    if name in _FORMAT_NAMES and _is_str_format(value):
        raise ForbiddenAttributeError(
            obj, name, "str.format can read any attribute of its arguments; use an f-string"
        )
    if name == "mapping" and isinstance(value, MappingProxyType):
        raise ForbiddenAttributeError(obj, name, "dict views do not hand out their dict")


def _is_str_format(value: Any) -> bool:
    if any(value is descriptor for descriptor in _STR_FORMAT_DESCRIPTORS):
        return True
    return (
        type(value) is BuiltinMethodType
        and isinstance(getattr(value, "__self__", None), str)
        and getattr(value, "__name__", "") in _FORMAT_NAMES
    )


def guarded_getattr_super(obj: Any, name: str) -> Any:
    """``super().__init__`` and friends inside script classes: the one dunder read allowed."""
    if type(obj) is not super or name not in SCRIPT_DUNDER_METHODS:
        raise ForbiddenAttributeError(obj, name, "names starting with '_' are private")
    owner = getattr(obj, "__self__", None)
    if not (is_script_class(type(owner)) or is_script_class(owner)):
        raise ForbiddenAttributeError(obj, name, "super() only reaches a script class's bases")
    return getattr(obj, name)


def safe_hasattr(obj: Any, name: str) -> bool:
    """``hasattr`` that refuses the same names ``getattr`` does instead of hiding them."""
    try:
        checked_getattr(obj, name)
    except AttributeError:  # a SandboxError is not one, so a refused name still raises
        return False
    return True


def safe_dir(obj: Any = MISSING, /) -> list[str]:
    """``dir(obj)`` without private or internal names (the no-argument form reads frames)."""
    if obj is MISSING:
        raise SandboxError("dir() without an argument is not available in scripts; use dir(obj)")
    return [name for name in dir(obj) if name[:1] != "_" and name not in BLOCKED_ATTRIBUTES]


# --- writes ---------------------------------------------------------------------------------

_WRITABLE_TYPES: frozenset[type] = frozenset(
    {dict, list, set, bytearray, JSObject, deque, Counter, OrderedDict, defaultdict, ChainMap}
)


def guarded_write(obj: Any) -> Any:
    """``_write_``: allow writes to the script's own containers and classes, nothing else."""
    kind = type(obj)
    if kind in _WRITABLE_TYPES or type(kind) is ScriptClassMeta or kind is ScriptClassMeta:
        return obj
    raise ForbiddenWriteError(obj)


def safe_setattr(obj: Any, name: str, value: Any) -> None:
    """``setattr`` builtin: the same name rules as reads, the same ownership rule as writes."""
    _check_write_name(obj, name)
    setattr(guarded_write(obj), name, value)


def safe_delattr(obj: Any, name: str) -> None:
    """``delattr`` builtin, guarded like :func:`safe_setattr`."""
    _check_write_name(obj, name)
    delattr(guarded_write(obj), name)


def _check_write_name(obj: Any, name: str) -> None:
    if type(name) is not str:
        raise TypeError(f"attribute name must be a str, not {type(name).__name__}")
    if name[:1] == "_" or name in BLOCKED_ATTRIBUTES:
        raise ForbiddenAttributeError(obj, name, "names starting with '_' are private")


# --- iteration, calls ------------------------------------------------------------------


def guarded_aiter(obj: Any) -> AsyncIterator[Any]:
    """``_getaiter_``: the ``async for`` counterpart of ``_getiter_``."""
    return aiter(obj)


async def guarded_aiter_unpack_sequence(
    iterable: Any, spec: dict[str, Any], getiter: Callable[[Any], Iterator[Any]]
) -> AsyncIterator[Any]:
    """``async for a, b in it``: unpack each item through the guards, as RP does for ``for``."""
    async for item in aiter(iterable):
        yield guarded_unpack_sequence(item, spec, getiter)


def guarded_apply(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``_apply_``: calls with ``*args``/``**kwargs``; the values are already guarded."""
    return func(*args, **kwargs)


_INPLACE_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "**=": operator.ipow,
    "<<=": operator.ilshift,
    ">>=": operator.irshift,
    "|=": operator.ior,
    "^=": operator.ixor,
    "&=": operator.iand,
    "@=": operator.imatmul,
}


def guarded_inplacevar(op: str, target: Any, value: Any) -> Any:
    """``_inplacevar_``: ``x op= y`` for attribute and item targets."""
    return _INPLACE_OPERATORS[op](target, value)


# --- print ------------------------------------------------------------------------------------


class ScriptPrinter:
    """What ``print`` compiles to (``_print._call_print``): one sink call per ``print()``."""

    __slots__ = ("_sink",)

    def __init__(self, sink: Callable[[str], None]) -> None:
        self._sink = sink

    def _call_print(
        self,
        *objects: Any,
        sep: str | None = " ",
        end: str | None = "\n",
        file: Any = None,
        flush: bool = False,
    ) -> None:
        if file is not None:
            raise SandboxError("print(file=...) is not available; output goes to the script log")
        separator = " " if sep is None else _exact_str(sep, "sep")
        text = separator.join(str(item) for item in objects)
        text += "\n" if end is None else _exact_str(end, "end")
        self._sink(text[:-1] if text.endswith("\n") else text)


def _exact_str(value: Any, what: str) -> str:
    """``value`` as a plain ``str``: a script's str subclass could override ``join`` and make
    the printed "text" any object, which the host then refused as a protocol violation."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be None or a string, not {type(value).__name__}")
    return str.__str__(value)


def make_print_factory(sink: Callable[[str], None]) -> Callable[..., ScriptPrinter]:
    """``_print_``: RestrictedPython calls it once per scope as ``_print_(_getattr_)``."""
    printer = ScriptPrinter(sink)

    def print_factory(_getattr: Any = None) -> ScriptPrinter:
        return printer

    return print_factory
