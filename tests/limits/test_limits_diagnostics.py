"""Diagnostics: every limit check is observable per script."""

from __future__ import annotations

from pathlib import Path

import pytest
from limits_helpers import T0, open_limits

from nai_script.limits import BudgetExceeded, FakeClock, GenerationOutcome, ScriptDiagnostics


def prompt(n: int) -> list[int]:
    return list(range(1000, 1000 + n))


async def test_diagnostics_show_entries_and_what_they_wait_for(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    async with open_limits(tmp_path / "d.db", clock, input_capacity=1000) as limits:
        r1 = await limits.reserve("s", output_tokens=100, input_tokens=50)
        await r1.settle(80, 50)
        clock.advance(10)
        await limits.record_interaction("s")
        clock.advance(10)
        r2 = await limits.reserve("s", output_tokens=200)
        diag = limits.diagnostics("s")
        assert isinstance(diag, ScriptDiagnostics)
        out = diag.output
        assert (out.capacity, out.available, out.held) == (2048, 2048 - 280, 280)
        first, second = out.entries
        assert (first.amount, first.in_flight, first.waiting_for_interaction) == (80, False, False)
        assert first.due_at == T0 + 240
        assert (second.amount, second.in_flight) == (200, True)
        assert out.next_return_at == T0 + 240
        assert not out.waiting_for_interaction
        assert diag.input.available == 950
        assert diag.input.next_return_at == T0 + 360
        assert diag.last_interaction_at == T0 + 10
        await r2.settle(200)
        diag = limits.diagnostics("s")
        assert diag.output.waiting_for_interaction
        assert diag.output.entries[1].waiting_for_interaction
        # JSON-ready for the web page.
        assert ScriptDiagnostics.model_validate_json(diag.model_dump_json()) == diag


async def test_cache_hits_per_generation_in_a_bounded_ring(tmp_path: Path) -> None:
    async with open_limits(tmp_path / "d.db", recent_generations=3) as limits:
        g = await limits.begin_generation("s", prompt(130), max_tokens=10)
        await g.succeed(10)
        g = await limits.begin_generation("s", prompt(200), max_tokens=10)
        assert (g.cached_tokens, g.uncached_tokens) == (128, 72)
        await g.fail(0)
        async with await limits.begin_generation("s", prompt(200), max_tokens=10):
            pass  # left without succeed/fail: released
        g = await limits.begin_generation("s", prompt(64), max_tokens=10)
        await g.succeed(3)
        diag = limits.diagnostics("s")
        stats = [
            (s.prompt_tokens, s.cached, s.uncached, s.outcome) for s in diag.recent_generations
        ]
        assert stats == [
            (200, 128, 72, GenerationOutcome.FAILED),
            (200, 128, 72, GenerationOutcome.RELEASED),
            (64, 64, 0, GenerationOutcome.SUCCEEDED),
        ]
        assert diag.cache_blocks == 2
        # Charged: 130 uncached + 0 (failed with nothing streamed) + 0 (released) + 0 (cached).
        assert diag.input.held == 130
        assert diag.output.held == 13


async def test_a_refused_generation_shows_in_the_ring(tmp_path: Path) -> None:
    """SPEC 5: every limit check is observable; a refusal was missing from the per-generation
    figures (only reservations that succeeded were listed)."""
    async with open_limits(tmp_path / "d.db", output_capacity=100) as limits:
        g = await limits.begin_generation("s", prompt(70), max_tokens=90)
        await g.succeed(90)
        with pytest.raises(BudgetExceeded):
            await limits.begin_generation("s", prompt(70), max_tokens=20)
        stats = [
            (s.cached, s.uncached, s.outcome) for s in limits.diagnostics("s").recent_generations
        ]
        assert stats == [
            (0, 70, GenerationOutcome.SUCCEEDED),
            (64, 6, GenerationOutcome.REFUSED),
        ]
        assert limits.diagnostics("s").output.held == 90  # the refusal charged nothing


async def test_last_interaction_is_the_later_of_own_ui_and_manual_generation(
    tmp_path: Path,
) -> None:
    clock = FakeClock(T0)
    async with open_limits(tmp_path / "i.db", clock) as limits:
        assert limits.last_interaction("s") is None
        await limits.record_interaction("s")
        assert limits.last_interaction("s") == T0
        assert limits.last_interaction("other") is None  # per script
        clock.advance(5)
        await limits.record_manual_generation()
        assert limits.last_interaction("s") == T0 + 5
        assert limits.last_interaction("other") == T0 + 5  # a manual generation counts for all
        clock.advance(5)
        await limits.record_interaction("s")
        assert limits.last_interaction("s") == T0 + 10
        assert limits.last_interaction("other") == T0 + 5


async def test_cache_blocks_count_only_what_a_lookup_would_find(tmp_path: Path) -> None:
    """Expired blocks stay in memory until the next insert evicts them, and were counted."""
    clock = FakeClock(T0)
    async with open_limits(tmp_path / "c.db", clock, cache_expiry_s=60) as limits:
        g = await limits.begin_generation("s", prompt(130), max_tokens=10)
        await g.succeed(10)
        assert limits.diagnostics("s").cache_blocks == 2
        clock.advance(60)
        assert limits.count_uncached("s", prompt(130)) == 130
        assert limits.diagnostics("s").cache_blocks == 0
