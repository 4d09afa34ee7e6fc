"""Run-time guards and builtins, exercised directly and through compiled scripts."""

from __future__ import annotations

import asyncio
import types
from collections import Counter, OrderedDict, defaultdict, deque
from typing import Any

import pytest
from RestrictedPython.transformer import INSPECT_ATTRIBUTES

from sandbox.compiler import compile_script
from sandbox.errors import ForbiddenAttributeError, ForbiddenWriteError, SandboxError
from sandbox.guards import (
    BLOCKED_ATTRIBUTES,
    ScriptClassMeta,
    checked_getattr,
    guarded_aiter_unpack_sequence,
    guarded_getattr,
    guarded_getattr_super,
    guarded_inplacevar,
    guarded_write,
    make_print_factory,
    safe_dir,
    safe_hasattr,
    safe_setattr,
)
from sandbox.modules import ALLOWED_MODULES, ModuleView, make_import
from sandbox.runtime import make_globals, run_compiled
from sandbox.safe_builtins import make_builtins, safe_getattr, safe_type
from sandbox.values import JSObject


class StrSub(str):
    pass


class Host:
    value = 1

    def method(self) -> int:
        return 2


def script_objects(source: str) -> dict[str, Any]:
    script_globals = make_globals(Host(), print_sink=lambda _text: None)
    run_compiled(compile_script(source, "guards.py"), script_globals)
    return script_globals


@pytest.mark.parametrize("name", sorted(INSPECT_ATTRIBUTES | {"mro", "func_globals"}))
def test_every_internal_attribute_is_refused_by_name(name: str) -> None:
    with pytest.raises(ForbiddenAttributeError) as caught:
        guarded_getattr(Host(), name)
    assert caught.value.attribute == name
    assert name in str(caught.value)
    with pytest.raises(ForbiddenAttributeError):
        safe_getattr(Host(), name, None)


def test_blocked_attributes_cover_restrictedpython_inspect_list() -> None:
    assert INSPECT_ATTRIBUTES <= BLOCKED_ATTRIBUTES


@pytest.mark.parametrize("name", ["__class__", "__dict__", "_private", "__globals__", "_"])
def test_private_names_are_refused_and_never_cached(name: str) -> None:
    for _ in range(3):
        with pytest.raises(ForbiddenAttributeError, match="private"):
            guarded_getattr(Host(), name)


def test_missing_attributes_raise_attribute_error_never_none() -> None:
    with pytest.raises(AttributeError, match="nothing"):
        guarded_getattr(Host(), "nothing")
    with pytest.raises(AttributeError):
        safe_getattr(Host(), "nothing")
    assert safe_getattr(Host(), "nothing", "fallback") == "fallback"
    assert safe_getattr(Host(), "value") == 1


def test_getattr_builtin_rejects_non_string_names() -> None:
    with pytest.raises(TypeError, match="must be a str"):
        safe_getattr(Host(), 5)  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        safe_getattr(Host(), "")


def test_hasattr_answers_for_public_names_and_refuses_private_ones() -> None:
    assert safe_hasattr(Host(), "method") is True
    assert safe_hasattr(Host(), "missing") is False
    with pytest.raises(SandboxError):
        safe_hasattr(Host(), "__class__")


@pytest.mark.parametrize(
    "reach",
    [
        lambda: guarded_getattr("{0}", "format"),
        lambda: guarded_getattr("{0}", "format_map"),
        lambda: guarded_getattr(str, "format"),
        lambda: checked_getattr(str, "format_map"),
        lambda: guarded_getattr(StrSub("x"), "format"),
        lambda: guarded_getattr(super(StrSub, StrSub("x")), "format"),
    ],
)
def test_str_format_is_refused_however_it_is_reached(reach: Any) -> None:
    for _ in range(2):  # the second call must not hit a cached fast path
        with pytest.raises(ForbiddenAttributeError, match="f-string"):
            reach()


def test_other_objects_may_have_format_and_mapping_members() -> None:
    objects = script_objects(
        "class Doc:\n    def format(self):\n        return 'ok'\n"
        "d = Doc()\nresult = d.format()\ndata = {'format': 1, 'mapping': 2}\n"
    )
    assert objects["result"] == "ok"
    data = JSObject(format=1, mapping=2)
    assert guarded_getattr(data, "format") == 1
    assert guarded_getattr(data, "mapping") == 2
    with pytest.raises(ForbiddenAttributeError):
        guarded_getattr({}.values(), "mapping")


def test_write_guard_allows_script_owned_values() -> None:
    objects = script_objects("class A:\n    pass\nclass B(A):\n    pass\na = A()\nb = B()\n")
    for value in [
        {},
        [],
        set(),
        bytearray(),
        JSObject(),
        deque(),
        Counter(),
        OrderedDict(),
        defaultdict(list),
        objects["a"],
        objects["b"],
        objects["A"],
    ]:
        assert guarded_write(value) is value


@pytest.mark.parametrize(
    "value",
    [
        Host(),
        Host,
        (1, 2),
        "text",
        len,
        lambda: None,
        types.SimpleNamespace(),
        ModuleView("json", {}),
        types,
        type("HostMade", (), {}),
    ],
)
def test_write_guard_refuses_host_objects(value: Any) -> None:
    with pytest.raises(ForbiddenWriteError, match=type(value).__name__):
        guarded_write(value)


def test_setattr_builtin_checks_name_and_owner() -> None:
    objects = script_objects("class A:\n    pass\na = A()\n")
    safe_setattr(objects["a"], "x", 1)
    assert objects["a"].x == 1
    with pytest.raises(ForbiddenAttributeError):
        safe_setattr(objects["a"], "__class__", Host)
    with pytest.raises(ForbiddenWriteError):
        safe_setattr(Host(), "value", 5)
    assert Host.value == 1


def test_script_class_metaclass_refuses_private_namespace_and_metaclass_bases() -> None:
    with pytest.raises(SandboxError, match="__del__"):
        ScriptClassMeta("X", (), {"__del__": lambda self: None})
    with pytest.raises(SandboxError, match="metaclasses"):
        ScriptClassMeta("M", (type,), {})
    with pytest.raises(SandboxError, match="keyword"):
        ScriptClassMeta("K", (), {}, flag=1)
    made = ScriptClassMeta("Ok", (), {"__init__": lambda self: None, "__module__": "s"})
    assert isinstance(made, ScriptClassMeta)


def test_super_dunder_reads_only_reach_script_classes() -> None:
    objects = script_objects(
        "class A:\n    def __init__(self):\n        self.a = 1\n"
        "class B(A):\n    def __init__(self):\n        super().__init__()\n        self.b = 2\n"
        "b = B()\n"
    )
    assert (objects["b"].a, objects["b"].b) == (1, 2)
    with pytest.raises(ForbiddenAttributeError):
        guarded_getattr_super(super(list, [1]), "__init__")
    with pytest.raises(ForbiddenAttributeError):
        guarded_getattr_super(Host(), "__init__")
    with pytest.raises(ForbiddenAttributeError):
        guarded_getattr_super(super(type(objects["b"]), objects["b"]), "__reduce__")


def test_type_builtin_is_one_argument_and_hides_metaclasses() -> None:
    assert safe_type(1) is int
    assert safe_type(JSObject()) is JSObject
    with pytest.raises(SandboxError):
        safe_type(int)
    with pytest.raises(TypeError):
        safe_type("X", (), {})  # type: ignore[call-arg]


def test_dir_lists_only_public_names() -> None:
    names = safe_dir(Host())
    assert "method" in names
    assert all(not name.startswith("_") for name in names)
    assert all(name not in BLOCKED_ATTRIBUTES for name in safe_dir(iter([])))


def test_print_goes_to_the_sink_one_call_per_print() -> None:
    lines: list[str] = []
    printer = make_print_factory(lines.append)(None)
    printer._call_print("a", 1)
    printer._call_print("x", "y", sep="", end="")
    printer._call_print("z", sep=None, end=None)
    printer._call_print()
    printer._call_print("two\nlines")
    assert lines == ["a 1", "xy", "z", "", "two\nlines"]
    with pytest.raises(SandboxError, match="file="):
        printer._call_print("x", file=object())


@pytest.mark.parametrize(
    ("op", "left", "right", "result"),
    [
        ("+=", 1, 2, 3),
        ("-=", 5, 2, 3),
        ("*=", 3, 4, 12),
        ("/=", 3, 2, 1.5),
        ("//=", 7, 2, 3),
        ("%=", 7, 4, 3),
        ("**=", 2, 10, 1024),
        ("<<=", 1, 3, 8),
        (">>=", 8, 3, 1),
        ("|=", 1, 2, 3),
        ("^=", 3, 1, 2),
        ("&=", 3, 1, 1),
    ],
)
def test_inplacevar_implements_every_operator(op: str, left: Any, right: Any, result: Any) -> None:
    assert guarded_inplacevar(op, left, right) == result


def test_inplacevar_unknown_operator_fails() -> None:
    with pytest.raises(KeyError):
        guarded_inplacevar("=", 1, 2)


async def test_async_unpack_guard_checks_shapes() -> None:
    async def items() -> Any:
        yield (1, 2)
        yield (3,)

    spec = {"childs": (), "min_len": 2}
    seen: list[list[int]] = []

    async def consume() -> None:
        async for first, second in guarded_aiter_unpack_sequence(items(), spec, iter):
            seen.append([first, second])

    with pytest.raises(ValueError, match="not enough values"):
        await consume()
    assert seen == [[1, 2]]


def test_module_views_are_read_only_and_nameless() -> None:
    importer = make_import()
    json_view = importer("json")
    assert json_view.loads("[1]") == [1]
    assert importer("json") is json_view
    assert repr(json_view) == "<module 'json' (sandboxed)>"
    assert dir(json_view) == ["JSONDecodeError", "dumps", "loads"]
    with pytest.raises(AttributeError):
        json_view.__name__  # noqa: B018
    with pytest.raises(AttributeError, match="allowed: JSONDecodeError, dumps, loads"):
        json_view.decoder  # noqa: B018
    with pytest.raises(ForbiddenWriteError):
        json_view.dumps = None
    with pytest.raises(ForbiddenWriteError):
        del json_view.dumps
    with pytest.raises(TypeError):
        type("Sub", (ModuleView,), {})


@pytest.mark.parametrize("module", sorted(ALLOWED_MODULES))
def test_allowed_modules_expose_no_private_names_or_modules(module: str) -> None:
    view = make_import()(module)
    for name in dir(view):
        assert not name.startswith("_")
        assert not isinstance(getattr(view, name), types.ModuleType)
    assert set(dir(view)) == ALLOWED_MODULES[module]


def test_random_is_private_per_script_and_does_not_touch_host_state() -> None:
    import random

    random.seed(123)
    expected = random.random()
    random.seed(123)
    script_random = make_import()("random")
    script_random.seed(5)
    script_random.random()
    assert random.random() == expected


def test_each_script_gets_its_own_module_views() -> None:
    first, second = make_import(), make_import()
    assert first("random") is not second("random")
    first("random").seed(7)
    second("random").seed(7)
    first("random").random()
    assert first("random").random() != second("random").random()


def test_builtins_table_has_no_dangerous_entries() -> None:
    table = make_builtins(make_import())
    for name in ("eval", "exec", "compile", "open", "input", "globals", "locals", "vars", "id"):
        assert name not in table
    assert table["getattr"] is safe_getattr
    assert table["type"] is safe_type
    assert table["__import__"] is not __import__


def test_api_and_api_error_are_the_only_public_globals() -> None:
    script_globals = make_globals(Host(), print_sink=lambda _text: None)
    public = [name for name in script_globals if not name.startswith("_")]
    assert public == ["api", "ApiError"]


def test_script_errors_from_guards_are_catchable_by_the_script() -> None:
    objects = script_objects(
        "try:\n    getattr(api, '__class__')\nexcept Exception as error:\n    caught = str(error)\n"
    )
    assert "__class__" in objects["caught"]


def test_async_script_through_guards_runs_in_a_fresh_loop() -> None:
    compiled = compile_script(
        "import json\nasync def f():\n    return json.dumps([1])\nv = await f()", "a.py"
    )
    script_globals = make_globals(Host(), print_sink=lambda _text: None)
    pending = run_compiled(compiled, script_globals)
    assert pending is not None
    asyncio.run(pending)
    assert script_globals["v"] == "[1]"
