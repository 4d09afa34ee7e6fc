"""``nai-script account``: the seed client's account tools.

* ``access-key EMAIL`` / ``access-token EMAIL``: the password is read with ``getpass`` (or from
  stdin when stdin is not a terminal, for scripts and tests); never from the command line.
* ``sanity-check``: decrypt every stored object and list what fails (exit 1 if any does).
  Needs the account's email and password for the encryption key; logs in with them unless
  ``NAI_TOKEN`` is set.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys

from nai_script.account.crypto import derive_encryption_key
from nai_script.account.keystore import KeystoreError
from nai_script.account.remote import fetch_keystore, sanity_check
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
from nai_script.client import errors
from nai_script.client.auth import derive_access_key
from nai_script.config import ENV_TOKEN, BackendConfig


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "account",
        help="account tools: access key, access token, sanity check",
        description="NovelAI account tools (parity with the novelai-api client). Passwords are "
        "prompted for, or read from stdin when it is not a terminal.",
    )
    actions = parser.add_subparsers(dest="account_action", metavar="ACTION", required=True)
    key = actions.add_parser("access-key", help="print the access key derived from EMAIL")
    key.add_argument(
        "email", type=text_argument, help="account email (the password is prompted for or piped)"
    )
    key.set_defaults(func=_access_key)
    token = actions.add_parser("access-token", help="log in and print an access token")
    token.add_argument(
        "email", type=text_argument, help="account email (the password is prompted for or piped)"
    )
    add_backend_flags(token)
    token.set_defaults(func=_access_token)
    check = actions.add_parser(
        "sanity-check",
        help="decrypt every stored object and list those that fail",
        description="Decrypt every stored object and list those that fail (exit 1 if any "
        "does). Logs in with EMAIL and the password unless NAI_TOKEN is set; the password is "
        "needed either way, for the encryption key.",
    )
    check.add_argument("email", type=text_argument, help="account email (for the encryption key)")
    add_backend_flags(check)
    check.set_defaults(func=_sanity_check)


def read_password(prompt: str = "Password: ") -> str:
    """From the terminal without echo, or the first line of stdin when it is piped."""
    if sys.stdin is not None and sys.stdin.isatty():
        password = getpass.getpass(prompt)
    else:
        password = (sys.stdin.readline() if sys.stdin is not None else "").rstrip("\r\n")
    if not password:
        raise CLIError("password: empty (type it at the prompt or pipe it on stdin)", EXIT_USAGE)
    try:
        return text_argument(password)
    except argparse.ArgumentTypeError:
        raise CLIError("password: not valid UTF-8 text", EXIT_USAGE) from None


def _access_key(args: argparse.Namespace) -> int:
    try:
        print(derive_access_key(args.email, read_password()))
    except ValueError as exc:
        raise CLIError(str(exc), EXIT_USAGE) from None
    return EXIT_OK


def _config(args: argparse.Namespace) -> BackendConfig:
    # Both actions log in with the email and password when NAI_TOKEN is not set: asking for
    # a token first made `access-token --backend novelai` (the way to get one) unusable.
    return backend_from_args(
        args,
        openai_refusal="account tools need the sim or novelai backend",
        token_optional=True,
    )


def _access_token(args: argparse.Namespace) -> int:
    config = _config(args)
    password = read_password()
    return run_async(_login_and_print(config, args.email, password))


async def _login_and_print(config: BackendConfig, email: str, password: str) -> int:
    try:
        async with open_backend(config) as backend:
            # stderr, so stdout stays the token alone: a simulator's token must say so.
            print(f"[{backend.label}]", file=sys.stderr)
            token = await backend.client.login_with_credentials(email, password)
    except ValueError as exc:
        raise CLIError(str(exc), EXIT_USAGE) from None
    except errors.NovelAIError as exc:
        raise CLIError(f"login failed: {exc}") from None
    print(token)
    return EXIT_OK


def _sanity_check(args: argparse.Namespace) -> int:
    config = _config(args)
    password = read_password()
    return run_async(
        _check(config, args.email, password, use_env_token=bool(os.environ.get(ENV_TOKEN)))
    )


async def _check(config: BackendConfig, email: str, password: str, *, use_env_token: bool) -> int:
    try:
        key = await asyncio.to_thread(derive_encryption_key, email, password)
        async with open_backend(config) as backend:
            print(f"[{backend.label}]", file=sys.stderr)
            if not use_env_token:
                await backend.client.login_with_credentials(email, password)
            keystore = await fetch_keystore(backend.client, key)
            print(f"keystore: {len(keystore)} key(s)", file=sys.stderr)
            report = await sanity_check(backend.client, keystore)
    except (ValueError, KeystoreError) as exc:
        raise CLIError(str(exc)) from None
    except errors.NovelAIError as exc:
        raise CLIError(str(exc)) from None
    for name in report.opened:
        print(f"ok      {name}")
    for failure in report.failures:
        print(f"FAILED  {failure}")
    print(
        f"{len(report.opened)} object(s) decrypted, {len(report.failures)} failed",
        file=sys.stderr,
    )
    return EXIT_OK if report.ok else 1
