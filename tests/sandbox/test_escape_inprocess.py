"""Escape suite (in-process): real scripts that try to leave the sandbox, compiled and run.

Each case is an actual script source. It must either be rejected at compile time (a Problem
whose message names the construct) or fail at run time with a clear error of the expected type
naming what was refused. A few "ok" cases document constructs that look risky but are safe;
their scripts assert the harmless result themselves.
"""

from __future__ import annotations

import asyncio
import textwrap
from dataclasses import dataclass
from typing import Any

import pytest

from sandbox.compiler import check_script, compile_script
from sandbox.errors import SandboxError
from sandbox.runtime import make_globals, run_compiled


class DummyApi:
    """Stands in for the host's api object: host-made, with a list, a dict and a method."""

    def __init__(self) -> None:
        self.items = [1, 2, 3]
        self.data = {"secret": "host"}
        self.secret = "token"

    def ping(self) -> str:
        return "pong"


@dataclass(frozen=True)
class Compile:
    """Rejected at compile time with a problem mentioning ``needle``."""

    needle: str


@dataclass(frozen=True)
class Raises:
    """Compiles, then fails at run time with ``error`` whose message mentions ``needle``."""

    error: type[BaseException]
    needle: str


@dataclass(frozen=True)
class Safe:
    """Compiles and runs; the script's own asserts check that nothing leaked."""


Expected = Compile | Raises | Safe


def run_script(source: str) -> list[str]:
    printed: list[str] = []
    compiled = compile_script(textwrap.dedent(source), "escape.py")
    script_globals = make_globals(DummyApi(), print_sink=printed.append)
    pending = run_compiled(compiled, script_globals)
    if pending is not None:
        asyncio.run(pending)
    return printed


CASES: list[tuple[str, str, Expected]] = [
    # --- the classic class-hierarchy walk, spelled every way ---------------------------------
    ("subclasses_chain", "().__class__.__base__.__subclasses__()", Compile("__class__")),
    (
        "subclasses_getattr",
        'getattr(getattr((), "__class__"), "__base__")',
        Raises(SandboxError, "__class__"),
    ),
    ("type_then_base", "type(()).__base__", Compile("__base__")),
    ("type_then_mro_attr", "type(()).mro()", Compile("mro")),
    ("type_then_mro_getattr", 'getattr(type(()), "mro")()', Raises(SandboxError, "mro")),
    ("vars_builtin", "vars(())", Compile("vars()")),
    (
        "dir_hides_private",
        'hidden = [n for n in dir(()) if n.startswith("_")]\nif not hidden:\n    raise ValueError("nothing to walk")',
        Raises(ValueError, "nothing to walk"),
    ),
    ("type_three_args", 'type("X", (), {})', Raises(TypeError, "positional argument")),
    ("type_of_class", "class A:\n    pass\nM = type(A)", Raises(SandboxError, "type() of a class")),
    ("type_of_builtin_class", "M = type(int)", Raises(SandboxError, "type() of a class")),
    ("type_of_function", "def f():\n    pass\nF = type(f)", Raises(SandboxError, "function")),
    ("type_of_bound_method", "F = type(api.ping)", Raises(SandboxError, "method")),
    (
        "type_of_generator",
        "def g():\n    yield 1\nG = type(g())",
        Raises(SandboxError, "generator"),
    ),
    ("type_of_module_view", "import json\nM = type(json)", Raises(SandboxError, "ModuleView")),
    (
        "ordered_dict_view_mapping",
        "import collections\ncollections.OrderedDict().keys().mapping",
        Raises(SandboxError, "mapping"),
    ),
    ("metaclass_keyword", "class X(metaclass=object):\n    pass", Compile("metaclass")),
    ("computed_name", 'getattr((), "_" + "_class__")', Raises(SandboxError, "__class__")),
    ("fullwidth_letter_normalised", "().__\uff43lass__", Compile("__class__")),
    ("builtins_name", "__builtins__", Compile("__builtins__")),
    ("import_dunder", '__import__("os")', Compile("__import__")),
    # --- format-string traversal --------------------------------------------------------------
    ("str_format", '"{0.__class__}".format(1)', Raises(SandboxError, "format")),
    ("str_format_map", '"{x.__class__}".format_map({"x": 1})', Raises(SandboxError, "format_map")),
    ("str_format_unbound", 'str.format("{0.__class__}", 1)', Raises(SandboxError, "format")),
    (
        "str_format_getattr",
        'getattr(str, "format")("{0.__class__}", 1)',
        Raises(SandboxError, "format"),
    ),
    (
        "str_format_getattr_instance",
        'getattr("{0.__class__}", "format")(1)',
        Raises(SandboxError, "format"),
    ),
    (
        "str_format_via_super",
        'class S(str):\n    pass\nsuper(S, S("{0.__class__}")).format(1)',
        Raises(SandboxError, "format"),
    ),
    (
        "str_subclass_format",
        'class S(str):\n    pass\nS("{0.__class__}").format(1)',
        Raises(SandboxError, "format"),
    ),
    ("string_formatter", "import string\nstring.Formatter()", Raises(AttributeError, "Formatter")),
    ("string_formatter_from", "from string import Formatter", Compile("Formatter")),
    ("string_template", "import string\nstring.Template", Raises(AttributeError, "Template")),
    (
        "percent_format_is_fine",
        'assert "%s-%r" % ("a", 1) == "a-1"\nassert "%(k)s" % {"k": 2} == "2"',
        Safe(),
    ),
    ("fstring_dunder", 'f"{().__class__!r}"', Compile("__class__")),
    (
        "fstring_conversion_and_spec",
        'x = 5\ny = ">4"\nassert f"{x!r}" == "5"\nassert f"{x:{y}}" == "   5"',
        Safe(),
    ),
    # --- generator / coroutine / async generator frames --------------------------------------
    ("gen_frame_attr", "def g():\n    yield 1\ng().gi_frame.f_back.f_globals", Compile("gi_frame")),
    (
        "gen_frame_getattr",
        'def g():\n    yield 1\ngetattr(g(), "gi_frame")',
        Raises(SandboxError, "gi_frame"),
    ),
    (
        "gen_code_getattr",
        'def g():\n    yield 1\ngetattr(g(), "gi_code")',
        Raises(SandboxError, "gi_code"),
    ),
    (
        "coroutine_frame_getattr",
        'async def c():\n    pass\nco = c()\ntry:\n    getattr(co, "cr_frame")\nfinally:\n    co.close()',
        Raises(SandboxError, "cr_frame"),
    ),
    ("coroutine_frame_attr", "async def c():\n    pass\nc().cr_frame", Compile("cr_frame")),
    (
        "async_gen_frame_getattr",
        'async def ag():\n    yield 1\ngetattr(ag(), "ag_frame")',
        Raises(SandboxError, "ag_frame"),
    ),
    ("frame_locals_attr", "x = 1\nx.f_locals", Compile("f_locals")),
    # --- traceback frames ---------------------------------------------------------------------
    (
        "traceback_attr",
        "try:\n    1 / 0\nexcept Exception as e:\n    e.__traceback__.tb_frame",
        Compile("__traceback__"),
    ),
    (
        "traceback_getattr",
        'try:\n    1 / 0\nexcept Exception as e:\n    getattr(e, "__traceback__")',
        Raises(SandboxError, "__traceback__"),
    ),
    (
        "traceback_from_exit",
        "class C:\n    def __enter__(self):\n        return self\n"
        "    def __exit__(self, kind, value, tb):\n        getattr(tb, 'tb_frame')\n"
        "with C():\n    1 / 0",
        Raises(SandboxError, "tb_frame"),
    ),
    ("tb_next_attr", "x = None\nx.tb_next", Compile("tb_next")),
    # --- decorators, shadowed guards, positional-only parameters ------------------------------
    (
        "decorator_globals",
        'def deco(f):\n    return getattr(f, "__globals__")\n@deco\ndef h():\n    pass',
        Raises(SandboxError, "__globals__"),
    ),
    ("posonly_shadow_getattr", "def f(_getattr_, /):\n    return ().x", Compile("_getattr_")),
    ("default_shadow_getattr", "def f(_getattr_=None):\n    pass", Compile("_getattr_")),
    ("kwonly_shadow_write", "def f(*, _write_=None):\n    pass", Compile("_write_")),
    ("lambda_shadow_print", "f = lambda _print_: 1", Compile("_print_")),
    ("assign_guard", "_write_ = lambda x: x", Compile("_write_")),
    ("global_guard", "def f():\n    global _getattr_", Compile("_getattr_")),
    ("comprehension_guard", "[1 for _getiter_ in [1]]", Compile("_getiter_")),
    (
        "except_name_guard",
        "try:\n    pass\nexcept Exception as _getattr_:\n    pass",
        Compile("_getattr_"),
    ),
    ("import_alias_guard", "import json as _getattr_", Compile("_getattr_")),
    ("try_star", "try:\n    pass\nexcept* ValueError:\n    pass", Compile("except*")),
    # --- dict views, generic aliases, reduce --------------------------------------------------
    ("dict_view_mapping", "{}.keys().mapping", Raises(SandboxError, "mapping")),
    ("dict_items_mapping", 'getattr({}.items(), "mapping")', Raises(SandboxError, "mapping")),
    ("class_getitem_attr", "list.__class_getitem__(int)", Compile("__class_getitem__")),
    (
        "generic_alias_origin",
        'getattr(list[int], "__origin__")',
        Raises(SandboxError, "__origin__"),
    ),
    ("reduce_ex_attr", "object.__reduce_ex__(api, 2)", Compile("__reduce_ex__")),
    (
        "reduce_ex_getattr",
        'getattr(api, "__reduce_ex__")(2)',
        Raises(SandboxError, "__reduce_ex__"),
    ),
    ("host_dict_attr", "api.__dict__", Compile("__dict__")),
    # --- super() tricks -----------------------------------------------------------------------
    (
        "super_reduce",
        "class A:\n    def f(self):\n        return super().__reduce_ex__(2)",
        Compile("__reduce_ex__"),
    ),
    ("super_host_init", "super(list, api.items).__init__()", Raises(SandboxError, "super()")),
    (
        "super_self_class",
        'getattr(super(int, 1), "__self_class__")',
        Raises(SandboxError, "__self_class__"),
    ),
    # --- writes to host objects ---------------------------------------------------------------
    ("write_api_attr", 'api.secret = "mine"', Raises(SandboxError, "cannot modify a DummyApi")),
    ("setattr_api", 'setattr(api, "secret", "mine")', Raises(SandboxError, "DummyApi")),
    ("delattr_api", 'delattr(api, "secret")', Raises(SandboxError, "DummyApi")),
    ("write_module", "import json\njson.dumps = None", Raises(SandboxError, "ModuleView")),
    ("write_function_attr", "def f():\n    pass\nf.marker = 1", Raises(SandboxError, "function")),
    ("write_builtin_attr", "len.marker = 1", Raises(SandboxError, "builtin_function_or_method")),
    ("augassign_api_attr", 'api.secret += "x"', Raises(SandboxError, "DummyApi")),
    ("print_to_file", 'print("x", file=api)', Raises(SandboxError, "file=")),
    # --- allowed modules' internals -----------------------------------------------------------
    ("json_decoder_attr", "import json\njson.decoder", Raises(AttributeError, "decoder")),
    ("json_decoder_from", "from json import decoder", Compile("decoder")),
    ("json_submodule_import", "import json.decoder", Compile("json.decoder")),
    ("collections_abc_from", "from collections import abc", Compile("abc")),
    ("re_compiler_attr", "import re\nre._compiler", Compile("_compiler")),
    (
        "re_compiler_getattr",
        'import re\ngetattr(re, "_compiler")',
        Raises(SandboxError, "_compiler"),
    ),
    ("random_inst_attr", "import random\nrandom._inst", Compile("_inst")),
    (
        "random_self_getattr",
        'import random\ngetattr(random.random, "__self__")',
        Raises(SandboxError, "__self__"),
    ),
    (
        "random_systemrandom",
        "import random\nrandom.SystemRandom",
        Raises(AttributeError, "SystemRandom"),
    ),
    ("datetime_sys", "import datetime\ndatetime.sys", Raises(AttributeError, "sys")),
    ("math_loader_from", "from math import __loader__", Compile("__loader__")),
    (
        "namedtuple_uses_exec",
        "import collections\ncollections.namedtuple",
        Raises(AttributeError, "namedtuple"),
    ),
    (
        "module_name_dunder",
        'import json\ngetattr(json, "__name__")',
        Raises(SandboxError, "__name__"),
    ),
    ("relative_import", "from . import x", Compile("relative")),
    ("fullwidth_module_name", "import \uff4f\uff53", Compile("`import os`")),
    ("star_import", "from math import *", Compile("*")),
    # --- builtins that are not there ----------------------------------------------------------
    ("eval", 'eval("1")', Compile("eval()")),
    ("exec", 'exec("x = 1")', Compile("exec()")),
    ("compile", 'compile("1", "f", "eval")', Compile("compile()")),
    ("open", 'open("/etc/passwd")', Compile("open()")),
    ("globals", "globals()", Compile("globals()")),
    ("locals", "locals()", Compile("locals()")),
    ("breakpoint", "breakpoint()", Compile("breakpoint()")),
    ("help", "help()", Compile("help()")),
    ("input", "input()", Compile("input()")),
    ("open_by_alias", 'o = len\no = None\nf = [open][0]("/etc/passwd")', Raises(NameError, "open")),
    ("eval_by_reference", 'e = eval\ne("1")', Raises(NameError, "eval")),
]

FORBIDDEN_MODULES = [
    "os",
    "sys",
    "subprocess",
    "socket",
    "ctypes",
    "importlib",
    "builtins",
    "operator",
    "asyncio",
    "gc",
    "inspect",
    "types",
    "threading",
    "pickle",
    "marshal",
    "io",
    "pathlib",
    "time",
    "shutil",
    "signal",
]


@pytest.mark.parametrize(("name", "source", "expected"), CASES, ids=[case[0] for case in CASES])
def test_escape_attempt_is_stopped(name: str, source: str, expected: Expected) -> None:
    problems = check_script(textwrap.dedent(source), "escape.py")
    if isinstance(expected, Compile):
        assert problems, f"{name}: compiled, but must be rejected"
        text = "\n".join(str(problem) for problem in problems)
        assert expected.needle in text
        assert all(problem.line >= 1 and problem.column >= 1 for problem in problems)
        return
    assert not problems, f"{name}: unexpected compile problems {problems}"
    if isinstance(expected, Safe):
        run_script(source)
        return
    with pytest.raises(expected.error) as caught:
        run_script(source)
    assert expected.needle in str(caught.value)


@pytest.mark.parametrize("module", FORBIDDEN_MODULES)
def test_forbidden_module_import_is_rejected(module: str) -> None:
    for source in (f"import {module}", f"from {module} import x", f"import {module} as m"):
        problems = check_script(source, "escape.py")
        assert len(problems) >= 1
        assert f"`import {module}` is not allowed" in str(problems[0])
        assert "allowed modules: " in str(problems[0])


def script_importer() -> Any:
    """The ``__import__`` a script's globals carry."""
    script_globals = make_globals(DummyApi(), print_sink=lambda _text: None)
    return script_globals["__builtins__"]["__import__"]


@pytest.mark.parametrize("module", FORBIDDEN_MODULES)
def test_forbidden_module_is_refused_at_run_time_too(module: str) -> None:
    """The import hook refuses on its own, should a rewrite ever let a statement through."""
    with pytest.raises(ImportError, match=f"import '{module}' is not allowed"):
        script_importer()(module)


def test_import_hook_refuses_relative_imports_and_unlisted_members() -> None:
    importer = script_importer()
    with pytest.raises(ImportError, match="relative imports"):
        importer("json", None, None, ("x",), 1)
    with pytest.raises(ImportError, match="from json import decoder"):
        importer("json", None, None, ("decoder",), 0)


def test_suite_is_large_enough() -> None:
    assert len(CASES) + len(FORBIDDEN_MODULES) >= 30
