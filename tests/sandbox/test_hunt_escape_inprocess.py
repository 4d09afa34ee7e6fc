"""More escape attempts, compiled and run in-process: format specs, computed names, frames of
generators and exceptions, class hooks, allowed modules' internals, reflective builtins.

Each case is refused at compile time with a line, or fails at run time with a clear error
naming what was refused; "Safe" cases assert their own harmless result.
"""

from __future__ import annotations

import textwrap

import pytest
from test_escape_inprocess import Compile, Expected, Raises, Safe, run_script

from sandbox.compiler import check_script
from sandbox.errors import SandboxError

CASES: list[tuple[str, str, Expected]] = [
    # --- format specs and format-string traversal ----------------------------------------
    (
        "fstring_nested_spec_is_only_a_spec",
        'x = 5\ny = "{0.__class__}"\nz = f"{x:{y}}"',
        Raises(ValueError, "Invalid format specifier"),
    ),
    ("format_builtin_spec", 'format(5, "{0.__class__}")', Raises(ValueError, "Invalid format")),
    ("percent_mapping_key", '"%(__class__)s" % {}', Raises(KeyError, "__class__")),
    ("format_index_syntax", '"{0[__class__]}".format({})', Raises(SandboxError, "format")),
    (
        "format_via_map_getattr",
        'list(map(getattr, ["{0}"], ["format"]))',
        Raises(SandboxError, "format"),
    ),
    (
        "format_via_partial_getattr",
        'import functools\nfunctools.partial(getattr, "{0.__class__}")("format")',
        Raises(SandboxError, "format"),
    ),
    ("format_map_via_hasattr", 'hasattr("", "format_map")', Raises(SandboxError, "format_map")),
    # --- computed names -------------------------------------------------------------------
    (
        "joined_name",
        'getattr((), "".join(["__", "class__"]))',
        Raises(SandboxError, "__class__"),
    ),
    (
        "str_subclass_name",
        'class N(str):\n    pass\ngetattr((), N("__class__"))',
        Raises(TypeError, "must be a str"),
    ),
    ("hasattr_private_raises", 'hasattr((), "__class__")', Raises(SandboxError, "__class__")),
    (
        "getattr_default_private",
        'getattr((), "__class__", None)',
        Raises(SandboxError, "__class__"),
    ),
    ("dir_without_argument", "dir()", Raises(SandboxError, "dir() without an argument")),
    ("getattr_of_guard", 'getattr(getattr, "__globals__")', Raises(SandboxError, "__globals__")),
    ("getattr_of_builtin_self", 'getattr(len, "__self__")', Raises(SandboxError, "__self__")),
    # --- generator, coroutine and exception internals -------------------------------------
    (
        "gen_yieldfrom",
        'def g():\n    yield 1\ngetattr(g(), "gi_yieldfrom")',
        Raises(SandboxError, "gi_yieldfrom"),
    ),
    (
        "coroutine_await",
        'async def c():\n    pass\nco = c()\ntry:\n    getattr(co, "cr_await")\nfinally:\n    co.close()',
        Raises(SandboxError, "cr_await"),
    ),
    (
        "async_gen_await",
        'async def ag():\n    yield 1\ngetattr(ag(), "ag_await")',
        Raises(SandboxError, "ag_await"),
    ),
    (
        "exception_context",
        'try:\n    1 / 0\nexcept Exception as e:\n    getattr(e, "__context__")',
        Raises(SandboxError, "__context__"),
    ),
    (
        "exception_cause",
        "try:\n    try:\n        1 / 0\n    except Exception as e:\n        raise ValueError() from e\n"
        'except ValueError as f:\n    getattr(f, "__cause__")',
        Raises(SandboxError, "__cause__"),
    ),
    (
        "exception_group_split_traceback",
        'g = ExceptionGroup("g", [ValueError(1)])\nm, r = g.split(ValueError)\n'
        'assert m.exceptions[0].args == (1,)\ngetattr(m, "__traceback__")',
        Raises(SandboxError, "__traceback__"),
    ),
    (
        "exit_traceback_next",
        "class C:\n    def __enter__(self):\n        return self\n"
        "    def __exit__(self, kind, value, tb):\n        getattr(tb, 'tb_next')\n"
        "with C():\n    1 / 0",
        Raises(SandboxError, "tb_next"),
    ),
    (
        "attribute_error_obj_is_own_value",
        "try:\n    getattr(5, 'nope')\nexcept AttributeError as e:\n    assert e.obj == 5",
        Safe(),
    ),
    # --- class hooks ----------------------------------------------------------------------
    (
        "init_subclass_hook",
        "class C:\n    def __init_subclass__(cls):\n        pass",
        Compile("__init_subclass__"),
    ),
    (
        "getattr_hook",
        "class C:\n    def __getattr__(self, n):\n        pass",
        Compile("__getattr__"),
    ),
    ("format_hook", "class C:\n    def __format__(self, s):\n        pass", Compile("__format__")),
    ("del_hook", "class C:\n    def __del__(self):\n        pass", Compile("__del__")),
    (
        "set_name_hook",
        "class C:\n    def __set_name__(self, o, n):\n        pass",
        Compile("__set_name__"),
    ),
    (
        "setattr_dunder_on_class",
        'class C:\n    pass\nsetattr(C, "__del__", len)',
        Raises(SandboxError, "__del__"),
    ),
    (
        "super_subclass_not_super",
        "class S(super):\n    pass\nclass A:\n    def f(self):\n        return S(A, self).__init__",
        Compile("__init__"),
    ),
    (
        "super_init_subclass",
        "class A:\n    pass\nsuper(A, A).__init_subclass__",
        Compile("__init_subclass__"),
    ),
    (
        "property_subclass_get",
        'class P(property):\n    pass\ngetattr(P(len), "__get__")',
        Raises(SandboxError, "__get__"),
    ),
    # --- allowed modules' internals -------------------------------------------------------
    ("json_globals_attr", "import json\njson.loads.__globals__", Compile("__globals__")),
    (
        "json_globals_getattr",
        'import json\ngetattr(json.loads, "__globals__")',
        Raises(SandboxError, "__globals__"),
    ),
    (
        "json_error_init",
        'import json\ngetattr(json.JSONDecodeError, "__init__")',
        Raises(SandboxError, "__init__"),
    ),
    (
        "re_pattern_reduce",
        'import re\ngetattr(re.compile("a"), "__reduce__")',
        Raises(SandboxError, "__reduce__"),
    ),
    (
        "lru_cache_wrapped",
        'import functools\ngetattr(functools.lru_cache(len), "__wrapped__")',
        Raises(SandboxError, "__wrapped__"),
    ),
    (
        "random_seed_self",
        'import random\ngetattr(random.seed, "__self__")',
        Raises(SandboxError, "__self__"),
    ),
    ("random_class", "import random\nrandom.Random", Raises(AttributeError, "Random")),
    (
        "datetime_module",
        'import datetime\ngetattr(datetime.datetime, "__module__")',
        Raises(SandboxError, "__module__"),
    ),
    (
        "string_formatter_getattr",
        'import string\ngetattr(string, "Formatter")',
        Raises(AttributeError, "Formatter"),
    ),
    ("string_template_from", "from string import Template", Compile("Template")),
    ("re_compiler_import", "import re._compiler", Compile("re._compiler")),
    ("collections_abc_import", "import collections.abc", Compile("collections.abc")),
    ("importlib_from", "from importlib import import_module", Compile("importlib")),
    (
        "json_cls_is_own_class",
        'import json\nclass D:\n    def __init__(self, **kw):\n        pass\n    def decode(self, s):\n        return 7\nassert json.loads("1", cls=D) == 7',
        Safe(),
    ),
    # --- reflective builtins and print ----------------------------------------------------
    ("type_of_print", "type(print)", Raises(SandboxError, "method")),
    ("print_self", 'getattr(print, "__self__")', Raises(SandboxError, "__self__")),
    ("print_file_none_is_fine", 'print("x", file=None)', Safe()),
    ("vars_computed", "v = [vars][0]", Raises(NameError, "vars")),
    ("globals_by_reference", "g = globals", Raises(NameError, "globals")),
    # --- format specs, C-level imports, class keywords, annotations (held) --------------
    (
        "fstring_conversion_nested_spec",
        'x = 5\ny = "{0.__class__}"\nf"{x!r:>{y}}"',
        Raises(ValueError, "Invalid format specifier"),
    ),
    ("format_builtin_host_object", 'format(api, "x")', Raises(TypeError, "format string")),
    (
        "datetime_strftime_strptime_timetuple_work",
        'import datetime\nassert format(datetime.datetime(2020, 1, 1), "%Y") == "2020"\n'
        'assert datetime.datetime.strptime("2020", "%Y").year == 2020\n'
        "assert datetime.date(2020, 2, 3).timetuple().tm_mon == 2",
        Safe(),
    ),
    ("time_stays_refused", "import time", Compile("import time")),
    ("time_member_stays_refused", "from time import sleep", Compile("import time")),
    ("class_keywords_splat", 'class X(**{"metaclass": 1}):\n    pass', Compile("metaclass")),
    ("annotation_attribute", "def f(x: ().__class__):\n    pass", Compile("__class__")),
    (
        "annotation_getattr",
        'def f(x: getattr((), "__class__")):\n    pass',
        Raises(SandboxError, "__class__"),
    ),
    ("lambda_default_guard", "f = lambda g=_getattr_: g", Compile("_getattr_")),
    ("walrus_guard", "[(_write_ := 1) for i in [1]]", Compile("_write_")),
    ("del_guard", "del _getattr_", Compile("_getattr_")),
    (
        "print_sep_not_str",
        'print("a", sep=1)',
        Raises(TypeError, "sep must be None or a string, not int"),
    ),
    (
        "functools_reduce_getattr",
        'import functools\nfunctools.reduce(getattr, ["__class__"], 1)',
        Raises(SandboxError, "__class__"),
    ),
    (
        "lru_cache_getattr_format",
        'import functools\nfunctools.lru_cache(getattr)("{0.__class__}", "format")',
        Raises(SandboxError, "format"),
    ),
    # --- tracebacks and frames handed to script code by the protocol itself --------------
    (
        "exit_receives_traceback",
        "class C:\n    def __exit__(self, et, ev, tb):\n        getattr(tb, 'tb_frame')\n"
        "    def __enter__(self):\n        return self\nwith C():\n    1 / 0",
        Raises(SandboxError, "tb_frame"),
    ),
    (
        "aexit_receives_traceback",
        "class C:\n    async def __aenter__(self):\n        return self\n"
        "    async def __aexit__(self, et, ev, tb):\n        getattr(tb, 'tb_frame')\n"
        "async def m():\n    async with C():\n        1 / 0\nawait m()",
        Raises(SandboxError, "tb_frame"),
    ),
    (
        "exit_traceback_chain",
        "class C:\n    def __exit__(self, et, ev, tb):\n        return tb.tb_next\n"
        "    def __enter__(self):\n        return self",
        Compile("tb_next"),
    ),
    (
        "thrown_exception_traceback",
        "def g():\n    try:\n        yield 1\n    except Exception as e:\n"
        "        yield getattr(e, '__traceback__')\nit = g()\nnext(it)\nit.throw(ValueError())",
        Raises(SandboxError, "__traceback__"),
    ),
    (
        "implicit_exception_context",
        "try:\n    try:\n        1 / 0\n    except Exception:\n        raise ValueError()\n"
        "except Exception as e:\n    getattr(e, '__context__')",
        Raises(SandboxError, "__context__"),
    ),
    (
        "generator_code",
        "def g():\n    yield 1\ngetattr(g(), 'gi_code')",
        Raises(SandboxError, "gi_code"),
    ),
    (
        "coroutine_awaited_object",
        "async def c():\n    pass\nco = c()\ntry:\n    getattr(co, 'cr_await')\nfinally:\n"
        "    co.close()",
        Raises(SandboxError, "cr_await"),
    ),
    # --- what a bound method, a wrapper or an alias holds ---------------------------------
    ("host_method_self", "getattr(api.ping, '__self__')", Raises(SandboxError, "__self__")),
    ("host_method_function", "getattr(api.ping, '__func__')", Raises(SandboxError, "__func__")),
    (
        "classmethod_function",
        "getattr(classmethod(len), '__func__')",
        Raises(SandboxError, "__func__"),
    ),
    (
        "generic_alias_origin",
        "getattr(list[int], '__origin__')",
        Raises(SandboxError, "__origin__"),
    ),
    (
        "json_hook_reflection",
        "import json\njson.loads('{}', object_hook=lambda d: getattr(d, '__class__'))",
        Raises(SandboxError, "__class__"),
    ),
    (
        "mro_entries_hook",
        "class M:\n    def __mro_entries__(self, bases):\n        return (object,)",
        Compile("__mro_entries__"),
    ),
    (
        "dict_missing_hook",
        "class D(dict):\n    def __missing__(self, k):\n        return k",
        Compile("__missing__"),
    ),
    ("memoryview_owner", "memoryview(b'x').obj", Compile("memoryview")),
    ("property_getter_is_the_scripts_own", "p = property(len)\nassert p.fget is len", Safe()),
    # --- containers the docs call writable ------------------------------------------------
    (
        "chainmap_is_writable",
        'import collections\nc = collections.ChainMap({}, {})\nc["a"] = 1\ndel c["a"]\n'
        'c.maps = [{"b": 2}]\nassert c["b"] == 2',
        Safe(),
    ),
]


@pytest.mark.parametrize(("name", "source", "expected"), CASES, ids=[case[0] for case in CASES])
def test_hunt_escape_attempt_is_stopped(name: str, source: str, expected: Expected) -> None:
    problems = check_script(textwrap.dedent(source), "hunt.py")
    if isinstance(expected, Compile):
        assert problems, f"{name}: compiled, but must be rejected"
        assert expected.needle in "\n".join(str(problem) for problem in problems)
        assert all(problem.line >= 1 and problem.column >= 1 for problem in problems)
        return
    assert not problems, f"{name}: unexpected compile problems {problems}"
    if isinstance(expected, Safe):
        run_script(source)
        return
    with pytest.raises(expected.error) as caught:
        run_script(source)
    assert expected.needle in str(caught.value)
