"""Guard overhead: an attribute- and subscript-heavy loop, sandboxed vs plain Python.

Run: /tmp/venv/bin/python bench/bench_guards.py [iterations]
The same source runs twice: compiled by ``compile_script`` with ``make_globals`` (every
``p.x`` is ``_getattr_``, every ``t[k]`` is ``_getitem_``, ``total += ...`` is
``_inplacevar_``), and compiled by plain ``compile`` with ordinary globals. For reference it
also times the loop with RestrictedPython's stock ``safer_getattr`` as ``_getattr_``.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from RestrictedPython.Guards import safer_getattr

from sandbox.compiler import compile_script
from sandbox.runtime import make_globals, run_compiled

SOURCE = """
class Point:
    def __init__(self, x, y):
        self.x = x
        self.y = y

points = [Point(i, i + 1) for i in range(100)]
table = {"scale": 3, "offset": 1}

def work(n):
    total = 0
    for i in range(n):
        p = points[i % 100]
        total += p.x * table["scale"] + p.y - table["offset"]
    return total
"""


def _best_of(runs: int, func: Any, n: int) -> tuple[float, Any]:
    best = float("inf")
    result = None
    for _ in range(runs):
        start = time.perf_counter()
        result = func(n)
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    plain_globals: dict[str, Any] = {"__name__": "bench"}
    exec(compile(SOURCE, "<plain>", "exec"), plain_globals)

    compiled = compile_script(SOURCE, "bench.py")
    sandbox_globals = make_globals(object(), print_sink=lambda _text: None)
    run_compiled(compiled, sandbox_globals)

    stock_globals = make_globals(object(), print_sink=lambda _text: None)
    stock_globals["_getattr_"] = safer_getattr
    run_compiled(compiled, stock_globals)

    # Interleave the variants so a noisy neighbour slows all of them alike; keep each best.
    plain_time = ours_time = stock_time = float("inf")
    plain_result = ours_result = stock_result = None
    for _ in range(5):
        seconds, plain_result = _best_of(1, plain_globals["work"], n)
        plain_time = min(plain_time, seconds)
        seconds, ours_result = _best_of(1, sandbox_globals["work"], n)
        ours_time = min(ours_time, seconds)
        seconds, stock_result = _best_of(1, stock_globals["work"], n)
        stock_time = min(stock_time, seconds)
    assert plain_result == ours_result == stock_result, "sandboxed result differs"

    print(f"iterations: {n:,}")
    print(f"{'variant':<34}{'seconds':>10}{'ns/iter':>10}{'ratio':>8}")
    for label, seconds in (
        ("plain Python", plain_time),
        ("sandbox (our guards)", ours_time),
        ("sandbox, RP safer_getattr instead", stock_time),
    ):
        print(f"{label:<34}{seconds:>10.3f}{seconds / n * 1e9:>10.1f}{seconds / plain_time:>7.2f}x")


if __name__ == "__main__":
    main()
