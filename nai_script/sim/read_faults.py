"""Faults on idempotent reads (``SimSettings.read_faults``): the paths a client retries."""

from __future__ import annotations

from aiohttp import web

from nai_script.sim.errors import SimHTTPError
from nai_script.sim.state import SimState
from nai_script.sim.streaming import drop_connection


async def apply_read_faults(request: web.Request, state: SimState) -> None:
    """Delay, fail or drop this read as ``read_faults`` says; return if it is to be served."""
    if not state.settings.read_faults.rules:
        return
    plan = state.plan_read_faults()
    if plan.slow_ms:
        await state.sleep(plan.slow_ms / 1000)
    if plan.status is not None:
        raise SimHTTPError(plan.status, plan.message, retry_after=plan.retry_after)
    if plan.drop_after is not None:
        raise drop_connection(request)
