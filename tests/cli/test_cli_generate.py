"""``nai-script generate`` end to end, as a subprocess, on each backend kind."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from nai_script.sim import SimServer, SimSettings


def _clean_env() -> dict[str, str]:
    """This process's environment without any ``NAI_*`` setting (token, backend, base URL)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("NAI_")}


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nai_script", *args],
        capture_output=True,
        text=True,
        env={**_clean_env(), **(env or {})},
        timeout=60,
    )


def test_generate_streams_simulated_text_by_default() -> None:
    proc = _cli("generate", "Once upon a time", "--max-tokens", "30")
    assert proc.returncode == 0, proc.stderr
    assert "SIMULATOR" in proc.stderr
    assert len(proc.stdout.split()) >= 5


def test_generate_is_deterministic_for_the_same_prompt() -> None:
    first = _cli("generate", "same prompt", "--max-tokens", "20")
    second = _cli("generate", "same prompt", "--max-tokens", "20")
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert first.stdout.strip()
    assert first.stdout == second.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--backend", "openai"), "--base-url"),
        (("--backend", "novelai"), "NAI_TOKEN"),
        (("--max-tokens", "0"), "--max-tokens"),
    ],
)
def test_bad_configuration_is_one_line_and_exit_2(args: tuple[str, ...], message: str) -> None:
    proc = _cli("generate", "x", *args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


async def _against_running_sim(*args: str, faults: str = "") -> subprocess.CompletedProcess[str]:
    async with SimServer(SimSettings(faults=faults)) as sim:
        argv = ("generate", "hello", "--max-tokens", "10", "--base-url", sim.base_url, *args)
        # The simulator wants a bearer token even on /v1; the token is optional for openai.
        return await asyncio.to_thread(
            _cli, *argv, env={"NAI_TOKEN": "pst-test", "OPENAI_API_KEY": "pst-test"}
        )


async def test_openai_backend_talks_to_any_v1_server() -> None:
    proc = await _against_running_sim("--backend", "openai")
    assert proc.returncode == 0, proc.stderr
    assert "OpenAI-compatible" in proc.stderr
    assert proc.stdout.strip()


async def test_a_backend_error_is_one_line_not_a_traceback() -> None:
    proc = await _against_running_sim("--backend", "sim", faults="500")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "500" in proc.stderr


def test_a_reader_that_closes_early_gets_no_traceback() -> None:
    """``nai-script generate ... | head``: output stops quietly, exit 0, nothing on stderr."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "nai_script", "generate", "x", "--max-tokens", "2000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**_clean_env(), "NAI_SCRIPT_BACKEND": "sim"},
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    proc.stdout.read(5)
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0
    assert "Traceback" not in stderr
    assert "error" not in stderr.lower()


async def test_a_stream_dropped_midway_ends_its_partial_line() -> None:
    """The text already streamed was left without its newline, so the one-line error was
    glued to it on a terminal (stdout and stderr share one)."""
    proc = await _against_running_sim("--backend", "sim", faults="drop@3")
    assert proc.returncode == 1
    assert proc.stdout.strip()
    assert proc.stdout.endswith("\n")
    assert proc.stderr.splitlines()[-1].startswith("nai-script: error: connection dropped")
