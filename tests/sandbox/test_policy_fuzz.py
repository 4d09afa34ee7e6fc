"""Property tests: the compiler never crashes, and the attribute guard never lets private or
internal names through, whatever the input and however many threads ask at once."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.compiler import check_script, compile_script
from sandbox.errors import ForbiddenAttributeError, Problem
from sandbox.guards import BLOCKED_ATTRIBUTES, guarded_getattr
from sandbox.runtime import make_globals, run_compiled

SNIPPETS = [
    "x = 1",
    "y = x + 1",
    "import json",
    "import os",
    "from math import sqrt",
    "async def f():\n    await g()",
    "await g()",
    "def h(_a):\n    return 1",
    "().__class__",
    "z: int = 3",
    "class A:\n    def __init__(self):\n        self.v = 1",
    "for i in range(3):\n    pass",
    "try:\n    pass\nexcept* E:\n    pass",
    "match x:\n    case 1:\n        pass",
    "return 1",
    "print(x)",
    "lambda _print_: 1",
    "x.gi_frame",
    '"""\n---\nname: N\n---\n"""',
    "def (",
    "nonlocal q",
    "x[1:2] += 1",
    "a.b += 1",
    "async for a, b in c:\n    pass",
    "eval('1')",
]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(SNIPPETS), min_size=0, max_size=8))
def test_check_script_never_crashes_and_agrees_with_compile(lines: list[str]) -> None:
    source = "\n".join(lines) + "\n"
    problems = check_script(source, "fuzz.py")
    assert all(isinstance(problem, Problem) for problem in problems)
    line_count = source.count("\n") + 1
    for problem in problems:
        assert 1 <= problem.line <= line_count
        assert problem.column >= 1
        assert str(problem).startswith(f"fuzz.py:{problem.line}:")
    if not problems:
        compile_script(source, "fuzz.py")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_yields_problems_not_exceptions(source: str) -> None:
    assert isinstance(check_script(source, "text.py"), list)


class Plain:
    pass


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(min_size=1, max_size=20),
        st.sampled_from(sorted(BLOCKED_ATTRIBUTES)),
        st.text(min_size=0, max_size=10).map(lambda tail: "_" + tail),
    )
)
def test_guard_never_returns_private_or_internal_attributes(name: str) -> None:
    target = Plain()
    try:
        guarded_getattr(target, name)
    except ForbiddenAttributeError:
        assert name.startswith("_") or name in BLOCKED_ATTRIBUTES
        return
    except AttributeError:
        pass
    assert not name.startswith("_")
    assert name not in BLOCKED_ATTRIBUTES


def test_guard_is_consistent_across_threads() -> None:
    """The verified-name cache is shared: racing threads must never admit a forbidden name."""
    names = ["value", "__class__", "gi_frame", "other", "_x", "mro", "method"] * 50
    leaks: list[str] = []
    barrier = threading.Barrier(8)

    class Target:
        value = 1
        other = 2
        mro = 3

        def method(self) -> int:
            return 4

    def worker() -> None:
        barrier.wait()
        for name in names:
            try:
                guarded_getattr(Target(), name)
            except ForbiddenAttributeError:
                continue
            if name.startswith("_") or name in BLOCKED_ATTRIBUTES:
                leaks.append(name)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert leaks == []


@pytest.mark.parametrize("count", [2, 5])
def test_scripts_in_one_process_do_not_share_state(count: int) -> None:
    source = "import random\nrandom.seed(3)\nn = random.randint(0, 10**9)\nbox = {'v': 0}\n"
    envs: list[dict[str, Any]] = []
    for _ in range(count):
        env = make_globals(object(), print_sink=lambda _text: None)
        run_compiled(compile_script(source, "iso.py"), env)
        envs.append(env)
    envs[0]["box"]["v"] = 99
    assert {env["n"] for env in envs} == {envs[0]["n"]}
    assert [env["box"]["v"] for env in envs[1:]] == [0] * (count - 1)
    assert len({id(env["__builtins__"]) for env in envs}) == count
