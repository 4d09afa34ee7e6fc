"""The worker's start-up path stays free of pydantic and YAML, and its light header reader
agrees with the host's on ``memoryLimit``."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from sandbox.compiler import compile_for_worker, compile_script
from sandbox.errors import PolicyError, Problem
from sandbox.frontmatter import HeaderError, memory_request


def imported_by(statement: str) -> set[str]:
    code = f"{statement}; import sys; print('\\n'.join(sys.modules))"
    out = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True
    )
    return set(out.stdout.split())


def test_worker_imports_neither_pydantic_nor_yaml() -> None:
    modules = imported_by("import sandbox.worker")
    assert not {m for m in modules if m.split(".")[0] in {"pydantic", "pydantic_core", "yaml"}}


def test_package_names_still_resolve_lazily() -> None:
    # In a subprocess: under pytest, ``import sandbox`` can resolve to the tests folder.
    code = (
        "import sandbox, sandbox.errors as e, sandbox.compiler as c\n"
        "assert sandbox.Problem is e.Problem and sandbox.compile_script is c.compile_script\n"
        "assert 'ScriptHeader' in dir(sandbox) and sandbox.ScriptHeader.__name__ == 'ScriptHeader'\n"
        "try:\n    sandbox.nope\nexcept AttributeError as exc:\n    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True
    )
    assert "'nope'" in out.stdout


def header(body: str) -> str:
    return f'"""\n---\n{body}\n---\n"""\nx = 1\n'


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("name: A", None),
        ("memoryLimit: 64", 64),
        ("memoryLimit: 64.0", 64),
        ("memoryLimit: '80'", 80),
    ],
)
def test_memory_request_matches_the_host(body: str, expected: int | None) -> None:
    source = header(body)
    assert memory_request(ast.parse(source), "a.py") == expected
    assert compile_script(source, "a.py").header.memoryLimit == expected
    assert compile_for_worker(source, "a.py")[1] == expected


@pytest.mark.parametrize("value", ["lots", "0", "-5", "70000", "1.5", "[1]"])
def test_bad_memory_limit_names_key_and_line(value: str) -> None:
    source = header(f"name: A\nmemoryLimit: {value}")
    with pytest.raises(HeaderError) as raised:
        memory_request(ast.parse(source), "a.py")
    assert raised.value.line == 4
    assert "memoryLimit" in raised.value.message
    with pytest.raises(PolicyError):
        compile_script(source, "a.py")  # the host rejects it too


def test_worker_compile_reports_unclosed_and_bad_yaml_headers() -> None:
    with pytest.raises(PolicyError, match="never closed"):
        compile_for_worker('"""\n---\nname: A\n"""\n', "a.py")
    with pytest.raises(PolicyError, match="not valid YAML"):
        compile_for_worker(header("name: [A"), "a.py")


def test_no_header_needs_no_yaml() -> None:
    modules = imported_by(
        "from sandbox.compiler import compile_for_worker; compile_for_worker('x = 1', 'a.py')"
    )
    assert "yaml" not in modules


def test_problem_is_a_frozen_value_with_the_same_text() -> None:
    problem = Problem(filename="a.py", line=2, column=3, message="bad", hint="fix it")
    assert str(problem) == "a.py:2:3: bad (fix it)"
    assert problem == Problem(filename="a.py", line=2, column=3, message="bad", hint="fix it")
    with pytest.raises(AttributeError):
        problem.line = 5  # type: ignore[misc]
