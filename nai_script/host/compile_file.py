"""Reading and compiling a script file, before any worker exists: an unreadable file or one
the policy refuses fails its load with a ``LoadError`` (and a reload keeps the old version)."""

from __future__ import annotations

from pathlib import Path

from nai_script.host.api import basics
from nai_script.host.errors import LoadError
from nai_script.host.folder import decode_script, locate_decode_error
from sandbox.compiler import CompiledScript, compile_script
from sandbox.errors import PolicyError


def compile_file(path: Path) -> tuple[str, CompiledScript]:
    """The script's source and its compiled form; ``LoadError`` says why not."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise LoadError("internal", f"{path}: cannot read the script: {error}") from None
    try:
        source = decode_script(raw)
    except (UnicodeDecodeError, SyntaxError, LookupError) as error:
        line, column, message = locate_decode_error(raw, error)
        raise LoadError("internal", f"{path}:{line}:{column}: {message}") from None
    try:
        compiled = compile_script(source, str(path), basics.PERMISSIONS)
    except PolicyError as error:
        raise LoadError("policy", str(error), problems=[str(p) for p in error.problems]) from None
    return source, compiled
