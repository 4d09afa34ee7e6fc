"""Why a script did not load, in the categories ``nai-script run`` maps to exit codes."""

from __future__ import annotations

from typing import Literal

from sandbox.process import LoadFailed

LoadErrorKind = Literal["policy", "exception", "resource", "internal"]
RESOURCE_KINDS = ("cpu", "memory", "wall_clock")


class LoadError(Exception):
    """``policy``: rejected at compile time (``problems`` are file:line:col lines);
    ``exception``: the top level raised; ``resource``: a limit stopped it; ``internal``."""

    def __init__(self, kind: LoadErrorKind, message: str, problems: list[str] | None = None):
        self.kind: LoadErrorKind = kind
        self.message = message
        self.problems = problems or []
        super().__init__(message)

    @classmethod
    def from_load_failed(cls, error: LoadFailed) -> LoadError:
        if error.reason is not None:
            kind: LoadErrorKind = "resource" if error.reason.kind in RESOURCE_KINDS else "internal"
            return cls(kind, str(error.reason))
        failure = error.failure
        if failure is None:
            return cls("internal", str(error))
        if failure.kind == "policy":
            return cls("policy", failure.message, problems=list(failure.problems))
        if failure.kind == "memory":
            return cls("resource", failure.message)
        if failure.kind == "exception":
            return cls("exception", failure.message)
        return cls("internal", failure.message)
