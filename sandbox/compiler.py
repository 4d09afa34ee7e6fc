"""Compile a script under the sandbox policy: parse, check the header, transform, compile.

Every stage reports :class:`~sandbox.errors.Problem` records instead of raising its own
exception type, so ``nai-script check`` can print one list whatever went wrong: a syntax error,
a bad header, a policy rejection, or a compiler-stage ``SyntaxError`` such as ``return``
outside a function (which Python only detects when it compiles the AST).
"""

from __future__ import annotations

import ast
import inspect
from dataclasses import dataclass
from types import CodeType

from sandbox.errors import PolicyError, Problem
from sandbox.header import HeaderError, ScriptHeader, default_header, header_from_module
from sandbox.modules import ALLOWED_MODULES
from sandbox.policy import SandboxPolicy

#: The flag that lets module-level code ``await``; the module then evaluates to a coroutine.
COMPILE_FLAGS = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT


@dataclass(frozen=True)
class CompiledScript:
    """A script ready to run: ``run_compiled`` executes ``code`` in ``make_globals`` output."""

    code: CodeType
    filename: str
    is_async: bool
    header: ScriptHeader


@dataclass(frozen=True)
class _Outcome:
    problems: list[Problem]
    compiled: CompiledScript | None


def compile_script(source: str, filename: str) -> CompiledScript:
    """Compile ``source``; raise :class:`PolicyError` listing every problem found."""
    outcome = _compile(source, filename)
    if outcome.compiled is None:
        raise PolicyError(outcome.problems)
    return outcome.compiled


def check_script(source: str, filename: str) -> list[Problem]:
    """Every problem that would stop ``source`` from compiling; empty when it is fine."""
    return _compile(source, filename).problems


def _compile(source: str, filename: str) -> _Outcome:
    source = source.removeprefix("\ufeff")  # editors on Windows save a BOM; Python ignores it
    try:
        tree = ast.parse(source, filename)
    except SyntaxError as exc:
        return _Outcome([_from_syntax_error(exc, filename)], None)
    except ValueError as exc:  # null bytes in the source (Python 3.11)
        return _Outcome([Problem(filename=filename, line=1, column=1, message=str(exc))], None)
    except (RecursionError, MemoryError):
        return _Outcome([_too_deep(filename)], None)

    problems: list[Problem] = []
    try:
        header = header_from_module(tree, filename)
    except HeaderError as exc:
        problems.append(Problem(filename=filename, line=exc.line, column=1, message=exc.message))
        header = default_header(filename)

    policy = SandboxPolicy(filename, ALLOWED_MODULES)
    try:
        transformed = policy.visit(tree)
    except RecursionError:
        return _Outcome([*problems, _too_deep(filename)], None)
    problems.extend(policy.problems)
    if problems:
        return _Outcome(_in_order(problems), None)

    ast.fix_missing_locations(transformed)
    try:
        code = compile(transformed, filename, "exec", flags=COMPILE_FLAGS, dont_inherit=True)
    except SyntaxError as exc:
        return _Outcome([_from_syntax_error(exc, filename)], None)
    except RecursionError:
        return _Outcome([_too_deep(filename)], None)
    is_async = bool(code.co_flags & inspect.CO_COROUTINE)
    return _Outcome([], CompiledScript(code, filename, is_async, header))


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
