"""Per-worker limits: the settings model the host owns, and the kernel rlimits the worker applies.

The worker applies the rlimits to itself on ``load``, after its own imports and before any
script code runs, so one pre-started spare process can serve any script. Memory is
``RLIMIT_AS`` (address space, not RSS): a loaded worker at rest maps about 43 MB of address
space (measured: VmSize 42.7 MB, VmRSS 36 MB for interpreter, pydantic-core, RestrictedPython
and the guards), so the default of 256 MB leaves a script ~210 MB of headroom, the floor of
128 MB still runs small scripts, and the 1 GB ceiling bounds what a header may ask for.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sandbox.worker_rlimits import (
    DEFAULT_MEMORY_MB,
    MEMORY_CEILING_MB,
    MEMORY_FLOOR_MB,
    apply_worker_rlimits,
    memory_mb_within,
)

__all__ = [
    "DEFAULT_MEMORY_MB",
    "MEMORY_CEILING_MB",
    "MEMORY_FLOOR_MB",
    "WorkerLimits",
    "apply_worker_rlimits",
    "memory_mb_within",
]


class WorkerLimits(BaseModel):
    """Everything that bounds one worker. Times are seconds; sizes are bytes unless named MB."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    memory_default_mb: int = Field(DEFAULT_MEMORY_MB, ge=MEMORY_FLOOR_MB)
    memory_ceiling_mb: int = Field(MEMORY_CEILING_MB, ge=MEMORY_FLOOR_MB)
    # Watchdogs: CPU and wall time of one activation (from a host message until the worker's
    # loop blocks again), and wall time of the top level / one invocation until it answers.
    cpu_seconds: float = Field(5.0, gt=0)
    wall_seconds: float = Field(30.0, gt=0)
    load_wall_seconds: float = Field(60.0, gt=0)
    poll_interval: float = Field(0.05, gt=0)
    # Kernel backstop for the whole process lifetime (SIGXCPU), should the watchdog fail.
    cpu_backstop_seconds: int = Field(600, ge=1)
    max_open_files: int = Field(32, ge=8)
    max_file_bytes: int = Field(0, ge=0)
    max_frame_bytes: int = Field(16 * 1024 * 1024, ge=1024)
    # Api calls the host serves at once for one worker (each holds a host task): past it a
    # call fails at once, so a loop firing calls without awaiting cannot exhaust the host.
    max_pending_calls: int = Field(1000, ge=1)
    # Host objects (signals, windows, helpers) one worker may hold proxies for at once: each
    # lives in the host's memory while held, so past it a call that would make one fails.
    max_remote_objects: int = Field(10_000, ge=1)
    # Log bounding on the host: long lines are cut, a token bucket drops floods.
    log_line_bytes: int = Field(4096, ge=64)
    log_lines_per_second: float = Field(100.0, gt=0)
    log_burst: int = Field(200, ge=1)
    stderr_tail_bytes: int = Field(8192, ge=256)

    def memory_mb_for(self, requested_mb: int | None) -> int:
        """The RLIMIT_AS a script gets: its header's ``memoryLimit`` within floor..ceiling."""
        return memory_mb_within(requested_mb, self.memory_default_mb, self.memory_ceiling_mb)

    def wire(self) -> dict[str, Any]:
        """What the worker needs of these limits (it reads plain dicts)."""
        return self.model_dump()
