"""Compile-time policy: what is accepted, what is rejected, and how rejections read."""

from __future__ import annotations

import asyncio
import textwrap
import traceback
from typing import Any

import pytest

from sandbox.compiler import check_script, compile_script
from sandbox.errors import PolicyError, Problem
from sandbox.runtime import make_globals, run_compiled


def problems_of(source: str) -> list[Problem]:
    return check_script(textwrap.dedent(source), "policy.py")


def only_problem(source: str) -> Problem:
    problems = problems_of(source)
    assert len(problems) == 1, problems
    return problems[0]


def test_problem_text_names_file_line_column_reason_and_hint() -> None:
    problem = only_problem("x = 1\nvalue: int = 1\n")
    assert (problem.line, problem.column) == (2, 1)
    assert str(problem) == "policy.py:2:1: `value: int = 1` is not supported (write `value = 1`)"


def test_attribute_problems_point_at_the_attribute_name() -> None:
    problem = only_problem("x = 1\nvalue = api.data.__class__\n")
    assert (problem.line, problem.column) == (2, 18)


def test_bare_annotation_suggests_removing_it() -> None:
    problem = only_problem("name: str\n")
    assert problem.hint == "remove the annotation line"


@pytest.mark.parametrize(
    ("source", "hint"),
    [
        ("_x = 1", "rename `_x` to `x_`"),
        ("__secret = 1", "rename `__secret` to `secret_`"),
        ("__ = 1", "use a name that starts with a letter"),
        ("def _helper():\n    pass", "rename `_helper` to `helper_`"),
    ],
)
def test_private_names_are_rejected_with_a_rename_hint(source: str, hint: str) -> None:
    problem = only_problem(source)
    assert "names starting with `_` are not allowed" in problem.message
    assert problem.hint == hint


def test_single_underscore_is_an_ordinary_name() -> None:
    assert problems_of("for _ in range(2):\n    pass\n_ = 3") == []


def test_argument_problems_point_at_the_argument() -> None:
    problem = only_problem("def f(a, _b):\n    pass")
    assert (problem.line, problem.column) == (1, 10)


def test_import_rejection_lists_the_allowed_modules() -> None:
    problem = only_problem("import os")
    assert problem.message == "`import os` is not allowed"
    assert problem.hint is not None
    assert problem.hint.startswith("allowed modules: ")
    for module in ("json", "math", "random", "re", "datetime", "itertools"):
        assert module in problem.hint


def test_from_import_of_a_missing_member_lists_the_allowed_names() -> None:
    problem = only_problem("from json import load")
    assert "`from json import load` is not allowed" in problem.message
    assert problem.hint is not None
    assert "dumps, loads" in problem.hint


@pytest.mark.parametrize(
    ("source", "needle", "line"),
    [
        ("x = 1\nreturn x", "'return' outside function", 2),
        ("def f():\n    await g()", "'await' outside async function", 2),
        ("yield 1", "'yield' outside function", 1),
        ("break", "'break' outside loop", 1),
        ("nonlocal x", "nonlocal declaration not allowed at module level", 1),
        ("def f(:\n    pass", "syntax error", 1),
        ("def f():\n    [x async for x in y]", "asynchronous comprehension outside", 2),
    ],
)
def test_compiler_stage_errors_become_problems(source: str, needle: str, line: int) -> None:
    problem = only_problem(source)
    assert needle in problem.message
    assert problem.line == line


def test_null_bytes_and_deep_nesting_are_problems_not_crashes() -> None:
    assert "null bytes" in only_problem("x = 1\x00").message
    deep = "x = " + "(" * 300 + "1" + ")" * 300
    assert "syntax error" in only_problem(deep).message
    very_long = "x = " + " + ".join(["1"] * 50_000)  # parses, but too deep to transform
    problem = only_problem(very_long)
    assert problem.message == "the script is nested too deeply to compile"
    assert problem.hint == "split long expressions into smaller statements"


def test_byte_order_mark_and_crlf_are_accepted() -> None:
    compiled = compile_script('\ufeff"""\r\n---\r\nname: Bom\r\n---\r\n"""\r\nx = 1\r\n', "bom.py")
    assert compiled.header.name == "Bom"


def test_every_problem_is_reported_in_source_order() -> None:
    problems = problems_of("import os\n_a = 1\nx: int = 2\n().__class__\n")
    assert [problem.line for problem in problems] == [1, 2, 3, 4]


def test_compile_script_raises_policy_error_with_all_problems() -> None:
    with pytest.raises(PolicyError) as caught:
        compile_script("import os\nimport sys\n", "bad.py")
    assert len(caught.value.problems) == 2
    assert "bad.py:1:1: `import os` is not allowed" in str(caught.value)


@pytest.mark.parametrize(
    ("source", "needle"),
    [
        ("match x:\n    case 1:\n        pass", "`match` statements are not supported"),
        ("try:\n    pass\nexcept* ValueError:\n    pass", "`except*` is not allowed"),
        ("class A(B, flag=1):\n    pass", "class keyword arguments"),
        ("x[1:2] += [3]", "on a slice is not supported"),
        ("print = 1", "`print` is a reserved name"),
        ("printed = 1", "`printed` is a reserved name"),
        ("def __del__(self):\n    pass", "`__del__`"),
        ("class A:\n    def __del__(self):\n        pass", "`__del__`"),
        ("class A:\n    def __getattr__(self, n):\n        pass", "`__getattr__`"),
        ("class A:\n    def f(self):\n        return super().__del__()", "`.__del__`"),
        ("x.gi_frame", "interpreter internals"),
        ("x.y__roles__", "__roles__"),
    ],
)
def test_rejected_constructs(source: str, needle: str) -> None:
    problems = problems_of(source)
    assert problems, source
    assert needle in "\n".join(str(problem) for problem in problems)


@pytest.mark.parametrize(
    "source",
    [
        "async def f():\n    await g()",
        "async def f(xs):\n    async for x in xs:\n        pass",
        "async def f(cm):\n    async with cm as (a, b):\n        pass",
        "async def f(xs):\n    return [x async for x in xs]",
        "await g()",
        "async for x in xs:\n    pass",
        "async with cm:\n    pass",
        "result = [x async for x in xs]",
        "class A:\n    def __enter__(self):\n        return self\n    def __exit__(self, *a):\n        pass",
        "class A:\n    async def __aenter__(self):\n        return self",
        "class A:\n    def __init__(self):\n        super().__init__()",
        "def open(path):\n    return path\nopen('x')",
        "def f():\n    n = 0\n    def g():\n        nonlocal n\n        n += 1",
        "x = 1\ndel x",
        "f(*args, **kwargs)",
    ],
)
def test_accepted_constructs(source: str) -> None:
    assert problems_of(source) == []


@pytest.mark.parametrize(
    ("source", "is_async"),
    [
        ("x = 1", False),
        ("async def f():\n    await g()", False),
        ("await g()", True),
        ("async for x in xs:\n    pass", True),
        ("async with cm:\n    pass", True),
        ("y = [x async for x in xs]", True),
    ],
)
def test_is_async_marks_top_level_await(source: str, is_async: bool) -> None:
    assert compile_script(source, "a.py").is_async is is_async


class Recorder:
    """Wraps a guard to prove the rewritten code calls it."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.calls = 0

    def __call__(self, *args: Any) -> Any:
        self.calls += 1
        return self.real(*args)


async def test_async_iteration_goes_through_getaiter() -> None:
    source = textwrap.dedent(
        """
        async def numbers():
            for i in range(3):
                yield i
        total = 0
        async for n in numbers():
            total = total + n
        squares = [n * n async for n in numbers()]
        """
    )
    compiled = compile_script(source, "a.py")
    script_globals = make_globals(object(), print_sink=lambda _text: None)
    recorder = Recorder(script_globals["_getaiter_"])
    script_globals["_getaiter_"] = recorder
    pending = run_compiled(compiled, script_globals)
    assert pending is not None
    await pending
    assert recorder.calls == 2
    assert script_globals["total"] == 3
    assert script_globals["squares"] == [0, 1, 4]


async def test_async_for_tuple_targets_unpack_through_the_guards() -> None:
    source = textwrap.dedent(
        """
        async def pairs():
            yield (1, (2, 3))
            yield [4, [5, 6]]
        seen = []
        async for a, (b, c) in pairs():
            seen.append(a + b + c)
        """
    )
    compiled = compile_script(source, "a.py")
    script_globals = make_globals(object(), print_sink=lambda _text: None)
    recorder = Recorder(iter)
    script_globals["_getiter_"] = recorder
    pending = run_compiled(compiled, script_globals)
    assert pending is not None
    await pending
    assert script_globals["seen"] == [6, 15]
    assert recorder.calls == 4  # each item and each nested pair go through _getiter_


def test_augmented_attribute_assignment_evaluates_target_once() -> None:
    source = textwrap.dedent(
        """
        class Box:
            def __init__(self):
                self.n = 1
        made = []
        def box():
            made.append(1)
            return holder
        holder = Box()
        box().n += 4
        """
    )
    script_globals = make_globals(object(), print_sink=lambda _text: None)
    run_compiled(compile_script(source, "a.py"), script_globals)
    assert script_globals["holder"].n == 5
    assert script_globals["made"] == [1]


def test_class_statements_keep_their_line_numbers() -> None:
    source = "x = 1\n\nclass A(Missing):\n    pass\n"
    script_globals = make_globals(object(), print_sink=lambda _text: None)
    with pytest.raises(NameError) as caught:
        run_compiled(compile_script(source, "lines.py"), script_globals)
    last = traceback.extract_tb(caught.value.__traceback__)[-1]
    assert (last.filename, last.lineno) == ("lines.py", 3)


def test_header_problems_are_reported_with_the_script_line() -> None:
    source = '"""\n---\nname: X\nmemoryLimit: lots\n---\n"""\nx = 1\n'
    problem = only_problem(source)
    assert problem.line == 4
    assert "memoryLimit" in problem.message


def test_coroutine_never_awaited_is_not_leaked_by_compile() -> None:
    compiled = compile_script("await g()", "a.py")

    async def g() -> int:
        return 1

    script_globals = make_globals(object(), print_sink=lambda _text: None)
    script_globals["g"] = g
    pending = run_compiled(compiled, script_globals)
    assert pending is not None
    assert asyncio.run(pending) is None
