"""Returned entries are forgotten by a script's settles, at most once per ``HOUSEKEEPING_S``."""

from __future__ import annotations

from pathlib import Path

from limits_helpers import T0, open_limits

from nai_script.limits import FakeClock
from nai_script.limits.service import HOUSEKEEPING_S


async def test_returned_entries_go_with_a_settle_at_most_once_per_period(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    assert HOUSEKEEPING_S == 60.0  # the steps below are spaced for it
    async with open_limits(tmp_path / "l.db", clock) as limits:

        async def spend() -> None:
            reservation = await limits.reserve("s", output_tokens=10)
            await reservation.settle(5)
            await limits.flush()

        def spent_at() -> list[float]:
            return [entry.spent_at - T0 for entry in limits._store.read_state("s")[0]]

        await spend()  # A at 0: the script's first settle does the housekeeping (nothing yet)
        clock.advance(250)  # A's 240 s window is over, but no interaction came after it
        await spend()  # B at 250: housekeeping is due; A has not returned, so it stays
        assert spent_at() == [0, 250]
        clock.advance(10)
        await limits.record_interaction("s")  # at 260: A has returned (B is in its window)
        clock.advance(10)
        await spend()  # C at 270: 20 s after the last housekeeping, not due: A stays
        assert spent_at() == [0, 250, 270]
        assert limits.allowed_output("s") == 2048 - 10  # returned all the same: B and C hold
        clock.advance(HOUSEKEEPING_S)
        await spend()  # D at 330: due again, and A goes
        assert spent_at() == [250, 270, 330]
