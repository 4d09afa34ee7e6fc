"""Turning a script's validated UI tree into what the page sees, and finding parts in it.

What is published is plain JSON: every part gets an id (the script's own, or a stable
``~<path>`` one), every script function becomes an opaque token (``"cb:7"``) whose handle stays
host-side in a ``CallbackTable``, and inputs bound to a ``storageKey`` carry their stored value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from nai_script.editor.ui_parts import CALLBACK_FIELDS, INPUT_TYPES, UiValidationError
from sandbox.protocol import CallbackHandle

StorageReader = Callable[[str], Awaitable[Any]]
# A script cannot make the page draw without bound (one window or panel).
MAX_PARTS_PER_TARGET = 2000
_MISSING: Any = object()
_TEMPLATE = re.compile(r"\{\{\s*([^{}\s]+)\s*\}\}")


@dataclass(frozen=True)
class CallbackSlot:
    """Where a callback lives: ``(target, part, event)``; part ``""`` is the extension itself."""

    target_id: str
    part_id: str
    event: str


@dataclass
class CallbackTable:
    """One script's live callbacks, by slot; tokens are what the page is shown."""

    handles: dict[CallbackSlot, CallbackHandle] = field(default_factory=dict)
    tokens: dict[CallbackSlot, str] = field(default_factory=dict)
    _counter: int = 0

    def bind(self, slot: CallbackSlot, handle: CallbackHandle) -> str:
        self.handles[slot] = handle
        token = self.tokens.get(slot)
        if token is None:
            self._counter += 1
            token = f"cb:{self._counter}"
            self.tokens[slot] = token
        return token

    def copy(self) -> CallbackTable:
        return CallbackTable(dict(self.handles), dict(self.tokens), self._counter)

    def drop_target(self, target_id: str, *, keep_tokens: bool = False) -> None:
        for slot in [s for s in self.handles if s.target_id == target_id]:
            del self.handles[slot]
        if not keep_tokens:
            self.prune_tokens(target_id)

    def prune_tokens(self, target_id: str) -> None:
        """Forget the tokens of this target's slots that no longer hold a callback."""
        for slot in [s for s in self.tokens if s.target_id == target_id]:
            if slot not in self.handles:
                del self.tokens[slot]


def dump(model: BaseModel) -> dict[str, Any]:
    """A model as a dict of the fields the script set, callbacks kept as handles
    (``model_dump`` would turn the ``CallbackHandle`` dataclasses into dicts)."""
    return {name: _dump_value(getattr(model, name)) for name in model.model_fields_set}


def _dump_value(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return dump(value)
    if isinstance(value, list):
        return [_dump_value(item) for item in value]
    return value


async def render_target(
    target_id: str,
    raw: dict[str, Any],
    callbacks: CallbackTable,
    read_storage: StorageReader,
    page_values: dict[tuple[str, str], Any],
) -> dict[str, Any]:
    """The page's JSON for one extension or window; rebinds its callbacks in ``callbacks``."""
    count = sum(1 for _ in iter_parts(raw.get("content") or []))
    if count > MAX_PARTS_PER_TARGET:
        raise UiValidationError(
            f"{target_id}: {count} parts, more than the limit of {MAX_PARTS_PER_TARGET}"
        )
    callbacks.drop_target(target_id, keep_tokens=True)  # a re-render keeps the same tokens
    seen: set[str] = set()
    out = _bind_callbacks(dict(raw), target_id, "", callbacks)
    out["id"] = target_id
    if "content" in raw:
        out["content"] = await _render_parts(
            raw["content"], target_id, "", callbacks, read_storage, page_values, seen
        )
    callbacks.prune_tokens(target_id)
    return out


async def _render_parts(
    parts: list[Any],
    target_id: str,
    path: str,
    callbacks: CallbackTable,
    read_storage: StorageReader,
    page_values: dict[tuple[str, str], Any],
    seen: set[str],
) -> list[dict[str, Any]]:
    rendered: list[dict[str, Any]] = []
    for index, part in enumerate(parts):
        if part is None:
            continue
        part_id = part.get("id") or f"~{path}{index}"
        if part_id in seen:
            raise UiValidationError(f"{target_id}: two parts have the id {part_id!r}")
        seen.add(part_id)
        out = _bind_callbacks(dict(part), target_id, part_id, callbacks)
        out["id"] = part_id
        if "content" in part:
            out["content"] = await _render_parts(
                part["content"],
                target_id,
                f"{path}{index}.",
                callbacks,
                read_storage,
                page_values,
                seen,
            )
        await _fill_value(out, target_id, read_storage, page_values)
        rendered.append(out)
    return rendered


def _bind_callbacks(
    node: dict[str, Any], target_id: str, part_id: str, callbacks: CallbackTable
) -> dict[str, Any]:
    for name in CALLBACK_FIELDS:
        handle = node.get(name)
        if isinstance(handle, CallbackHandle):
            node[name] = callbacks.bind(CallbackSlot(target_id, part_id, name), handle)
    return node


async def _fill_value(
    part: dict[str, Any],
    target_id: str,
    read_storage: StorageReader,
    page_values: dict[tuple[str, str], Any],
) -> None:
    """``value``: stored value > last value the page sent > ``initialValue``."""
    kind = part.get("type")
    key = part.get("storageKey")
    value: Any = _MISSING
    if key:
        stored = await read_storage(key)
        if stored is not None:
            value = stored
    if value is _MISSING:
        value = page_values.get((target_id, part["id"]), _MISSING)
    if kind == "collapsibleSection":
        if value is not _MISSING:
            part["collapsed"] = bool(value)
        else:
            part["collapsed"] = bool(part.get("initialCollapsed", False))
        return
    if kind == "text" and not part.get("noTemplate") and "{{" in part.get("text", ""):
        part["text"] = await _expand_template(part["text"], read_storage)
        return
    if value is _MISSING:
        value = part.get("initialValue", part.get("defaultValue"))
    if value is not None and kind in INPUT_TYPES:
        part["value"] = value


async def _expand_template(text: str, read_storage: StorageReader) -> str:
    """NovelAI's ``{{key}}`` in text parts: the script's stored value (``""`` when unset)."""
    values: dict[str, str] = {}
    for key in {m.group(1) for m in _TEMPLATE.finditer(text)}:
        stored = await read_storage(key)
        values[key] = (
            "" if stored is None else stored if isinstance(stored, str) else json.dumps(stored)
        )
    return _TEMPLATE.sub(lambda m: values[m.group(1)], text)


def iter_parts(tree: list[Any]) -> Iterator[dict[str, Any]]:
    """Every part of a (raw or rendered) content list, depth first."""
    for part in tree:
        if isinstance(part, dict):
            yield part
            yield from iter_parts(part.get("content") or [])


def parts_with_id(raw: dict[str, Any], part_id: str) -> list[dict[str, Any]]:
    return [p for p in iter_parts(raw.get("content") or []) if p.get("id") == part_id]


def find_part(rendered: dict[str, Any], part_id: str) -> dict[str, Any] | None:
    return next((p for p in iter_parts(rendered.get("content") or []) if p["id"] == part_id), None)


def merge_part(raw: dict[str, Any], part_id: str, changes: dict[str, Any]) -> bool:
    """Shallow-merge ``changes`` into the raw part ``part_id`` (in place); False if absent."""
    for part in iter_parts(raw.get("content") or []):
        if part.get("id") == part_id:
            part.update(changes)
            return True
    return False


def remove_part(raw: dict[str, Any], part_id: str) -> bool:
    """Remove the raw part ``part_id`` wherever it is nested; False if absent."""

    def prune(content: list[Any]) -> bool:
        for index, part in enumerate(content):
            if isinstance(part, dict):
                if part.get("id") == part_id:
                    del content[index]
                    return True
                if prune(part.get("content") or []):
                    return True
        return False

    return prune(raw.get("content") or [])
