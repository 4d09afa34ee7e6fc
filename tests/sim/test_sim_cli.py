"""``nai-script sim``: help, flag errors, and a real subprocess started, used and stopped."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from nai_script.cli.main import main


def test_help_lists_flags_and_fault_syntax(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["sim", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    flags = ("--host", "--port", "--faults", "--read-faults", "--seed", "--tokens-per-second")
    for flag in (*flags, "--latency-ms"):
        assert flag in out
    assert "drop@N" in out
    assert "Retry-After" in out
    assert "X-Sim-Fault" in out


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--faults", "drop@x"], "--faults: fault spec rule 1 'drop@x'"),
        (["--read-faults", "limit@x"], "--read-faults: fault spec rule 1 'limit@x'"),
        (["--tier", "9"], "--tier:"),
        (["--tokens-per-second", "-5"], "--tokens-per-second:"),
        (["--latency-ms", "inf"], "--latency-ms: Input should be a finite number"),
        (["--tokens-per-second", "nan"], "--tokens-per-second: Input should be a finite number"),
    ],
)
def test_bad_flags_are_one_line_usage_errors(
    capsys: pytest.CaptureFixture[str], argv: list[str], fragment: str
) -> None:
    assert main(["sim", *argv]) == 2
    err = capsys.readouterr().err
    assert fragment in err
    assert err.count("\n") == 1


def _post(
    url: str, body: dict[str, object], token: str = "pst-cli"
) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_subprocess_serves_requests_and_exits_cleanly_on_sigint() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nai_script",
            "sim",
            "--port",
            "0",
            "--seed",
            "5",
            "--faults",
            "500#1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        assert banner.startswith("SIMULATOR")
        listening = proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+", listening)
        assert match, listening
        url = match.group()
        body = {"model": "glm-4-6", "prompt": "Hi", "max_tokens": 5}
        status, error = _post(f"{url}/oa/v1/completions", body)
        assert (status, error["statusCode"]) == (500, 500)  # --faults 500#1 applies once
        status, answer = _post(f"{url}/oa/v1/completions", body)
        assert status == 200
        usage = answer["usage"]
        assert isinstance(usage, dict)
        assert usage["completion_tokens"] == 5
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
        assert proc.stderr is not None
        stderr = proc.stderr.read()
        assert "SIMULATOR stopped" in stderr
        assert "Traceback" not in stderr
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
