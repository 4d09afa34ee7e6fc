"""The failures ``ScriptWorker`` raises, in a module of their own so callers can catch them
without reading the process-management code."""

from __future__ import annotations

from sandbox.protocol import ExitReason, ScriptFailure


class WorkerError(Exception):
    """Base of the failures ``ScriptWorker`` raises."""


class WorkerDied(WorkerError):
    def __init__(self, reason: ExitReason) -> None:
        self.reason = reason
        super().__init__(str(reason))


class LoadFailed(WorkerError):
    """The script did not load: policy problems, an exception at top level, or a death."""

    def __init__(self, message: str, *, failure: ScriptFailure | None, reason: ExitReason | None):
        self.failure = failure
        self.reason = reason
        super().__init__(message)


class ScriptFailed(WorkerError):
    """An invoked callback raised; the message points at the script's own line."""

    def __init__(self, failure: ScriptFailure) -> None:
        self.failure = failure
        super().__init__(failure.message)


class InvokeSkipped(WorkerError):
    """A chained invocation (``sandbox.invoke_order``) was not run because an earlier one in
    its chain failed (that failure was already reported by its own invocation)."""
