"""Errors the sandbox raises, at compile time and at run time.

Compile-time rejections are collected as :class:`Problem` records (one per offending spot) so a
``check`` command can list them all at once; run-time guard refusals raise :class:`SandboxError`
naming the attribute, type or module that was refused, so a script author sees *what* to change.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Problem:
    """One reason a script cannot be compiled; ``line`` and ``column`` are 1-based.

    A plain frozen dataclass, not a pydantic model: the worker imports this module, and pydantic
    would cost it tens of milliseconds of start-up. Pydantic models may still hold Problems.
    """

    filename: str
    line: int
    column: int
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        text = f"{self.filename}:{self.line}:{self.column}: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text


class PolicyError(Exception):
    """The script was rejected by the sandbox policy before it ran."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


class SandboxError(Exception):
    """A guard refused an operation at run time (forbidden attribute, write, import...)."""


class ForbiddenAttributeError(SandboxError):
    """A script asked for an attribute the sandbox never hands out."""

    def __init__(self, obj: object, name: str, reason: str) -> None:
        self.attribute = name
        self.type_name = type(obj).__name__
        super().__init__(f"attribute {name!r} of {self.type_name} is not allowed: {reason}")


class ForbiddenWriteError(SandboxError):
    """A script tried to assign to or delete from an object it does not own."""

    def __init__(self, obj: object) -> None:
        self.type_name = type(obj).__name__
        super().__init__(
            f"cannot modify a {self.type_name} object: scripts may only change their own "
            "objects (instances of classes they define, dicts, lists and api values)"
        )


class ForbiddenImportError(SandboxError, ImportError):
    """A script imported a module (or a member of one) outside the allowlist."""
