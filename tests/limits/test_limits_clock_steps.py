"""The system clock set back (while running, or between runs) never returns an entry without
an interaction after it, and never moves the limits' time backwards."""

from __future__ import annotations

from pathlib import Path

from limits_helpers import T0, open_limits

from nai_script.limits import FakeClock


async def test_a_start_after_the_clock_was_set_back_needs_a_new_interaction(
    tmp_path: Path,
) -> None:
    """An interaction recorded an hour 'ahead' counted as one after every spend of the next
    hour: the spend returned 240 s later with no interaction after it."""
    path = tmp_path / "l.db"
    async with open_limits(path, FakeClock(T0 + 3600)) as limits:
        await limits.record_interaction("s")
    clock = FakeClock(T0)  # the system clock was set back an hour, then the host restarted
    async with open_limits(path, clock) as limits:
        reservation = await limits.reserve("s", output_tokens=1000)
        await reservation.settle(1000)
        clock.advance(240)
        assert limits.allowed_output("s") == 1048
        assert limits.diagnostics("s").output.waiting_for_interaction
        await limits.record_interaction("s")
        assert limits.allowed_output("s") == 2048


async def test_a_step_back_while_running_counts_as_no_time(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    async with open_limits(tmp_path / "l.db", clock) as limits:
        await limits.record_interaction("s")
        clock.jump(-3600)  # the system clock is set back an hour
        reservation = await limits.reserve("s", output_tokens=1000)
        await reservation.settle(1000)
        spent = limits.diagnostics("s").output.entries[0].spent_at
        assert spent == T0  # time stood still over the step, it did not go back
        clock.advance(240)
        assert limits.allowed_output("s") == 1048  # the interaction came before the spend
        assert limits.time_until_allowed_output("s", 2048) == 0
        await limits.record_interaction("s")
        assert limits.allowed_output("s") == 2048


async def test_fake_clock_jump_moves_now_but_not_sleepers() -> None:
    clock = FakeClock(T0)
    clock.jump(-10)
    assert clock.now() == T0 - 10
    clock.jump(25)
    assert clock.now() == T0 + 15
