"""The 64-token prefix cache NovelAI uses to charge only uncached prompt tokens.

A prompt (chat-templated token ids) is cut into 64-token blocks. Block k's key is
blake2b(key of block k-1 || block k's ids as little-endian uint32), so a key names the whole
prefix up to its block and a change in block k invalidates k and everything after it. Only full
blocks count. Eviction is LRU with a per-script cap and an expiry; ties and caps take the deepest
blocks first, so a kept block's prefix is always kept too.
"""

from __future__ import annotations

import hashlib
import sys
from array import array
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

BLOCK_TOKENS = 64
KEY_BYTES = 16
_ROOT_KEY = b"\x00" * KEY_BYTES


def pack_token_ids(ids: Sequence[int]) -> bytes:
    """Token ids as little-endian uint32, naming the first bad id if there is one."""
    try:
        packed = array("I", ids)
    except (OverflowError, TypeError):
        for index, value in enumerate(ids):
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**32:
                raise ValueError(
                    f"token ids[{index}]: {value!r} is not an integer in 0..2**32-1"
                ) from None
        raise
    if packed.itemsize != 4:  # pragma: no cover - every mainstream platform has 4-byte "I"
        raise RuntimeError("array('I') is not 32-bit on this platform")
    if sys.byteorder == "big":  # pragma: no cover
        packed.byteswap()
    return packed.tobytes()


def iter_block_keys(ids: Sequence[int]) -> Iterator[bytes]:
    """The chained keys of the prompt's full blocks, in order, computed as consumed (a
    lookup stops hashing at its first miss)."""
    data = memoryview(pack_token_ids(ids))  # validates every id, the partial tail too
    block_bytes = BLOCK_TOKENS * 4
    previous = _ROOT_KEY
    for start in range(0, (len(ids) // BLOCK_TOKENS) * block_bytes, block_bytes):
        digest = hashlib.blake2b(previous, digest_size=KEY_BYTES)
        digest.update(data[start : start + block_bytes])
        previous = digest.digest()
        yield previous


def block_keys(ids: Sequence[int]) -> list[bytes]:
    """The chained keys of the prompt's full blocks, in order."""
    return list(iter_block_keys(ids))


@dataclass(frozen=True)
class CachedBlock:
    """One block as persisted: its key, 1-based depth in its prompt, and last use."""

    key: bytes
    depth: int
    last_used: float


@dataclass
class CacheChange:
    """What an insert did, for the store to write through."""

    touched: list[CachedBlock] = field(default_factory=list)
    evicted: list[bytes] = field(default_factory=list)


class ScriptPrefixCache:
    """One script's blocks, oldest use first; within one use, deepest first.

    Invariant: a block's parent sits after it in the order (an insert moves a whole chain to
    the end, tail first), so popping from the front never strands a block without its prefix.
    """

    def __init__(self, max_blocks: int, expiry_s: float) -> None:
        if max_blocks < 1:
            raise ValueError(f"cache max_blocks: must be >= 1, got {max_blocks}")
        if expiry_s <= 0:
            raise ValueError(f"cache expiry_s: must be > 0, got {expiry_s}")
        self.max_blocks = max_blocks
        self.expiry_s = expiry_s
        self._blocks: OrderedDict[bytes, tuple[int, float]] = OrderedDict()

    @classmethod
    def from_rows(
        cls, rows: Iterable[CachedBlock], max_blocks: int, expiry_s: float
    ) -> ScriptPrefixCache:
        """Rebuild the order from persisted rows: last use ascending, then depth descending."""
        cache = cls(max_blocks, expiry_s)
        for row in sorted(rows, key=lambda r: (r.last_used, -r.depth)):
            cache._blocks[row.key] = (row.depth, row.last_used)
        return cache

    def __len__(self) -> int:
        return len(self._blocks)

    def live_blocks(self, now: float) -> int:
        """Blocks a lookup would still find (expired ones stay until the next insert)."""
        return sum(1 for _, last_used in self._blocks.values() if last_used + self.expiry_s > now)

    def _alive(self, key: bytes, now: float) -> bool:
        found = self._blocks.get(key)
        return found is not None and found[1] + self.expiry_s > now

    def cached_blocks(self, keys: Iterable[bytes], now: float) -> int:
        """How many leading blocks are present and unexpired (read-only)."""
        count = 0
        for key in keys:
            if not self._alive(key, now):
                break
            count += 1
        return count

    def insert(self, keys: Sequence[bytes], now: float) -> CacheChange:
        """Mark the prompt's blocks used now, then evict expired and over-cap blocks."""
        change = CacheChange()
        for depth in range(len(keys), 0, -1):
            key = keys[depth - 1]
            self._blocks[key] = (depth, now)
            self._blocks.move_to_end(key)
            change.touched.append(CachedBlock(key, depth, now))
        change.evicted = self.evict(now)
        evicted = set(change.evicted)
        change.touched = [b for b in change.touched if b.key not in evicted]
        return change

    def evict(self, now: float) -> list[bytes]:
        """Drop expired blocks and then the least recently used beyond the cap."""
        evicted: list[bytes] = []
        while self._blocks:
            key, (_, last_used) = next(iter(self._blocks.items()))
            if last_used + self.expiry_s > now and len(self._blocks) <= self.max_blocks:
                break
            self._blocks.popitem(last=False)
            evicted.append(key)
        return evicted

    def keys_in_eviction_order(self) -> list[bytes]:
        """Front first: what would go first (tests and diagnostics)."""
        return list(self._blocks)


def count_cached_tokens(cache: ScriptPrefixCache | None, ids: Sequence[int], now: float) -> int:
    """Cached tokens of a prompt: 64 x the leading blocks already seen."""
    if cache is None:
        return 0
    return BLOCK_TOKENS * cache.cached_blocks(iter_block_keys(ids), now)
