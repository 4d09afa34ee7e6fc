"""How the worker calls script code and names its failures: an awaitable a script returns is
stepped by the worker's own coroutine (``drive_script``), several calls of one callback run in
turn, and a failure points at the script's deepest line.

On the worker's import path, so pydantic-free (see ``sandbox.worker``).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

from sandbox.proxy import drive_script

#: The longest exception message a failure carries (a script's __str__ may return megabytes).
MAX_MESSAGE_CHARS = 4096


def script_location(error: BaseException, filename: str) -> str:
    """``name.py:12: ZeroDivisionError: division by zero``, using the script's deepest frame."""
    line: int | None = None
    tb: TracebackType | None = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    if isinstance(error, SyntaxError) and error.filename == filename and error.lineno:
        line = error.lineno
    where = f"{filename}:{line}" if line is not None else filename
    try:
        # A script's own exception class may define a __str__ that raises anything (a
        # BaseException subclass too) or returns megabytes: either left the failure unsent,
        # and the host waited for the wall-clock limit.
        # A plain copy: a str subclass's own __len__ and __getitem__ would run (and return
        # anything) when the text is cut below.
        text = str.__str__(str(error))
    except BaseException:
        text = "<exception message could not be shown>"
    if len(text) > MAX_MESSAGE_CHARS:
        cut = len(text) - MAX_MESSAGE_CHARS
        text = f"{text[:MAX_MESSAGE_CHARS]}... [{cut} more characters cut]"
    return (
        f"{where}: {type(error).__name__}: {text}" if text else f"{where}: {type(error).__name__}"
    )


def driven(result: Any) -> Any:
    """What script code returned, ready for ``Worker._run``: an awaitable becomes the worker's
    coroutine stepping it (``drive_script``), never a task driving it directly."""
    return drive_script(result) if inspect.isawaitable(result) else result


def call_in_turn(fn: Callable[..., Any], arg_lists: list[list[Any]]) -> Any:
    """``fn(*args)`` for each argument list, each once the one before returned; the last
    result. Plain calls run here; from the first awaitable on, the rest runs as a coroutine."""
    for index, args in enumerate(arg_lists):
        result = fn(*args)
        if inspect.isawaitable(result):
            if index + 1 < len(arg_lists):
                return _finish_in_turn(result, fn, arg_lists[index + 1 :])
            return drive_script(result)
    return result


async def _finish_in_turn(
    pending: Awaitable[Any], fn: Callable[..., Any], rest: list[list[Any]]
) -> Any:
    result = await drive_script(pending)
    for args in rest:
        result = fn(*args)
        if inspect.isawaitable(result):
            result = await drive_script(result)
    return result
