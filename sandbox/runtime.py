"""Run a compiled script: build its globals, execute its module body.

A script's globals hold exactly one public name, ``api``; the rest are the guard hooks the
policy's rewritten code calls (``_getattr_``...) and a fresh builtins dict. Nothing in them is
shared with another script except immutable host functions, so one script cannot change what
another sees.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Coroutine
from typing import Any

from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence

from sandbox.compiler import CompiledCode
from sandbox.guards import (
    ScriptClassMeta,
    guarded_aiter,
    guarded_aiter_unpack_sequence,
    guarded_apply,
    guarded_getattr,
    guarded_getattr_super,
    guarded_inplacevar,
    guarded_write,
    make_print_factory,
)
from sandbox.modules import make_import
from sandbox.proxy import ApiError
from sandbox.safe_builtins import make_builtins


def make_globals(
    api: object,
    *,
    print_sink: Callable[[str], None],
    script_name: str = "script",
) -> dict[str, Any]:
    """The globals dict for one script run: restricted builtins, guards and ``api``."""
    return {
        "__builtins__": make_builtins(make_import()),
        "__name__": script_name,
        "__metaclass__": ScriptClassMeta,
        "_getattr_": guarded_getattr,
        "_getattr_super_": guarded_getattr_super,
        "_getitem_": operator.getitem,
        "_write_": guarded_write,
        "_getiter_": iter,
        "_getaiter_": guarded_aiter,
        "_inplacevar_": guarded_inplacevar,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_aiter_unpack_sequence_": guarded_aiter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_apply_": guarded_apply,
        "_print_": make_print_factory(print_sink),
        "api": api,
        "ApiError": ApiError,  # what a failed api call raises, so ``except ApiError`` works
    }


def run_compiled(
    compiled: CompiledCode, globals: dict[str, Any]
) -> Coroutine[Any, Any, Any] | None:
    """Execute the module body; for top-level ``await`` return the coroutine to await."""
    result = eval(compiled.code, globals)
    if compiled.is_async:
        return result
    return None
