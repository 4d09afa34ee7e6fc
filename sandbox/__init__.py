"""Run untrusted Python under a RestrictedPython policy with fast run-time guards.

This package knows nothing of NovelAI: it compiles a script (``compiler``), builds the globals
it runs in (``runtime``), and (in the worker modules) runs it in its own process.
"""

from sandbox.compiler import CompiledScript, check_script, compile_script
from sandbox.errors import PolicyError, Problem, SandboxError
from sandbox.header import HeaderError, ScriptHeader, parse_header
from sandbox.runtime import make_globals, run_compiled
from sandbox.values import JSObject, from_script_value, to_script_value

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
