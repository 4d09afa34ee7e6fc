"""Compile a script under the sandbox policy: parse, check the header, transform, compile.

Every stage reports :class:`~sandbox.errors.Problem` records instead of raising its own
exception type, so ``nai-script check`` can print one list whatever went wrong: a syntax error,
a bad header, a policy rejection, or a compiler-stage ``SyntaxError`` such as ``return``
outside a function (which Python only detects when it compiles the AST).

The host compiles with the full pydantic ``ScriptHeader``; the worker, whose start-up time is
dominated by imports, uses ``compile_for_worker``, which only reads ``memoryLimit`` and so never
imports pydantic (``sandbox.header`` is imported lazily, on the host's path only).
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable, Collection
from dataclasses import dataclass
from types import CodeType
from typing import TYPE_CHECKING, Generic, TypeVar

from sandbox.errors import PolicyError, Problem
from sandbox.frontmatter import HeaderError, memory_request
from sandbox.modules import ALLOWED_MODULES
from sandbox.policy import SandboxPolicy

if TYPE_CHECKING:
    from sandbox.header import ScriptHeader

HeaderT = TypeVar("HeaderT")

#: The flag that lets module-level code ``await``; the module then evaluates to a coroutine.
COMPILE_FLAGS = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT


@dataclass(frozen=True)
class CompiledCode:
    """Code ready to run: ``run_compiled`` executes ``code`` in ``make_globals`` output."""

    code: CodeType
    filename: str
    is_async: bool


@dataclass(frozen=True)
class CompiledScript(CompiledCode):
    """Compiled code with the script's validated header (what the host works with)."""

    header: ScriptHeader


@dataclass(frozen=True)
class _Outcome(Generic[HeaderT]):
    problems: list[Problem]
    compiled: CompiledCode | None
    header: HeaderT | None


def compile_script(
    source: str, filename: str, known_permissions: Collection[str] | None = None
) -> CompiledScript:
    """Compile ``source``; raise :class:`PolicyError` listing every problem found.

    ``known_permissions``: the host's permission names; the header may request no others.
    """
    outcome = _compile(source, filename, _full_header(known_permissions))
    if outcome.compiled is None or outcome.header is None:
        raise PolicyError(outcome.problems)
    code = outcome.compiled
    return CompiledScript(code.code, code.filename, code.is_async, outcome.header)


def compile_for_worker(source: str, filename: str) -> tuple[CompiledCode, int | None]:
    """Compile ``source`` and read its ``memoryLimit`` (MB, ``None`` if unset), pydantic-free.

    The same policy as ``compile_script``; of the header only ``memoryLimit`` is validated.
    """
    outcome = _compile(source, filename, memory_request)
    if outcome.compiled is None:
        raise PolicyError(outcome.problems)
    return outcome.compiled, outcome.header


def check_script(
    source: str, filename: str, known_permissions: Collection[str] | None = None
) -> list[Problem]:
    """Every problem that would stop ``source`` from compiling; empty when it is fine."""
    return _compile(source, filename, _full_header(known_permissions)).problems


def _full_header(
    known_permissions: Collection[str] | None,
) -> Callable[[ast.Module, str], ScriptHeader]:
    """The host-side header reader (imports pydantic, so only on the host's path)."""
    from sandbox.header import header_from_module

    return lambda tree, filename: header_from_module(tree, filename, known_permissions)


def _compile(
    source: str, filename: str, read_header: Callable[[ast.Module, str], HeaderT]
) -> _Outcome[HeaderT]:
    source = source.removeprefix("\ufeff")  # editors on Windows save a BOM; Python ignores it
    try:
        tree = ast.parse(source, filename)
    except SyntaxError as exc:
        return _Outcome([_from_syntax_error(exc, filename)], None, None)
    except ValueError as exc:  # null bytes in the source (Python 3.11)
        problem = Problem(filename=filename, line=1, column=1, message=str(exc))
        return _Outcome([problem], None, None)
    except (RecursionError, MemoryError):
        return _Outcome([_too_deep(filename)], None, None)

    problems: list[Problem] = []
    header: HeaderT | None = None
    try:
        header = read_header(tree, filename)
    except HeaderError as exc:
        problems.append(Problem(filename=filename, line=exc.line, column=1, message=exc.message))

    policy = SandboxPolicy(filename, ALLOWED_MODULES)
    try:
        transformed = policy.visit(tree)
    except RecursionError:
        return _Outcome([*problems, _too_deep(filename)], None, None)
    problems.extend(policy.problems)
    if problems:
        return _Outcome(_in_order(problems), None, None)

    ast.fix_missing_locations(transformed)
    try:
        code = compile(transformed, filename, "exec", flags=COMPILE_FLAGS, dont_inherit=True)
    except SyntaxError as exc:
        return _Outcome([_from_syntax_error(exc, filename)], None, None)
    except RecursionError:
        return _Outcome([_too_deep(filename)], None, None)
    is_async = bool(code.co_flags & inspect.CO_COROUTINE)
    return _Outcome([], CompiledCode(code, filename, is_async), header)


def _in_order(problems: list[Problem]) -> list[Problem]:
    unique = {(p.line, p.column, p.message): p for p in problems}
    return sorted(unique.values(), key=lambda p: (p.line, p.column))


def _from_syntax_error(exc: SyntaxError, filename: str) -> Problem:
    return Problem(
        filename=filename,
        line=exc.lineno or 1,
        column=exc.offset or 1,
        message=f"syntax error: {exc.msg}",
    )


def _too_deep(filename: str) -> Problem:
    return Problem(
        filename=filename,
        line=1,
        column=1,
        message="the script is nested too deeply to compile",
        hint="split long expressions into smaller statements",
    )
