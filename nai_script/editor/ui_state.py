"""``UiState``: every script's registered UI extensions and open windows, as the page sees them.

The ``ui.*`` api routes (``nai_script/host/api/ui.py``) change it; each change is published on
the ``EventBus`` (``ui.extensions``, ``ui.window.open|update|close``, ``ui.toast``), and
``snapshot()`` gives a newly connected page the whole picture. The page's clicks and edits come
back through ``handle_ui_event`` / ``close_window_from_page``: each one counts as a user
interaction with that script (its token buckets can refill), writes ``storageKey``-bound values
to the script's storage, and runs the script's callback as a tracked host task.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from nai_script.editor.events import EventBus
from nai_script.editor.ui_parts import (
    Extension,
    ModalOptions,
    ToastOptions,
    UiValidationError,
    WindowOptions,
    validate_extensions,
    validate_options,
    validate_parts,
)
from nai_script.editor.ui_tree import (
    CallbackSlot,
    CallbackTable,
    dump,
    find_part,
    iter_parts,
    merge_part,
    remove_part,
    render_target,
)
from nai_script.editor.ui_values import PageValueError, page_value
from nai_script.host.storage import StorageError

if TYPE_CHECKING:
    from nai_script.host.host import ScriptHost
    from nai_script.host.script import LoadedScript

WindowKind = Literal["window", "modal"]


class UiEventError(ValueError):
    """A page event that cannot be applied (unknown script, window, part or event, bad value)."""


@dataclass
class OpenWindow:
    id: str
    kind: WindowKind
    raw: dict[str, Any]
    rendered: dict[str, Any] = field(default_factory=dict)
    closed: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class ScriptUi:
    """One script's UI: extensions and windows in creation order, and their callbacks."""

    script: LoadedScript
    extensions: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> raw
    rendered_extensions: dict[str, dict[str, Any]] = field(default_factory=dict)
    windows: dict[str, OpenWindow] = field(default_factory=dict)
    callbacks: CallbackTable = field(default_factory=CallbackTable)
    page_values: dict[tuple[str, str], Any] = field(default_factory=dict)
    ext_counter: int = 0


class UiState:
    """All scripts' UI for the page; composed as ``ui = UiState(host, bus); host.ui = ui``."""

    def __init__(self, host: ScriptHost, bus: EventBus) -> None:
        self.host = host
        self.bus = bus
        self._scripts: dict[str, ScriptUi] = {}

    # -- what the page sees ------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """``{"extensions": {scriptId: [...]}, "windows": [...]}`` for a page's ``state``."""
        return {
            "extensions": {
                script_id: list(ui.rendered_extensions.values())
                for script_id, ui in self._scripts.items()
                if ui.rendered_extensions
            },
            "windows": [
                window.rendered for ui in self._scripts.values() for window in ui.windows.values()
            ],
        }

    def extensions_of(self, script_id: str) -> list[dict[str, Any]]:
        ui = self._scripts.get(script_id)
        return [] if ui is None else list(ui.rendered_extensions.values())

    def windows_of(self, script_id: str) -> list[dict[str, Any]]:
        ui = self._scripts.get(script_id)
        return [] if ui is None else [w.rendered for w in ui.windows.values()]

    # -- extensions (ui.register / update / remove) --------------------------------------------

    async def register(self, script: LoadedScript, raw: Any) -> list[str]:
        """Add (or replace, by id) extensions; returns their ids."""
        validated = validate_extensions(raw, "ui.register extensions")
        ui = self._ui_for(script)
        ids = [self._extension_id(ui, ext) for ext in validated]
        for ext_id, ext in zip(ids, validated, strict=True):
            ui.extensions[ext_id] = {**dump(ext), "id": ext_id}
        await self._publish_extensions(ui)
        return ids

    async def update(self, script: LoadedScript, raw: Any) -> None:
        """Merge partial extensions into the ones with the same id; a new id with a type adds."""
        if not isinstance(raw, list):
            raise UiValidationError(
                f"ui.update extensions: must be a list, got {type(raw).__name__}"
            )
        ui = self._ui_for(script)
        merged = dict(ui.extensions)
        for index, change in enumerate(raw):
            where = f"ui.update extensions[{index}]"
            if not isinstance(change, dict) or not isinstance(change.get("id"), str):
                raise UiValidationError(f"{where}: needs an 'id' (a string)")
            base = merged.get(change["id"])
            if base is None and "type" not in change:
                raise UiValidationError(
                    f"{where}: no extension with id {change['id']!r} (give a 'type' to add one)"
                )
            candidate = {**(base or {}), **change}
            ext = validate_extensions([candidate], where.removesuffix(f"[{index}]"))[0]
            merged[change["id"]] = {**dump(ext), "id": change["id"]}
        ui.extensions = merged
        await self._publish_extensions(ui)

    async def remove(self, script: LoadedScript, ids: Any) -> int:
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise UiValidationError("ui.remove ids: must be a list of strings")
        ui = self._ui_for(script)
        removed = [i for i in ids if ui.extensions.pop(i, None) is not None]
        for ext_id in removed:
            ui.callbacks.drop_target(ext_id)
        if removed:
            await self._publish_extensions(ui)
        return len(removed)

    # -- parts in windows and panels (ui.updateParts / removeParts) -----------------------------

    async def update_parts(self, script: LoadedScript, raw: Any) -> list[str]:
        """Merge each change into the part with its id; returns the ids that were not found."""
        if not isinstance(raw, list):
            raise UiValidationError(
                f"ui.updateParts parts: must be a list, got {type(raw).__name__}"
            )
        ui = self._ui_for(script)
        touched: set[str] = set()
        missing: list[str] = []
        for index, change in enumerate(raw):
            where = f"ui.updateParts parts[{index}]"
            if not isinstance(change, dict) or not isinstance(change.get("id"), str):
                raise UiValidationError(f"{where}: needs an 'id' (a string)")
            target_id = self._apply_to_part(ui, change["id"], where, change)
            if target_id is None:
                missing.append(change["id"])
            else:
                touched.add(target_id)
        await self._republish(ui, touched)
        return missing

    async def remove_parts(self, script: LoadedScript, ids: Any) -> int:
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise UiValidationError("ui.removeParts ids: must be a list of strings")
        ui = self._ui_for(script)
        touched: set[str] = set()
        for part_id in ids:
            for target_id, raw in self._raw_targets(ui):
                if remove_part(raw, part_id):
                    touched.add(target_id)
                    break
        await self._republish(ui, touched)
        return len(touched)

    def _apply_to_part(
        self, ui: ScriptUi, part_id: str, where: str, change: dict[str, Any]
    ) -> str | None:
        for target_id, raw in self._raw_targets(ui):
            for candidate in _parts_with_id(raw, part_id):
                merged = {**candidate, **change}
                validate_parts([merged], where.rsplit("[", 1)[0])  # names the field if bad
                merge_part(raw, part_id, change)
                return target_id
        return None

    def _raw_targets(self, ui: ScriptUi) -> list[tuple[str, dict[str, Any]]]:
        return [*ui.extensions.items(), *((w.id, w.raw) for w in ui.windows.values())]

    # -- windows and modals ------------------------------------------------------------------

    async def open_window(self, script: LoadedScript, kind: WindowKind, raw: Any) -> OpenWindow:
        model: type[BaseModel] = WindowOptions if kind == "window" else ModalOptions
        options = validate_options(model, raw, f"ui.{kind}.open options")
        ui = self._ui_for(script)
        window_id = options.id or f"{kind}-{uuid.uuid4().hex[:12]}"
        if window_id in ui.extensions:
            raise UiValidationError(
                f"ui.{kind}.open options.id: {window_id!r} is already an extension's id"
            )
        previous = ui.windows.get(window_id)
        if previous is not None:  # same id: the new window replaces the old one
            await self._close(ui, previous)
        window = OpenWindow(window_id, kind, {**dump(options), "id": window_id})
        ui.windows[window_id] = window
        await self._render_window(ui, window)
        self.bus.publish(
            {"type": "ui.window.open", "scriptId": script.id, "window": window.rendered}
        )
        return window

    async def update_window(self, script: LoadedScript, window_id: str, raw: Any) -> None:
        ui = self._ui_for(script)
        window = ui.windows.get(window_id)
        if window is None:
            raise UiValidationError("update: the window is closed")
        if not isinstance(raw, dict):
            raise UiValidationError("update options: must be a dict")
        model: type[BaseModel] = WindowOptions if window.kind == "window" else ModalOptions
        changes = {k: v for k, v in raw.items() if k != "id"}
        options = validate_options(model, {**window.raw, **changes}, "update options")
        window.raw = {**dump(options), "id": window_id}
        await self._render_window(ui, window)
        self.bus.publish(
            {"type": "ui.window.update", "scriptId": script.id, "window": window.rendered}
        )

    async def close_window(self, script: LoadedScript, window_id: str) -> bool:
        ui = self._scripts.get(script.id)
        window = None if ui is None else ui.windows.get(window_id)
        if ui is None or window is None:
            return False
        await self._close(ui, window)
        return True

    def window(self, script_id: str, window_id: str) -> OpenWindow | None:
        ui = self._scripts.get(script_id)
        return None if ui is None else ui.windows.get(window_id)

    async def _close(self, ui: ScriptUi, window: OpenWindow) -> None:
        ui.windows.pop(window.id, None)
        ui.callbacks.drop_target(window.id)
        window.closed.set()
        self.bus.publish(
            {"type": "ui.window.close", "scriptId": ui.script.id, "windowId": window.id}
        )

    # -- toasts ----------------------------------------------------------------------------

    def toast(self, script: LoadedScript, message: Any, raw_options: Any = None) -> None:
        if not isinstance(message, str):
            raise UiValidationError(
                f"ui.toast message: must be a string, got {type(message).__name__}"
            )
        options = validate_options(ToastOptions, raw_options or {}, "ui.toast options")
        self.bus.publish(
            {
                "type": "ui.toast",
                "scriptId": script.id,
                "id": options.id,
                "message": message,
                "autoClose": options.autoClose,
                "toastType": options.type,
            }
        )

    def panel(self, script: LoadedScript, panel_id: Any) -> None:
        """``ui.openPanel(id)`` / ``ui.closePanel()`` (``panel_id`` None): the page shows it."""
        if panel_id is not None:
            ui = self._ui_for(script)
            ext = ui.extensions.get(panel_id) if isinstance(panel_id, str) else None
            if ext is None or ext.get("type") not in ("scriptPanel", "sidebarPanel"):
                raise UiValidationError(f"ui.openPanel id: no panel with id {panel_id!r}")
        self.bus.publish({"type": "ui.panel", "scriptId": script.id, "panelId": panel_id})

    # -- events from the page ----------------------------------------------------------------

    async def handle_ui_event(
        self, script_id: str, target_id: str, part_id: str | None, event: str, value: Any = None
    ) -> asyncio.Task[bool] | None:
        """Apply a click/edit: record the interaction, store bound values, start the callback.

        Returns the callback's task (already tracked on the script), or None when the part
        has no callback for ``event``.
        """
        ui = self._live(script_id)
        rendered = self._rendered_target(ui, target_id)
        node = rendered if not part_id else find_part(rendered, part_id)
        if node is None:
            raise UiEventError(f"ui event: {target_id!r} has no part {part_id!r}")
        try:
            args = page_value(node, event, value)
        except PageValueError as error:
            raise UiEventError(str(error)) from None
        await self.host.record_interaction(script_id)
        if args.stored is not None:
            key = (target_id, part_id or "")
            ui.page_values[key] = args.stored
            await self._remember(ui, node, args.stored)
        handle = ui.callbacks.handles.get(CallbackSlot(target_id, part_id or "", event))
        if handle is None:
            return None
        script = ui.script
        what = f"ui {event} of {target_id}{'/' + part_id if part_id else ''}"
        task = asyncio.ensure_future(
            self.host.invoke_callback(script, handle, args.call_args, what=what)
        )
        script.track(task)
        return task

    async def close_window_from_page(self, script_id: str, window_id: str) -> bool:
        """The page closed a window: resolves the script's ``closed``; counts as interaction."""
        ui = self._live(script_id)
        window = ui.windows.get(window_id)
        if window is None:
            return False
        await self.host.record_interaction(script_id)
        await self._close(ui, window)
        return True

    def forget_script(self, script_id: str) -> None:
        """Drop a script's UI (unload, reload, kill): its windows close, its extensions go."""
        ui = self._scripts.pop(script_id, None)
        if ui is None:
            return
        for window in list(ui.windows.values()):
            window.closed.set()
            self.bus.publish(
                {"type": "ui.window.close", "scriptId": script_id, "windowId": window.id}
            )
        if ui.rendered_extensions:
            self.bus.publish({"type": "ui.extensions", "scriptId": script_id, "extensions": []})

    # -- internals ---------------------------------------------------------------------------

    def _ui_for(self, script: LoadedScript) -> ScriptUi:
        ui = self._scripts.get(script.id)
        if ui is not None and ui.script is not script:  # a reloaded script starts afresh
            self.forget_script(script.id)
            ui = None
        if ui is None:
            ui = self._scripts[script.id] = ScriptUi(script)
        return ui

    def _live(self, script_id: str) -> ScriptUi:
        ui = self._scripts.get(script_id)
        if ui is None:
            raise UiEventError(f"ui event: script {script_id!r} has no UI")
        if self.host.script_by_id(script_id) is not ui.script:
            self.forget_script(script_id)
            raise UiEventError(f"ui event: script {script_id!r} is no longer loaded")
        return ui

    def _rendered_target(self, ui: ScriptUi, target_id: str) -> dict[str, Any]:
        window = ui.windows.get(target_id)
        if window is not None:
            return window.rendered
        rendered = ui.rendered_extensions.get(target_id)
        if rendered is None:
            raise UiEventError(
                f"ui event: script {ui.script.id!r} has no window or extension {target_id!r}"
            )
        return rendered

    def _extension_id(self, ui: ScriptUi, ext: Extension) -> str:
        if ext.id is not None:
            return ext.id
        ui.ext_counter += 1
        return f"{ext.type}-{ui.ext_counter}"

    async def _publish_extensions(self, ui: ScriptUi) -> None:
        rendered: dict[str, dict[str, Any]] = {}
        for ext_id, raw in ui.extensions.items():
            rendered[ext_id] = await render_target(
                ext_id, raw, ui.callbacks, self._reader(ui.script), ui.page_values
            )
        ui.rendered_extensions = rendered
        self.bus.publish(
            {
                "type": "ui.extensions",
                "scriptId": ui.script.id,
                "extensions": list(rendered.values()),
            }
        )

    async def _render_window(self, ui: ScriptUi, window: OpenWindow) -> None:
        window.rendered = await render_target(
            window.id, window.raw, ui.callbacks, self._reader(ui.script), ui.page_values
        )
        window.rendered["kind"] = window.kind
        window.rendered["scriptId"] = ui.script.id

    async def _republish(self, ui: ScriptUi, target_ids: set[str]) -> None:
        if any(t in ui.extensions for t in target_ids):
            await self._publish_extensions(ui)
        for target_id in target_ids:
            window = ui.windows.get(target_id)
            if window is not None:
                await self._render_window(ui, window)
                self.bus.publish(
                    {
                        "type": "ui.window.update",
                        "scriptId": ui.script.id,
                        "window": window.rendered,
                    }
                )

    def _reader(self, script: LoadedScript) -> Any:
        async def read(key: str) -> Any:
            namespace, name = storage_slot(key)
            store = self.host.storage_for(script, namespace)
            return await self.host.storage_db.run(lambda: store.get(name))

        return read

    async def _remember(self, ui: ScriptUi, node: dict[str, Any], value: Any) -> None:
        key = node.get("storageKey")
        if not key:
            return
        namespace, name = storage_slot(key)
        store = self.host.storage_for(ui.script, namespace)
        try:
            await self.host.storage_db.run(lambda: store.set(name, value))
        except StorageError as error:
            raise UiEventError(f"ui event: cannot store {key!r}: {error}") from None


def storage_slot(key: str) -> tuple[str, str]:
    """NovelAI's storageKey prefixes: ``story:`` and ``history:``; else the script's storage."""
    if key.startswith("story:"):
        return "storyStorage", key.removeprefix("story:")
    if key.startswith("history:"):
        return "historyStorage", key.removeprefix("history:")
    return "storage", key


def _parts_with_id(raw: dict[str, Any], part_id: str) -> list[dict[str, Any]]:
    return [p for p in iter_parts(raw.get("content") or []) if p.get("id") == part_id]
