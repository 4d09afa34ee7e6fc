"""Per-script diagnostics as data: the limits' view plus the host's (logs, worker state)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from nai_script.host.script import LoadedScript, LogLine
from nai_script.limits import Limits, ScriptDiagnostics


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


def assemble_diagnostics(
    script: LoadedScript, limits: Limits, input_model: str, input_capacity: int
) -> HostScriptDiagnostics:
    """``script`` as the diagnostics show it, its input bucket sized for ``input_model``."""
    worker = script.worker
    reason = script.exit_reason
    return HostScriptDiagnostics(
        script_id=script.id,
        name=script.name,
        path=str(script.path),
        limits=limits.diagnostics(script.id, input_capacity),
        input_model=input_model,
        recent_logs=list(script.recent_logs),
        recent_errors=list(script.recent_errors),
        failures=script.failures,
        worker=WorkerState(
            alive=worker is not None and worker.exit_reason is None,
            pid=worker.pid if worker is not None else None,
            exit_reason=None if reason is None else str(reason),
            exit_kind=None if reason is None else reason.kind,
            cpu_seconds=worker.cpu_seconds if worker is not None else None,
            rss_bytes=worker.rss_bytes if worker is not None else None,
            memory_limit_mb=worker.memory_limit_mb if worker is not None else None,
        ),
        generating=script.generation is not None,
        behaviour=script.generation.behaviour if script.generation else script.last_behaviour,
        hooks=sorted(script.hooks),
        pending_timers=len(script.timers),
    )
