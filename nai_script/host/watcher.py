"""Hot reload: watch the script folder and load, reload or unload scripts as files change.

The directory is watched, never single files, because editors save by writing a temp file and
renaming it over the script (the old inode vanishes). Events are only hints: once a file has
been quiet for ``debounce_ms`` the watcher looks at the folder itself and reconciles, so ten
saves in a burst, a rename onto ``x.py``, or a save of identical bytes all end in the right
state: one ``load``/``reload`` of the last content, or nothing when the bytes did not change.

The loader (the script host) is driven through :class:`ScriptLoader`; calls are made one at a
time, in file-name order. A loader error is reported and never stops the watcher.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict
from watchfiles import Change, awatch

from nai_script.host.folder import content_digest, is_script_in, list_scripts, read_script_bytes

logger = logging.getLogger(__name__)

#: Quiet period after a file's last event before it is (re)loaded.
DEFAULT_DEBOUNCE_MS = 50
#: A file that never goes quiet (something appending to it) is still loaded after this long.
DEFAULT_MAX_WAIT_MS = 2_000
# watchfiles' own batching: hand events over after `step` ms without new ones, at most
# `debounce` ms after the first; the thread wakes every `rust_timeout` ms when idle, which is
# also how we learn the OS watch is in place.
_RUST_STEP_MS = 20
_RUST_DEBOUNCE_MS = 100
_RUST_TIMEOUT_MS = 50


class ScriptLoader(Protocol):
    """What the watcher needs from the script host (``ScriptHost`` fits). A raised exception
    means "failed": for ``reload_script`` the host keeps the old version running."""

    async def load_script(self, path: Path, /) -> object: ...

    async def reload_script(self, path: Path, /) -> object: ...

    async def unload_script(self, path: Path, /) -> object: ...


Action = Literal["load", "reload", "unload"]


class ReloadOutcome(BaseModel):
    """One loader call the watcher made and how it ended (for logs, diagnostics, benches)."""

    model_config = ConfigDict(frozen=True)

    path: Path
    action: Action
    ok: bool
    digest: str | None = None
    error: str | None = None
    #: ``time.monotonic()`` when the call started and ended.
    started: float
    finished: float


OutcomeCallback = Callable[[ReloadOutcome], None]


class Debouncer:
    """Per-key quiet periods: a key is due once ``quiet`` seconds passed since its last touch,
    or ``max_wait`` seconds since its first untouched one. Pure: time is passed in."""

    def __init__(self, quiet: float, max_wait: float) -> None:
        if quiet < 0 or max_wait < quiet:
            raise ValueError(f"debounce: need 0 <= quiet <= max_wait, got {quiet}, {max_wait}")
        self._quiet = quiet
        self._max_wait = max_wait
        self._last: dict[Path, float] = {}
        self._first: dict[Path, float] = {}

    def touch(self, key: Path, now: float) -> None:
        self._last[key] = now
        self._first.setdefault(key, now)

    def _deadline(self, key: Path) -> float:
        return min(self._last[key] + self._quiet, self._first[key] + self._max_wait)

    def next_deadline(self) -> float | None:
        return min((self._deadline(key) for key in self._last), default=None)

    def pop_due(self, now: float) -> list[Path]:
        """Keys whose deadline has passed, sorted by file name, forgotten once returned."""
        due = sorted((k for k in self._last if self._deadline(k) <= now), key=lambda p: p.name)
        for key in due:
            del self._last[key]
            del self._first[key]
        return due

    def __len__(self) -> int:
        return len(self._last)


class ScriptFolderWatcher:
    """Keeps ``loader`` in step with the ``*.py`` scripts directly in ``directory``.

    ``async with ScriptFolderWatcher(folder, host):`` (or ``await start()`` ... ``aclose()``).
    With ``load_existing`` the scripts already there are loaded in file-name order before
    ``start`` returns; otherwise they are taken as already loaded by the caller.
    """

    def __init__(
        self,
        directory: Path | str,
        loader: ScriptLoader,
        *,
        debounce_ms: int = DEFAULT_DEBOUNCE_MS,
        max_wait_ms: int = DEFAULT_MAX_WAIT_MS,
        load_existing: bool = True,
        on_outcome: OutcomeCallback | None = None,
        force_polling: bool | None = None,
    ) -> None:
        self.directory = Path(directory).resolve()
        self._loader = loader
        self._debouncer = Debouncer(debounce_ms / 1000, max(debounce_ms, max_wait_ms) / 1000)
        self._load_existing = load_existing
        self._on_outcome = on_outcome
        self._force_polling = force_polling
        self._serving: dict[Path, str] = {}  # digest of the version the loader runs
        self._rejected: dict[Path, str] = {}  # digest whose load failed (not retried as is)
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._watching = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.watch_error: BaseException | None = None

    @property
    def serving(self) -> Mapping[Path, str]:
        """Script path -> digest of the content the loader last accepted."""
        return dict(self._serving)

    @property
    def pending(self) -> int:
        """Files with events still inside their quiet period."""
        return len(self._debouncer)

    async def __aenter__(self) -> ScriptFolderWatcher:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Begin watching, wait until the OS watch is in place, then do the initial load."""
        if self._tasks:
            raise RuntimeError("ScriptFolderWatcher.start: already started")
        existing = list_scripts(self.directory)  # raises naming the folder when unusable
        pump = asyncio.create_task(self._pump_events(), name=f"watch {self.directory}")
        self._tasks.append(pump)
        waiter = asyncio.create_task(self._watching.wait())
        await asyncio.wait({pump, waiter}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if pump.done():
            await self.aclose()
            raise RuntimeError(f"cannot watch {str(self.directory)!r}: {self.watch_error}")
        if self._load_existing:
            for path in existing:
                await self._reconcile(path)
        else:
            for path in existing:
                data = read_script_bytes(path)
                if data is not None:
                    self._serving[path] = content_digest(data)
        self._tasks.append(asyncio.create_task(self._settle_loop(), name="settle scripts"))

    async def aclose(self) -> None:
        """Stop watching. A loader call in progress finishes; quiet-period events are dropped."""
        self._stop.set()
        self._wake.set()
        tasks, self._tasks = self._tasks, []
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _pump_events(self) -> None:
        """Feed watchfiles' events into the debouncer (its thread does the OS waiting).

        If watching fails while the folder is still there (watchfiles raises on an event for a
        file name that is not UTF-8), watch again and rescan the folder, so events lost with
        the failure are made up for; if the folder is gone, stop and say so.
        """

        def keep(_change: Change, raw: str) -> bool:
            return is_script_in(Path(raw), self.directory)

        retry_s = 0.025
        while not self._stop.is_set():
            try:
                async for changes in awatch(
                    self.directory,
                    watch_filter=keep,
                    debounce=_RUST_DEBOUNCE_MS,
                    step=_RUST_STEP_MS,
                    rust_timeout=_RUST_TIMEOUT_MS,
                    yield_on_timeout=True,
                    stop_event=self._stop,
                    recursive=False,
                    force_polling=self._force_polling,
                ):
                    self._watching.set()
                    now = time.monotonic()
                    for _change, raw in changes:
                        self._debouncer.touch(Path(raw), now)
                    if changes:
                        self._wake.set()
                        retry_s = 0.025
                return
            except Exception as exc:  # the folder vanished, inotify limits, a bad name, ...
                if not self._watching.is_set() or not self.directory.is_dir():
                    self.watch_error = exc
                    logger.error("watching %s stopped: %s", self.directory, exc)
                    return
                logger.warning("watching %s failed (%s); watching again", self.directory, exc)
                self._rescan()
                retry_s = min(2 * retry_s, 2.0)  # a failure that repeats at once does not spin
                await asyncio.sleep(retry_s)

    def _rescan(self) -> None:
        """Treat every script in the folder, and every one served, as just changed."""
        now = time.monotonic()
        with contextlib.suppress(OSError):
            for path in {*list_scripts(self.directory), *self._serving}:
                self._debouncer.touch(path, now)
        self._wake.set()

    async def _settle_loop(self) -> None:
        """Reconcile each file once its quiet period has passed, one loader call at a time."""
        while not self._stop.is_set():
            self._wake.clear()
            deadline = self._debouncer.next_deadline()
            if deadline is None:
                await self._wake.wait()
                continue
            delay = deadline - time.monotonic()
            if delay > 0:
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=delay)
                except TimeoutError:
                    pass
                continue
            for path in self._debouncer.pop_due(time.monotonic()):
                if self._stop.is_set():
                    return
                await self._reconcile(path)

    async def _reconcile(self, path: Path) -> None:
        """Bring the loader in line with what ``path`` holds now (or its absence)."""
        try:
            data = read_script_bytes(path)
        except OSError as exc:
            self._report(path, "reload", None, time.monotonic(), exc)
            return
        if data is None:
            self._rejected.pop(path, None)
            if path in self._serving:
                del self._serving[path]
                await self._call("unload", path, None)
            return
        digest = content_digest(data)
        if self._serving.get(path) == digest:
            self._rejected.pop(path, None)  # reverted to the running version
            return
        if self._rejected.get(path) == digest:
            return  # this exact content already failed and was reported
        action: Action = "reload" if path in self._serving else "load"
        if await self._call(action, path, digest):
            self._serving[path] = digest
            self._rejected.pop(path, None)
        else:
            self._rejected[path] = digest

    async def _call(self, action: Action, path: Path, digest: str | None) -> bool:
        started = time.monotonic()
        try:
            if action == "load":
                await self._loader.load_script(path)
            elif action == "reload":
                await self._loader.reload_script(path)
            else:
                await self._loader.unload_script(path)
        except Exception as exc:
            self._report(path, action, digest, started, exc)
            return False
        self._report(path, action, digest, started, None)
        return True

    def _report(
        self,
        path: Path,
        action: Action,
        digest: str | None,
        started: float,
        error: BaseException | None,
    ) -> None:
        message = None if error is None else (str(error) or type(error).__name__)
        if message is not None:
            logger.warning("%s %s failed: %s", action, path.name, message)
        outcome = ReloadOutcome(
            path=path,
            action=action,
            ok=error is None,
            digest=digest,
            error=message,
            started=started,
            finished=time.monotonic(),
        )
        if self._on_outcome is None:
            return
        try:
            self._on_outcome(outcome)
        except Exception:
            logger.exception("reload outcome callback failed for %s", path.name)
