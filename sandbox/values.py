"""JS-like values: what scripts receive from the host and what they may hand back.

NovelAI's documentation is written for TypeScript, where ``resp.choices[0].text`` is the
natural spelling. :class:`JSObject` lets that spelling work in Python while staying a real
``dict`` (so ``resp["choices"]``, ``json.dumps(resp)`` and ``for key in resp`` work too).
Data keys win over dict methods (``entry.keys`` is a lorebook entry's keys, not ``dict.keys``)
because a silently shadowed field is a worse surprise than reaching ``dict.keys(entry)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

PlainValue = None | bool | int | float | str | list[Any] | dict[str, Any]
CallableHook = Callable[[Callable[..., Any], str], Any]
#: The wrapper a dict travels in (one level more), or None: decided from the script's dict.
WrapperHook = Callable[[dict[Any, Any]], Callable[[dict[str, Any]], dict[str, Any]] | None]
OtherHook = Callable[[Any], Any]

_PLAIN_SCALARS: frozenset[type] = frozenset({type(None), bool, int, float, str})
#: Containers inside containers a value may have; deeper data is refused with its path rather
#: than hitting a recursion limit somewhere between the script and the host (the host's JSON
#: parser takes frames 201 levels deep: a call's arguments list, then the value).
MAX_NESTING = 200


class JSObject(dict[str, Any]):
    """A dict whose keys are also readable and writable as attributes."""

    __slots__ = ()

    def __getattribute__(self, name: str) -> Any:
        if name[:1] != "_" and dict.__contains__(self, name):
            return dict.__getitem__(self, name)
        return object.__getattribute__(self, name)

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"object has no key or attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(f"object has no key {name!r}") from None

    def __dir__(self) -> list[str]:
        return sorted({*(key for key in self if isinstance(key, str)), *dir(dict)})

    def __repr__(self) -> str:
        return f"JSObject({dict.__repr__(self)})"


def to_script_value(data: Any) -> Any:
    """Wrap plain JSON-like data for a script: every dict becomes a :class:`JSObject`."""
    kind = type(data)
    if kind is dict or kind is JSObject:
        # dict.items, not data.items: a JSObject's "items" key would shadow the method.
        return JSObject({key: to_script_value(value) for key, value in dict.items(data)})
    if kind is list or kind is tuple:
        return [to_script_value(item) for item in data]
    return data


def from_script_value(
    value: Any,
    *,
    on_callable: CallableHook | None = None,
    on_other: OtherHook | None = None,
    dict_wrapper: WrapperHook | None = None,
    depth: int = 0,
    path: str = "value",
) -> Any:
    """Turn what a script returned into plain data the host can serialise.

    Raises ``TypeError`` naming the path of the first value that is not JSON-like
    (``value['messages'][2]: cannot pass a set``). Callables go to ``on_callable(fn, path)``
    when given (the worker turns them into callback handles), and are refused otherwise.
    ``on_other``, when given, turns any other value into plain data instead of the refusal.
    ``dict_wrapper`` gives the wrapper a dict must travel in, if any (the wire escapes dicts
    holding its marker keys): the plain dict built goes through it, and counts a level more,
    so the depth limit holds for what is sent; ``depth``, the levels the value will sit inside.
    """
    return _to_plain(value, (on_callable, on_other, dict_wrapper), path, set(), depth)


_Hooks = tuple[CallableHook | None, OtherHook | None, WrapperHook | None]


def _to_plain(value: Any, hooks: _Hooks, path: str, active: set[int], depth: int) -> Any:
    """``depth``: the levels ``value`` sits inside (its ``len(active)`` enclosing containers,
    a wrapped dict counting two, and those the caller started from)."""
    kind = type(value)
    if kind in _PLAIN_SCALARS:
        return value
    if isinstance(value, dict):
        wrapper = None if hooks[2] is None else hooks[2](value)
        inside = depth + (1 if wrapper is None else 2)
        _check_depth(inside, len(active) + 1, path)
        marker = id(value)
        if marker in active:
            raise TypeError(f"{path}: refers to itself (a cycle cannot be passed)")
        active.add(marker)
        try:
            plain: dict[str, Any] = {}
            for key, item in dict.items(value):
                name = _key(key, path)
                if name in plain:  # only when both 3 and "3" are keys
                    raise TypeError(f"{path}: key {name!r} is given twice, as an int and a str")
                plain[name] = _to_plain(item, hooks, f"{path}[{key!r}]", active, inside)
            return plain if wrapper is None else wrapper(plain)
        finally:
            active.discard(marker)
    if kind is list or kind is tuple:
        _check_depth(depth + 1, len(active) + 1, path)
        marker = id(value)
        if marker in active:
            raise TypeError(f"{path}: refers to itself (a cycle cannot be passed)")
        active.add(marker)
        try:
            return [
                _to_plain(item, hooks, f"{path}[{index}]", active, depth + 1)
                for index, item in enumerate(value)
            ]
        finally:
            active.discard(marker)
    on_callable, on_other, _ = hooks
    if on_callable is not None and getattr(kind, "passes_by_reference", False):
        return on_callable(value, path)  # a host object (remote proxy) handed back to the host
    if callable(value) and not isinstance(value, type):
        if on_callable is None:
            raise TypeError(f"{path}: cannot pass a function here")
        return on_callable(value, path)
    if on_other is not None:
        return on_other(value)
    raise TypeError(
        f"{path}: cannot pass a {kind.__name__}; use dicts, lists, str, int, float, bool or None"
    )


def _check_depth(levels: int, containers: int, path: str) -> None:
    if levels > MAX_NESTING:
        doubled = (
            " (a dict with a key such as '$remote' counts twice)" if levels > containers else ""
        )
        raise TypeError(f"{path[:80]}...: nested more than {MAX_NESTING} levels deep{doubled}")


def _key(key: Any, path: str) -> str:
    """A JS object's keys are strings: an int key (``logit_bias={5: -100}``, NovelAI's
    ``Record<number, number>``) becomes its decimal string, as JSON and JS make it."""
    if type(key) is str:
        return key
    if type(key) is int:
        return str(key)
    raise TypeError(f"{path}: key {key!r} has type {type(key).__name__!r}; keys must be str or int")


def _unchanged(plain: dict[str, Any]) -> dict[str, Any]:
    return plain


def shown(value: Any, *, dict_wrapper: WrapperHook | None = None, depth: int = 0) -> Any:
    """``value`` as a person is shown it (a ``console.log`` argument): plain data as it is,
    functions and host objects as stand-ins, anything else (an exception, a set, an object)
    as its text rather than a refusal, since a log line must not fail on what it prints.
    ``dict_wrapper`` and ``depth`` as for ``from_script_value``: data that would be too deep
    once sent is shown as text here, where it still can be."""
    # Counted, not applied: what ``shown`` returns is encoded (and wrapped) when it is sent.
    counted = None if dict_wrapper is None else (lambda d: _unchanged if dict_wrapper(d) else None)
    try:
        return from_script_value(
            value, on_callable=_stand_in, on_other=text_of, dict_wrapper=counted, depth=depth
        )
    except TypeError:  # a cycle, or nested too deep
        return text_of(value)


def text_of(value: Any) -> str:
    """The text of any value: an exception as ``Type: message``, as a traceback's last line
    names it; a value whose ``str`` fails (a script's class) by its type."""
    kind = type(value).__name__
    try:
        if isinstance(value, BaseException):
            message = str(value)
            return f"{kind}: {message}" if message else kind
        return str(value)
    except Exception:  # a script's __str__ may raise anything
        return f"<{kind} object>"


def _stand_in(value: Any, _path: str) -> str:
    if getattr(type(value), "passes_by_reference", False):
        return "[object]"
    try:
        name = getattr(value, "__name__", None)
    except Exception:  # a script's callable object may define __getattr__
        name = None
    return f"[Function: {name}]" if type(name) is str else "[Function]"
