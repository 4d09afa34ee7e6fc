"""A message over the frame limit is refused in the worker, as the script's own error, instead
of being sent for the host to stop the whole worker over it."""

from __future__ import annotations

import pytest
from test_worker_harness import FAST, running

from sandbox.process import ScriptFailed

LIMITS = FAST.model_copy(update={"max_frame_bytes": 1 << 20})

SOURCE = """
def big_log():
    try:
        api.v1.log('x' * 2_000_000)
    except ValueError as e:
        return str(e)
async def big_async():
    try:
        await api.v1.echo('y' * 2_000_000)
    except ValueError as e:
        return str(e)
def big_sync():
    try:
        api.v1.echoSync(['z' * 1000] * 2000)
    except ValueError as e:
        return str(e)
def big_return():
    return 'r' * 2_000_000
def still_alive():
    return api.v1.echoSync('fine')
"""


@pytest.mark.parametrize(
    ("function", "call"),
    [("big_log", "v1.log"), ("big_async", "v1.echo"), ("big_sync", "v1.echoSync")],
)
async def test_an_oversize_call_is_a_value_error_naming_the_call(function: str, call: str) -> None:
    async with running(SOURCE, limits=LIMITS) as (worker, host):
        message = await worker.invoke(function)
        assert message.startswith(f"{call}: ")
        assert "one message may carry at most 1048576" in message
        assert await worker.invoke("still_alive") == "fine"
        assert worker.exit_reason is None
        assert all(call.path != "v1.log" for call in host.calls)


async def test_an_oversize_return_value_fails_that_invocation_only() -> None:
    async with running(SOURCE, limits=LIMITS) as (worker, _host):
        with pytest.raises(ScriptFailed, match=r"return value: .*at most 1048576"):
            await worker.invoke("big_return")
        assert await worker.invoke("still_alive") == "fine"
