"""Backend resolution precedence (flags > env > defaults) and its one-line errors."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nai_script.account.demo import DEMO_EMAIL, DEMO_PASSWORD
from nai_script.config import BackendKind, ConfigError, resolve_backend
from nai_script.sim import SimServer, SimSettings


def test_defaults_to_the_simulator_with_no_configuration() -> None:
    config = resolve_backend(env={})
    assert config.kind is BackendKind.SIM
    assert config.base_url is None
    assert config.token is None


def test_environment_is_used_when_no_flag_is_given() -> None:
    env = {"NAI_SCRIPT_BACKEND": "novelai", "NAI_TOKEN": "pst-abc"}
    config = resolve_backend(env=env)
    assert config.kind is BackendKind.NOVELAI
    assert config.token == "pst-abc"


def test_flags_win_over_environment() -> None:
    env = {"NAI_SCRIPT_BACKEND": "novelai", "NAI_SCRIPT_BASE_URL": "http://env:1"}
    config = resolve_backend(backend="openai", base_url="http://flag:2/", env=env)
    assert config.kind is BackendKind.OPENAI
    assert config.base_url == "http://flag:2"


def test_unknown_backend_names_the_source_and_allowed_values() -> None:
    with pytest.raises(ConfigError, match=r"NAI_SCRIPT_BACKEND: unknown backend 'bogus'.*sim"):
        resolve_backend(env={"NAI_SCRIPT_BACKEND": "bogus"})
    with pytest.raises(ConfigError, match=r"--backend: unknown backend"):
        resolve_backend(backend="nope", env={})


def test_openai_needs_a_base_url() -> None:
    with pytest.raises(ConfigError, match="--base-url"):
        resolve_backend(backend="openai", env={})


def test_novelai_needs_a_token_and_never_shows_it() -> None:
    with pytest.raises(ConfigError, match="NAI_TOKEN"):
        resolve_backend(backend="novelai", env={})
    config = resolve_backend(backend="novelai", env={"NAI_TOKEN": "pst-secret"})
    assert "pst-secret" not in repr(config)


def test_base_url_must_be_http() -> None:
    with pytest.raises(ConfigError, match="not an http"):
        resolve_backend(backend="openai", base_url="ftp://x", env={})


@pytest.mark.parametrize("url", ["http://", "https://", "http:///v1", "https://:8080"])
def test_base_url_without_a_host_is_one_clear_error(url: str) -> None:
    """It passed the scheme check, then failed deep in the client's settings with nine lines
    of pydantic output."""
    with pytest.raises(ConfigError, match=r"--base-url: .* with a host"):
        resolve_backend(backend="openai", base_url=url, env={})
    with pytest.raises(ConfigError, match=r"NAI_SCRIPT_BASE_URL: .* with a host"):
        resolve_backend(env={"NAI_SCRIPT_BASE_URL": url})


def test_base_url_without_a_host_from_the_cli_is_one_line_exit_2() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "nai_script", "generate", "hi", "--base-url", "http://"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "--base-url" in done.stderr


def test_the_openai_backend_never_sends_the_novelai_token() -> None:
    """NAI_TOKEN is a NovelAI secret; an OpenAI-compatible server is someone else's. It was
    sent there as the bearer token."""
    env = {"NAI_TOKEN": "pst-secret", "NAI_SCRIPT_BASE_URL": "http://llm:8080"}
    assert resolve_backend(backend="openai", env=env).token is None
    keyed = resolve_backend(backend="openai", env={**env, "OPENAI_API_KEY": "sk-local"})
    assert keyed.token == "sk-local"
    assert resolve_backend(backend="novelai", env={**env, "OPENAI_API_KEY": "sk"}).token == (
        "pst-secret"
    )


@pytest.mark.parametrize(
    ("flag", "env_backend", "env_url"),
    [
        ("novelai", "openai", "http://llm.local:8080/v1"),  # NAI_TOKEN must not go there
        ("sim", "novelai", "https://text.novelai.net"),  # 'offline' must not reach NovelAI
        ("openai", "novelai", "https://text.novelai.net"),
    ],
)
def test_an_env_base_url_stays_with_the_env_backend(
    flag: str, env_backend: str, env_url: str
) -> None:
    env = {
        "NAI_SCRIPT_BACKEND": env_backend,
        "NAI_SCRIPT_BASE_URL": env_url,
        "NAI_TOKEN": "pst-secret",
    }
    if flag == "openai":
        with pytest.raises(ConfigError, match="NAI_SCRIPT_BASE_URL is for NAI_SCRIPT_BACKEND"):
            resolve_backend(backend=flag, env=env)
        return
    config = resolve_backend(backend=flag, env=env)
    assert config.kind.value == flag
    assert config.base_url is None  # NovelAI's own hosts, or the in-process simulator
    # Same backend by flag and env, or no env backend at all: the env URL applies.
    assert resolve_backend(backend=env_backend, env=env).base_url == env_url.removesuffix("/v1")
    del env["NAI_SCRIPT_BACKEND"]
    assert resolve_backend(backend=flag, env=env).base_url == env_url


def _cli(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("NAI_", "OPENAI_"))}
    return subprocess.run(
        [sys.executable, "-m", "nai_script", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**clean, **env},
        timeout=60,
    )


async def test_a_novelai_base_url_serves_images_and_the_account_too(tmp_path: Path) -> None:
    """With --backend novelai, --base-url replaced only the text host: `image` and `account`
    went past the named server to image.novelai.net / api.novelai.net."""
    async with SimServer(SimSettings()) as sim:
        by_flag = ("--backend", "novelai", "--base-url", sim.base_url)
        image = await asyncio.to_thread(
            _cli, "image", "--prompt", "p", "--seed", "9", "--size", "64x64",
            "--out", str(tmp_path / "flag"), *by_flag, env={"NAI_TOKEN": "pst-test"},
        )  # fmt: skip
        assert image.returncode == 0, image.stderr
        assert f"[NovelAI API at {sim.base_url}]" in image.stderr
        assert (tmp_path / "flag" / "9_0.png").is_file()
        by_env = {"NAI_SCRIPT_BACKEND": "novelai", "NAI_SCRIPT_BASE_URL": sim.base_url}
        image = await asyncio.to_thread(
            _cli, "image", "--prompt", "p", "--seed", "9", "--size", "64x64",
            "--out", str(tmp_path / "env"), env={**by_env, "NAI_TOKEN": "pst-test"},
        )  # fmt: skip
        assert image.returncode == 0, image.stderr
        assert (tmp_path / "env" / "9_0.png").is_file()
        login = await asyncio.to_thread(
            _cli, "account", "access-token", DEMO_EMAIL, *by_flag, env={},
            stdin=DEMO_PASSWORD + "\n",
        )  # fmt: skip
        assert login.returncode == 0, login.stderr
        assert login.stdout.strip()


def test_logging_in_for_a_token_does_not_need_a_token() -> None:
    """`account access-token --backend novelai` is how one gets a token, and it refused to
    start without NAI_TOKEN; every other novelai command still asks for it."""
    assert resolve_backend(backend="novelai", env={}, token_optional=True).token is None
    with pytest.raises(ConfigError, match="NAI_TOKEN"):
        resolve_backend(backend="novelai", env={})
