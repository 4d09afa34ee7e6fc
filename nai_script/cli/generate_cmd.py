"""``nai-script generate PROMPT``: stream a completion to stdout from the chosen backend."""

from __future__ import annotations

import argparse
import sys

from pydantic import ValidationError

from nai_script.backend import open_backend
from nai_script.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    CLIError,
    add_backend_flags,
    backend_from_args,
    run_async,
    text_argument,
)
from nai_script.client import errors, models
from nai_script.config import BackendConfig

DEFAULT_MODEL = "glm-4-6"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="stream a text completion to stdout",
        description="Send PROMPT as a raw completion prompt and stream the generated text to "
        "stdout as it arrives. Uses the embedded simulator unless told otherwise.",
    )
    parser.add_argument("prompt", type=text_argument, help="the prompt text")
    parser.add_argument(
        "--model", default=DEFAULT_MODEL, help=f"model id (default {DEFAULT_MODEL})"
    )
    parser.add_argument(
        "--max-tokens", type=int, default=100, help="most tokens to generate (default 100)"
    )
    parser.add_argument(
        "--temperature",
        type=float,
        default=None,
        help="sampling temperature, >= 0 (default: the backend's)",
    )
    add_backend_flags(parser)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if args.max_tokens < 1:
        raise CLIError("--max-tokens must be at least 1", EXIT_USAGE)
    return run_async(_generate(backend_from_args(args), args))


async def _generate(config: BackendConfig, args: argparse.Namespace) -> int:
    try:
        request = models.CompletionRequest(
            model=args.model,
            prompt=args.prompt,
            max_tokens=args.max_tokens,
            temperature=args.temperature,
            stream=True,
        )
    except ValidationError as exc:  # a flag out of range: say which, in one line
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else "prompt"
        flag = "PROMPT" if field == "prompt" else "--" + field.replace("_", "-")
        raise CLIError(f"{flag}: {error['msg']} (got {error['input']!r})", EXIT_USAGE) from None
    wrote = False
    try:
        async with open_backend(config) as backend:
            print(f"[{backend.label}]", file=sys.stderr)
            async for chunk in backend.client.stream_completions(request):
                for choice in chunk.choices:
                    sys.stdout.write(choice.text)
                    wrote = wrote or bool(choice.text)
                sys.stdout.flush()
    except errors.NovelAIError as exc:
        if wrote:  # end the partial text's line, so the error is not glued to it on a terminal
            sys.stdout.write("\n")
            sys.stdout.flush()
        raise CLIError(str(exc)) from None
    sys.stdout.write("\n")
    return EXIT_OK
