"""Web editor figures in a real Chromium, ours vs a plain baseline, side by side:

1. UI round trip: button click -> script callback -> ``ui.updateParts`` -> text on screen,
   vs a bare page command round trip (``diagnostics.get`` -> reply) on the same socket.
2. Page load with 20 scripts loaded (page open -> scripts list drawn) vs with none.
3. Send -> first AI token on screen, vs the simulator's own first-token latency measured
   with the client directly (the editor's overhead is the difference).

Run: /tmp/venv/bin/python bench/bench_web.py   (needs /usr/bin/chromium and playwright)
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "tests" / p) for p in ("web", "browser")]

from browser_helpers import browser_page  # noqa: E402
from web_helpers import served  # noqa: E402

from nai_script.client import models as wire  # noqa: E402

ROUNDS = 30
COUNTER = """
count = [0]
async def bump():
    count[0] += 1
    await api.v1.ui.updateParts([{'id': 'n', 'text': str(count[0])}])

await api.v1.ui.window.open({'id': 'w', 'title': 'Counter', 'content': [
    {'type': 'text', 'id': 'n', 'text': '0'},
    {'type': 'button', 'id': 'b', 'text': 'Bump', 'callback': bump}]})
"""
ROUND_TRIP_JS = """async (rounds) => {
  const out = [];
  const node = () => document.querySelector('.window [data-part-id="n"]');
  for (let i = 0; i < rounds; i++) {
    const before = node().textContent;
    const start = performance.now();
    await new Promise((resolve) => {
      const poll = () => (node() && node().textContent !== before) ? resolve() : requestAnimationFrame(poll);
      document.querySelector('.window [data-part-id="b"]').click();
      poll();
    });
    out.push(performance.now() - start);
  }
  return out;
}"""
BASELINE_JS = """async (rounds) => {
  const out = [];
  for (let i = 0; i < rounds; i++) {
    const start = performance.now();
    await new Promise((resolve) => {
      window.naiScript.onEvent = (e) => { if (e.type === 'diagnostics') resolve(); };
      window.naiScript.send({type: 'diagnostics.get'});
    });
    out.push(performance.now() - start);
  }
  window.naiScript.onEvent = null;
  return out;
}"""
FIRST_TOKEN_JS = """async () => {
  const start = performance.now();
  document.querySelector('#send').click();
  await new Promise((resolve) => {
    const poll = () => {
      const ai = document.querySelector('#document .origin-ai');
      if (ai && ai.textContent.length) resolve(); else requestAnimationFrame(poll);
    };
    poll();
  });
  return performance.now() - start;
}"""


def fresh(tmp: Path, name: str) -> Path:
    folder = tmp / name
    folder.mkdir()
    return folder


def row(name: str, ours: float, baseline: float) -> None:
    print(f"{name:<38} {ours:>9.1f} ms {baseline:>12.1f} ms {ours / baseline:>8.2f}x")


async def round_trip(tmp: Path) -> tuple[float, float]:
    async with served(tmp, {"counter.py": COUNTER}) as server, browser_page("bench_rt") as page:
        await page.goto(server.url)
        await page.locator('.window [data-part-id="b"]').wait_for()
        baseline = await page.evaluate(BASELINE_JS, ROUNDS)
        ours = await page.evaluate(ROUND_TRIP_JS, ROUNDS)
    return statistics.median(ours), statistics.median(baseline)


async def page_load(tmp: Path, scripts: int) -> float:
    sources = {f"s{i:02}.py": f'api.v1.log("script {i}")\n' for i in range(scripts)}
    async with served(tmp, sources) as server, browser_page("bench_load") as page:
        times = []
        for _ in range(5):
            start = time.perf_counter()
            await page.goto(server.url)
            await page.wait_for_function(
                f"document.querySelectorAll('#scripts li').length === {scripts}"
                " && document.querySelector('#status').dataset.state === 'open'"
            )
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


async def first_token(tmp: Path) -> tuple[float, float]:
    async with served(tmp) as server, browser_page("bench_send") as page:
        client = server.backend.client
        sim_times = []
        for _ in range(10):
            request = wire.ChatCompletionRequest(
                model="glm-4-6",
                messages=[wire.ChatMessage(role="user", content="Hi")],
                max_tokens=20,
            )
            start = time.perf_counter()
            async for _chunk in client.stream_chat_completions(request):
                sim_times.append((time.perf_counter() - start) * 1000)
                break
        await page.goto(server.url)
        await page.wait_for_selector('#status[data-state="open"]')
        ours = []
        for _ in range(10):
            await page.evaluate("document.querySelector('#document').replaceChildren()")
            ours.append(await page.evaluate(FIRST_TOKEN_JS))
            await page.wait_for_function("!document.querySelector('#send').disabled")
            await asyncio.sleep(0.3)  # let the generation commit before the next Send
    return statistics.median(ours), statistics.median(sim_times)


async def main() -> None:
    with tempfile.TemporaryDirectory() as raw:
        tmp = Path(raw)
        print(f"{'measure (median)':<38} {'ours':>12} {'baseline':>15} {'ratio':>9}")
        ours, base = await round_trip(fresh(tmp, "rt"))
        row("UI click->callback->update (vs cmd)", ours, base)
        twenty = await page_load(fresh(tmp, "load20"), 20)
        none = await page_load(fresh(tmp, "load0"), 0)
        row("page load, 20 scripts (vs 0 scripts)", twenty, none)
        ours, sim = await first_token(fresh(tmp, "send"))
        row("Send->first token (vs sim client)", ours, sim)
        print(f"Send->first token overhead over the simulator: {ours - sim:.1f} ms")


if __name__ == "__main__":
    asyncio.run(main())
