"""A worker's log lines on their way to the host's sink: cut, rate-limited, drops reported.

The script is untrusted and may log in a tight loop; ``LogThrottle`` bounds what passes, and
the sink hears how many lines were dropped before the next line that does pass.
"""

from __future__ import annotations

from collections.abc import Callable

from sandbox.rlimits import WorkerLimits
from sandbox.watchdog import LogThrottle

LogSink = Callable[[str, str], None]


class ScriptLog:
    """Feeds ``sink(level, text)``; with no sink, lines are still counted and dropped."""

    def __init__(self, limits: WorkerLimits, sink: LogSink | None) -> None:
        self._sink = sink
        self._throttle = LogThrottle(
            rate=limits.log_lines_per_second,
            burst=limits.log_burst,
            max_line_bytes=limits.log_line_bytes,
        )

    @property
    def dropped_total(self) -> int:
        return self._throttle.dropped_total

    def write(self, level: str, text: str) -> None:
        line = self._throttle.admit(text)
        if line is None:
            return
        self.report_drops()
        if self._sink is not None:
            self._sink(level, line)

    def report_drops(self) -> None:
        dropped = self._throttle.take_dropped()
        if dropped and self._sink is not None:
            self._sink("error", f"[{dropped} log lines dropped: the script logs too fast]")
