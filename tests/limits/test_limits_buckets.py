"""Bucket semantics: windows, the interaction rule, reserve/settle/release, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from limits_helpers import T0, open_limits

from nai_script.limits import (
    BucketKind,
    BucketRule,
    BudgetExceeded,
    FakeClock,
    HeldEntry,
    NeverFits,
    ReservationState,
)
from nai_script.limits import buckets as b

OUT = BucketRule(kind=BucketKind.OUTPUT, capacity=2048, window_s=240)


def entry(amount: int, at: float, settled: bool = True, id_: int = 1) -> HeldEntry:
    return HeldEntry(
        id=id_,
        script_id="s",
        bucket=BucketKind.OUTPUT,
        amount=amount,
        reserved=amount,
        spent_at=at,
        settled=settled,
    )


def test_entry_returns_at_exactly_240s_with_interaction_after() -> None:
    e = entry(100, T0)
    assert b.is_returned(e, OUT, T0 + 240, last_interaction=T0 + 1)
    assert not b.is_returned(e, OUT, T0 + 239.999, last_interaction=T0 + 1)


def test_interaction_before_or_at_spend_does_not_release() -> None:
    e = entry(100, T0)
    assert not b.is_returned(e, OUT, T0 + 1000, last_interaction=T0 - 1)
    assert not b.is_returned(e, OUT, T0 + 1000, last_interaction=T0)
    assert not b.is_returned(e, OUT, T0 + 1000, last_interaction=None)


def test_in_flight_entry_never_returns() -> None:
    assert not b.is_returned(entry(5, T0, settled=False), OUT, T0 + 9999, T0 + 1)


def test_ms_until_walks_entries_in_time_order() -> None:
    entries = [entry(1000, T0, id_=1), entry(1000, T0 + 10, id_=2)]
    now = T0 + 100
    assert b.available(entries, OUT, now, None) == 48
    assert b.ms_until_available(entries, OUT, now, None, 48) == 0
    assert b.ms_until_available(entries, OUT, now, None, 49) == 140_000
    assert b.ms_until_available(entries, OUT, now, None, 1048) == 140_000
    assert b.ms_until_available(entries, OUT, now, None, 1049) == 150_000
    assert b.ms_until_available(entries, OUT, now, None, 2048) == 150_000
    with pytest.raises(NeverFits, match="2049 tokens can never"):
        b.ms_until_available(entries, OUT, now, None, 2049)
    with pytest.raises(ValueError, match="must be >= 0"):
        b.ms_until_available(entries, OUT, now, None, -1)


def test_ms_until_ignores_interaction_condition() -> None:
    entries = [entry(2048, T0)]
    # Due by time, no interaction: nothing is available, yet the time-only answer is 0.
    assert b.available(entries, OUT, T0 + 300, None) == 0
    assert b.ms_until_available(entries, OUT, T0 + 300, None, 10) == 0


def test_ms_until_rounds_up_partial_milliseconds() -> None:
    entries = [entry(2048, T0)]
    assert b.ms_until_available(entries, OUT, T0 + 239.9995, None, 1) == 1


async def test_reserve_settle_refund_and_spend_time_kept(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    async with open_limits(tmp_path / "l.db", clock) as limits:
        r = await limits.reserve("s", output_tokens=500, input_tokens=300, input_capacity=1000)
        assert limits.allowed_output("s") == 2048 - 500
        assert limits.allowed_input("s", 1000) == 700
        clock.advance(5)
        await r.settle(120, 250)
        assert r.state is ReservationState.SETTLED
        assert limits.allowed_output("s") == 2048 - 120
        assert limits.allowed_input("s", 1000) == 750
        # Same entry: it is due 240 s after the reserve, not after the settle.
        assert limits.time_until_allowed_output("s", 2048) == 235_000
        assert limits.time_until_allowed_input("s", 1000, 1000) == 355_000
        with pytest.raises(RuntimeError, match="already settled"):
            await r.settle(1)


async def test_refused_call_costs_nothing_and_names_bucket(tmp_path: Path) -> None:
    async with open_limits(tmp_path / "l.db", input_capacity=1000) as limits:
        await limits.reserve("s", output_tokens=2000, input_tokens=10)
        with pytest.raises(BudgetExceeded) as info:
            await limits.reserve("s", output_tokens=49, input_tokens=10)
        assert info.value.bucket is BucketKind.OUTPUT
        assert (info.value.available, info.value.needed) == (48, 49)
        assert "output budget of script 's': needs 49 tokens, 48 available" in str(info.value)
        # The input side of the refused call was not charged either.
        assert limits.allowed_input("s") == 990
        with pytest.raises(BudgetExceeded) as info:
            await limits.reserve("s", output_tokens=1, input_tokens=991)
        assert info.value.bucket is BucketKind.INPUT
        assert limits.allowed_output("s") == 48
        assert limits.allowed_input("s") == 990


async def test_reserve_larger_than_capacity_is_refused(tmp_path: Path) -> None:
    async with open_limits(tmp_path / "l.db") as limits:
        with pytest.raises(BudgetExceeded, match="capacity 2048"):
            await limits.reserve("s", output_tokens=2049)
        with pytest.raises(ValueError, match="output_tokens: must be >= 0"):
            await limits.reserve("s", output_tokens=-1)
        assert limits.allowed_output("s") == 2048


async def test_release_refunds_everything(tmp_path: Path) -> None:
    async with open_limits(tmp_path / "l.db") as limits:
        r = await limits.reserve("s", output_tokens=2048, input_tokens=100)
        await r.release()
        assert limits.allowed_output("s") == 2048
        assert limits.allowed_input("s") == limits.config.input_capacity
        with pytest.raises(RuntimeError, match="already released"):
            await r.settle(0)


async def test_failed_call_charges_only_streamed(tmp_path: Path) -> None:
    async with open_limits(tmp_path / "l.db") as limits:
        budget = await limits.begin_generation("s", list(range(100)), max_tokens=1000)
        await budget.fail(37)
        assert limits.allowed_output("s") == 2048 - 37
        assert limits.allowed_input("s") == limits.config.input_capacity - 100
        budget = await limits.begin_generation("s", list(range(100)), max_tokens=1000)
        await budget.fail(0)
        assert limits.allowed_output("s") == 2048 - 37
        assert limits.allowed_input("s") == limits.config.input_capacity - 100


async def test_over_settle_is_charged_but_never_negative(tmp_path: Path) -> None:
    async with open_limits(tmp_path / "l.db") as limits:
        r = await limits.reserve("s", output_tokens=2000)
        await r.settle(2100)
        assert limits.allowed_output("s") == 0
        assert limits.diagnostics("s").output.held == 2100


async def test_return_needs_both_time_and_interaction(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    async with open_limits(tmp_path / "l.db", clock) as limits:
        await limits.record_interaction("s")  # before the spend: does not count
        clock.advance(1)
        r = await limits.reserve("s", output_tokens=1000)
        await r.settle(1000)
        clock.advance(239.999)
        await limits.record_interaction("s")
        assert limits.allowed_output("s") == 1048
        clock.advance(0.001)
        assert limits.allowed_output("s") == 2048


async def test_time_alone_does_not_return(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    async with open_limits(tmp_path / "l.db", clock) as limits:
        r = await limits.reserve("s", output_tokens=2048)
        await r.settle(2048)
        clock.advance(10_000)
        assert limits.allowed_output("s") == 0
        assert limits.time_until_allowed_output("s", 2048) == 0
        await limits.record_interaction("other-script")
        assert limits.allowed_output("s") == 0
        clock.advance(1)
        await limits.record_interaction("s")
        assert limits.allowed_output("s") == 2048


async def test_manual_generation_counts_for_all_scripts(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    async with open_limits(tmp_path / "l.db", clock, input_capacity=500) as limits:
        for script in ("a", "b"):
            r = await limits.reserve(script, output_tokens=10, input_tokens=20)
            await r.settle(10, 20)
        clock.advance(240)
        await limits.record_manual_generation()
        assert limits.allowed_output("a") == limits.allowed_output("b") == 2048
        # The input window is 360 s: still held.
        assert limits.allowed_input("a") == 480
        clock.advance(120)
        assert limits.allowed_input("a") == limits.allowed_input("b") == 500


async def test_orphaned_reservations_are_charged_in_full(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    async with open_limits(tmp_path / "l.db", clock) as crashed:
        await crashed.reserve("s", output_tokens=700)  # the "crash": never settled
    async with open_limits(tmp_path / "l.db", clock) as limits:
        clock.advance(500)
        await limits.record_interaction("s")
        assert limits.allowed_output("s") == 1348  # in flight: never returns
        assert await limits.recover_orphaned_reservations() == 1
        assert limits.allowed_output("s") == 2048  # settled in full, due, interacted after


async def test_zero_token_reservation_holds_nothing(tmp_path: Path) -> None:
    async with open_limits(tmp_path / "l.db") as limits:
        r = await limits.reserve("s", output_tokens=0, input_tokens=0)
        await r.settle(0, 0)
        assert limits.diagnostics("s").output.entries == []
