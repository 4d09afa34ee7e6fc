"""``nai-script check``: compile scripts under the sandbox policy and list every problem.

    nai-script check scripts/chat.py scripts/batch.py     # or a folder: nai-script check scripts
    scripts/bad.py:3:1: import of 'os' is not allowed (allowed: json, math, ...)
    scripts/chat.py: ok

Exit 0 when every file is clean, 3 when any is rejected by the policy (SPEC section 9), 2 for
usage errors (a missing file, not a ``.py``). ``--json`` prints one JSON document instead.
Nothing runs: this only parses, checks the header, and compiles.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pydantic import BaseModel

from nai_script.cli.common import (
    EXIT_OK,
    EXIT_POLICY,
    EXIT_USAGE,
    CLIError,
    usable_script_name,
)
from nai_script.host.api.basics import PERMISSIONS
from nai_script.host.folder import SCRIPT_SUFFIX, decode_script, list_scripts, locate_decode_error
from sandbox.compiler import check_script
from sandbox.errors import Problem


class FileCheck(BaseModel):
    """The verdict on one script file."""

    file: str
    ok: bool
    problems: list[Problem]


class CheckReport(BaseModel):
    """``--json`` output: every file checked, in the order given."""

    ok: bool
    files: list[FileCheck]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "check",
        help="compile scripts under the sandbox policy and list problems with line numbers",
        description="Compile each SCRIPT.py (or every script in a folder) under the sandbox "
        "policy without running it, and print each problem as file:line:col: message (hint). "
        "Exit 0 if all are clean, 3 if any is rejected, 2 for usage errors.",
    )
    parser.add_argument("paths", nargs="+", metavar="SCRIPT.py", help="script files or folders")
    parser.add_argument("--json", action="store_true", help="print one JSON report instead")
    parser.set_defaults(func=_run_check)


def _run_check(args: argparse.Namespace) -> int:
    checks = [check_file(path) for path in _expand(list(args.paths))]
    report = CheckReport(ok=all(item.ok for item in checks), files=checks)
    if args.json:
        print(report.model_dump_json(indent=2))
    else:
        for item in report.files:
            if item.ok:
                print(f"{item.file}: ok")
            for problem in item.problems:
                print(problem)
    return EXIT_OK if report.ok else EXIT_POLICY


def check_file(path: Path) -> FileCheck:
    """Check one script file; unreadable text is a problem at its first bad byte, not a
    crash."""
    name = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CLIError(f"{name}: cannot read: {exc.strerror or exc}", EXIT_USAGE) from None
    try:
        source = decode_script(raw)  # honours a BOM or a coding cookie
    except (UnicodeDecodeError, SyntaxError, LookupError) as error:
        line, column, message = locate_decode_error(raw, error)
        problem = Problem(filename=name, line=line, column=column, message=message)
        return FileCheck(file=name, ok=False, problems=[problem])
    problems = check_script(source, name, PERMISSIONS)
    return FileCheck(file=name, ok=not problems, problems=problems)


def _expand(arguments: list[str]) -> list[Path]:
    """Files as given, folders as their scripts (sorted); usage errors name the argument."""
    files: list[Path] = []
    for argument in arguments:
        path = Path(argument)
        usable_script_name(path)
        if path.is_dir():
            for named in sorted(path.glob(f"*{SCRIPT_SUFFIX}")):
                usable_script_name(named)  # the folder's listing skips such names: say why
            found = list_scripts(path)
            if not found:
                raise CLIError(f"{argument}: no *.py scripts in this folder", EXIT_USAGE)
            files.extend(found)
        elif not path.exists():
            raise CLIError(f"{argument}: no such file", EXIT_USAGE)
        elif path.suffix != SCRIPT_SUFFIX:
            raise CLIError(f"{argument}: not a .py script", EXIT_USAGE)
        elif not path.is_file():
            raise CLIError(f"{argument}: not a regular file", EXIT_USAGE)
        else:
            files.append(path)
    return files
