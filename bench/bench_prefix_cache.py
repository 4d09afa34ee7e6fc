"""Prefix-cache lookup cost: ``count_uncached`` vs just hashing the blocks, plus write latency.

Run: /tmp/venv/bin/python bench/bench_prefix_cache.py
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import statistics
import struct
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from nai_script.limits import FakeClock, Limits, LimitsConfig

VOCAB = 150_000


def best_ms(fn: Callable[[], object], repeat: int = 30) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times) * 1000


def baseline_hash_blocks(ids: list[int]) -> list[bytes]:
    """The plain baseline: hash each 64-token block on its own, no chaining, no lookup."""
    return [
        hashlib.blake2b(struct.pack("<64I", *ids[i : i + 64]), digest_size=16).digest()
        for i in range(0, len(ids) - 63, 64)
    ]


async def main() -> None:
    rng = random.Random(1)
    bases = [[rng.randrange(VOCAB) for _ in range(16_384)] for _ in range(20)]
    with tempfile.TemporaryDirectory() as tmp:
        config = LimitsConfig(cache_max_blocks=200_000, synchronous="NORMAL")
        limits = Limits(Path(tmp) / "bench.db", config, FakeClock())
        # 1,000 earlier prompts: 20 shared bases, each cut at its own length, own tail.
        start = time.perf_counter()
        for i in range(1000):
            base = bases[i % 20][: rng.randrange(640, 16_384)]
            tail = [rng.randrange(VOCAB) for _ in range(rng.randrange(64, 1024))]
            await limits.insert("bench", base + tail)
        fill_s = time.perf_counter() - start
        blocks = limits.diagnostics("bench").cache_blocks
        print(f"setup: 1000 prompts inserted in {fill_s:.2f} s, {blocks} blocks cached")
        print()
        print(
            f"{'prompt':>8} {'hit blocks':>10} {'count_uncached':>15} {'baseline hash':>14} {'ratio':>6}"
        )
        for size in (8_192, 16_384, 32_768, 65_536):
            # Worst case: the whole prompt is cached, so every block is hashed and looked up.
            prompt = (bases[0] * 4)[:size]
            await limits.insert("bench", prompt)
            ours = best_ms(lambda p=prompt: limits.count_uncached("bench", p))
            base = best_ms(lambda p=prompt: baseline_hash_blocks(p))
            hits = (size - limits.count_uncached("bench", prompt)) // 64
            print(f"{size:>8} {hits:>10} {ours:>12.3f} ms {base:>11.3f} ms {ours / base:>6.2f}")
        miss = [rng.randrange(VOCAB) for _ in range(32_768)]
        ours = best_ms(lambda: limits.count_uncached("bench", miss))
        print(f"{32_768:>8} {'0 (miss)':>10} {ours:>12.3f} ms   (stops hashing at the first miss)")
        await limits.close()

        print()
        for sync in ("FULL", "NORMAL"):
            limits = Limits(Path(tmp) / f"w-{sync}.db", LimitsConfig(synchronous=sync))
            latencies, loop_blocked = [], []
            for _ in range(200):
                t0 = time.perf_counter()
                r = await limits.reserve("s", output_tokens=1)
                t1 = time.perf_counter()
                await r.settle(0)
                latencies.append(t1 - t0)
            # Loop-thread time of a write: submitting it (the commit runs on the writer thread).
            for _ in range(200):
                t0 = time.perf_counter()
                fut = limits._store.submit(limits._store.interaction_tx("s", time.time()))
                loop_blocked.append(time.perf_counter() - t0)
                fut.result()
            t0 = time.perf_counter()
            await limits.insert("s", (bases[1] * 2)[:32_768])
            insert_ms = (time.perf_counter() - t0) * 1000
            print(
                f"synchronous={sync:<6}: reserve median {statistics.median(latencies) * 1000:.3f} ms"
                f" (p99 {sorted(latencies)[197] * 1000:.3f}), loop blocked per write "
                f"{statistics.median(loop_blocked) * 1e6:.0f} us, insert 32k prompt {insert_ms:.2f} ms"
            )
            await limits.close()


if __name__ == "__main__":
    asyncio.run(main())
