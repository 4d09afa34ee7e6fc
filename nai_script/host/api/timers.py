"""``timers.setTimeout/clearTimeout/sleep``: timers live in the host, on the host's clock.

A timer is a host task that sleeps on the injectable clock and then invokes the script's
callback; while it is pending the script counts as busy (``nai-script run`` waits for it).
Timer ids are numbers counting up from 1 per script, as NovelAI's ``Promise<number>``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from nai_script.host.dispatch import REQUIRED, ApiFailure, ApiUsageError, CallContext, Route
from sandbox.protocol import CallbackHandle

MAX_DELAY_MS = 24 * 3600 * 1000
#: Pending timers per script (each is a host task): a loop of setTimeout cannot exhaust the host.
MAX_PENDING_TIMERS = 10_000


def _delay_ms(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ApiUsageError(f"{what}: must be a number of milliseconds, got {value!r}")
    if not 0 <= value <= MAX_DELAY_MS:
        raise ApiUsageError(f"{what}: must be between 0 and {MAX_DELAY_MS} ms, got {value}")
    return float(value)


async def _set_timeout(ctx: CallContext) -> int:
    bound = ctx.bind(("callback", REQUIRED), ("delay", 0))
    handle = bound["callback"]
    if not isinstance(handle, CallbackHandle):
        raise ApiUsageError("timers.setTimeout callback: must be a function")
    delay = _delay_ms(bound["delay"], "timers.setTimeout delay")
    script, host = ctx.script, ctx.host
    if len(script.timers) >= MAX_PENDING_TIMERS:
        raise ApiFailure(
            f"timers.setTimeout: {MAX_PENDING_TIMERS} timers are already pending;"
            " clear or let some fire first"
        )
    script.next_timer += 1
    timer_id = script.next_timer

    async def fire() -> None:
        await host.clock.sleep(delay / 1000)
        script.timers.pop(timer_id, None)
        await host.invoke_callback(script, handle, [], what="timer callback")

    task = asyncio.ensure_future(fire())
    script.timers[timer_id] = task
    task.add_done_callback(lambda _: script.timers.pop(timer_id, None))
    return timer_id


async def _clear_timeout(ctx: CallContext) -> None:
    """An id that is not pending (fired, cleared, never made) is ignored, as in JS."""
    timer_id = ctx.bind(("timerId", REQUIRED))["timerId"]
    if isinstance(timer_id, bool) or not isinstance(timer_id, int):
        raise ApiUsageError(
            f"timers.clearTimeout timerId: must be a timer id number, got {timer_id!r}"
        )
    task = ctx.script.timers.pop(timer_id, None)
    if task is not None:
        task.cancel()


async def _sleep(ctx: CallContext) -> None:
    delay = _delay_ms(ctx.bind(("delay", REQUIRED))["delay"], "timers.sleep delay")
    await ctx.host.clock.sleep(delay / 1000)


ROUTES: dict[str, Route] = {
    "v1.timers.setTimeout": _set_timeout,
    "v1.timers.clearTimeout": _clear_timeout,
    "v1.timers.sleep": _sleep,
}
