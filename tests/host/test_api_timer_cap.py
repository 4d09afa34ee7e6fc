"""Pending timers per script are capped: each is a host task, and a loop of ``setTimeout``
grew the host without bound (100,000 timers: 463 MB)."""

from __future__ import annotations

from pathlib import Path

import pytest
from host_helpers import hosted

from nai_script.host.api import timers

SOURCE = """
def later():
    pass
ids = [await api.v1.timers.setTimeout(later, 60_000) for _ in range(3)]
try:
    await api.v1.timers.setTimeout(later, 60_000)
except Exception as e:
    api.v1.log('refused:', str(e))
await api.v1.timers.clearTimeout(ids[0])
await api.v1.timers.setTimeout(later, 60_000)
api.v1.log('after a clear: ok')
"""


async def test_a_timer_past_the_cap_is_refused_until_one_is_cleared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(timers, "MAX_PENDING_TIMERS", 3)
    async with hosted(tmp_path) as env:
        script = await env.load(SOURCE)
        assert env.lines() == [
            "refused: timers.setTimeout: 3 timers are already pending;"
            " clear or let some fire first",
            "after a clear: ok",
        ]
        assert len(script.timers) == 3
