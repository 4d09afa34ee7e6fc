"""``nai-script image``: generate images (V4 characters on the 5x5 grid) and write PNG files.

``--dry-run`` prints the exact request JSON and sends nothing. With the default backend the
in-process simulator answers (labelled as such on stderr).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import random
import re
import sys
import time
from pathlib import Path

from nai_script.backend import open_backend
from nai_script.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    CLIError,
    add_backend_flags,
    backend_from_args,
    data_folder,
    run_async,
    text_argument,
)
from nai_script.client import NovelAIClient, errors
from nai_script.client.image import DEFAULT_IMAGE_MODEL, build_image_request, generate_image
from nai_script.client.image_models import (
    MAX_SEED,
    ImageGenerationRequest,
    ImageModelName,
    ImageRequestError,
    Sampler,
)
from nai_script.client.image_stream import ImageStreamEvent, stream_body, stream_image
from nai_script.client.image_zip import ImageArchiveError
from nai_script.config import BackendConfig


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "image",
        help="generate images and write them as PNG files",
        description="Generate images with NovelAI's image models. Characters (V4 models) are "
        "'description', 'description@C3' (grid cell A1..E5: letter = column, digit = row) or "
        "'description@C3|negative'; characters without a cell are placed A1, E5, C3, E1, A5.",
    )
    parser.add_argument("--prompt", required=True, type=text_argument, help="the base prompt")
    parser.add_argument(
        "--negative",
        default="",
        type=text_argument,
        help="the undesired content (negative prompt)",
    )
    parser.add_argument(
        "--character",
        action="append",
        type=text_argument,
        default=[],
        metavar="DESC[@CELL][|NEG]",
        help="a character (V4 models; repeatable)",
    )
    parser.add_argument(
        "--model",
        default=DEFAULT_IMAGE_MODEL.value,
        choices=[m.value for m in ImageModelName],
        help=f"image model (default {DEFAULT_IMAGE_MODEL.value})",
    )
    parser.add_argument(
        "--sampler",
        default=Sampler.K_EULER_ANCESTRAL.value,
        choices=[s.value for s in Sampler],
        help="sampler (default k_euler_ancestral)",
    )
    parser.add_argument(
        "--size", default="832x1216", help="WIDTHxHEIGHT, multiples of 64 (default 832x1216)"
    )
    parser.add_argument("--steps", type=int, default=28, help="sampling steps 1..50 (default 28)")
    parser.add_argument(
        "--scale", type=float, default=5.0, help="prompt guidance 0..10 (default 5)"
    )
    parser.add_argument("--seed", type=int, default=None, help="seed (default: random)")
    parser.add_argument(
        "--samples", type=int, default=1, help="images to generate 1..4 (default 1)"
    )
    parser.add_argument("--out", default=".", help="directory for the PNG files (default .)")
    parser.add_argument(
        "--dry-run", action="store_true", help="print the request JSON and send nothing"
    )
    parser.add_argument(
        "--stream",
        action="store_true",
        help="use /ai/generate-image-stream and show each sample's step progress on stderr",
    )
    add_backend_flags(parser)
    parser.set_defaults(func=_run)


def _parse_size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not match:
        raise CLIError(f"--size: {text!r} is not WIDTHxHEIGHT (e.g. 832x1216)", EXIT_USAGE)
    return int(match.group(1)), int(match.group(2))


def _build(args: argparse.Namespace) -> ImageGenerationRequest:
    width, height = _parse_size(args.size)
    seed = args.seed if args.seed is not None else random.randint(1, MAX_SEED - 4)
    try:
        return build_image_request(
            args.prompt,
            negative=args.negative,
            characters=args.character,
            model=args.model,
            sampler=args.sampler,
            width=width,
            height=height,
            steps=args.steps,
            scale=args.scale,
            seed=seed,
            n_samples=args.samples,
        )
    except ImageRequestError as exc:
        problems = "; ".join(_flag_named(problem) for problem in exc.problems)
        raise CLIError(f"invalid image request: {problems}", EXIT_USAGE) from None


# The request fields the flags set: a refusal names the flag the user typed, not the wire field
# (``--samples 5`` was refused as "parameters.n_samples").
_FLAG_OF_FIELD: dict[str, str] = {
    "parameters.width": "--size (width)",
    "parameters.height": "--size (height)",
    "parameters.n_samples": "--samples",
    "parameters.steps": "--steps",
    "parameters.scale": "--scale",
    "parameters.seed": "--seed",
    "parameters.sampler": "--sampler",
    "model": "--model",
    "characters": "--character",
    "character": "--character",
}


def _flag_named(problem: str) -> str:
    field, sep, rest = problem.partition(":")
    head, space, detail = field.partition(" ")  # "character 'x@F1'" names the value given
    flag = _FLAG_OF_FIELD.get(field) or _FLAG_OF_FIELD.get(head)
    if not sep or flag is None:
        return problem
    return f"{flag}{space}{detail}:{rest}"


def _run(args: argparse.Namespace) -> int:
    request = _build(args)
    if args.dry_run:
        body = _stream_body(request) if args.stream else request.wire()
        print(json.dumps(body, indent=2, ensure_ascii=False))
        return EXIT_OK
    config = backend_from_args(
        args, openai_refusal="image generation needs the sim or novelai backend"
    )
    # Checked before generating: a folder found unwritable afterwards loses paid-for images.
    out = data_folder(Path(args.out), "--out")
    started = time.monotonic()
    images: list[bytes] = []
    run_async(_generate(config, request, images, stream=args.stream))
    for index, image in enumerate(images):
        try:
            path = _write_new(out, f"{request.parameters.seed}_{index}", image)
        except OSError as exc:
            raise CLIError(
                f"--out {str(out)!r}: cannot write {str(exc.filename)!r} "
                f"({exc.strerror or exc}); "
                f"{len(images) - index} generated image(s) were not saved"
            ) from None
        print(f"[{index + 1}/{len(images)}] wrote {path}", file=sys.stderr, flush=True)
    print(f"done in {time.monotonic() - started:.1f}s", file=sys.stderr)
    return EXIT_OK


def _write_new(folder: Path, stem: str, data: bytes) -> Path:
    """``stem.png``, or ``stem-2.png``, ``-3``... if taken: a run with the same seed (another
    prompt, say) must not overwrite the pictures of an earlier one. Any other failure is an
    ``OSError`` whose ``filename`` is the file (a partly written one is removed)."""
    for attempt in itertools.count(1):
        path = folder / (f"{stem}.png" if attempt == 1 else f"{stem}-{attempt}.png")
        try:
            handle = path.open("xb")
        except FileExistsError:
            continue
        try:
            with handle:
                handle.write(data)
        except OSError as exc:  # a full disk, say: leave no truncated picture behind
            with contextlib.suppress(OSError):
                path.unlink()
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        return path
    raise AssertionError("unreachable")


def _stream_body(request: ImageGenerationRequest) -> dict[str, object]:
    try:
        return stream_body(request)
    except ImageRequestError as exc:
        raise CLIError(str(exc), EXIT_USAGE) from None


def _show_progress(event: ImageStreamEvent, samples: int, steps: int) -> None:
    what = "done" if event.is_final else f"step {event.step_ix + 1}/{steps}"
    print(f"  sample {event.samp_ix + 1}/{samples}: {what}", file=sys.stderr, flush=True)


async def _collect_stream(client: NovelAIClient, request: ImageGenerationRequest) -> list[bytes]:
    params = request.parameters
    finals: dict[int, bytes] = {}
    async for event in stream_image(client, request):
        _show_progress(event, params.n_samples, params.steps)
        if event.is_final:
            finals[event.samp_ix] = event.image
    return [finals[ix] for ix in sorted(finals)]


async def _generate(
    config: BackendConfig,
    request: ImageGenerationRequest,
    images: list[bytes],
    *,
    stream: bool = False,
) -> int:
    """Generate into ``images`` (files are written by the caller, off the event loop)."""
    params = request.parameters
    try:
        async with open_backend(config) as backend:
            print(
                f"[{backend.label}] generating {params.n_samples} image(s) "
                f"{params.width}x{params.height} with {request.model.value}...",
                file=sys.stderr,
                flush=True,
            )
            if stream:
                images.extend(await _collect_stream(backend.client, request))
            else:
                images.extend(await generate_image(backend.client, request))
    except (errors.NovelAIError, ImageArchiveError, ImageRequestError) as exc:
        raise CLIError(str(exc)) from None
    return EXIT_OK
