"""Host-side watchdogs: CPU and wall-clock limits per activation, log bounding, exit reasons.

An *activation* is the time a worker spends running script code: it starts when the host sends
something that can run code (load, invoke, a reply, cancel) to a blocked worker and ends when
the worker reports it is blocked again (``idle``/``wait``, or a sync ``api_call``). Time the
host spends answering calls never counts against the script. CPU is read from
``/proc/<pid>/stat`` by a poller, never on the fast path: the CPU used before the first sample
of an activation is bounded by the wall time before it, so the estimate errs by at most one
poll interval and only towards stopping a runaway sooner.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Clock = Callable[[], float]
_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def read_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of ``pid`` from /proc, or ``None`` once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return None
    # The command name may contain spaces and parentheses; fields resume after the last ')'.
    fields = stat[stat.rindex(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS_PER_SECOND


def read_rss_bytes(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/statm", "rb") as handle:
            return int(handle.read().split()[1]) * _PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return None


LimitKind = Literal["cpu", "wall_clock"]


@dataclass(frozen=True)
class Breach:
    kind: LimitKind
    detail: str


class ActivationWatchdog:
    """Pure bookkeeping of one worker's activations; the host feeds it samples."""

    def __init__(self, *, cpu_limit: float, wall_limit: float, clock: Clock = time.monotonic):
        self.cpu_limit = cpu_limit
        self.wall_limit = wall_limit
        self._clock = clock
        self.running = False
        self._started_at = 0.0
        self._baseline_cpu: float | None = None
        self._baseline_at = 0.0

    def start(self) -> None:
        """The worker was woken; idempotent while it is already running."""
        if not self.running:
            self.running = True
            self._started_at = self._clock()
            self._baseline_cpu = None

    def stop(self) -> None:
        self.running = False

    def sample(self, cpu_seconds: float | None) -> Breach | None:
        """Check one CPU reading taken now; returns the breached limit, if any."""
        if not self.running:
            return None
        now = self._clock()
        if cpu_seconds is not None and self._baseline_cpu is None:
            self._baseline_cpu = cpu_seconds
            self._baseline_at = now
        used = 0.0
        if cpu_seconds is not None and self._baseline_cpu is not None:
            used = (cpu_seconds - self._baseline_cpu) + (self._baseline_at - self._started_at)
        if used > self.cpu_limit:
            return Breach("cpu", f"used more than {self.cpu_limit:g} s of CPU in one activation")
        elapsed = now - self._started_at
        if elapsed > self.wall_limit:
            return Breach("wall_clock", f"ran {elapsed:.2f} s without yielding")
        return None


class LogThrottle:
    """Token bucket over log lines plus a per-line size cap, so a flood costs the host little.

    ``admit`` returns the (possibly truncated) line to deliver, or ``None`` to drop it; when
    lines are admitted again after drops, ``take_dropped`` reports how many were lost.
    """

    def __init__(
        self, *, rate: float, burst: int, max_line_bytes: int, clock: Clock = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.max_line_bytes = max_line_bytes
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()
        self.dropped_total = 0
        self._dropped_unreported = 0

    def admit(self, line: str) -> str | None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens < 1.0:
            self.dropped_total += 1
            self._dropped_unreported += 1
            return None
        self._tokens -= 1.0
        return truncate_line(line, self.max_line_bytes)

    def take_dropped(self) -> int:
        dropped, self._dropped_unreported = self._dropped_unreported, 0
        return dropped


def truncate_line(line: str, max_bytes: int) -> str:
    encoded = line.encode("utf-8", "replace")
    if len(encoded) <= max_bytes:
        return line
    kept = encoded[:max_bytes].decode("utf-8", "ignore")
    return f"{kept}... [{len(encoded) - len(kept.encode())} more bytes cut]"


class BoundedTail:
    """Keeps only the last ``max_bytes`` of a stream (the worker's stderr)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._data = bytearray()

    def feed(self, chunk: bytes) -> None:
        self._data += chunk
        if len(self._data) > self.max_bytes:
            del self._data[: len(self._data) - self.max_bytes]

    def text(self, max_lines: int = 20) -> str:
        lines = self._data.decode("utf-8", "replace").splitlines()
        return "\n".join(lines[-max_lines:])


def describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with code {returncode}"


def classify_death(returncode: int | None, stderr_tail: str) -> tuple[str, str]:
    """Kind and detail for a death the host did not cause itself."""
    how = describe_exit(returncode)
    if returncode == -signal.SIGXCPU:
        return "cpu", f"{how}: the process CPU backstop (RLIMIT_CPU) was reached"
    if "MemoryError" in stderr_tail or "Cannot allocate memory" in stderr_tail:
        return "memory", f"{how}: out of memory under RLIMIT_AS"
    detail = how if not stderr_tail else f"{how}; stderr:\n{stderr_tail}"
    return "crashed", detail
