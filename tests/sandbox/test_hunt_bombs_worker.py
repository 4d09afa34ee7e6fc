"""More resource bombs in a real worker: C-level work that ignores Python signals, width and
repeat allocations, deep nesting that overflows the C stack, and a top level that only ever
awaits. Each ends within its limit with a typed reason naming the script, and the host keeps
serving another script."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from test_worker_harness import FAST, FakeHost, running, start

from sandbox.process import LoadFailed, ScriptFailed, WorkerDied
from sandbox.protocol import ApiCall

MARGIN = 2.5  # seconds over the limit tolerated on a loaded machine
# For bombs whose CPU use before the tested end (a crash, a MemoryError) is real work: on a
# loaded 2-core VM that work can pass FAST's 0.5 s, and the CPU limit would end it first.
ROOMY = FAST.model_copy(update={"cpu_seconds": 5.0, "load_wall_seconds": 8.0})


def nai_script(*args: str) -> subprocess.CompletedProcess[str]:
    """The CLI as a subprocess, on the embedded simulator whatever this environment says."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("NAI_")}
    command = [sys.executable, "-m", "nai_script", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)


async def load_failure(source: str, limit: float, **kwargs: object) -> LoadFailed:
    began = time.monotonic()
    with pytest.raises(LoadFailed) as raised:
        await start(source, name="bomb.py", **kwargs)  # type: ignore[arg-type]
    assert time.monotonic() - began < limit + MARGIN
    return raised.value


@pytest.mark.parametrize(
    "source",
    [
        'import re\nre.match("(a+)+$", "a" * 60 + "b")',
        'import re\nre.compile("(x+x+)+y").search("x" * 5000)',
        "x = pow(10, 10 ** 9)",
        "import math\nx = math.factorial(10 ** 7)",
        "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n"
        "        pass",
        "x = 10 ** 10 ** 10",
        'import re\nre.match("(a|aa)+$", "a" * 40 + "b")',
        "x = sorted(range(10 ** 6), key=lambda i: [i % 7, -i])\nwhile True:\n    x.sort()",
    ],
    ids=[
        "regex_backtracking",
        "regex_nested",
        "pow",
        "factorial",
        "loop_catching_everything",
        "power_tower",
        "regex_alternation",
        "sort_forever",
    ],
)
async def test_c_level_cpu_bombs_are_killed_for_cpu(source: str) -> None:
    failed = await load_failure(source, FAST.cpu_seconds)
    assert failed.reason is not None, str(failed)
    assert failed.reason.kind == "cpu"
    assert failed.reason.script_name == "bomb.py"


@pytest.mark.parametrize(
    "source",
    [
        'x = f"{1:>2000000000}"',
        'x = format(1, "2000000000")',
        'x = "%0*d" % (2000000000, 1)',
        'x = "x".ljust(2000000000)',
        "x = bytes(10 ** 10)",
        "x = [[]] * 10 ** 9",
        "x = sorted(range(10 ** 9))",
        'import itertools\nx = "".join(itertools.repeat("x", 10 ** 10))',
        "import itertools\nx = list(itertools.repeat(0, 10 ** 10))",
        "d = dict.fromkeys(range(10 ** 9))",
        "s = 'a' * 2 ** 40",
        "d = {'k' * 10 ** 9: 1}",
    ],
    ids=[
        "fstring_width",
        "format_width",
        "percent_width",
        "ljust",
        "bytes",
        "list_repeat",
        "sorted_range",
        "join_repeat",
        "repeat_list",
        "dict_growth",
        "str_repeat_2_40",
        "huge_dict_key",
    ],
)
async def test_allocation_bombs_are_stopped_for_memory(source: str) -> None:
    """Filling memory is CPU work too (dict_growth inserts millions of keys first), so these
    get ROOMY's CPU limit: the memory limit is what is tested."""
    failed = await load_failure(source, ROOMY.cpu_seconds, limits=ROOMY)
    assert failed.reason is not None, str(failed)
    assert failed.reason.kind == "memory"
    assert "bomb.py" in str(failed)
    assert "MemoryError" in failed.reason.detail


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("x = str(10 ** 100000)", "bomb.py:1: ValueError: Exceeds the limit (4300 digits)"),
        ("x = int('9' * 10 ** 6)", "bomb.py:1: ValueError: Exceeds the limit (4300 digits)"),
        ('import json\njson.loads("[" * 1000000)', "bomb.py:2: RecursionError"),
        ("a = []\nfor i in range(200000):\n    a = [a]\ns = repr(a)", "bomb.py:4: RecursionError"),
        (
            "import json\na = []\nfor i in range(200000):\n    a = [a]\njson.dumps(a)",
            "RecursionError",
        ),
        ("import random\nx = random.randbytes(10 ** 10)", "bomb.py:2: OverflowError"),
    ],
    ids=[
        "int_to_str",
        "str_to_int",
        "json_deep_loads",
        "deep_repr",
        "json_deep_dumps",
        "randbytes",
    ],
)
async def test_bounded_by_python_itself_with_the_line(source: str, message: str) -> None:
    failed = await load_failure(source, FAST.cpu_seconds)
    assert failed.failure is not None, str(failed)
    assert failed.failure.kind == "exception"
    assert message in str(failed)


@pytest.mark.parametrize(
    "source",
    [
        "t = ()\nfor i in range(300000):\n    t = (t,)\nhash(t)",
        "x = iter([1])\nfor i in range(300000):\n    x = map(abs, x)\nnext(x)",
        "x = iter([1])\nfor i in range(300000):\n    x = filter(None, x)\nlist(x)",
        "import itertools\nx = [1]\nfor i in range(300000):\n    x = itertools.chain(x)\nnext(x)",
    ],
    ids=["hash_tuple", "map_next", "filter_list", "chain_next"],
)
async def test_c_stack_overflow_is_reported_as_a_crash_and_others_keep_running(
    source: str,
) -> None:
    """C code that recurses without a depth check (hashing a nested tuple, stepping nested
    iterators) overflows the C stack: the worker dies of SIGSEGV.
    The nesting fits in memory long before the stack holds the recursion, so no limit
    prevents it; the process wall contains it, and faulthandler's dump lets the host name the
    script's line instead of quoting its own frames."""
    healthy, _ = await start("def ok(): return 'fine'\n", name="healthy.py")
    # Building 300,000 levels takes CPU before the crash; the crash is what is tested.
    try:
        failed = await load_failure(source, ROOMY.load_wall_seconds, limits=ROOMY)
        assert failed.reason is not None, str(failed)
        assert failed.reason.kind == "crashed"
        assert failed.reason.script_name == "bomb.py"
        assert failed.reason.detail.startswith(
            f"killed by SIGSEGV at bomb.py:{source.count(chr(10)) + 1}: "
        )
        assert "C stack most likely overflowed" in failed.reason.detail
        assert "sandbox" not in failed.reason.detail  # none of the host's own frames
        assert await healthy.invoke("ok") == "fine"
    finally:
        await healthy.shutdown()


async def test_top_level_that_only_awaits_hits_the_load_wall_clock() -> None:
    """No activation uses much CPU, so only the wall-clock watchdog can end it."""
    limits = FAST.model_copy(update={"load_wall_seconds": 0.5})
    failed = await load_failure("while True:\n    await api.v1.sleep(0)\n", 0.5, limits=limits)
    assert failed.reason is not None, str(failed)
    assert failed.reason.kind == "wall_clock"


def test_cli_reports_escapes_with_their_line(tmp_path: Path) -> None:
    """``check`` refuses at compile time (exit 3); ``run`` stops a run-time refusal (exit 1)."""
    checked = tmp_path / "fmt.py"
    checked.write_text("x = 1\nz = ().__class__\nimport os\n")
    result = nai_script("check", str(checked))
    assert result.returncode == 3
    assert "fmt.py:2:" in result.stdout + result.stderr
    assert "fmt.py:3:" in result.stdout + result.stderr
    ran = tmp_path / "forge.py"
    ran.write_text("x = 1\nF = type(api.v1.log)\n")
    result = nai_script("run", "--data", str(tmp_path / "data"), str(ran))
    assert result.returncode == 1
    assert "forge.py:2: SandboxError: type() of a host object" in result.stderr


SHAPED_FAILURES = {
    "int_too_long_for_json": (
        "def bad():\n    return 10 ** 5000\n",
        "s.py: ValueError: return value: Exceeds the limit (4300 digits)",
    ),
    "str_of_megabytes": (
        "class E(Exception):\n    def __str__(self):\n        return 'x' * 20000000\n"
        "def bad():\n    raise E()\n",
        "more characters cut]",
    ),
    "str_subclass_cutting_itself": (
        "class Big:\n    def __str__(self):\n        return 'y' * 20000000\n"
        "class T(str):\n    def __len__(self):\n        return 10 ** 9\n"
        "    def __getitem__(self, k):\n        return Big()\n"
        "class E(Exception):\n    def __str__(self):\n        return T('short')\n"
        "def bad():\n    raise E()\n",
        "s.py:13: E: short",
    ),
    "str_raising_base_exception": (
        "class B(BaseException):\n    pass\nclass E(Exception):\n"
        "    def __str__(self):\n        raise B()\ndef bad():\n    raise E()\n",
        "s.py:7: E: <exception message could not be shown>",
    ),
}


@pytest.mark.parametrize(("source", "message"), SHAPED_FAILURES.values(), ids=list(SHAPED_FAILURES))
async def test_a_failure_the_script_shapes_is_answered_at_once(source: str, message: str) -> None:
    """Such a failure could not be sent (a frame over the limit, json refusing the int, a raise
    out of the worker's own handler): the host waited for the wall-clock limit, then stopped
    the worker as if the callback had hung."""
    async with running(source + "def ok(): return 'ok'\n") as (worker, _host):
        began = time.monotonic()
        with pytest.raises(ScriptFailed) as raised:
            await worker.invoke("bad")
        assert time.monotonic() - began < 1.0
        assert message in str(raised.value)
        assert len(str(raised.value)) < 5000
        assert await worker.invoke("ok") == "ok"


async def test_a_top_level_raise_with_a_huge_message_fails_the_load_at_once() -> None:
    source = (
        "class E(Exception):\n    def __str__(self):\n        return 'x' * 20000000\nraise E()\n"
    )
    failed = await load_failure(source, 1.0)
    assert failed.failure is not None, str(failed)
    assert failed.failure.kind == "exception"
    assert failed.failure.message.startswith("bomb.py:4: E: xxx")
    assert failed.failure.message.endswith("more characters cut]")


async def test_print_with_a_str_subclass_separator_cannot_forge_the_log_frame() -> None:
    """The separator's own ``join`` made the printed "text" a list whose slice was a dict: the
    host refused the log frame and stopped the worker for a protocol violation."""
    source = (
        "class M(list):\n    def __getitem__(self, k):\n        return {'not': 'text'}\n"
        "class L(list):\n    def endswith(self, x):\n        return False\n"
        "    def rstrip(self, x):\n        return M()\n"
        "class S(str):\n    def join(self, parts):\n        return L()\n"
        "print('a', 'b', sep=S('-'))\n"
        "try:\n    print('a', end=1)\nexcept TypeError as e:\n    print(str(e))\n"
        "def ok(): return 'ok'\n"
    )
    async with running(source) as (worker, host):
        assert host.lines() == ["a-b", "end must be None or a string, not int"]
        assert await worker.invoke("ok") == "ok"


async def test_memory_running_out_in_the_worker_own_code_is_reported_at_once() -> None:
    """The script keeps nearly all its memory and returns 40 references to one 1 MB string:
    encoding the result raised MemoryError in the worker's own callback, asyncio's default
    handler logged it, and the host waited for the wall-clock limit."""
    source = (
        "hold = []\n"
        "def fill():\n    try:\n        while True:\n            hold.append('x' * (1 << 20))\n"
        "    except Exception:\n        pass\n    for i in range(8):\n        hold.pop()\n"
        "    return len(hold)\n"
        "def result():\n    return [hold[0]] * 40\n"
    )
    limits = FAST.model_copy(update={"cpu_seconds": 5.0})
    async with running(source, limits=limits, name="full.py") as (worker, _host):
        assert await worker.invoke("fill") > 100
        began = time.monotonic()
        with pytest.raises(WorkerDied) as died:
            await worker.invoke("result")
        assert time.monotonic() - began < 1.0
        assert died.value.reason.kind == "memory"
        assert died.value.reason.detail == "full.py: MemoryError"  # no script line: worker code


#: Activations may run 1 s without yielding; the top level and a callback get 10 s in all.
STALL_LIMITS = FAST.model_copy(update={"wall_seconds": 1.0, "load_wall_seconds": 10.0})


class StallingHost(FakeHost):
    """A host whose ``echo`` handler blocks its own event loop (as tokenizing megabytes of
    text on the loop does) before answering."""

    async def handle(self, call: ApiCall) -> Any:
        if call.path == "v1.echo" and call.args == ["stall"]:
            time.sleep(STALL_LIMITS.wall_seconds + 0.5)  # the host, not the script, is busy
        return await super().handle(call)


@pytest.mark.parametrize(
    "source",
    [
        "call = api.v1.echo('stall')\nspin()\nawait call\n",
        "async def cb():\n    call = api.v1.echo('stall')\n    spin()\n    return await call\n",
    ],
    ids=["top_level", "invocation"],
)
async def test_a_stall_of_the_host_is_not_blamed_on_the_script(source: str) -> None:
    """The worker reported it was waiting on the call while the host's loop was stalled;
    reading that report only after the stall, the host judged the activation first and
    stopped the script for not yielding ('ran 1.60 s without yielding'), and an invocation's
    timer, late by the stall, fired ahead of its result."""
    host = StallingHost()
    # The call is sent at once; the report that the worker blocks on it follows 0.1 s later,
    # so it arrives while the host is stalled, behind the watchdog's next sample.
    source = "def spin():\n    for i in range(400000):\n        pass\n" + source
    source += "def ok(): return 'ok'\n"
    async with running(source, host=host, limits=STALL_LIMITS) as (worker, _):
        if "cb" in source:
            assert await worker.invoke("cb", timeout=10.0) == "stall"
        assert worker.exit_reason is None
        assert await worker.invoke("ok") == "ok"


#: A small frame limit, so the tests build over-limit messages cheaply.
SMALL_FRAMES = FAST.model_copy(update={"max_frame_bytes": 64 * 1024})


class GrowingHost(FakeHost):
    """Answers ``echo('grow')`` with 70,000 characters: a result larger than its call."""

    async def handle(self, call: ApiCall) -> Any:
        if call.args == ["grow"]:
            return "x" * 70000
        return await super().handle(call)


async def test_a_reply_over_the_worker_frame_limit_is_an_error_not_a_deaf_worker() -> None:
    """The host answered a call with more than the worker accepts in one frame (a tokenizer
    result for megabytes of text is several times its input): the worker's reader refused it
    and went deaf, and the host stopped the script for 'not yielding' after the wall-clock
    limit. Now the script gets a ValueError naming the call, at once."""
    source = (
        "try:\n    await api.v1.echo('grow')\nexcept ValueError as e:\n    api.v1.log(str(e))\n"
        "try:\n    api.v1.echoSync('grow')\nexcept ValueError as e:\n    api.v1.log(str(e))\n"
        "def ok(): return 'ok'\n"
    )
    async with running(source, host=GrowingHost(), limits=SMALL_FRAMES) as (worker, host):
        assert host.lines() == [
            f"{path}: the result is 70041 bytes; one message to a script may carry at most 65536"
            for path in ("v1.echo", "v1.echoSync")
        ]
        assert worker.exit_reason is None
        assert await worker.invoke("ok") == "ok"


async def test_an_invocation_over_the_worker_frame_limit_is_refused_on_the_host() -> None:
    """Arguments over the limit (a message another script sends, whose invocation frame is a
    little larger than the sender's own): the receiving worker went deaf and was stopped for
    the wall-clock limit, so one script could stop another."""
    source = "def cb(data): return len(data)\ndef ok(): return 'ok'\n"
    async with running(source, limits=SMALL_FRAMES) as (worker, _host):
        began = time.monotonic()
        with pytest.raises(ScriptFailed, match="one message to a script may carry at most 65536"):
            await worker.invoke("cb", "x" * 70000)
        assert time.monotonic() - began < 1.0
        assert worker.exit_reason is None
        assert await worker.invoke("cb", "x" * 1000) == 1000
        assert await worker.invoke("ok") == "ok"
