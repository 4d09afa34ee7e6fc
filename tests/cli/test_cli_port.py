"""``--port`` out of range is a one-line usage error (exit 2) for both servers."""

from __future__ import annotations

from pathlib import Path

import pytest

from nai_script.cli.main import main


@pytest.mark.parametrize("port", ["70000", "-1"])
@pytest.mark.parametrize("command", ["sim", "serve"])
def test_port_out_of_range_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, port: str
) -> None:
    extra = ["--scripts", str(tmp_path), "--no-browser"] if command == "serve" else []
    assert main([command, "--port", port, *extra]) == 2
    assert capsys.readouterr().err == (
        f"nai-script: error: --port {port} is not a port number (0-65535)\n"
    )
