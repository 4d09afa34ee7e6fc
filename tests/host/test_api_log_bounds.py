"""``api.v1.log``/``error`` are bounded like printed lines: cut to ``log_line_bytes``, rate
limited with the drops reported. They went straight to the host's output, unbounded (a script
could write 2000 lines of 100 KB in a second)."""

from __future__ import annotations

from pathlib import Path

from host_helpers import hosted

from sandbox.rlimits import WorkerLimits

LIMITS = WorkerLimits()


async def test_a_long_logged_line_is_cut(tmp_path: Path) -> None:
    async with hosted(tmp_path) as env:
        await env.run("api.v1.log('x' * 100_000)\napi.v1.error('y' * 100_000)\n")
        (line,) = env.lines()
        (error,) = env.lines(level="error")
    for text, char in ((line, "x"), (error, "y")):
        assert text.startswith(char * LIMITS.log_line_bytes)
        assert len(text) < LIMITS.log_line_bytes + 64


async def test_a_logging_loop_is_rate_limited_and_the_drops_reported(tmp_path: Path) -> None:
    async with hosted(tmp_path) as env:
        await env.run("for i in range(2000):\n    api.v1.log(i)\n")
        lines = env.lines()
        errors = env.lines(level="error")
    assert LIMITS.log_burst <= len(lines) < 2000
    assert lines[:3] == ["0", "1", "2"]
    assert any("log lines dropped" in error for error in errors), errors
