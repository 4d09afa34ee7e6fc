"""``UiState``: every script's registered UI extensions and open windows, as the page sees them.

The ``ui.*`` api routes (``nai_script/host/api/ui.py``) change it; each change is published on
the ``EventBus`` (``ui.extensions``, ``ui.window.open|update|close``, ``ui.toast``,
``ui.panel``), and ``snapshot()`` gives a newly connected page the whole picture. The page's
clicks and edits come back through ``handle_ui_event`` / ``close_window_from_page``: each one
counts as a user interaction with that script (its token buckets can refill), writes
``storageKey``-bound values to the script's storage, and runs the script's callback as a
tracked host task (``ui_page.run_page_event``).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from nai_script.editor.events import EventBus
from nai_script.editor.ui_page import UiEventError, run_page_event
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
from nai_script.editor.ui_script import OpenWindow, ScriptUi, WindowKind
from nai_script.editor.ui_tree import dump, merge_part, parts_with_id, remove_part

if TYPE_CHECKING:
    from nai_script.host.host import ScriptHost
    from nai_script.host.script import LoadedScript
    from sandbox.protocol import CallbackHandle

__all__ = ["OpenWindow", "UiEventError", "UiState", "UiValidationError", "WindowKind"]


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
            "windows": [w.rendered for ui in self._scripts.values() for w in ui.windows.values()],
        }

    def extensions_of(self, script_id: str) -> list[dict[str, Any]]:
        ui = self._scripts.get(script_id)
        return [] if ui is None else list(ui.rendered_extensions.values())

    def windows_of(self, script_id: str) -> list[dict[str, Any]]:
        ui = self._scripts.get(script_id)
        return [] if ui is None else [w.rendered for w in ui.windows.values()]

    def window(self, script_id: str, window_id: str) -> OpenWindow | None:
        ui = self._scripts.get(script_id)
        return None if ui is None else ui.windows.get(window_id)

    # -- extensions (ui.register / update / remove) --------------------------------------------

    async def register(self, script: LoadedScript, raw: Any) -> list[str]:
        """Add (or replace, by id) extensions; returns their ids."""
        validated = validate_extensions(raw, "ui.register extensions")
        ui = self._ui_for(script)
        async with ui.lock:
            extensions = dict(ui.extensions)
            ids = [self._extension_id(ui, ext) for ext in validated]
            for ext_id, ext in zip(ids, validated, strict=True):
                if any(w == ext_id for w in ui.windows):
                    raise UiValidationError(f"ui.register: {ext_id!r} is already a window's id")
                extensions[ext_id] = {**dump(ext), "id": ext_id}
            await ui.commit(self.host, self.bus, extensions=extensions)
        return ids

    async def update(self, script: LoadedScript, raw: Any) -> None:
        """Merge partial extensions into the ones with the same id; a new id with a type adds."""
        changes = _list_of_changes(raw, "ui.update extensions")
        ui = self._ui_for(script)
        async with ui.lock:
            extensions = dict(ui.extensions)
            for index, change in enumerate(changes):
                base = extensions.get(change["id"])
                if base is None and "type" not in change:
                    raise UiValidationError(
                        f"ui.update extensions[{index}]: no extension with id {change['id']!r} "
                        "(give a 'type' to add one)"
                    )
                candidate = {**(base or {}), **change}
                ext = validate_extensions([candidate], "ui.update extensions", first_index=index)
                extensions[change["id"]] = {**dump(ext[0]), "id": change["id"]}
            await ui.commit(self.host, self.bus, extensions=extensions)

    async def remove(self, script: LoadedScript, ids: Any) -> int:
        names = _list_of_ids(ids, "ui.remove ids")
        ui = self._ui_for(script)
        async with ui.lock:
            extensions = {k: v for k, v in ui.extensions.items() if k not in names}
            removed = len(ui.extensions) - len(extensions)
            if removed:
                await ui.commit(self.host, self.bus, extensions=extensions)
        return removed

    # -- parts in windows and panels (ui.updateParts / removeParts) -----------------------------

    async def update_parts(self, script: LoadedScript, raw: Any) -> list[str]:
        """Merge each change into the part with its id; returns the ids that were not found."""
        changes = _list_of_changes(raw, "ui.updateParts parts")
        ui = self._ui_for(script)
        async with ui.lock:
            trees = ui.raw_targets()
            touched: set[str] = set()
            missing: list[str] = []
            for index, change in enumerate(changes):
                target_id = next(
                    (t for t, r in trees.items() if parts_with_id(r, change["id"])), None
                )
                if target_id is None:
                    missing.append(change["id"])
                    continue
                [current] = parts_with_id(trees[target_id], change["id"])[:1]
                validate_parts([{**current, **change}], "ui.updateParts parts", first_index=index)
                merge_part(trees[target_id], change["id"], change)
                touched.add(target_id)
            await self._commit_targets(ui, trees, touched)
        return missing

    async def remove_parts(self, script: LoadedScript, ids: Any) -> int:
        names = _list_of_ids(ids, "ui.removeParts ids")
        ui = self._ui_for(script)
        async with ui.lock:
            trees = ui.raw_targets()
            touched: set[str] = set()
            removed = 0
            for part_id in names:
                target_id = next((t for t, r in trees.items() if remove_part(r, part_id)), None)
                if target_id is not None:
                    touched.add(target_id)
                    removed += 1
            await self._commit_targets(ui, trees, touched)
        return removed

    async def _commit_targets(
        self, ui: ScriptUi, trees: dict[str, dict[str, Any]], touched: set[str]
    ) -> None:
        if not touched:
            return
        extensions = None
        if touched & set(ui.extensions):
            extensions = {ext_id: trees[ext_id] for ext_id in ui.extensions}
        windows = {t: trees[t] for t in touched if t in ui.windows}
        await ui.commit(self.host, self.bus, extensions=extensions, windows=windows)

    # -- windows and modals ------------------------------------------------------------------

    async def open_window(self, script: LoadedScript, kind: WindowKind, raw: Any) -> OpenWindow:
        model: type[BaseModel] = WindowOptions if kind == "window" else ModalOptions
        options = validate_options(model, raw, f"ui.{kind}.open options")
        ui = self._ui_for(script)
        async with ui.lock:
            window_id = options.id or f"{kind}-{uuid.uuid4().hex[:12]}"
            if window_id in ui.extensions:
                raise UiValidationError(
                    f"ui.{kind}.open options.id: {window_id!r} is already an extension's id"
                )
            window = OpenWindow(window_id, kind, {**dump(options), "id": window_id})
            previous = ui.windows.get(window_id)
            await ui.commit(self.host, self.bus, windows={window_id: window.raw}, opened=window)
            if previous is not None:  # same id: the new window replaced the old one
                previous.closed.set()
        return window

    async def open_larry(
        self,
        script: LoadedScript,
        question: str,
        buttons: list[tuple[str, CallbackHandle | None]],
    ) -> OpenWindow:
        """``ui.larry.help``: a small modal titled "Larry" with the question and a row of
        buttons (``(text, callback or None)``, already checked by the route); a click on any
        of them starts its callback, if it has one, and closes the modal."""
        ui = self._ui_for(script)
        async with ui.lock:
            window_id = f"larry-{uuid.uuid4().hex[:12]}"
            row = [
                {"type": "button", "text": text, **({"callback": cb} if cb is not None else {})}
                for text, cb in buttons
            ]
            raw: dict[str, Any] = {
                "title": "Larry",
                "size": "small",
                "content": [
                    {"type": "text", "text": question, "noTemplate": True},
                    {"type": "row", "content": row},
                ],
                "id": window_id,
            }
            window = OpenWindow(window_id, "modal", raw, close_on_click=True)
            await ui.commit(self.host, self.bus, windows={window_id: raw}, opened=window)
        return window

    async def update_window(self, script: LoadedScript, window_id: str, raw: Any) -> None:
        ui = self._ui_for(script)
        async with ui.lock:
            window = ui.windows.get(window_id)
            if window is None:
                raise UiValidationError("update: the window is closed")
            if not isinstance(raw, dict):
                raise UiValidationError(f"update options: must be a dict, got {type(raw).__name__}")
            model: type[BaseModel] = WindowOptions if window.kind == "window" else ModalOptions
            changes = {k: v for k, v in raw.items() if k != "id"}
            options = validate_options(model, {**window.raw, **changes}, "update options")
            tree = {**dump(options), "id": window_id}
            await ui.commit(self.host, self.bus, windows={window_id: tree})

    async def close_window(self, script: LoadedScript, window_id: str) -> bool:
        ui = self._scripts.get(script.id)
        window = None if ui is None else ui.windows.get(window_id)
        if ui is None or window is None:
            return False
        ui.close(self.bus, window)
        return True

    # -- toasts and panels -------------------------------------------------------------------

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
        window = ui.windows.get(target_id)
        target = window.rendered if window is not None else ui.rendered_extensions.get(target_id)
        if target is None:
            raise UiEventError(
                f"ui event: script {script_id!r} has no window or extension {target_id!r}"
            )
        task = await run_page_event(self.host, self.bus, ui, target, part_id, event, value)
        # a larry.help modal closes on any click (unless it was closed meanwhile)
        if (
            window is not None
            and window.close_on_click
            and event == "callback"
            and ui.windows.get(target_id) is window
        ):
            ui.close(self.bus, window)
        return task

    async def close_window_from_page(self, script_id: str, window_id: str) -> bool:
        """The page closed a window: resolves the script's ``closed``; counts as interaction."""
        ui = self._live(script_id)
        window = ui.windows.get(window_id)
        if window is None:
            return False
        await self.host.record_interaction(script_id)
        ui.close(self.bus, window)
        return True

    def forget_script(self, script_id: str) -> None:
        """Drop a script's UI (unload, reload, kill): its windows close, its extensions go."""
        ui = self._scripts.pop(script_id, None)
        if ui is None:
            return
        for window in list(ui.windows.values()):
            ui.close(self.bus, window)
        if ui.rendered_extensions:
            self.bus.publish({"type": "ui.extensions", "scriptId": script_id, "extensions": []})

    def forget_version(self, script: LoadedScript) -> None:
        """Drop the UI of this one version of a script (its worker stopped: a reload
        replaced it, or it was killed); a newer version's UI under the same id stays."""
        ui = self._scripts.get(script.id)
        if ui is not None and ui.script is script:
            self.forget_script(script.id)

    # -- storage-bound values ------------------------------------------------------------------

    async def storage_changed(self, script: LoadedScript) -> None:
        """The script wrote its storage (a timer, a hook, its top level): re-publish bound
        values that changed. While one of its UI callbacks runs, the refresh that follows the
        callback shows its writes at once (one update per click, not one per write)."""
        ui = self._scripts.get(script.id)
        if ui is not None and ui.script is script and not ui.running:
            await ui.refresh_bound(self.host, self.bus)

    async def refresh_all_bound(self) -> None:
        """The open story or history node changed: ``story:``/``history:`` keys may read
        differently now, for every script."""
        for ui in list(self._scripts.values()):
            await ui.refresh_bound(self.host, self.bus)

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

    def _extension_id(self, ui: ScriptUi, ext: Extension) -> str:
        if ext.id is not None:
            return ext.id
        ui.ext_counter += 1
        return f"{ext.type}-{ui.ext_counter}"


def _list_of_changes(raw: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise UiValidationError(f"{where}: must be a list, got {type(raw).__name__}")
    for index, change in enumerate(raw):
        if not isinstance(change, dict) or not isinstance(change.get("id"), str):
            raise UiValidationError(f"{where}[{index}]: needs an 'id' (a string)")
    return raw


def _list_of_ids(raw: Any, where: str) -> set[str]:
    if not isinstance(raw, list) or not all(isinstance(i, str) for i in raw):
        raise UiValidationError(f"{where}: must be a list of strings")
    return set(raw)
