"""``nai-script serve`` as a real process: prints the URL with its token, serves the page,
refuses a bad folder with a usage error."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "nai_script", *args]


def _start_serve(tmp_path: Path) -> subprocess.Popen[str]:
    """``serve`` on the simulator, a free port and a folder with one script."""
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "hello.py").write_text('api.v1.log("hi")\n')
    command = _cli("serve", "--scripts", str(scripts), "--data", str(tmp_path / "data"))
    return subprocess.Popen(
        [*command, "--port", "0", "--no-browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NAI_SCRIPT_BACKEND": "sim"},
    )


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_serve_stops_cleanly_on_sigint_and_sigterm(tmp_path: Path, signum: int) -> None:
    """SIGTERM (what a service manager sends) killed serve with -15, skipping its shutdown."""
    process = _start_serve(tmp_path)
    try:
        assert process.stdout is not None
        assert "editor at" in process.stdout.readline()
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert stderr.rstrip().endswith("nai-script: stopped")


def test_serve_prints_a_url_that_serves_the_page(tmp_path: Path) -> None:
    process = _start_serve(tmp_path)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("nai-script: editor at http://127.0.0.1:"), line
        url = line.split(" at ", 1)[1].strip()
        assert "?token=" in url
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200
            assert b"/static/app.js" in response.read()
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url.split("?")[0], timeout=10)
        assert refused.value.code == 403
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode in (0, 130), process.stderr.read() if process.stderr else ""


def test_serve_refuses_a_missing_scripts_folder(tmp_path: Path) -> None:
    result = subprocess.run(
        [*_cli("serve", "--scripts", str(tmp_path / "nope"), "--no-browser")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "is not a folder" in result.stderr


def test_serve_makes_the_default_scripts_folder_where_it_is_missing(tmp_path: Path) -> None:
    """``serve`` from a folder without ``./scripts`` (any folder but a checkout of this
    project) refused to start; the default is now made, empty. A given folder must exist."""
    process = subprocess.Popen(
        [*_cli("serve", "--data", str(tmp_path / "data")), "--port", "0", "--no-browser"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NAI_SCRIPT_BACKEND": "sim"},
    )
    try:
        assert process.stdout is not None
        assert "editor at" in process.stdout.readline()
        assert (tmp_path / "scripts").is_dir()
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert "nai-script: made ./scripts (empty): a script saved there loads at once" in stderr
    (tmp_path / "other").write_text("a file, not a folder")
    result = subprocess.run(
        [*_cli("serve", "--scripts", "other", "--no-browser")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "--scripts 'other' is not a folder" in result.stderr
