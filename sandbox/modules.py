"""The import allowlist: which modules a script may import, and which of their names it sees.

A script never receives a real module object. ``import json`` binds a :class:`ModuleView`, a
read-only object holding only the allowlisted names, so ``json.decoder``, ``re._compiler`` or
``datetime.sys`` are simply not there, and nothing a script does can rebind a name the host
also uses. ``random`` is backed by a private ``random.Random`` per script, so seeding it does
not touch the host's generator and no module-level state is exposed.
"""

from __future__ import annotations

import collections
import datetime
import functools
import importlib
import itertools
import json
import math
import random
import re
import string
import textwrap
import time
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from sandbox.errors import ForbiddenImportError, ForbiddenWriteError

_RANDOM_NAMES = (
    "betavariate",
    "choice",
    "choices",
    "expovariate",
    "gauss",
    "getrandbits",
    "normalvariate",
    "randbytes",
    "randint",
    "random",
    "randrange",
    "sample",
    "seed",
    "shuffle",
    "triangular",
    "uniform",
)
_RE_NAMES = (
    "compile",
    "escape",
    "findall",
    "finditer",
    "fullmatch",
    "match",
    "search",
    "split",
    "sub",
    "subn",
    "error",
    "A",
    "ASCII",
    "I",
    "IGNORECASE",
    "M",
    "MULTILINE",
    "S",
    "DOTALL",
    "X",
    "VERBOSE",
    "U",
    "UNICODE",
    "NOFLAG",
)
_ITERTOOLS_NAMES = (
    "accumulate",
    "batched",
    "chain",
    "combinations",
    "combinations_with_replacement",
    "compress",
    "count",
    "cycle",
    "dropwhile",
    "filterfalse",
    "groupby",
    "islice",
    "pairwise",
    "permutations",
    "product",
    "repeat",
    "starmap",
    "takewhile",
    "tee",
    "zip_longest",
)
_STRING_NAMES = (
    "ascii_letters",
    "ascii_lowercase",
    "ascii_uppercase",
    "capwords",
    "digits",
    "hexdigits",
    "octdigits",
    "printable",
    "punctuation",
    "whitespace",
)


def _public(module: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(module, name) for name in names if hasattr(module, name)}


def _math_members() -> dict[str, Any]:
    # math is a C module of pure functions and float constants: every public name is safe.
    return {name: getattr(math, name) for name in dir(math) if not name.startswith("_")}


def _random_members() -> dict[str, Any]:
    generator = random.Random()
    return {name: getattr(generator, name) for name in _RANDOM_NAMES if hasattr(generator, name)}


_MEMBER_BUILDERS: dict[str, Callable[[], dict[str, Any]]] = {
    "collections": lambda: _public(
        collections, ("ChainMap", "Counter", "OrderedDict", "defaultdict", "deque")
    ),
    "datetime": lambda: _public(
        datetime,
        ("MAXYEAR", "MINYEAR", "UTC", "date", "datetime", "time", "timedelta", "timezone"),
    ),
    "functools": lambda: _public(
        functools, ("cache", "cmp_to_key", "lru_cache", "partial", "reduce")
    ),
    "itertools": lambda: _public(itertools, _ITERTOOLS_NAMES),
    "json": lambda: _public(json, ("JSONDecodeError", "dumps", "loads")),
    "math": _math_members,
    "random": _random_members,
    "re": lambda: _public(re, _RE_NAMES),
    "string": lambda: _public(string, _STRING_NAMES),
    "textwrap": lambda: _public(textwrap, ("dedent", "fill", "indent", "shorten", "wrap")),
}


def _strptime_members() -> dict[str, Any]:
    module = importlib.import_module("_strptime")  # on first use: it imports locale, calendar
    return {name: getattr(module, name) for name in dir(module) if name.startswith("_strptime_")}


#: Modules ``datetime``'s C code imports while a script formats or parses a date (``strftime``,
#: ``timetuple``, ``strptime``): the import goes through the script's ``__import__``. Served to
#: that caller only (see ``guarded_import``), with only what ``datetime`` reads from them: no
#: ``time.sleep``; ``_strptime``'s function has an underscore name no script can reach.
_C_LEVEL_BUILDERS: dict[str, Callable[[], dict[str, Any]]] = {
    "time": lambda: _public(time, ("strftime", "struct_time")),
    "_strptime": _strptime_members,
}

#: Module name -> the names a script may use from it (for compile-time messages).
ALLOWED_MODULES: Mapping[str, frozenset[str]] = {
    name: frozenset(builder()) for name, builder in _MEMBER_BUILDERS.items()
}


def allowed_modules_text() -> str:
    """The allowlist as one line, for error messages."""
    return ", ".join(sorted(ALLOWED_MODULES))


class ModuleView:
    """A read-only stand-in for an allowed module, exposing only its allowlisted names.

    It deliberately has no ``__name__``/``__spec__``: CPython's ``from M import x`` falls back
    to ``sys.modules[M.__name__ + "." + x]`` when ``x`` is missing, which would hand out real
    submodules such as ``json.decoder``.
    """

    __slots__ = ("_members", "_module")

    def __init__(self, module: str, members: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_module", module)
        object.__setattr__(self, "_members", dict(members))

    def __init_subclass__(cls, **kwargs: Any) -> NoReturn:
        raise TypeError("module views cannot be subclassed")

    def __getattr__(self, name: str) -> Any:
        members: dict[str, Any] = object.__getattribute__(self, "_members")
        try:
            return members[name]
        except KeyError:
            module = object.__getattribute__(self, "_module")
            raise AttributeError(
                f"module {module!r} has no allowed attribute {name!r}; "
                f"allowed: {', '.join(sorted(members))}"
            ) from None

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise ForbiddenWriteError(self)

    def __delattr__(self, name: str) -> NoReturn:
        raise ForbiddenWriteError(self)

    def __dir__(self) -> list[str]:
        return sorted(object.__getattribute__(self, "_members"))

    def __repr__(self) -> str:
        return f"<module {object.__getattribute__(self, '_module')!r} (sandboxed)>"


def make_import() -> Callable[..., ModuleView]:
    """Build the ``__import__`` one script's builtins get (one view per module, per script)."""
    cache: dict[str, ModuleView] = {}

    def guarded_import(
        name: str,
        globals: Any = None,
        locals: Any = None,
        fromlist: Any = (),
        level: int = 0,
    ) -> ModuleView:
        if level:
            raise ForbiddenImportError("relative imports are not allowed in scripts")
        builder = _MEMBER_BUILDERS.get(name)
        # C code's ``PyImport_Import`` passes an empty list; a script's ``import x`` passes
        # None and ``from x import a`` a tuple, and no script can name ``__import__``.
        if builder is None and type(fromlist) is list and not fromlist:
            builder = _C_LEVEL_BUILDERS.get(name)
        if builder is None:
            raise ForbiddenImportError(
                f"import {name!r} is not allowed; allowed modules: {allowed_modules_text()}"
            )
        view = cache.get(name)
        if view is None:
            view = cache[name] = ModuleView(name, builder())
        for member in fromlist or ():
            if member not in ALLOWED_MODULES.get(name, ()):
                raise ForbiddenImportError(
                    f"'from {name} import {member}' is not allowed; allowed names: "
                    f"{', '.join(sorted(ALLOWED_MODULES[name]))}"
                )
        return view

    return guarded_import
