"""What the worker does with its limits, without pydantic: the memory rule and the rlimits.

Split from ``sandbox.rlimits`` (whose ``WorkerLimits`` is the host's pydantic settings model) so
the worker reads the limits the host sent as a plain dict and never pays pydantic's import.
"""

from __future__ import annotations

from typing import Any

DEFAULT_MEMORY_MB = 256
MEMORY_CEILING_MB = 1024
MEMORY_FLOOR_MB = 128


def memory_mb_within(requested_mb: int | None, default_mb: int, ceiling_mb: int) -> int:
    """The RLIMIT_AS a script gets: its header's ``memoryLimit`` within floor..ceiling."""
    if not requested_mb or requested_mb <= 0:
        return min(default_mb, ceiling_mb)
    return max(MEMORY_FLOOR_MB, min(int(requested_mb), ceiling_mb))


def apply_worker_rlimits(limits: dict[str, Any], memory_mb: int) -> None:
    """Tighten the calling process's rlimits; only ever lowers them (runs in the worker)."""
    import resource

    def lower(which: int, soft: int, hard: int | None = None) -> None:
        _, current_hard = resource.getrlimit(which)
        hard = soft if hard is None else hard
        if current_hard != resource.RLIM_INFINITY:
            hard = min(hard, current_hard)
            soft = min(soft, hard)
        resource.setrlimit(which, (soft, hard))

    lower(resource.RLIMIT_CORE, 0)
    lower(resource.RLIMIT_FSIZE, int(limits["max_file_bytes"]))
    lower(resource.RLIMIT_NOFILE, int(limits["max_open_files"]))
    # Ignored for root (CAP_SYS_RESOURCE); otherwise no fork and no thread creation.
    lower(resource.RLIMIT_NPROC, 0)
    backstop = int(limits["cpu_backstop_seconds"])
    lower(resource.RLIMIT_CPU, backstop, backstop + 5)
    address_space = memory_mb * 1024 * 1024
    lower(resource.RLIMIT_AS, address_space)
