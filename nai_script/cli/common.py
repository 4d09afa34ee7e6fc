"""Pieces every subcommand shares: the one-line error type, async entry, backend flags."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:  # config imports pydantic; `nai-script --help` and `check` need not pay for it
    from nai_script.config import BackendConfig, BackendKind

# Exit codes are a contract (SPEC section 9).
EXIT_OK = 0
EXIT_SCRIPT_RAISED = 1
EXIT_USAGE = 2
EXIT_POLICY = 3
EXIT_RESOURCE = 4


class CLIError(Exception):
    """An error the CLI reports as one line on stderr, then exits with ``exit_code``."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def discard_output(stream: TextIO) -> None:
    """Point ``stream``'s file at /dev/null: its reader has gone (``| head``), so later
    writes, and the interpreter's flush at exit, cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, stream.fileno())
    os.close(devnull)


def progress(line: str) -> None:
    """One progress line of long work (a download, a generation) on stderr, so stdout stays
    the command's output."""
    print(f"nai-script: {line}", file=sys.stderr, flush=True)


def check_port(port: int) -> None:
    """``--port`` out of range is a usage error (the socket's own complaint is not one line)."""
    if not 0 <= port <= 65535:
        raise CLIError(f"--port {port} is not a port number (0-65535)", EXIT_USAGE)


def text_argument(value: str) -> str:
    """An argparse ``type`` for text sent to a model: bytes that are not UTF-8 reach us as
    lone surrogates, which no tokenizer or JSON peer accepts, so refuse them as a usage
    error here instead of failing deep inside (or on the server)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise argparse.ArgumentTypeError("not valid UTF-8 text") from None
    return value


def usable_script_name(path: Path) -> None:
    """A script whose file name is not UTF-8 cannot be hosted (its default name, and the path
    the worker is told, must be text): a one-line usage error instead of a pydantic dump or
    an encoding error from the worker's wire."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        shown = os.fsencode(path).decode("utf-8", "backslashreplace")
        raise CLIError(
            f"{shown}: the file name is not valid UTF-8; rename it", EXIT_USAGE
        ) from None


def data_folder(path: Path, flag: str = "--data") -> Path:
    """``path`` as a usable folder (created if missing) that this process can write to; a
    file there, a folder that cannot be made or one that cannot be written is a one-line
    usage error naming the flag, found before any work is done (or paid for)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = "it is a file, not a folder" if path.is_file() else exc.strerror or str(exc)
        raise CLIError(
            f"{flag} {str(path)!r}: cannot use it as a folder: {reason}", EXIT_USAGE
        ) from None
    try:
        # Really write (a file with no name on Linux, else one removed on close): a mode
        # check would be wrong for root, ACLs and read-only mounts.
        with tempfile.TemporaryFile(dir=path, prefix=".nai-script-write-check-"):
            pass
    except OSError as exc:
        raise not_writable(path, exc, flag) from None
    return path


# A database and the files SQLite keeps beside it (WAL mode, or a rollback journal).
_SQLITE_FILE_ENDINGS = (".sqlite3", ".sqlite3-wal", ".sqlite3-shm", ".sqlite3-journal")


def data_store(path: Path, flag: str = "--data") -> Path:
    """``data_folder``, and every SQLite file already there writable: SQLite opens a
    read-only database read-only and fails only at its first write, which the CLI then
    took for a damaged file."""
    data_folder(path, flag)
    for database in sorted(path.glob("*.sqlite3*")):
        if not database.name.endswith(_SQLITE_FILE_ENDINGS) or not database.is_file():
            continue
        try:
            with database.open("r+b"):  # opened for writing, nothing written
                pass
        except OSError as exc:
            raise not_writable(path, exc, flag, database) from None
    return path


def not_writable(
    folder: Path, error: OSError, flag: str = "--data", file: Path | None = None
) -> CLIError:
    """The folder (or ``file`` in it) cannot be written: say so, with the fix."""
    what = f"{str(file)!r} is" if file is not None else "the folder is"
    return CLIError(
        f"{flag} {str(folder)!r}: {what} not writable ({error.strerror or error}); "
        f"make it writable or choose another {flag} folder",
        EXIT_USAGE,
    )


# SQLite's primary result codes for "cannot write this file" (``sqlite_errorcode & 0xff``):
# SQLITE_PERM, SQLITE_READONLY (and its extended codes), SQLITE_CANTOPEN.
_SQLITE_WRITE_REFUSED = frozenset({3, 8, 14})


def damaged_data(path: Path, error: Exception) -> CLIError:
    """A database under ``--data`` that SQLite cannot use: name the folder, not just
    'DatabaseError: file is not a database', and tell a file SQLite may not write (the
    folder or a database read-only, changed since ``data_store`` checked) from a damaged
    one: they need different fixes."""
    code = getattr(error, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF in _SQLITE_WRITE_REFUSED:
        try:
            data_store(path)
        except CLIError as refused:
            return refused
        return CLIError(
            f"--data {str(path)!r}: a database there cannot be opened for writing ({error}); "
            "make the folder and its files writable or choose another --data folder",
            EXIT_USAGE,
        )
    return CLIError(f"--data {str(path)!r}: a database there is damaged or not SQLite ({error})")


def run_async(coro: Coroutine[Any, Any, int]) -> int:
    """Run a command's coroutine on a fresh event loop and return its exit code."""
    return asyncio.run(coro)


def add_backend_flags(parser: argparse.ArgumentParser) -> None:
    """The backend selection flags, identical on every command that talks to a model."""
    group = parser.add_argument_group("backend")
    group.add_argument(
        "--backend",
        choices=["sim", "novelai", "openai"],
        default=None,
        help="sim (embedded simulator, the default), novelai (needs NAI_TOKEN) or openai "
        "(any OpenAI-compatible server; needs --base-url; its key, if it wants one, from "
        "OPENAI_API_KEY, never NAI_TOKEN). Env: NAI_SCRIPT_BACKEND.",
    )
    group.add_argument(
        "--base-url",
        default=None,
        help="base URL of the backend server (for openai, with or without its /v1). "
        "Env: NAI_SCRIPT_BASE_URL.",
    )


def backend_from_args(
    args: argparse.Namespace, *, openai_refusal: str = "", token_optional: bool = False
) -> BackendConfig:
    """The backend that ``--backend``/``--base-url`` (then the env) choose; a bad choice is a
    one-line usage error, and so is an OpenAI-compatible server when ``openai_refusal`` says
    why this command cannot use one. ``token_optional``: the command logs in itself, so the
    novelai backend needs no ``NAI_TOKEN``."""
    from nai_script.config import BackendKind, ConfigError, resolve_backend

    try:
        config = resolve_backend(
            backend=args.backend, base_url=args.base_url, token_optional=token_optional
        )
    except ConfigError as exc:
        raise CLIError(str(exc), EXIT_USAGE) from None
    if openai_refusal and config.kind is BackendKind.OPENAI:
        raise CLIError(openai_refusal, EXIT_USAGE)
    return config


def backend_kind_from_args(args: argparse.Namespace) -> BackendKind:
    """Which backend ``--backend`` (then the env) chooses, for commands that never call it."""
    from nai_script.config import ConfigError, resolve_backend_kind

    try:
        return resolve_backend_kind(args.backend)
    except ConfigError as exc:
        raise CLIError(str(exc), EXIT_USAGE) from None
