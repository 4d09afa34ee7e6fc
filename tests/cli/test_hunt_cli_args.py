"""Flag values the CLI refused badly (a multi-line pydantic dump, a tokenizer's TypeError, a
simulator 500, a port blamed for a bad ``--data``): each is now one usage line, exit 2."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nai_script.cli.main import main
from nai_script.config import ConfigError, resolve_backend
from nai_script.sim import SimServer, SimSettings


def _cli(
    *args: str | bytes | Path, stdin: bytes = b"", cwd: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAI_")}
    return subprocess.run(
        [sys.executable, "-m", "nai_script", *args],
        input=stdin,
        capture_output=True,
        env=env,
        cwd=cwd,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--temperature", "-5"], "--temperature: Input should be greater than or equal to 0"),
        (["--temperature", "nan"], "--temperature: Input should be greater than or equal to 0"),
        (["--model", ""], "--model: String should have at least 1 character"),
    ],
)
def test_generate_out_of_range_flag_is_one_usage_line(flags: list[str], message: str) -> None:
    done = _cli("generate", "hi", *flags)
    assert (done.returncode, done.stdout) == (2, b"")
    lines = done.stderr.decode().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"nai-script: error: {message} (got ")


@pytest.mark.parametrize(
    "argv",
    [
        ["generate", b"\xff", "--max-tokens", "3"],
        ["tokenize", b"caf\xe9", "--model", "glm-4-6"],
        ["image", "--prompt", b"\xff", "--dry-run"],
        ["image", "--prompt", "x", "--character", b"a\xff@C3", "--dry-run"],
        ["account", "access-key", b"a\xff@b.c"],
    ],
)
def test_text_that_is_not_utf8_is_refused_before_sending(argv: list[str | bytes]) -> None:
    """Such bytes arrive as lone surrogates: the tokenizer raised TypeError, the simulator
    answered 500 with a traceback on stderr, the image request went out with garbage."""
    done = _cli(*argv)
    assert (done.returncode, done.stdout) == (2, b"")
    assert done.stderr.decode().endswith(": not valid UTF-8 text\n")
    assert b"Traceback" not in done.stderr


def test_tokenize_stdin_that_is_not_utf8_is_one_usage_line() -> None:
    done = _cli("tokenize", "-", "--model", "glm-4-6", stdin=b"\xff\xfe")
    assert (done.returncode, done.stdout) == (2, b"")
    assert done.stderr == b"nai-script: error: TEXT: stdin is not valid UTF-8 text\n"


def test_tokenize_stdin_utf8_still_works() -> None:
    done = _cli("tokenize", "-", "--model", "glm-4-6", "--count", stdin="h\u00e9".encode())
    assert done.returncode == 0
    assert int(done.stdout) > 0


def test_serve_data_that_is_a_file_is_not_blamed_on_the_port(tmp_path: Path) -> None:
    """It said 'cannot serve on 127.0.0.1:0: [Errno 17] File exists' (exit 1)."""
    data = tmp_path / "data"
    data.write_text("not a folder")
    done = _cli(
        "serve", "--scripts", tmp_path, "--data", data, "--port", "0", "--no-browser", cwd=tmp_path
    )
    assert (done.returncode, done.stdout) == (2, b"")
    assert done.stderr.decode() == (
        f"nai-script: error: --data '{data}': cannot use it as a folder: "
        "it is a file, not a folder\n"
    )


def test_a_bad_base_url_from_the_environment_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"^NAI_SCRIPT_BASE_URL: 'ftp://x' is not"):
        resolve_backend(env={"NAI_SCRIPT_BASE_URL": "ftp://x"})
    with pytest.raises(ConfigError, match=r"^--base-url: 'ftp://y' is not"):
        resolve_backend(base_url="ftp://y", env={"NAI_SCRIPT_BASE_URL": "ftp://x"})


@pytest.mark.parametrize(
    ("command", "shown"),
    [
        ("run", "--data DATA data folder: budgets, storage (default"),
        ("serve", "--data DATA data folder: stories, budgets, storage (default"),
        ("sim", "--seed SEED seed for text and faults (default 0)"),
        ("sim", "--tier TIER subscription tier, 0..3 (default 3 = Opus)"),
        ("account sanity-check", "Logs in with EMAIL and the password unless NAI_TOKEN is set"),
        ("account access-key", "email account email (the password is prompted for or piped)"),
    ],
)
def test_help_shows_the_defaults(
    command: str, shown: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main([*command.split(), "--help"])
    assert stopped.value.code == 0
    assert shown in " ".join(capsys.readouterr().out.split())


def test_an_access_token_in_the_environment_does_not_break_the_offline_default() -> None:
    """NAI_TOKEN reached the in-process simulator, which refused anything but 'pst-' tokens:
    with a NovelAI access token exported, every default (offline) command failed with 401."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAI_")}
    done = subprocess.run(
        [sys.executable, "-m", "nai_script", "generate", "hi", "--max-tokens", "3"],
        capture_output=True,
        text=True,
        env={**env, "NAI_TOKEN": "eyJhbGciOiJIUzI1NiJ9.e30.sig"},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
    assert resolve_backend(env={"NAI_TOKEN": "eyJx"}).token is None
    external = resolve_backend(base_url="http://127.0.0.1:1", env={"NAI_TOKEN": "pst-a"})
    assert external.token == "pst-a"  # a simulator you started yourself may want it


def test_serve_names_the_data_folder_when_a_database_is_damaged(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "stories.sqlite3").write_text("not a database")
    done = _cli(
        "serve", "--scripts", tmp_path, "--data", data, "--port", "0", "--no-browser", cwd=tmp_path
    )
    assert (done.returncode, done.stdout) == (1, b"")
    assert done.stderr.decode() == (
        f"nai-script: error: --data '{data}': a database there is damaged or not SQLite "
        "(file is not a database)\n"
    )


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000"),
        ("http://127.0.0.1:8000/v1/", "http://127.0.0.1:8000"),
        ("http://h/api/v1", "http://h/api"),
        ("http://v1", "http://v1"),
        ("http://h/v10", "http://h/v10"),
    ],
)
def test_openai_base_url_may_carry_its_v1(given: str, used: str) -> None:
    """Ollama, vLLM and llama.cpp document their base URL as http://host:port/v1; the client
    adds /v1/completions, so that URL got a 404 from /v1/v1/completions."""
    assert resolve_backend(backend="openai", base_url=given, env={}).base_url == used


async def test_generate_against_an_openai_base_url_ending_in_v1() -> None:
    async with SimServer(SimSettings()) as sim:
        argv = ["generate", "hi", "--max-tokens", "3", "--backend", "openai"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("NAI_")}
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "nai_script", *argv, "--base-url", f"{sim.base_url}/v1"],
            capture_output=True,
            text=True,
            env={**env, "OPENAI_API_KEY": "pst-test"},  # the simulator wants a bearer on /v1 too
            timeout=60,
        )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()


def test_a_piped_password_that_is_not_utf8_is_named() -> None:
    """It was "'utf-8' codec can't encode character '\\udcff' in position 1", naming nothing."""
    done = _cli("account", "access-key", "a@b.c", stdin=b"p\xffw\n")
    assert (done.returncode, done.stdout) == (2, b"")
    assert done.stderr == b"nai-script: error: password: not valid UTF-8 text\n"


def test_image_out_that_is_a_file_is_a_usage_error(tmp_path: Path) -> None:
    """It said "--out: cannot create 'x': File exists" with exit 1, as if generation failed."""
    out = tmp_path / "x"
    out.write_text("a file")
    done = _cli("image", "--prompt", "p", "--out", out)
    assert (done.returncode, done.stdout) == (2, b"")
    assert done.stderr.decode() == (
        f"nai-script: error: --out '{out}': cannot use it as a folder: it is a file, not a folder\n"
    )


def test_a_simulator_token_is_labelled_as_one() -> None:
    """`account access-token` printed a bare token from the simulator: the only command that
    did not say it talked to a simulator (SPEC 7: labelled everywhere it shows). Image runs
    were labelled 'simulated text'."""
    done = _cli(
        "account", "access-token", "demo@sim.nai-script.local", stdin=b"nai-script-demo-password\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == b"[SIMULATOR (offline, simulated output, not NovelAI)]\n"
    assert done.stdout.strip().startswith(b"sim-")
    assert done.stdout.count(b"\n") == 1
