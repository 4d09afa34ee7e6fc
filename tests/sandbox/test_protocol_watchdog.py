"""Watchdog bookkeeping, log bounding and exit classification, with an injected clock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from sandbox.watchdog import (
    ActivationWatchdog,
    BoundedTail,
    LogThrottle,
    ProcessCpu,
    classify_death,
    read_cpu_seconds,
    read_rss_bytes,
    truncate_line,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_cpu_breach_counts_time_before_first_sample() -> None:
    clock = FakeClock()
    dog = ActivationWatchdog(cpu_limit=0.5, wall_limit=10, clock=clock)
    assert dog.sample(1.0) is None  # not running: nothing to check
    dog.start()
    clock.now += 0.05
    assert dog.sample(3.0) is None  # baseline; 0.05 s may already have been spent
    clock.now += 0.4
    assert dog.sample(3.4) is None
    clock.now += 0.1
    breach = dog.sample(3.5)
    assert breach is not None
    assert breach.kind == "cpu"
    assert "0.5 s of CPU" in breach.detail


def test_blocking_resets_the_activation() -> None:
    clock = FakeClock()
    dog = ActivationWatchdog(cpu_limit=0.5, wall_limit=10, clock=clock)
    for start_cpu in (0.0, 0.4, 0.8, 1.2):
        dog.start()
        assert dog.sample(start_cpu) is None
        clock.now += 0.4
        assert dog.sample(start_cpu + 0.39) is None
        dog.stop()
    assert dog.sample(99.0) is None


def test_wall_clock_breach_without_cpu() -> None:
    clock = FakeClock()
    dog = ActivationWatchdog(cpu_limit=5, wall_limit=1.0, clock=clock)
    dog.start()
    dog.start()  # idempotent: does not restart the clock
    clock.now += 1.5
    breach = dog.sample(None)
    assert breach is not None
    assert breach.kind == "wall_clock"


def test_log_throttle_drops_and_counts() -> None:
    clock = FakeClock()
    throttle = LogThrottle(rate=10, burst=5, max_line_bytes=100, clock=clock)
    admitted = [throttle.admit(f"line {i}") for i in range(20)]
    assert sum(line is not None for line in admitted) == 5
    assert throttle.take_dropped() == 15
    assert throttle.take_dropped() == 0
    clock.now += 0.35  # three tokens back (and a half)
    assert [throttle.admit("x") is not None for _ in range(4)] == [True, True, True, False]
    assert throttle.dropped_total == 16


def test_truncate_line_respects_utf8_boundaries() -> None:
    assert truncate_line("short", 10) == "short"
    cut = truncate_line("é" * 100, 51)
    assert cut.startswith("é" * 25 + "...")
    assert "150 more bytes cut" in cut


def test_bounded_tail_keeps_last_bytes() -> None:
    tail = BoundedTail(16)
    for i in range(100):
        tail.feed(f"line {i}\n".encode())
    assert tail.text().endswith("line 99")
    assert len(tail.text()) <= 16


def test_classify_death() -> None:
    assert classify_death(-signal.SIGXCPU, "")[0] == "cpu"
    assert classify_death(1, "Traceback...\nMemoryError")[0] == "memory"
    kind, detail = classify_death(-signal.SIGSEGV, "boom")
    assert kind == "crashed"
    assert "SIGSEGV" in detail
    assert "boom" in detail
    assert classify_death(3, "")[1] == "exited with code 3"


def test_proc_readers_on_self_and_on_a_missing_pid() -> None:
    cpu = read_cpu_seconds(os.getpid())
    assert cpu is not None
    assert cpu >= 0
    assert (read_rss_bytes(os.getpid()) or 0) > 1_000_000
    assert read_cpu_seconds(2**22 + 12345) is None


def test_process_cpu_reads_again_and_again_then_none_once_the_process_is_gone() -> None:
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys\nx = 0\nfor i in range(3_000_000): x += i\nsys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
    )
    cpu = ProcessCpu(child.pid)
    try:
        first = cpu.read()
        assert first is not None
        deadline = time.monotonic() + 10
        while (cpu.read() or 0) <= first and time.monotonic() < deadline:
            time.sleep(0.01)
        assert (cpu.read() or 0) > first  # a fresh reading each time, not the first one cached
        assert child.stdin is not None
        child.stdin.close()
        child.wait(10)
        assert cpu.read() is None  # reaped: the descriptor names that process, not its pid
    finally:
        cpu.close()
    assert cpu.read() is None
    assert ProcessCpu(2**22 + 12345).read() is None


def test_classify_death_names_the_script_line_of_a_fault() -> None:
    dump = (
        "Fatal Python error: Segmentation fault\n\n"
        "Current thread 0x00007f (most recent call first):\n"
        '  File "bomb.py", line 12 in deep\n'
        '  File "bomb.py", line 4 in <module>\n'
        '  File "/srv/sandbox/runtime.py", line 66 in run_compiled\n'
    )
    kind, detail = classify_death(-signal.SIGSEGV, "earlier noise\n" + dump, "bomb.py")
    assert kind == "crashed"
    assert detail.startswith("killed by SIGSEGV at bomb.py:12: the interpreter's C stack")
    assert "/srv" not in detail
    # Without the script in the dump (it faulted in host code), no line; never a guess.
    kind, detail = classify_death(-signal.SIGSEGV, dump, "other.py")
    assert detail.startswith("killed by SIGSEGV: the interpreter's C stack")
    # A fault without faulthandler's dump keeps the raw tail, cut to its last 20 lines.
    _, detail = classify_death(-signal.SIGSEGV, "\n".join(f"l{i}" for i in range(50)))
    assert detail.endswith("l49")
    assert "l29" not in detail


def test_a_host_stall_is_excused_from_wall_time_and_the_cpu_estimate() -> None:
    now = [0.0]
    dog = ActivationWatchdog(cpu_limit=0.5, wall_limit=1.0, clock=lambda: now[0])
    dog.start()
    now[0] = 1.6  # the host's loop stalled 1.5 s before the first sample
    dog.excuse(1.5)
    assert dog.sample(10.0) is None  # 0.1 s of wall, estimated as CPU: within both limits
    now[0] = 2.7  # the script really ran on: judged on its own time
    dog.excuse(0.0)
    breach = dog.sample(10.1)
    assert breach is not None
    assert breach.kind == "wall_clock"
