"""Hot reload latency: a script file is saved -> the new version is loaded / serving.

Three measurements over the same number of saves (write-to-temp-then-rename, as editors do):

* baseline: a bare ``watchfiles.awatch`` on the folder, save -> event delivered (the floor:
  OS notification plus watchfiles' own batching, with the same step as ours);
* ours: ``ScriptFolderWatcher`` with its default debounce, save -> loader called with the new
  bytes (a recording loader: watcher cost only);
* ours + host: the same watcher driving the real ``ScriptHost`` on the in-process simulator,
  save -> the new version's top level has logged (new worker started, new code serving).

Target (issue 4): median save -> new version serving <= 300 ms.

    /tmp/venv/bin/python bench/bench_reload.py [--saves 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from watchfiles import awatch

from nai_script.backend import open_backend
from nai_script.config import resolve_backend
from nai_script.host.host import ScriptHost
from nai_script.host.watcher import ScriptFolderWatcher

TARGET_MS = 300.0


def save(path: Path, text: str) -> float:
    temp = path.with_name(path.name + ".tmp")
    temp.write_text(text)
    started = time.perf_counter()
    temp.replace(path)
    return started


class Arrivals:
    """Text -> when it arrived; a waiter per text."""

    def __init__(self) -> None:
        self.seen: dict[str, float] = {}
        self.changed = asyncio.Event()

    def note(self, text: str) -> None:
        self.seen.setdefault(text, time.perf_counter())
        self.changed.set()

    async def wait(self, text: str) -> float:
        async def arrived() -> float:
            while text not in self.seen:
                self.changed.clear()
                await self.changed.wait()
            return self.seen[text]

        return await asyncio.wait_for(arrived(), 30)


class RecordingLoader:
    def __init__(self, arrivals: Arrivals) -> None:
        self.arrivals = arrivals

    async def load_script(self, path: Path, /) -> None:
        self.arrivals.note(path.read_text())  # noqa: ASYNC240 (tiny file, as the host reads)

    async def reload_script(self, path: Path, /) -> None:
        self.arrivals.note(path.read_text())  # noqa: ASYNC240 (tiny file, as the host reads)

    async def unload_script(self, path: Path, /) -> None:
        return None


async def measure(
    saves: int,
    script: Path,
    text_of: Callable[[int], str],
    arrivals: Arrivals,
    seen_as: Callable[[str], str] = lambda text: text,
) -> list[float]:
    """Save ``saves`` versions one after another; each sample is save -> its arrival."""
    samples = []
    for index in range(saves):
        text = text_of(index)
        started = save(script, text)
        samples.append((await arrivals.wait(seen_as(text)) - started) * 1000)
    return samples


async def bench_baseline(folder: Path, saves: int) -> list[float]:
    arrivals = Arrivals()
    script = folder / "base.py"
    stop = asyncio.Event()

    async def pump() -> None:
        async for _changes in awatch(folder, step=20, debounce=100, stop_event=stop):
            if script.exists():  # the temp file's event may come before the rename
                arrivals.note(script.read_text())

    task = asyncio.create_task(pump())
    await asyncio.sleep(0.3)  # let the OS watch settle in (the bare API has no ready signal)
    samples = await measure(saves, script, lambda i: f"x = {i}\n", arrivals)
    stop.set()
    await task
    return samples


async def bench_watcher(folder: Path, saves: int) -> list[float]:
    arrivals = Arrivals()
    script = folder / "ours.py"
    script.write_text("x = -1\n")
    async with ScriptFolderWatcher(folder, RecordingLoader(arrivals)):
        return await measure(saves, script, lambda i: f"x = {i}\n", arrivals)


async def bench_host(folder: Path, data: Path, saves: int) -> list[float]:
    arrivals = Arrivals()
    script = folder / "served.py"
    script.write_text('api.v1.log("v-start")\n')
    async with open_backend(resolve_backend(env={})) as backend:
        host = ScriptHost(
            client=backend.client,
            tokenizers=backend.tokenizers,
            data_dir=data,
            on_log=lambda _script, _level, text: arrivals.note(text),
        )
        async with host, ScriptFolderWatcher(folder, host):
            await arrivals.wait("v-start")
            return await measure(
                saves,
                script,
                lambda i: f'api.v1.log("v{i}")\n',
                arrivals,
                seen_as=lambda text: text.split('"')[1],  # the line the new version logs
            )


def row(label: str, samples: list[float], baseline: float) -> str:
    median = statistics.median(samples)
    return (
        f"{label:<34} median {median:7.1f} ms  p90 {sorted(samples)[int(len(samples) * 0.9)]:7.1f}"
        f" ms  max {max(samples):7.1f} ms  x{median / baseline:5.2f}"
    )


async def run(saves: int) -> None:
    with tempfile.TemporaryDirectory() as root:
        base = Path(root)
        dirs = {name: base / name for name in ("baseline", "watcher", "host", "data")}
        for path in dirs.values():
            path.mkdir()
        runs: list[tuple[str, Callable[[], Awaitable[list[float]]]]] = [
            ("bare awatch (event delivered)", lambda: bench_baseline(dirs["baseline"], saves)),
            ("watcher -> loader called", lambda: bench_watcher(dirs["watcher"], saves)),
            (
                "watcher + host -> new version",
                lambda: bench_host(dirs["host"], dirs["data"], saves),
            ),
        ]
        results = [(label, await make()) for label, make in runs]
    baseline = statistics.median(results[0][1])
    print(f"hot reload, {saves} saves each (write temp + rename), ratio vs bare awatch")
    for label, samples in results:
        print(row(label, samples, baseline))
    serving = statistics.median(results[-1][1])
    verdict = "OK" if serving <= TARGET_MS else "OVER TARGET"
    print(f"target: save -> new version serving median <= {TARGET_MS:.0f} ms: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saves", type=int, default=20)
    asyncio.run(run(parser.parse_args().saves))


if __name__ == "__main__":
    main()
