"""One script's UI (``ScriptUi``) and the all-or-nothing way it changes.

Every change (register, update, updateParts, a window update...) is worked out on copies,
rendered against a copy of the callback table, and only swapped in and published when every
touched target rendered: a bad ``ui.update`` leaves the page and the callbacks as they were.
A per-script lock keeps concurrent ``ui.*`` calls from one script from losing each other's
changes while a render awaits storage reads.
"""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from nai_script.editor.events import EventBus
from nai_script.editor.ui_parts import UiValidationError
from nai_script.editor.ui_storage import storage_reader
from nai_script.editor.ui_tree import CallbackSlot, CallbackTable, iter_parts, render_target

if TYPE_CHECKING:
    from nai_script.host.host import ScriptHost
    from nai_script.host.script import LoadedScript

WindowKind = Literal["window", "modal"]
# Per script: what one script may put on the page at once.
MAX_EXTENSIONS = 200
MAX_OPEN_WINDOWS = 50


@dataclass
class OpenWindow:
    id: str
    kind: WindowKind
    raw: dict[str, Any]
    rendered: dict[str, Any] = field(default_factory=dict)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    # ui.larry.help: clicking any of its buttons closes it (after starting the callback).
    close_on_click: bool = False


@dataclass
class ScriptUi:
    """A script's extensions and windows in creation order, their callbacks, and the values
    the page last sent for inputs (so a re-render or a new page shows them)."""

    script: LoadedScript
    extensions: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> raw
    rendered_extensions: dict[str, dict[str, Any]] = field(default_factory=dict)
    windows: dict[str, OpenWindow] = field(default_factory=dict)
    callbacks: CallbackTable = field(default_factory=CallbackTable)
    page_values: dict[tuple[str, str], Any] = field(default_factory=dict)
    ext_counter: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    running: set[CallbackSlot] = field(default_factory=set)  # callbacks in flight

    def raw_targets(self) -> dict[str, dict[str, Any]]:
        """Deep copies of every target's raw tree, to change and then ``commit``."""
        trees = {**self.extensions, **{w.id: w.raw for w in self.windows.values()}}
        return copy.deepcopy(trees)

    async def commit(
        self,
        host: ScriptHost,
        bus: EventBus,
        *,
        extensions: dict[str, dict[str, Any]] | None = None,
        windows: dict[str, dict[str, Any]] | None = None,
        opened: OpenWindow | None = None,
    ) -> None:
        """Render and swap in new extensions and/or new window trees (``opened``: a window
        that is new, published as ``ui.window.open``); nothing changes if a render fails."""
        if extensions is not None and len(extensions) > MAX_EXTENSIONS:
            raise UiValidationError(
                f"ui: {len(extensions)} extensions, more than the limit of {MAX_EXTENSIONS}"
            )
        opening_another = opened is not None and opened.id not in self.windows
        if opened is not None and opening_another and len(self.windows) >= MAX_OPEN_WINDOWS:
            raise UiValidationError(
                f"ui.{opened.kind}.open: {MAX_OPEN_WINDOWS} windows are already open "
                "(the limit); close one first"
            )
        table = self.callbacks.copy()
        read = storage_reader(host, self.script)
        rendered_exts: dict[str, dict[str, Any]] | None = None
        if extensions is not None:
            for gone in set(self.extensions) - set(extensions):
                table.drop_target(gone)
            rendered_exts = {
                ext_id: await render_target(ext_id, raw, table, read, self.page_values)
                for ext_id, raw in extensions.items()
            }
        rendered_windows: dict[str, dict[str, Any]] = {}
        for window_id, raw in (windows or {}).items():
            kind = opened.kind if opened is not None else self.windows[window_id].kind
            rendered = await render_target(window_id, raw, table, read, self.page_values)
            rendered_windows[window_id] = {**rendered, "kind": kind, "scriptId": self.script.id}

        self.callbacks = table
        if extensions is not None and rendered_exts is not None:
            for gone in set(self.extensions) - set(extensions):
                self._forget_values(gone)
            self.extensions = extensions
            self.rendered_extensions = rendered_exts
            bus.publish(
                {
                    "type": "ui.extensions",
                    "scriptId": self.script.id,
                    "extensions": list(rendered_exts.values()),
                }
            )
        if opened is not None:
            self.windows[opened.id] = opened
        for window_id, rendered in rendered_windows.items():
            window = self.windows[window_id]
            window.raw = (windows or {})[window_id]
            window.rendered = rendered
            event = "ui.window.open" if window is opened else "ui.window.update"
            bus.publish({"type": event, "scriptId": self.script.id, "window": rendered})

    async def refresh_bound(self, host: ScriptHost, bus: EventBus) -> None:
        """Re-publish the targets whose storage-bound values or ``{{key}}`` texts changed
        (the script wrote its storage, e.g. in a button callback)."""
        async with self.lock:
            trees = {t: r for t, r in self.raw_targets().items() if _reads_storage(r)}
            if not trees:
                return
            read = storage_reader(host, self.script)
            changed: set[str] = set()
            for target_id, raw in trees.items():
                fresh = await render_target(
                    target_id, raw, self.callbacks.copy(), read, self.page_values
                )
                current = self.rendered_extensions.get(target_id)
                if current is None and target_id in self.windows:
                    current = self.windows[target_id].rendered
                if current is None or fresh["content"] != current.get("content"):
                    changed.add(target_id)
            extensions = None
            if changed & set(self.extensions):
                extensions = copy.deepcopy(self.extensions)
            windows = {t: trees[t] for t in changed if t in self.windows}
            if extensions is not None or windows:
                await self.commit(host, bus, extensions=extensions, windows=windows)

    def close(self, bus: EventBus, window: OpenWindow) -> None:
        self.windows.pop(window.id, None)
        self.callbacks.drop_target(window.id)
        self._forget_values(window.id)
        window.closed.set()
        bus.publish({"type": "ui.window.close", "scriptId": self.script.id, "windowId": window.id})

    def _forget_values(self, target_id: str) -> None:
        for key in [k for k in self.page_values if k[0] == target_id]:
            del self.page_values[key]


def _reads_storage(raw: dict[str, Any]) -> bool:
    return any(
        part.get("storageKey") or (part.get("type") == "text" and "{{" in part.get("text", ""))
        for part in iter_parts(raw.get("content") or [])
    )
