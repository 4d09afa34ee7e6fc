"""Per-script diagnostics as data: the limits' view plus the host's (logs, worker state)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from nai_script.host.script import LogLine
from nai_script.limits import ScriptDiagnostics


class WorkerState(BaseModel):
    model_config = ConfigDict(frozen=True)

    alive: bool
    pid: int | None
    exit_reason: str | None
    exit_kind: str | None
    cpu_seconds: float | None
    rss_bytes: int | None
    memory_limit_mb: int | None


class HostScriptDiagnostics(BaseModel):
    """What the diagnostics tab and ``nai-script run --diagnostics`` show for one script."""

    model_config = ConfigDict(frozen=True)

    script_id: str
    name: str
    path: str
    limits: ScriptDiagnostics
    input_model: str
    recent_logs: list[LogLine]
    recent_errors: list[LogLine]
    failures: int
    worker: WorkerState
    generating: bool
    behaviour: str | None
    hooks: list[str]
    pending_timers: int
