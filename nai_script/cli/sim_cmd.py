"""``nai-script sim``: the embedded NovelAI-compatible simulator on its own, for any client."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from pydantic import ValidationError

from nai_script.cli.common import EXIT_OK, EXIT_USAGE, CLIError, check_port, run_async
from nai_script.sim import FaultSpec, FaultSpecError, SimServer, SimSettings
from nai_script.sim.faults import __doc__ as FAULTS_DOC

DEFAULT_PORT = 8766
BANNER = "SIMULATOR: nai-script's NovelAI-compatible simulator (simulated text, not NovelAI)"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "sim",
        help="run the NovelAI-compatible simulator on its own",
        description="Serve NovelAI's text, account (and image) paths with simulated, "
        "deterministic answers, for any NovelAI or OpenAI-compatible client. Any 'pst-' "
        "token is accepted. Stop with Ctrl-C.",
        epilog=_faults_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="port (default %(default)s; 0 = any free)"
    )
    parser.add_argument("--faults", default="", metavar="SPEC", help="faults to inject, see below")
    parser.add_argument(
        "--read-faults",
        default="",
        metavar="SPEC",
        help="faults for idempotent reads (models, token count, login, account), see below",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed for text and faults (default %(default)s)"
    )
    parser.add_argument(
        "--tokens-per-second",
        type=float,
        default=0.0,
        help="stream pace; 0 = unlimited (default %(default)s)",
    )
    parser.add_argument(
        "--latency-ms", type=float, default=0.0, help="delay to first token (default %(default)s)"
    )
    parser.add_argument(
        "--tier", type=int, default=3, help="subscription tier, 0..3 (default %(default)s = Opus)"
    )
    parser.set_defaults(func=run)


def _faults_help() -> str:
    doc = FAULTS_DOC or ""
    start = doc.find("Spec syntax")
    return "fault injection:\n" + (doc[start:] if start >= 0 else doc)


def settings_from_args(args: argparse.Namespace) -> SimSettings:
    """The simulator settings the flags ask for; bad values are one-line usage errors."""
    try:
        faults = FaultSpec.parse(args.faults)
    except FaultSpecError as exc:
        raise CLIError(f"--faults: {exc}", EXIT_USAGE) from None
    try:
        read_faults = FaultSpec.parse(args.read_faults)
    except FaultSpecError as exc:
        raise CLIError(f"--read-faults: {exc}", EXIT_USAGE) from None
    try:
        return SimSettings(
            seed=args.seed,
            latency_ms=args.latency_ms,
            tokens_per_second=args.tokens_per_second,
            faults=faults,
            read_faults=read_faults,
            tier=args.tier,
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        flag = "--" + str(error["loc"][0]).replace("_", "-")
        raise CLIError(f"{flag}: {error['msg']}", EXIT_USAGE) from None


def run(args: argparse.Namespace) -> int:
    check_port(args.port)
    settings = settings_from_args(args)
    return run_async(serve_until_stopped(settings, args.host, args.port))


async def serve_until_stopped(settings: SimSettings, host: str, port: int) -> int:
    """Serve until SIGINT or SIGTERM, then close the socket and exit 0."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with SimServer(settings, host=host, port=port) as sim:
            print(BANNER, flush=True)
            print(f"SIMULATOR listening on {sim.base_url}", flush=True)
            print(
                f"  seed={settings.seed} faults={settings.faults} "
                f"read-faults={settings.read_faults} tier={settings.tier}",
                flush=True,
            )
            await stop.wait()
    except OSError as exc:
        raise CLIError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    print("SIMULATOR stopped", file=sys.stderr, flush=True)
    return EXIT_OK
