"""The 64-token prefix cache: block boundaries, chaining, eviction, persistence."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import pytest
from limits_helpers import T0, open_limits

from nai_script.limits import FakeClock, block_keys
from nai_script.limits.prefix_cache import ScriptPrefixCache, count_cached_tokens


def prompt(n: int, offset: int = 0) -> list[int]:
    return [(i * 7919 + offset) % 150_000 for i in range(n)]


def test_block_key_is_the_documented_blake2b_chain() -> None:
    ids = prompt(128)
    first = hashlib.blake2b(b"\x00" * 16 + struct.pack("<64I", *ids[:64]), digest_size=16)
    second = hashlib.blake2b(first.digest() + struct.pack("<64I", *ids[64:]), digest_size=16)
    assert block_keys(ids) == [first.digest(), second.digest()]


@pytest.mark.parametrize(
    ("length", "blocks"), [(0, 0), (63, 0), (64, 1), (65, 1), (127, 1), (128, 2)]
)
def test_only_full_blocks(length: int, blocks: int) -> None:
    assert len(block_keys(prompt(length))) == blocks


def test_bad_token_id_is_named() -> None:
    with pytest.raises(ValueError, match=r"token ids\[2\]: -1"):
        block_keys([1, 2, -1])
    with pytest.raises(ValueError, match=r"token ids\[1\]: 4294967296"):
        block_keys([1, 2**32])
    with pytest.raises(ValueError, match=r"token ids\[0\]: 'a'"):
        block_keys(["a"])  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("length", "uncached_second_time"),
    [(63, 63), (64, 0), (65, 1), (127, 63), (128, 0)],
)
async def test_boundaries(tmp_path: Path, length: int, uncached_second_time: int) -> None:
    async with open_limits(tmp_path / "c.db") as limits:
        ids = prompt(length)
        assert limits.count_uncached("s", ids) == length
        assert limits.count_uncached("s", ids) == length  # counting never inserts
        await limits.insert("s", ids)
        assert limits.count_uncached("s", ids) == uncached_second_time
        assert limits.count_uncached("other", ids) == length  # per script


async def test_longer_prompt_reuses_the_cached_prefix(tmp_path: Path) -> None:
    async with open_limits(tmp_path / "c.db") as limits:
        await limits.insert("s", prompt(130))
        assert limits.count_uncached("s", prompt(300)) == 300 - 128
        assert limits.count_uncached("s", prompt(100)) == 100 - 64


async def test_changed_token_in_block_two_invalidates_two_and_later(tmp_path: Path) -> None:
    async with open_limits(tmp_path / "c.db") as limits:
        ids = prompt(64 * 4)
        await limits.insert("s", ids)
        changed = list(ids)
        changed[64 + 5] += 1
        assert limits.count_uncached("s", changed) == 256 - 64
        # Same tokens in block 3 as before, but its prefix changed: not a hit.
        changed_first = list(ids)
        changed_first[0] += 1
        assert limits.count_uncached("s", changed_first) == 256


def test_eviction_takes_tails_before_heads_and_lru() -> None:
    cache = ScriptPrefixCache(max_blocks=4, expiry_s=3600)
    a = block_keys(prompt(64 * 3, 0))
    b = block_keys(prompt(64 * 2, 1))
    cache.insert(a, T0)
    cache.insert(b, T0 + 1)
    assert len(cache) == 4
    # a's tail went first (deepest of the least recently used chain).
    assert cache.cached_blocks(a, T0 + 2) == 2
    assert cache.keys_in_eviction_order() == [a[1], a[0], b[1], b[0]]
    change = cache.insert(a[:1], T0 + 3)  # touching a's head makes b the LRU
    assert change.evicted == []
    assert cache.keys_in_eviction_order() == [a[1], b[1], b[0], a[0]]
    change = cache.insert(block_keys(prompt(64, 2)), T0 + 4)
    assert change.evicted == [a[1]]
    change = cache.insert(block_keys(prompt(64, 3)), T0 + 5)
    assert change.evicted == [b[1]]  # b's tail before its head
    assert cache.cached_blocks(b, T0 + 6) == 1


def test_a_prompt_longer_than_the_cap_keeps_its_head() -> None:
    cache = ScriptPrefixCache(max_blocks=3, expiry_s=3600)
    keys = block_keys(prompt(64 * 5))
    change = cache.insert(keys, T0)
    assert change.evicted == [keys[4], keys[3]]
    assert cache.cached_blocks(keys, T0) == 3
    assert [b.depth for b in change.touched] == [3, 2, 1]


def test_shared_prefix_stays_while_any_branch_is_used() -> None:
    cache = ScriptPrefixCache(max_blocks=100, expiry_s=100)
    base = prompt(64 * 2)
    branch_a = base + prompt(64, 5)
    branch_b = base + prompt(64, 6)
    cache.insert(block_keys(branch_a), T0)
    cache.insert(block_keys(branch_b), T0 + 60)
    cache.evict(T0 + 120)
    # branch_a's own tail expired; the shared head was refreshed by branch_b.
    assert cache.cached_blocks(block_keys(branch_a), T0 + 120) == 2
    assert cache.cached_blocks(block_keys(branch_b), T0 + 120) == 3


def test_expiry_is_strict_at_the_boundary() -> None:
    cache = ScriptPrefixCache(max_blocks=10, expiry_s=3600)
    keys = block_keys(prompt(128))
    cache.insert(keys, T0)
    assert cache.cached_blocks(keys, T0 + 3599.999) == 2
    assert cache.cached_blocks(keys, T0 + 3600) == 0
    assert cache.evict(T0 + 3600) == [keys[1], keys[0]]


async def test_expired_blocks_count_as_uncached(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    async with open_limits(tmp_path / "c.db", clock, cache_expiry_s=60) as limits:
        await limits.insert("s", prompt(128))
        clock.advance(59)
        assert limits.count_uncached("s", prompt(128)) == 0
        clock.advance(1)
        assert limits.count_uncached("s", prompt(128)) == 128


async def test_cache_survives_reopen_with_order(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    path = tmp_path / "c.db"
    async with open_limits(path, clock, cache_max_blocks=3) as limits:
        await limits.insert("s", prompt(64 * 2, 0))
        clock.advance(1)
        await limits.insert("s", prompt(64, 1))
    async with open_limits(path, clock, cache_max_blocks=3) as limits:
        assert limits.count_uncached("s", prompt(64 * 2, 0)) == 0
        assert limits.count_uncached("s", prompt(64, 1)) == 0
        clock.advance(1)
        await limits.insert("s", prompt(64, 2))  # evicts the LRU tail: prompt 0's block 2
        assert limits.count_uncached("s", prompt(64 * 2, 0)) == 64
    async with open_limits(path, clock, cache_max_blocks=3) as limits:
        assert limits.count_uncached("s", prompt(64 * 2, 0)) == 64
        assert limits.diagnostics("s").cache_blocks == 3


def test_count_cached_tokens_without_cache() -> None:
    assert count_cached_tokens(None, prompt(500), T0) == 0
