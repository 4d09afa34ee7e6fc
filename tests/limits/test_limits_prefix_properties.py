"""Property tests: the prefix cache agrees with a naive model of prefixes, and never keeps a
block whose prefix was evicted."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from limits_helpers import open_limits

from nai_script.limits import block_keys
from nai_script.limits.prefix_cache import BLOCK_TOKENS, ScriptPrefixCache

# Blocks drawn from a tiny alphabet so prompts share prefixes often.
BLOCKS = [[k] * BLOCK_TOKENS for k in range(3)]
prompts = st.lists(st.integers(0, 2), min_size=0, max_size=6).map(
    lambda picks: [t for p in picks for t in BLOCKS[p]]
)


def naive_insert(
    model: dict[tuple[int, ...], tuple[float, int]], ids: list[int], now: float, cap: int
) -> None:
    for depth in range(1, len(ids) // BLOCK_TOKENS + 1):
        model[tuple(ids[: depth * BLOCK_TOKENS])] = (now, depth)
    order = sorted(model, key=lambda k: (model[k][0], -model[k][1]))
    for key in order[: max(0, len(model) - cap)]:
        del model[key]


def naive_cached(model: dict[tuple[int, ...], tuple[float, int]], ids: list[int]) -> int:
    depth = 0
    while (depth + 1) * BLOCK_TOKENS <= len(ids) and tuple(
        ids[: (depth + 1) * BLOCK_TOKENS]
    ) in model:
        depth += 1
    return depth


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(st.tuples(prompts, prompts), max_size=12), cap=st.integers(1, 8))
def test_cache_matches_naive_model(steps: list[tuple[list[int], list[int]]], cap: int) -> None:
    cache = ScriptPrefixCache(max_blocks=cap, expiry_s=1e9)
    model: dict[tuple[int, ...], tuple[float, int]] = {}
    for now, (inserted, probe) in enumerate(steps):
        cache.insert(block_keys(inserted), float(now))
        naive_insert(model, inserted, float(now), cap)
        assert len(cache) == len(model) <= cap
        assert cache.cached_blocks(block_keys(probe), float(now)) == naive_cached(model, probe)
        # Tails before heads: every kept block's whole prefix chain is kept.
        for key in model:
            for depth in range(1, len(key) // BLOCK_TOKENS):
                assert key[: depth * BLOCK_TOKENS] in model


async def test_count_uncached_names_a_bad_token(tmp_path: Path) -> None:
    async with open_limits(tmp_path / "c.db") as limits:
        with pytest.raises(ValueError, match=r"token ids\[64\]"):
            limits.count_uncached("s", [1] * 64 + [-5])
        with pytest.raises(ValueError, match=r"token ids\[0\]"):
            await limits.insert("s", [2**40])
        assert limits.diagnostics("s").cache_blocks == 0
