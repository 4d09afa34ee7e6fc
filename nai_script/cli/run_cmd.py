"""``nai-script run SCRIPT.py``: load a script headless, run it until it has nothing pending.

Exit codes (SPEC section 9): 0 ok; 1 the script raised (top level, a callback, a hook, or its
worker crashed); 2 usage; 3 rejected by the sandbox policy at compile time (problems printed
as file:line:col; every script is checked before any of them runs); 4 stopped by a resource limit (CPU, memory, wall clock, or ``--timeout``
with work still pending). ``api.v1.log`` lines go to stdout, ``api.v1.error`` lines and
failures to stderr. Starting a run is not an interaction (SPEC section 5: only a click or
typing in the script's UI, or a manual generation, is), so budgets spent by earlier runs stay
held until one happens: lines ``interact`` / ``manual`` on stdin call ``record_interaction`` /
``record_manual_generation`` (how a person, or a test, drives the budget rules headless).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Literal, TextIO

import platformdirs

from nai_script.backend import fetch_tokenizers, open_backend
from nai_script.cli.check_cmd import check_file
from nai_script.cli.common import (
    EXIT_OK,
    EXIT_POLICY,
    EXIT_RESOURCE,
    EXIT_SCRIPT_RAISED,
    EXIT_USAGE,
    CLIError,
    add_backend_flags,
    backend_from_args,
    damaged_data,
    data_store,
    discard_output,
    progress,
    run_async,
    usable_script_name,
)
from nai_script.client import NovelAIClient
from nai_script.client import errors as client_errors
from nai_script.config import BackendConfig, BackendKind
from nai_script.host.errors import RESOURCE_KINDS, LoadError
from nai_script.host.host import LogSink, ScriptHost
from nai_script.host.permissions import deny_permissions, grant_permissions
from nai_script.host.script import LoadedScript
from nai_script.tokenizers import Tier
from sandbox.rlimits import WorkerLimits

DEFAULT_TIMEOUT_S = 600.0
_LOAD_EXIT = {"policy": EXIT_POLICY, "exception": EXIT_SCRIPT_RAISED, "resource": EXIT_RESOURCE}


def default_data_dir() -> Path:
    """Per-user, so budgets persist between runs (as they do between page loads)."""
    return Path(platformdirs.user_data_dir("nai-script")) / "run"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run a script headless until it has nothing pending",
        description="Load SCRIPT.py (and any further scripts, for messaging) into sandboxed "
        "workers, run the top level and onScriptsLoaded, wait until nothing is pending, print "
        "api.v1.log lines to stdout and errors to stderr. Exit codes: 0 ok, 1 the script "
        "raised, 2 usage, 3 rejected by the sandbox policy, 4 stopped by a resource limit.",
    )
    parser.add_argument("scripts", nargs="+", metavar="SCRIPT.py", help="script file(s)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        help=f"seconds to wait for pending work (default {DEFAULT_TIMEOUT_S:g}); exit 4 if hit",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help=f"data folder: budgets, storage (default {default_data_dir()})",
    )
    parser.add_argument(
        "--diagnostics",
        action="store_true",
        help="print per-script diagnostics as one JSON line on stdout at the end",
    )
    parser.add_argument(
        "--grant-permissions",
        action="store_true",
        help="grant every permission a script asks for (denied by default)",
    )
    add_backend_flags(parser)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.scripts]
    for path in paths:
        usable_script_name(path)
        if path.suffix != ".py":
            raise CLIError(f"{path}: a script is a .py file", EXIT_USAGE)
        if path.is_dir():
            raise CLIError(f"{path}: is a folder, not a script file", EXIT_USAGE)
        if not path.is_file():
            raise CLIError(f"{path}: no such file", EXIT_USAGE)
    seen: set[Path] = set()
    for path in paths:  # the host would refuse the second as "already loaded" (exit 1)
        if path.resolve() in seen:
            raise CLIError(f"{path}: the same script is given more than once", EXIT_USAGE)
        seen.add(path.resolve())
    if not args.timeout > 0:  # also refuses nan, which no comparison would ever stop
        raise CLIError("--timeout must be greater than 0", EXIT_USAGE)
    config = backend_from_args(args)
    args.data = data_store(args.data or default_data_dir())
    rejected = _policy_problems(paths)  # before any backend, worker or script starts
    if rejected:
        for problem in rejected:
            print(problem, file=sys.stderr)
        if args.diagnostics:  # promised at the end of every run: no script was loaded
            _print_line(json.dumps({"diagnostics": []}), sys.stdout)
        return EXIT_POLICY
    return run_async(_run_scripts(config, paths, args))


def _policy_problems(paths: list[Path]) -> list[str]:
    """Every compile-time problem of every script, found before any of them runs: a script
    the policy rejects is exit 3 whatever comes first on the command line (an earlier script
    ran, and when it raised the rejection was never reported and the run exited 1)."""
    return [str(problem) for path in paths for problem in check_file(path.resolve()).problems]


def _printer(many: bool) -> LogSink:
    def on_log(script: LoadedScript, level: Literal["log", "error"], text: str) -> None:
        line = f"[{script.id}] {text}" if many else text
        _print_line(line, sys.stdout if level == "log" else sys.stderr)

    return on_log


def _print_line(line: str, stream: TextIO) -> None:
    """Print one line. When the reader has gone (``nai-script run s.py | head``), output stops
    quietly and the run goes on to its usual exit code: a closed pipe is not the script's
    failure."""
    try:
        print(line, file=stream, flush=True)
    except BrokenPipeError:
        discard_output(stream)


def _read_stdin_events(host: ScriptHost, script_ids: Callable[[], list[str]]) -> None:
    """Feed ``interact``/``manual`` lines from stdin to the host (a daemon thread, so an
    open stdin never keeps the process alive)."""
    loop = asyncio.get_running_loop()
    in_flight: set[asyncio.Future[None]] = set()

    def keep(future: asyncio.Future[None]) -> None:
        in_flight.add(future)
        future.add_done_callback(in_flight.discard)

    def apply(word: str) -> None:
        if word == "interact":
            for script_id in script_ids():
                keep(asyncio.ensure_future(host.record_interaction(script_id)))
        elif word == "manual":
            keep(asyncio.ensure_future(host.record_manual_generation()))

    def read() -> None:
        try:
            for line in sys.stdin:
                loop.call_soon_threadsafe(apply, line.strip())
        except (OSError, ValueError, RuntimeError):
            return

    if sys.stdin is not None and not sys.stdin.isatty():
        threading.Thread(target=read, name="nai-run-stdin", daemon=True).start()


async def _tier(config: BackendConfig, client: NovelAIClient) -> int:
    """With a real account the tier comes from /user/subscription; Opus otherwise."""
    if config.kind is not BackendKind.NOVELAI:
        return int(Tier.OPUS)
    try:
        subscription = await client.subscription()
    except client_errors.NovelAIError as exc:
        raise CLIError(f"cannot read the subscription tier: {exc}") from None
    return int(subscription.tier)


async def _run_scripts(config: BackendConfig, paths: list[Path], args: argparse.Namespace) -> int:
    data_dir: Path = args.data
    # --timeout governs how long a top level may wait (budgets, timers), not the sandbox's
    # default load limit.
    limits = WorkerLimits()
    limits = limits.model_copy(
        update={"load_wall_seconds": max(limits.load_wall_seconds, args.timeout + 10)}
    )
    async with open_backend(config, discover_models=True) as backend:
        tier = await _tier(config, backend.client)
        await fetch_tokenizers(backend, progress)
        try:
            host = ScriptHost(
                client=backend.client,
                tokenizers=backend.tokenizers,
                data_dir=data_dir,
                tier=tier,
                permission_policy=grant_permissions if args.grant_permissions else deny_permissions,
                on_log=_printer(len(paths) > 1),
                worker_limits=limits,
            )
        except sqlite3.DatabaseError as exc:
            raise damaged_data(data_dir, exc) from None
        async with host:
            code = await _load_and_wait(host, paths, args.timeout)
            if args.diagnostics:
                # Loaded or not: a top level that raised or was stopped may have spent tokens.
                scripts = [*host.scripts, *host.failed_scripts]
                report = [host.script_diagnostics(s).model_dump(mode="json") for s in scripts]
                _print_line(json.dumps({"diagnostics": report}), sys.stdout)
    return code


async def _load_and_wait(host: ScriptHost, paths: list[Path], wait_s: float) -> int:
    loaded: list[LoadedScript] = []
    loading: Path | None = None
    _read_stdin_events(host, lambda: [s.id for s in host.scripts])
    try:
        async with asyncio.timeout(wait_s):
            for loading in paths:
                try:
                    loaded.append(await host.load_script(loading))
                except LoadError as error:
                    _report_load_error(error)
                    return _LOAD_EXIT.get(error.kind, EXIT_SCRIPT_RAISED)
            loading = None
            await host.fire_hook("onScriptsLoaded")
            while any(host.has_pending(s) for s in loaded):
                for script in loaded:
                    await host.wait_idle(script)
    except TimeoutError:
        busy = [f"{s.path.name} (pending work)" for s in loaded if host.has_pending(s)]
        if loading is not None:
            busy.append(f"{loading.name} (top level still running)")
        print(
            f"nai-script: stopped after --timeout {wait_s:g} s with work still pending in "
            + ", ".join(busy or ["onScriptsLoaded"]),
            file=sys.stderr,
        )
        return EXIT_RESOURCE
    return _exit_code(loaded)


def _report_load_error(error: LoadError) -> None:
    if error.problems:
        for problem in error.problems:
            print(problem, file=sys.stderr)
    else:
        print(f"nai-script: {error.message}", file=sys.stderr)


def _exit_code(scripts: list[LoadedScript]) -> int:
    reasons = [s.exit_reason for s in scripts if s.exit_reason is not None]
    if any(r.kind in RESOURCE_KINDS for r in reasons):
        return EXIT_RESOURCE
    if any(r.kind != "shutdown" for r in reasons) or any(s.failures for s in scripts):
        return EXIT_SCRIPT_RAISED
    return EXIT_OK
