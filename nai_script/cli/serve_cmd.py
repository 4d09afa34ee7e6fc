"""``nai-script serve``: the script host with the web editor, on the simulator by default.

Prints the page's URL (with its per-run token) and serves until interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sqlite3
import sys
import webbrowser
from pathlib import Path
from typing import TYPE_CHECKING

import platformdirs

from nai_script.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    CLIError,
    add_backend_flags,
    backend_from_args,
    check_port,
    damaged_data,
    data_store,
    progress,
)
from nai_script.host.folder import DEFAULT_SCRIPTS_DIR

if TYPE_CHECKING:  # keep `nai-script --help` light
    from nai_script.config import BackendConfig


def default_data_dir() -> Path:
    """Per user, so stories, budgets and storages persist between runs."""
    return Path(platformdirs.user_data_dir("nai-script")) / "serve"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="the script host with the web editor (the simulator by default)",
        description="Load every script in the scripts folder (hot reload on save), open the "
        "story editor in a local web page and print its URL. The URL carries a per-run token; "
        "the page is bound to 127.0.0.1 unless --host says otherwise.",
    )
    parser.add_argument(
        "--scripts",
        type=Path,
        default=None,
        help=f"folder of scripts to load and watch (default ./{DEFAULT_SCRIPTS_DIR}, made "
        "empty if missing)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 = any)")
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help=f"data folder: stories, budgets, storage (default {default_data_dir()})",
    )
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")
    add_backend_flags(parser)
    parser.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    args.scripts = _scripts_folder(args.scripts)
    check_port(args.port)
    config = backend_from_args(args)
    args.data = data_store(args.data or default_data_dir())
    try:
        return asyncio.run(_run(config, args))
    except KeyboardInterrupt:
        return EXIT_OK


def _scripts_folder(given: Path | None) -> Path:
    """The folder to serve. A given one must exist (a typo must not serve an empty folder);
    the default is made when missing, so ``serve`` works anywhere with no setup."""
    folder = given or DEFAULT_SCRIPTS_DIR
    if given is None and not folder.exists():
        try:
            folder.mkdir()
        except OSError as error:
            raise CLIError(f"cannot make ./{folder}: {error.strerror}", EXIT_USAGE) from None
        print(
            f"nai-script: made ./{folder} (empty): a script saved there loads at once",
            file=sys.stderr,
        )
    if not folder.is_dir():
        raise CLIError(f"--scripts {str(folder)!r} is not a folder", EXIT_USAGE)
    return folder


async def _run(config: BackendConfig, args: argparse.Namespace) -> int:
    # Handlers first: a signal right after the URL is printed must stop the server cleanly too.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):  # a service manager stops with SIGTERM
        loop.add_signal_handler(signum, stop.set)
    try:
        await _serve_until(stop, config, args)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    print("nai-script: stopped", file=sys.stderr, flush=True)
    return EXIT_OK


async def _serve_until(
    stop: asyncio.Event, config: BackendConfig, args: argparse.Namespace
) -> None:
    from nai_script.backend import fetch_tokenizers, open_backend
    from nai_script.client import errors as client_errors
    from nai_script.config import BackendKind
    from nai_script.tokenizers import Tier
    from nai_script.web.compose import EditorServer, ServeOptions

    async with open_backend(config, discover_models=True) as backend:
        tier = int(Tier.OPUS)
        if config.kind is BackendKind.NOVELAI:
            try:
                tier = int((await backend.client.subscription()).tier)
            except client_errors.NovelAIError as exc:
                raise CLIError(f"cannot read the subscription tier: {exc}") from None
        await fetch_tokenizers(backend, progress)
        options = ServeOptions(
            scripts_dir=args.scripts,
            data_dir=args.data,
            host=args.host,
            port=args.port,
            tier=tier,
            on_listening=lambda url: _announce(
                url, backend.label, open_browser=not args.no_browser
            ),
        )
        try:
            server = EditorServer(backend, options)
            await server.__aenter__()
        except OSError as exc:
            raise CLIError(f"cannot serve on {args.host}:{args.port}: {exc}") from None
        except sqlite3.DatabaseError as exc:
            raise damaged_data(args.data, exc) from None
        try:
            await stop.wait()
        finally:
            await server.__aexit__(None, None, None)


def _announce(url: str, label: str, *, open_browser: bool) -> None:
    print(f"nai-script: backend {label}", file=sys.stderr)
    print(f"nai-script: editor at {url}", flush=True)
    if open_browser:
        webbrowser.open(url)
