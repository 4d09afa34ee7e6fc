"""``nai-script tokenize`` and ``nai-script decode``: text <-> token ids for a model.

    nai-script tokenize "Hello<|endoftext|>" --model glm-4-6 [--count | --b64]
    nai-script decode 1,2,3 --model glm-4-6        # or "1 2 3"
    nai-script decode kayra-v1 <BASE64>             # the seed CLI's form (little-endian ids)

With the simulator backend (the default) the simulator's tokenizer stands in for every model;
with ``--backend novelai`` the model's real tokenizer is used (downloaded once and cached).
The retired models the simulator also serves (``RETIRED``) have no real tokenizer here.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys

from nai_script.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    CLIError,
    add_backend_flags,
    backend_kind_from_args,
    progress,
    text_argument,
)
from nai_script.client.codec import pack_token_ids, token_width, unpack_token_ids
from nai_script.tokenizers import (
    MODELS,
    Tokenizer,
    TokenizerError,
    TokenizerRegistry,
    UnknownModelError,
    model_info,
    sim_tokenizer,
)

_ID_SEPARATORS = re.compile(r"[\s,]+")

#: Retired NovelAI models the simulator serves (``nai_script.sim.catalog``) that the model
#: table (``MODELS``: limits, tiers, templates) leaves out -> the tokenizer NovelAI uses for
#: each (krake-v2 the Pile's, from GPT-NeoX-20B; the older ones GPT-2's; NovelAI's files
#: ``pile_tokenizer.def`` and ``gpt2_tokenizer.def``). nai-script bundles neither and does not
#: download them, so only the simulator's tokenizer is offered for them: the one the simulator
#: itself uses for every model it serves.
RETIRED: dict[str, str] = {
    "krake-v2": "the Pile (GPT-NeoX-20B) tokenizer",
    "euterpe-v2": "the GPT-2 tokenizer",
    "6B-v4": "the GPT-2 tokenizer",
    "2.7B": "the GPT-2 tokenizer",
}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    models = f"{', '.join(MODELS)}; with --backend sim or openai also {', '.join(RETIRED)}"
    tokenize = subparsers.add_parser(
        "tokenize",
        help="print the token ids of TEXT for a model",
        description="Encode TEXT (or stdin when TEXT is '-') with MODEL's tokenizer and print "
        "the ids, comma-separated. Special tokens such as <|endoftext|> become single ids.",
    )
    tokenize.add_argument(
        "text", metavar="TEXT", type=text_argument, help="the text, or - to read stdin"
    )
    tokenize.add_argument("--model", required=True, help=f"model id ({models})")
    output = tokenize.add_mutually_exclusive_group()
    output.add_argument("--count", action="store_true", help="print only the number of tokens")
    output.add_argument(
        "--b64", action="store_true", help="print the ids as /ai/generate base64 (wire width)"
    )
    add_backend_flags(tokenize)
    tokenize.set_defaults(func=_run_tokenize)

    decode = subparsers.add_parser(
        "decode",
        help="print the text of token ids for a model",
        description="Decode IDS ('1,2,3' or '1 2 3') with --model M, or the seed CLI's form "
        "'decode MODEL BASE64' (little-endian uint16, uint32 for llama-3-erato-v1).",
    )
    decode.add_argument("values", nargs="+", metavar="IDS | MODEL BASE64")
    decode.add_argument("--model", default=None, help=f"model id ({models})")
    add_backend_flags(decode)
    decode.set_defaults(func=_run_decode)


def _run_tokenize(args: argparse.Namespace) -> int:
    text = _read_stdin() if args.text == "-" else args.text
    tokenizer = _tokenizer_for(args, args.model)
    try:
        ids = tokenizer.encode(text)
    except TokenizerError as exc:
        raise CLIError(str(exc)) from None
    if args.count:
        print(len(ids))
    elif args.b64:
        print(pack_token_ids(ids, token_width(args.model)))
    else:
        print(",".join(map(str, ids)))
    return EXIT_OK


def _read_stdin() -> str:
    """stdin as UTF-8 text; other bytes are a usage error, not a tokenizer's TypeError."""
    try:
        return text_argument(sys.stdin.read())
    except (UnicodeDecodeError, argparse.ArgumentTypeError):
        raise CLIError("TEXT: stdin is not valid UTF-8 text", EXIT_USAGE) from None


def _run_decode(args: argparse.Namespace) -> int:
    values: list[str] = args.values
    if len(values) == 2 and args.model is None:
        model, encoded = values
        _check_model(model)
        try:
            ids = unpack_token_ids(encoded, token_width(model))
        except ValueError as exc:
            raise CLIError(f"BASE64: {exc}", EXIT_USAGE) from None
    elif args.model is not None:
        model = args.model
        ids = parse_ids(" ".join(values))
    else:
        raise CLIError(
            "decode needs IDS with --model M, or MODEL BASE64 (e.g. decode kayra-v1 AQACAA==)",
            EXIT_USAGE,
        )
    tokenizer = _tokenizer_for(args, model)
    try:
        sys.stdout.write(tokenizer.decode(ids) + "\n")
    except TokenizerError as exc:
        raise CLIError(f"IDS: {exc}", EXIT_USAGE) from None
    return EXIT_OK


def parse_ids(text: str) -> list[int]:
    """``"1,2,3"``, ``"1 2 3"`` or a mix -> ints; a bad entry is named with its position."""
    parts = [part for part in _ID_SEPARATORS.split(text.strip().strip("[]")) if part]
    if not parts:
        raise CLIError("IDS: no token ids given (expected e.g. 1,2,3)", EXIT_USAGE)
    ids: list[int] = []
    for position, part in enumerate(parts):
        if not (part.isascii() and part.isdigit()):  # "²" is a digit, not an int
            raise CLIError(
                f"IDS: entry {position} ({part!r}) is not a non-negative integer", EXIT_USAGE
            )
        ids.append(int(part))
    return ids


def _check_model(model: str) -> None:
    if model in RETIRED:
        return
    try:
        model_info(model)
    except UnknownModelError:
        known = ", ".join([*MODELS, *RETIRED])
        raise CLIError(
            f"--model: unknown model {model!r} (known models: {known})", EXIT_USAGE
        ) from None


def _tokenizer_for(args: argparse.Namespace, model: str) -> Tokenizer:
    _check_model(model)
    # Tokenizing never calls the backend (NovelAI's tokenizer files are public), so only the
    # kind matters: no NAI_TOKEN or --base-url is asked for.
    kind = backend_kind_from_args(args)
    if model in RETIRED:
        if kind.value == "novelai":
            raise CLIError(
                f"--model {model}: no tokenizer for this model is bundled; NovelAI tokenizes "
                f"it with {RETIRED[model]}, which nai-script neither ships nor downloads "
                "(--backend sim or openai use the simulator's tokenizer for it)",
                EXIT_USAGE,
            )
        return sim_tokenizer()  # what the simulator uses for it; an estimate for openai
    registry = TokenizerRegistry(kind.value, progress=progress)
    try:
        if kind.value == "sim":
            return registry.get(model)
        # A real backend may need NovelAI's definition downloaded once (then cached).
        return asyncio.run(registry.ensure(model))
    except TokenizerError as exc:
        raise CLIError(str(exc)) from None
