"""The example scripts in scripts/, each run the way a user would (``nai-script run``), and
the budget-aware batch through the host with a FakeClock so its waits take no time."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from host_helpers import hosted

from nai_script.limits import FakeClock

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def run(tmp_path: Path, *names: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "nai_script",
            "run",
            *(str(SCRIPTS / n) for n in names),
            "--data",
            str(tmp_path / "data"),
            "--timeout",
            "30",
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def test_there_are_at_least_eight_examples_with_headers() -> None:
    examples = sorted(SCRIPTS.glob("*.py"))
    assert len(examples) >= 8
    for path in examples:
        assert path.read_text().startswith('"""\n---\nid: '), path


def test_streaming_chat(tmp_path: Path) -> None:
    done = run(tmp_path, "streaming_chat.py")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "user: Tell me about the harbour."
    assert lines[1].startswith("assistant (")
    assert lines[-1].startswith("history: 7 items")


def test_uncached_check(tmp_path: Path) -> None:
    done = run(tmp_path, "uncached_check.py")
    assert done.returncode == 0, done.stderr
    before, after, cached = done.stdout.splitlines()
    n_before = int(before.split()[1])
    n_after = int(after.split()[1])
    assert n_after < 64
    assert int(cached.split()[1]) == n_before - n_after
    assert (n_before - n_after) % 64 == 0


def test_config_greeter(tmp_path: Path) -> None:
    done = run(tmp_path, "config_greeter.py")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:2] == [
        "Hello #1 from Config Greeter v1.2.0",
        "Hello #2 from Config Greeter v1.2.0",
    ]
    assert "no config option 'missing'" in done.stdout


def test_storage_counter_counts_across_runs(tmp_path: Path) -> None:
    assert "run number 1" in run(tmp_path, "storage_counter.py").stdout
    second = run(tmp_path, "storage_counter.py")
    assert second.returncode == 0, second.stderr
    assert second.stdout.splitlines() == [
        "run number 2",
        "keys: ['firstRunId', 'runs']",
        "scratch has 3 items",
        "scratch kept: False",
    ]


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (
            ("messaging_ping.py", "messaging_pong.py"),
            [
                "[messaging-pong] pong got ping #1",
                "[messaging-ping] ping got pong #1 from messaging-pong",
            ],
        ),
        (
            ("loaded_hook.py",),
            [
                "registered before: False",
                "registered after: True",
                "all scripts loaded (seen 1 times)",
            ],
        ),
        (
            ("timers_countdown.py",),
            ["tick 0", "tick 1", "tick 2", "after sleep: [0, 1, 2]", "dice ok: True"],
        ),
    ],
    ids=["messaging_ping_pong", "loaded_hook", "timers_countdown"],
)
def test_example_prints_exactly(
    tmp_path: Path, names: tuple[str, ...], expected: list[str]
) -> None:
    done = run(tmp_path, *names)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == expected


def test_cancel_stream(tmp_path: Path) -> None:
    done = run(tmp_path, "cancel_stream.py")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "finish: cancelled, cancelled: True"
    assert lines[1].endswith("reserved: True")
    assert "Traceback" not in done.stderr


def test_budget_batch_runs_within_budget(tmp_path: Path) -> None:
    done = run(tmp_path, "budget_batch.py")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "batch done: 3 items, output left 248"


async def test_budget_batch_waits_for_time_and_interaction(tmp_path: Path) -> None:
    clock = FakeClock()
    source = (SCRIPTS / "budget_batch.py").read_text().replace("default: 3", "default: 4")
    async with hosted(tmp_path, clock=clock) as env:
        path = env.folder / "budget_batch.py"
        path.write_text(source)
        load = asyncio.ensure_future(env.host.load_script(path))
        for _ in range(300):
            if any("waiting" in line for line in env.lines()) and clock.sleepers:
                break
            await asyncio.sleep(0.01)
        assert env.lines()[-1].startswith("item 3: waiting for output budget")
        clock.advance(241)
        await env.host.record_interaction("budget-batch")
        await asyncio.wait_for(load, 10)
        assert env.lines()[-1] == "batch done: 4 items, output left 1448"
