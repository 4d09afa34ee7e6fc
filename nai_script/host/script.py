"""The state of one loaded script that lives in the host (never in its worker).

Hooks, message subscriptions, timers, permissions and the temp storage are per load: a reload
starts them afresh. Budgets, persistent storage and log lines are keyed by the script id
elsewhere, so they survive reloads and restarts (the recent lines here are seeded from the
logs file when the script is prepared; ``log_store``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from nai_script.host.log_store import LogLine as LogLine
from nai_script.host.rollover import ItemBudget
from nai_script.host.storage import ScriptStorage
from sandbox.header import ScriptHeader
from sandbox.process import ScriptWorker, WorkerError
from sandbox.protocol import CallbackHandle, ExitReason

RECENT_LOG_LINES = 200
Behaviour = Literal["blocking", "background"]


@dataclass
class GenerationState:
    """What the editor needs to know about a script's generation in flight."""

    behaviour: Behaviour
    model: str
    started_at: float


@dataclass(frozen=True)
class Subscription:
    """One ``messaging.onMessage(callback, filter)``: the handler and what it listens to
    (``None``: any sender, any channel)."""

    handle: CallbackHandle
    from_script_id: str | None = None
    channel: str | None = None

    def wants(self, from_script_id: str, channel: str | None) -> bool:
        return self.from_script_id in (None, from_script_id) and self.channel in (None, channel)


@dataclass
class LoadedScript:
    """One script as the host runs it."""

    path: Path
    source: str
    header: ScriptHeader
    order: int
    worker: ScriptWorker | None = None
    hooks: dict[str, CallbackHandle] = field(default_factory=dict)
    subscriptions: dict[int, Subscription] = field(default_factory=dict)
    timers: dict[int, asyncio.Task[None]] = field(default_factory=dict)
    next_timer: int = 0
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    granted: set[str] = field(default_factory=set)
    config_values: dict[str, Any] = field(default_factory=dict)
    temp_storage: ScriptStorage = field(default_factory=ScriptStorage.temporary)
    generation: GenerationState | None = None
    last_behaviour: Behaviour | None = None
    last_model: str | None = None
    recent_logs: deque[LogLine] = field(default_factory=lambda: deque(maxlen=RECENT_LOG_LINES))
    recent_errors: deque[LogLine] = field(default_factory=lambda: deque(maxlen=RECENT_LOG_LINES))
    failures: int = 0
    exit_reason: ExitReason | None = None
    loaded: bool = False  # its top level finished; a death before that is the load's error
    next_subscription: int = 0
    # Bytes of messages handed to this script's handlers and not yet answered (``messaging``).
    undelivered_bytes: int = 0
    #: What its rollover helpers hold together (``rollover.ItemBudget``).
    rollover_items: ItemBudget = field(default_factory=ItemBudget)

    @property
    def id(self) -> str:
        return self.header.id

    @property
    def name(self) -> str:
        return self.header.name

    def record_log(self, level: Literal["log", "error"], text: str) -> LogLine:
        line = LogLine(at=time.time(), level=level, text=text)
        self.recent_logs.append(line)
        if level == "error":
            self.recent_errors.append(line)
        return line

    def track(self, task: asyncio.Task[Any]) -> asyncio.Task[Any]:
        """Host-side work done for this script (timer, hook, message): counted as pending."""
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def cancel_pending(self) -> None:
        for task in [*self.tasks, *self.timers.values()]:
            task.cancel()
        self.timers.clear()

    # -- idleness: ``run`` exits, and tests settle, only once both the worker and the host's
    # work for the script (hooks, messages, timers) are done --------------------------------

    def has_pending(self) -> bool:
        """A live worker that is busy, or host-side tasks or timers for the script."""
        worker = self.worker
        busy_worker = worker is not None and worker.exit_reason is None and not worker.is_idle
        return busy_worker or bool(self.tasks) or bool(self.timers)

    async def wait_idle(self) -> None:
        """Until neither the worker nor the host has anything pending for the script."""
        while True:
            worker = self.worker
            if worker is not None and worker.exit_reason is None:
                with contextlib.suppress(WorkerError):
                    await worker.wait_idle()
            pending = [*self.tasks, *self.timers.values()]
            if pending:
                await asyncio.wait(pending)
                continue
            if not self.has_pending():
                return
