"""``ScriptHost``: loads scripts into sandboxed workers and answers their api.v1 calls.

It composes the sandbox (one worker per script), the limits (budgets and prefix cache in one
SQLite file under the data dir), the storages (another SQLite file), the tokenizers and the
client core. The watcher and the CLI drive it through ``load_script``/``reload_script``/
``unload_script``, ``fire_hook``, the interaction events and ``diagnostics``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable, Collection, Sequence
from pathlib import Path
from typing import Any, Literal

from nai_script.client import NovelAIClient
from nai_script.host import storage_namespaces
from nai_script.host.compile_file import compile_file
from nai_script.host.diagnostics import HostScriptDiagnostics, assemble_diagnostics
from nai_script.host.dispatch import ApiUsageError, CallContext, HostObject
from nai_script.host.errors import LoadError
from nai_script.host.hosted_worker import HostedWorker, ScriptHandler
from nai_script.host.image_budget import ImageBudget, ImageBudgetConfig
from nai_script.host.log_store import LogStore
from nai_script.host.permissions import PermissionPolicy, deny_permissions
from nai_script.host.routes import ROUTES
from nai_script.host.script import RECENT_LOG_LINES, LoadedScript
from nai_script.host.storage import ScriptStorage, StorageDB
from nai_script.host.surface import api_description
from nai_script.limits import Clock, Limits, LimitsConfig, SystemClock
from nai_script.tokenizers import Tier, TokenizerRegistry, context_size
from sandbox.process import LoadFailed, ScriptFailed, WarmPool, WorkerError
from sandbox.protocol import ApiCall, CallbackHandle, ExitReason
from sandbox.rlimits import WorkerLimits

LogSink = Callable[[LoadedScript, Literal["log", "error"], str], None]
DEFAULT_MODEL = "glm-4-6"
logger = logging.getLogger(__name__)


class ScriptHost:
    """Every loaded script of one host, and the services their api calls use."""

    def __init__(
        self,
        *,
        client: NovelAIClient,
        tokenizers: TokenizerRegistry,
        data_dir: str | Path,
        clock: Clock | None = None,
        limits_config: LimitsConfig | None = None,
        worker_limits: WorkerLimits | None = None,
        tier: int = Tier.OPUS,
        default_model: str = DEFAULT_MODEL,
        permission_policy: PermissionPolicy = deny_permissions,
        on_log: LogSink | None = None,
        config_overrides: dict[str, dict[str, Any]] | None = None,
        story_id: str = "default",
        history_node_id: str = "root",
        hook_timeout: float = 10.0,
        warm_workers: int = 0,
        image_budget_config: ImageBudgetConfig | None = None,
    ) -> None:
        self.client = client
        self.tokenizers = tokenizers
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.clock: Clock = clock or SystemClock()
        self.limits = Limits(self.data_dir / "limits.sqlite3", limits_config, self.clock)
        self.storage_db = StorageDB(self.data_dir / "storage.sqlite3")
        self.logs = LogStore(self.data_dir / "logs.sqlite3", RECENT_LOG_LINES)
        self.image_budget = ImageBudget(
            self.data_dir / "image_budget.sqlite3",
            image_budget_config,
            self.limits.clock,  # its spends are compared with the limits' interactions
            last_interaction=self.limits.last_interaction,
        )
        self.worker_limits = worker_limits or WorkerLimits()
        self.tier = int(tier)
        self.default_model = default_model
        self.permission_policy = permission_policy
        self.on_log = on_log
        self.config_overrides = config_overrides or {}
        self.story_id = story_id
        self.history_node_id = history_node_id
        self.hook_timeout = hook_timeout
        self._scripts: dict[Path, LoadedScript] = {}
        # The last start of each path that failed (its top level raised, was stopped or was
        # cancelled): not loaded, but what it spent and why it ended stay reportable.
        self._failed: dict[Path, LoadedScript] = {}
        self._load_counter = 0
        # Told of every user interaction: a script id, or None for a manual generation (which
        # counts for every script). The editor resets its editor.generate counters here.
        self.interaction_listeners: list[Callable[[str | None], None]] = []
        # Told when a script's ``api.v1.generate`` starts or ends (``script.generation`` set or
        # cleared): a blocking one blocks the editor, and the page must show it.
        self.generation_listeners: list[Callable[[LoadedScript], None]] = []
        # Set when composed with the editor page (serve): story editor, script UI, page requests.
        self.editor: Any = None
        self.ui: Any = None
        self.page_requests: Any = None
        self._pool = WarmPool(warm_workers) if warm_workers > 0 else None

    async def __aenter__(self) -> ScriptHost:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Charge reservations a crashed host left in flight (a crash never refills)."""
        await self.limits.recover_orphaned_reservations()

    async def close(self) -> None:
        for script in list(self._scripts.values()):
            await self._stop(script)
        self._scripts.clear()
        if self._pool is not None:
            await self._pool.close()
        await self.limits.close()
        self.storage_db.close()
        self.logs.close()
        self.image_budget.close()

    # -- scripts ---------------------------------------------------------------------------

    @property
    def scripts(self) -> list[LoadedScript]:
        """Loaded scripts in load order (the order hooks fire in)."""
        return sorted(self._scripts.values(), key=lambda s: s.order)

    @property
    def failed_scripts(self) -> list[LoadedScript]:
        """Scripts whose last start failed and that are not loaded now, in load order
        (``run --diagnostics`` reports them beside the loaded ones)."""
        failed = [s for path, s in self._failed.items() if path not in self._scripts]
        return sorted(failed, key=lambda s: s.order)

    def script_by_id(self, script_id: str) -> LoadedScript | None:
        return next((s for s in self._scripts.values() if s.id == script_id), None)

    def _find(self, path_or_id: str | Path) -> LoadedScript | None:
        script = self._scripts.get(_resolve(path_or_id))
        return script if script is not None else self.script_by_id(str(path_or_id))

    def _prepare(self, path: Path) -> LoadedScript:
        """Read and compile (the policy check happens here, before any worker exists)."""
        source, compiled = compile_file(path)
        header = compiled.header
        other = self.script_by_id(header.id)
        if other is not None and other.path != path:
            raise LoadError(
                "internal", f"{path}: script id {header.id!r} is already used by {other.path}"
            )
        self._load_counter += 1
        script = LoadedScript(path=path, source=source, header=header, order=self._load_counter)
        lines, errors = self.logs.recent(header.id)  # what it logged in earlier loads and runs
        script.recent_logs.extend(lines)
        script.recent_errors.extend(errors)
        overrides = self.config_overrides.get(header.id, {})
        script.config_values = {
            option.name: overrides.get(option.name, option.default) for option in header.config
        }
        return script

    async def load_script(self, path: str | Path) -> LoadedScript:
        """Compile, start a worker and run the top level; ``LoadError`` says why not."""
        resolved = _resolve(path)
        if resolved in self._scripts:
            raise LoadError("internal", f"{resolved}: already loaded (use reload_script)")
        return await self._start(self._prepare(resolved))

    async def reload_script(self, path: str | Path) -> LoadedScript:
        """Compile the new version first: if it fails, the old one keeps running."""
        resolved = _resolve(path)
        old = self._scripts.get(resolved)
        if old is None:
            return await self.load_script(resolved)
        del self._scripts[resolved]  # its id may be reused by the new version
        try:
            script = self._prepare(resolved)
        except LoadError:
            self._scripts[resolved] = old
            raise
        script.order = old.order
        await self._stop(old)
        return await self._start(script)

    async def unload_script(self, path_or_id: str | Path) -> bool:
        script = self._find(path_or_id)
        if script is None:
            return False
        self._scripts.pop(script.path, None)
        await self._stop(script)
        return True

    async def _start(self, script: LoadedScript) -> LoadedScript:
        if script.header.permissions:
            # compile_script already refused names outside basics.PERMISSIONS.
            wanted = list(script.header.permissions)
            script.granted.update(await self.permission_policy(script, wanted, None))
        self._scripts[script.path] = script
        memory_mb = self.worker_limits.memory_mb_for(script.header.memoryLimit)
        try:
            await HostedWorker.start(
                name=script.path.name,
                source=script.source,
                filename=str(script.path),
                api=api_description(script.header, memory_mb),
                handler=ScriptHandler(self, script),
                limits=self.worker_limits,
                on_log=lambda level, text: self.emit_log(script, level, text),  # type: ignore[arg-type]
                on_exit=lambda reason: self._on_exit(script, reason),
                pool=self._pool,
            )
        except LoadFailed as error:
            self._scripts.pop(script.path, None)
            self._failed[script.path] = script
            script.cancel_pending()
            raise LoadError.from_load_failed(error) from None
        except asyncio.CancelledError:
            # Stopped while the top level ran (e.g. a caller's timeout): take the worker down.
            self._scripts.pop(script.path, None)
            self._failed[script.path] = script
            await asyncio.shield(self._stop(script))
            raise
        script.loaded = True
        self._failed.pop(script.path, None)
        return script

    async def _stop(self, script: LoadedScript) -> None:
        script.cancel_pending()
        if script.worker is not None:
            await script.worker.shutdown()

    def _on_exit(self, script: LoadedScript, reason: ExitReason) -> None:
        script.exit_reason = reason
        script.cancel_pending()
        # A death during the top level is reported once, by the LoadError ``load_script`` raises.
        if reason.kind != "shutdown" and script.loaded:
            self.emit_log(script, "error", str(reason))

    # -- calls -----------------------------------------------------------------------------

    async def handle_call(self, script: LoadedScript, call: ApiCall) -> Any:
        ctx = CallContext(self, script, call)
        try:
            if call.remote is not None:
                target = call.remote.target
                if not isinstance(target, HostObject):
                    raise ValueError("this object has no methods")
                return await target.call_method(ctx, call.method)
            route = ROUTES.get(call.path)
            if route is None:
                raise ValueError(f"api.{call.path} is not implemented")
            return await route(ctx)
        except ApiUsageError as error:
            # One place keeps the promise that a usage error names the call, whichever helper
            # (a validator shared by several calls, the editor's models) raised it.
            raise ApiUsageError(ctx.named(str(error))) from None

    def emit_log(self, script: LoadedScript, level: Literal["log", "error"], text: str) -> None:
        """Record the line (committed to the logs file first: SPEC 10) and hand it to
        ``on_log``. The sink is the host's output: if it fails (a closed pipe, a full disk),
        that is the host's problem, never the script's, so it is logged here and
        ``api.v1.log`` still succeeds."""
        self.logs.append(script.id, script.record_log(level, text))
        if self.on_log is not None:
            try:
                self.on_log(script, level, text)
            except Exception as error:
                logger.warning("on_log sink failed: %s: %s", type(error).__name__, error)

    async def invoke_callback(
        self,
        script: LoadedScript,
        handle: CallbackHandle,
        args: Sequence[Any],
        *,
        what: str,
        limit_s: float | None = None,
        then: Sequence[Sequence[Any]] = (),
    ) -> bool:
        """Call a script function (again with each of ``then``, in turn: ``worker.invoke``);
        a raise is reported (and counted), never propagated."""
        result = await self.call_script(script, handle, args, what=what, limit_s=limit_s, then=then)
        return result is not _FAILED

    async def call_script(
        self,
        script: LoadedScript,
        handle: CallbackHandle,
        args: Sequence[Any],
        *,
        what: str,
        limit_s: float | None = None,
        then: Sequence[Sequence[Any]] = (),
    ) -> Any:
        worker = script.worker
        if worker is None or worker.exit_reason is not None:
            return _FAILED
        try:
            return await worker.invoke(handle, *args, then=then, timeout=limit_s)
        except ScriptFailed as error:
            script.failures += 1
            self.emit_log(script, "error", f"{what} raised: {error}")
        except WorkerError:
            pass  # the exit is reported once, by _on_exit
        return _FAILED

    async def ask_permissions(
        self, script: LoadedScript, wanted: list[str], reason: str | None
    ) -> list[str]:
        granted = await self.permission_policy(script, wanted, reason)
        return [name for name in granted if name in wanted]

    def storage_for(
        self, script: LoadedScript, namespace: str, node: str | None = None
    ) -> ScriptStorage:
        """The script's storage ``namespace``; ``historyStorage`` as seen from ``node``
        (default: the current history node)."""
        return storage_namespaces.storage_for(
            self.storage_db,
            script,
            namespace,
            editor=self.editor,
            story_id=self.story_id,
            history_node_id=self.history_node_id,
            node=node,
        )

    def input_capacity(self, model: str) -> int:
        """Input bucket size: 2 x the model's context at the account's tier."""
        return 2 * context_size(model, self.tier)

    # -- hooks and messages ----------------------------------------------------------------

    async def fire_hook(
        self, name: str, params: Any = None, skip: Collection[str] = ()
    ) -> list[tuple[str, Any]]:
        """Call ``name`` in every script that registered it (but those in ``skip``), in load
        order; ``(script id, result)`` of each that answered (``hook_answers``)."""
        return [answer async for answer in self.hook_answers(name, params, skip)]

    async def hook_answers(
        self, name: str, params: Any = None, skip: Collection[str] = ()
    ) -> AsyncGenerator[tuple[str, Any], None]:
        """``(script id, result)`` of each script that registered ``name`` (but those in
        ``skip``), called one at a time in load order, each before the next is asked: the
        caller may stop asking (NovelAI's ``stopFurtherScripts``). A hook that raises or times
        out is reported and skipped."""
        args = [] if params is None else [params]
        for script in self.scripts:
            handle = script.hooks.get(name)
            if handle is None or script.id in skip:
                continue
            value = await self.call_script(
                script, handle, args, what=f"hook {name}", limit_s=self.hook_timeout
            )
            if value is not _FAILED:
                yield script.id, value

    # -- limits events and diagnostics -------------------------------------------------------

    async def record_interaction(self, script_id: str) -> None:
        await self.limits.record_interaction(script_id)
        self._tell_interaction(script_id)

    async def record_manual_generation(self) -> None:
        await self.limits.record_manual_generation()
        self._tell_interaction(None)

    def _tell_interaction(self, script_id: str | None) -> None:
        for listener in list(self.interaction_listeners):
            listener(script_id)

    def tell_generation(self, script: LoadedScript) -> None:
        """``script.generation`` was just set or cleared."""
        for listener in list(self.generation_listeners):
            listener(script)

    def diagnostics(self, path_or_id: str | Path) -> HostScriptDiagnostics:
        script = self._find(path_or_id)
        if script is None:
            raise KeyError(f"no loaded script {str(path_or_id)!r}")
        return self.script_diagnostics(script)

    def script_diagnostics(self, script: LoadedScript) -> HostScriptDiagnostics:
        model = script.last_model or self.default_model
        return assemble_diagnostics(script, self.limits, model, self.input_capacity(model))

    # -- idleness --------------------------------------------------------------------------

    def has_pending(self, script: LoadedScript) -> bool:
        return script.has_pending()

    async def wait_idle(self, script: LoadedScript) -> None:
        """Until neither the worker nor the host has anything pending for ``script``."""
        await script.wait_idle()


_FAILED: Any = object()


def _resolve(path: str | Path) -> Path:
    return Path(path).resolve()
