"""Benchmarks of the sandbox worker: cold start and the sync api call round trip.

Run: /tmp/venv/bin/python bench/bench_worker.py
Prints ours next to a plain baseline and the ratio:
- cold start: spawn + compile a 200-line script + top level done. Fresh spawn vs a warm
  (pre-started) worker from ``WarmPool``; baseline is a bare ``python -I -c pass`` round trip.
- round trip of a trivial sync api call worker -> host -> worker; baseline is the same
  length-prefixed JSON request/reply over a raw pipe between plain processes.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from typing import Any

from sandbox.api_schema import SYNC, ApiDescription
from sandbox.process import ScriptWorker, WarmPool
from sandbox.protocol import ApiCall, FrameDecoder, encode_frame
from sandbox.rlimits import WorkerLimits

API = ApiDescription.from_tree({"v1": {"noop": SYNC, "log": SYNC}})
RUNS = 20
CALLS = 3000


def script_of_200_lines() -> str:
    lines = ["total = 0"]
    for i in range(48):
        lines += [f"def helper_{i}(x):", f"    y = x + {i}", "    return y * 2", ""]
    lines += ["for i in range(10):", "    total += helper_1(i)", "api.v1.log(total)"]
    lines += [
        "def bench(n):",
        "    for i in range(n):",
        "        api.v1.noop()",
        "    return n",
    ]
    return "\n".join(lines) + "\n"


async def handler(call: ApiCall) -> Any:
    return None


async def start(pool: WarmPool | None = None) -> ScriptWorker:
    return await ScriptWorker.start(
        name="bench.py",
        source=script_of_200_lines(),
        filename="bench.py",
        api=API,
        handler=handler,
        limits=WorkerLimits(),
        pool=pool,
    )


async def bench_cold_start() -> tuple[float, float, float]:
    fresh: list[float] = []
    warm: list[float] = []
    bare: list[float] = []
    for _ in range(RUNS):
        began = time.perf_counter()
        proc = await asyncio.create_subprocess_exec(sys.executable, "-I", "-c", "pass")
        await proc.wait()
        bare.append(time.perf_counter() - began)
    for _ in range(RUNS):
        began = time.perf_counter()
        worker = await start()
        fresh.append(time.perf_counter() - began)
        await worker.shutdown()
    pool = WarmPool(size=1)
    for _ in range(RUNS):
        await asyncio.sleep(0.6)  # let the pool's spare finish starting, as it would in a host
        began = time.perf_counter()
        worker = await start(pool)
        warm.append(time.perf_counter() - began)
        await worker.shutdown()
    await pool.close()
    return statistics.median(fresh), statistics.median(warm), statistics.median(bare)


async def bench_round_trip() -> float:
    worker = await start()
    await worker.invoke("bench", 100)
    samples = []
    for _ in range(5):
        began = time.perf_counter()
        await worker.invoke("bench", CALLS)
        samples.append((time.perf_counter() - began) / CALLS)
    await worker.shutdown()
    return statistics.median(samples)


RAW_CHILD = """
import json, os, struct
H = struct.Struct('>I')
def read_exact(n):
    data = b''
    while len(data) < n:
        chunk = os.read(0, n - len(data))
        if not chunk:
            raise SystemExit
        data += chunk
    return data
for i in range(N_CALLS):
    body = json.dumps({"t": "api_call", "id": i, "path": "v1.noop", "sync": True, "args": []}).encode()
    os.write(1, H.pack(len(body)) + body)
    (length,) = H.unpack(read_exact(4))
    json.loads(read_exact(length))
"""


async def bench_raw_pipe() -> float:
    import json

    samples = []
    for _ in range(5):
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-I",
            "-c",
            RAW_CHILD.replace("N_CALLS", str(CALLS)),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None
        assert proc.stdin is not None
        decoder = FrameDecoder()
        began = time.perf_counter()
        done = 0
        while done < CALLS:
            chunk = await proc.stdout.read(65536)
            for payload in decoder.feed(chunk):
                message = json.loads(payload)
                reply = {"t": "reply", "id": message["id"], "ok": True, "value": None}
                proc.stdin.write(encode_frame(reply))
                done += 1
        samples.append((time.perf_counter() - began) / CALLS)
        await proc.wait()
    return statistics.median(samples)


def row(label: str, ours: float, base: float, unit: str, scale: float) -> str:
    return (
        f"{label:<44} ours {ours * scale:9.1f} {unit}   baseline {base * scale:9.1f} {unit}"
        f"   ratio {ours / base:5.2f}x"
    )


async def main() -> None:
    fresh, warm, bare = await bench_cold_start()
    ours_rt = await bench_round_trip()
    raw_rt = await bench_raw_pipe()
    print(f"sandbox worker benchmarks (median; {RUNS} starts, {CALLS} calls x 5)")
    print(row("cold start, fresh spawn (target <= 150 ms)", fresh, bare, "ms", 1e3))
    print(row("cold start, warm pool   (target <= 150 ms)", warm, bare, "ms", 1e3))
    print(row("sync api round trip     (target <= 200 us)", ours_rt, raw_rt, "us", 1e6))


if __name__ == "__main__":
    asyncio.run(main())
