"""Account tools end to end: the client against the simulator, and the CLI as a subprocess."""

from __future__ import annotations

import asyncio
import base64
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from nai_script.account.crypto import derive_encryption_key
from nai_script.account.demo import DEMO_EMAIL, DEMO_PASSWORD
from nai_script.account.keystore import KeystoreError
from nai_script.account.remote import download_stories, fetch_keystore, fetch_objects, sanity_check
from nai_script.client import ClientSettings, NovelAIClient
from nai_script.client.auth import derive_access_key
from nai_script.client.errors import AuthenticationError, BadRequestError
from nai_script.sim import SimServer, SimSettings
from nai_script.sim.account_routes import DEMO_ACCOUNT_KEY

TOKEN = "pst-account-tests"


@pytest.fixture
async def sim_app() -> AsyncIterator[tuple[web.Application, str]]:
    async with SimServer(SimSettings()) as sim:
        assert sim.app is not None
        yield sim.app, sim.base_url


def _client(url: str, token: str | None = TOKEN) -> NovelAIClient:
    return NovelAIClient(ClientSettings.for_base_url(url, token=token))


async def test_download_and_link_stories(sim_app: tuple[web.Application, str]) -> None:
    _, url = sim_app
    key = derive_encryption_key(DEMO_EMAIL, DEMO_PASSWORD)
    async with _client(url) as client:
        keystore = await fetch_keystore(client, key)
        stories = await download_stories(client, keystore)
        report = await sanity_check(client, keystore)
    assert [s.title for s in stories] == ["The Lighthouse Keeper", "Clockwork Garden"]
    assert stories[0].content is not None
    assert stories[0].content.data["document"] == "The lamp turned."
    assert stories[1].content is not None
    assert stories[1].content.compressed
    assert report.ok
    assert len(report.opened) == 6


async def test_wrong_password_and_auth(sim_app: tuple[web.Application, str]) -> None:
    _, url = sim_app
    async with _client(url) as client:
        with pytest.raises(KeystoreError, match="email/password"):
            await fetch_keystore(client, derive_encryption_key(DEMO_EMAIL, "wrong"))
        with pytest.raises(BadRequestError, match="unknown object type"):
            await fetch_objects(client, "bogus")
    async with _client(url, token=None) as client:
        with pytest.raises(AuthenticationError):
            await fetch_objects(client, "stories")


async def test_sanity_check_lists_failures(sim_app: tuple[web.Application, str]) -> None:
    app, url = sim_app
    account = app[DEMO_ACCOUNT_KEY]
    story = account.objects["stories"][0]
    raw = bytearray(base64.b64decode(story.data))
    raw[-1] ^= 1
    account.objects["stories"][0] = story.model_copy(
        update={"data": base64.b64encode(bytes(raw)).decode()}
    )
    key = derive_encryption_key(DEMO_EMAIL, DEMO_PASSWORD)
    async with _client(url) as client:
        report = await sanity_check(client, await fetch_keystore(client, key))
    assert not report.ok
    assert report.failures == [
        "stories story-1: decryption failed: wrong key, or the data was tampered with or truncated"
    ]
    assert len(report.opened) == 5


async def _cli(
    *args: str, stdin: str, env_extra: dict[str, str] | None = None
) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NAI_TOKEN", "NAI_SCRIPT_"))}
    env.update(env_extra or {})
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "nai_script",
        "account",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_cli_access_key_from_stdin() -> None:
    code, out, err = await _cli("access-key", "someone@example.com", stdin="s3cret\n")
    assert code == 0, err
    assert out.strip() == derive_access_key("someone@example.com", "s3cret")
    assert "s3cret" not in out + err
    code, _, err = await _cli("access-key", "someone@example.com", stdin="")
    assert code == 2
    assert "password: empty" in err


async def test_cli_access_token_default_sim() -> None:
    code, out, err = await _cli("access-token", DEMO_EMAIL, stdin=DEMO_PASSWORD + "\n")
    assert code == 0, err
    assert out.strip()
    assert DEMO_PASSWORD not in out + err


async def test_cli_sanity_check_ok_default_sim() -> None:
    code, out, err = await _cli("sanity-check", DEMO_EMAIL, stdin=DEMO_PASSWORD + "\n")
    assert code == 0, err
    assert "ok      stories story-1" in out
    assert "6 object(s) decrypted, 0 failed" in err


async def test_cli_sanity_check_failure_exit_1(sim_app: tuple[web.Application, str]) -> None:
    app, url = sim_app
    account = app[DEMO_ACCOUNT_KEY]
    shelf = account.objects["shelf"][0]
    account.objects["shelf"][0] = shelf.model_copy(update={"meta": "missing-meta"})
    code, out, err = await _cli(
        "sanity-check",
        DEMO_EMAIL,
        "--backend",
        "sim",
        "--base-url",
        url,
        stdin=DEMO_PASSWORD + "\n",
        env_extra={"NAI_TOKEN": "pst-from-env"},
    )
    assert code == 1, err
    assert "FAILED  shelf shelf-1: meta 'missing-meta': no key for it in the keystore" in out
    assert "5 object(s) decrypted, 1 failed" in err


async def test_cli_sanity_check_wrong_password(tmp_path: Path) -> None:
    code, _, err = await _cli("sanity-check", DEMO_EMAIL, stdin="nope\n")
    assert code == 1
    assert "email/password" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("action", ["access-token", "sanity-check"])
async def test_cli_refuses_an_openai_backend_before_asking_for_a_password(action: str) -> None:
    backend = ("--backend", "openai", "--base-url", "http://127.0.0.1:9")
    code, out, err = await _cli(action, DEMO_EMAIL, *backend, stdin=DEMO_PASSWORD + "\n")
    assert code == 2
    assert out == ""
    assert err.strip() == "nai-script: error: account tools need the sim or novelai backend"
