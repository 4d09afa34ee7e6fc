"""A worker may have at most ``max_pending_calls`` api calls in service at once: each holds a
host task, so a loop firing calls without awaiting them grew the host without bound (100,000
calls: 644 MB). Past the limit a call fails at once; the worker and earlier calls are fine."""

from __future__ import annotations

from test_worker_harness import FAST, running

LIMITS = FAST.model_copy(update={"max_pending_calls": 5})

SOURCE = """
held = []
async def flood():
    for _ in range(5):
        held.append(api.v1.sleep(0.3))
    try:
        await api.v1.echo('sixth')
    except Exception as e:
        return str(e)
    return 'not refused'
async def after():
    for call in held:
        await call
    return await api.v1.echo('fine')
"""


async def test_calls_past_the_limit_fail_at_once_and_the_worker_goes_on() -> None:
    async with running(SOURCE, limits=LIMITS) as (worker, host):
        message = await worker.invoke("flood")
        assert message == ("too many api calls pending (limit 5): await some before starting more")
        assert sum(call.path == "v1.sleep" for call in host.calls) == 5
        assert all(call.path != "v1.echo" for call in host.calls)
        assert await worker.invoke("after") == "fine"  # once the held calls have ended
        assert worker.exit_reason is None
