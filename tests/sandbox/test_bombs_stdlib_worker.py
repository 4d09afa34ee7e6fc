"""Resource bombs through what a script is allowed to use: string and bytes methods, and the C
code of the allowed modules (math, re, json, itertools, collections, functools, textwrap).
None of it yields to Python signals for long, so each must still end within its limit, with a
typed reason naming the script, or fail at once as the script's own error at its line."""

from __future__ import annotations

import pytest
from test_hunt_bombs_worker import ROOMY, load_failure
from test_worker_harness import FAST, running

from sandbox.process import ScriptFailed
from sandbox.script_run import MAX_MESSAGE_CHARS

CPU_BOMBS = {
    "math_comb": "import math\nx = math.comb(10 ** 6, 5 * 10 ** 5)",
    "math_perm": "import math\nx = math.perm(10 ** 6)",
    "math_lcm": "import math\nx = math.lcm(*range(1, 10 ** 6))",
    "sum_range": "x = sum(range(10 ** 12))",
    "regex_compile_huge": 'import re\nx = re.compile("a" * 10 ** 7)',
    "json_indent": "import json\nx = json.dumps([[]] * 10 ** 7, indent=1000)",
}


@pytest.mark.parametrize("source", CPU_BOMBS.values(), ids=CPU_BOMBS.keys())
async def test_c_level_work_is_killed_for_cpu(source: str) -> None:
    failed = await load_failure(source, FAST.cpu_seconds)
    assert failed.reason is not None, str(failed)
    assert failed.reason.kind == "cpu"
    assert failed.reason.script_name == "bomb.py"


MEMORY_BOMBS = {
    "zfill": 'x = "1".zfill(10 ** 10)',
    "center": 'x = "a".center(10 ** 10)',
    "replace": 'x = ("a" * 10 ** 5).replace("a", "b" * 10 ** 5)',
    "translate": 'x = ("a" * 10 ** 4).translate({97: "b" * 10 ** 6})',
    "to_bytes": 'x = (1).to_bytes(10 ** 10, "big")',
    "bytes_hex": 'x = bytes(10 ** 8).hex(":")',
    "float_precision": 'x = format(1.0, ".1000000000f")',
    "regex_sub_empty": 'import re\nx = re.sub("", "x" * 10 ** 5, "y" * 10 ** 5)',
    "product": "import itertools\nx = list(itertools.product(range(1000), repeat=4))",
    "sorted_repeat": "import itertools\nx = sorted(itertools.repeat(1, 10 ** 9))",
    "accumulate_doubling": (
        "import itertools\nx = list(itertools.accumulate(itertools.repeat(2), lambda a, b: a * b))"
    ),
    "counter_of_count": "import collections, itertools\nx = collections.Counter(itertools.count())",
    "textwrap_fill": 'import textwrap\nx = textwrap.fill("a " * 10 ** 8, width=1)',
    "lru_cache_unbounded": (
        "import functools\nf = functools.lru_cache(maxsize=None)(lambda n: n)\n"
        "for i in range(10 ** 9):\n    f(i)"
    ),
}


@pytest.mark.parametrize("source", MEMORY_BOMBS.values(), ids=MEMORY_BOMBS.keys())
async def test_allocations_through_allowed_code_are_stopped_for_memory(source: str) -> None:
    """ROOMY's CPU limit: some of these fill memory with real work first (a cache, a
    counter), and the memory limit is what is tested."""
    failed = await load_failure(source, ROOMY.cpu_seconds, limits=ROOMY)
    assert failed.reason is not None, str(failed)
    assert failed.reason.kind == "memory"
    assert "MemoryError" in failed.reason.detail
    assert f"bomb.py:{source.count(chr(10)) + 1}" in failed.reason.detail


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ('x = "\\t".expandtabs(10 ** 10)', "bomb.py:1: OverflowError"),
        ("x = bytearray(10 ** 10)", "bomb.py:1: NameError: name 'bytearray' is not defined"),
        ('x = "{:01000000000d}".format(1)', "bomb.py:1: ForbiddenAttributeError"),
    ],
    ids=["expandtabs", "bytearray", "format_width"],
)
async def test_refused_at_once_as_the_script_error(source: str, message: str) -> None:
    failed = await load_failure(source, FAST.cpu_seconds)
    assert str(failed).startswith(message), str(failed)


async def test_deque_of_an_endless_iterator_ends_at_its_line() -> None:
    """CPython's deque turns the MemoryError of its growth into a SystemError; either way the
    script fails at its own line, within the limit, and nothing else is hurt."""
    source = "import collections, itertools\nx = collections.deque(itertools.count())"
    failed = await load_failure(source, ROOMY.cpu_seconds, limits=ROOMY)
    assert str(failed).startswith("bomb.py:2: "), str(failed)
    assert "Error" in str(failed)


async def test_huge_error_messages_are_cut_and_the_worker_serves_on() -> None:
    """An exception carrying 50 MB of text (or a huge note, or thousands of sub-exceptions)
    reaches the host as one short line: the report never carries the script's bulk."""
    source = (
        "def text():\n    raise ValueError('y' * 50_000_000)\n"
        "def wide():\n    raise ValueError('\u00e9' * 30_000_000)\n"
        "def note():\n    e = ValueError('z')\n    e.add_note('n' * 50_000_000)\n    raise e\n"
        "def group():\n    raise ExceptionGroup('g', [ValueError('w' * 1000)] * 10_000)\n"
        "def ok():\n    return 'fine'\n"
    )
    async with running(source, name="e.py") as (worker, _host):
        messages = {}
        for name in ("text", "wide", "note", "group"):
            with pytest.raises(ScriptFailed) as raised:
                await worker.invoke(name)
            messages[name] = str(raised.value)
            assert len(messages[name]) <= MAX_MESSAGE_CHARS + 100, name
        assert messages["text"].startswith("e.py:2: ValueError: yyy")
        assert messages["text"].endswith(" more characters cut]")
        assert messages["wide"].startswith("e.py:4: ValueError: \u00e9\u00e9")
        assert messages["note"] == "e.py:8: ValueError: z"
        assert messages["group"] == "e.py:10: ExceptionGroup: g (10000 sub-exceptions)"
        assert await worker.invoke("ok") == "fine"
