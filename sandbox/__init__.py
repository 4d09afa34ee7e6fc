"""Run untrusted Python under a RestrictedPython policy with fast run-time guards.

This package knows nothing of NovelAI: it compiles a script (``compiler``), builds the globals
it runs in (``runtime``), and (in the worker modules) runs it in its own process.

The names below are imported on first use (PEP 562): ``python -m sandbox.worker`` imports this
package first, and eager imports here would put pydantic on the worker's start-up path.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandbox.compiler import CompiledScript, check_script, compile_script
    from sandbox.errors import PolicyError, Problem, SandboxError
    from sandbox.header import HeaderError, ScriptHeader, parse_header
    from sandbox.runtime import make_globals, run_compiled
    from sandbox.values import JSObject, from_script_value, to_script_value

_HOMES: dict[str, str] = {
    "CompiledScript": "sandbox.compiler",
    "check_script": "sandbox.compiler",
    "compile_script": "sandbox.compiler",
    "PolicyError": "sandbox.errors",
    "Problem": "sandbox.errors",
    "SandboxError": "sandbox.errors",
    "HeaderError": "sandbox.header",
    "ScriptHeader": "sandbox.header",
    "parse_header": "sandbox.header",
    "make_globals": "sandbox.runtime",
    "run_compiled": "sandbox.runtime",
    "JSObject": "sandbox.values",
    "from_script_value": "sandbox.values",
    "to_script_value": "sandbox.values",
}

__all__ = [
    "CompiledScript",
    "HeaderError",
    "JSObject",
    "PolicyError",
    "Problem",
    "SandboxError",
    "ScriptHeader",
    "check_script",
    "compile_script",
    "from_script_value",
    "make_globals",
    "parse_header",
    "run_compiled",
    "to_script_value",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'sandbox' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
