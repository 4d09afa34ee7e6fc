"""Entry point of ``nai-script``: builds the parser from the command modules and maps errors
to one line on stderr plus an exit code (never a bare traceback)."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Protocol, cast

from nai_script import __version__
from nai_script.cli.common import EXIT_USAGE, CLIError, discard_output

# Each module defines ``register(subparsers)``, which adds its subcommand and sets
# ``func(args) -> int`` as the parser default.
COMMAND_MODULES: tuple[str, ...] = (
    "generate_cmd",
    "sim_cmd",
    "image_cmd",
    "account_cmd",
    "tokenize_cmd",
    "run_cmd",
    "check_cmd",
    "serve_cmd",
)


class _CommandModule(Protocol):
    def register(self, subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None: ...


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nai-script",
        description="Run Python scripts against NovelAI's text and image generation, with "
        "NovelAI's api.v1 and its per-script limits. With no account it uses an embedded "
        "NovelAI-compatible simulator.",
    )
    parser.add_argument("--version", action="version", version=f"nai-script {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = cast(_CommandModule, importlib.import_module(f"nai_script.cli.{name}"))
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = cast(Callable[[argparse.Namespace], int] | None, getattr(args, "func", None))
    if func is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return func(args)
    except CLIError as exc:
        print(f"nai-script: error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("nai-script: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of our output went away (``| head``): stop quietly, as Unix tools do.
        discard_output(sys.stdout)
        return 0
    except Exception as exc:  # last resort: one line, never a traceback
        print(f"nai-script: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
