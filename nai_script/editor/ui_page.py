"""Applying one page event (a click, an edit, a toggle) to a script's UI.

Order matters: the value is checked first (a refused event is not an interaction), then the
interaction is recorded (the script's token buckets may refill), then a ``storageKey``-bound
value is written, and only then the script's callback starts, as a host task tracked on the
script, with ``ui.callback`` events around it so the page can disable a button while its
callback runs (``disabledWhileCallbackRunning``).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from nai_script.editor.events import EventBus
from nai_script.editor.ui_storage import BoundValueError, write_bound_value
from nai_script.editor.ui_tree import CallbackSlot, find_part
from nai_script.editor.ui_values import PageValueError, page_value

if TYPE_CHECKING:
    from nai_script.editor.ui_state import ScriptUi
    from nai_script.host.host import ScriptHost


class UiEventError(ValueError):
    """A page event that cannot be applied (unknown script, window, part or event, bad value)."""


async def run_page_event(
    host: ScriptHost,
    bus: EventBus,
    ui: ScriptUi,
    target: dict[str, Any],
    part_id: str | None,
    event: str,
    value: Any,
) -> asyncio.Task[bool] | None:
    """Returns the callback's task, or None when the part has no callback for ``event``."""
    target_id = str(target["id"])
    node = target if not part_id else find_part(target, part_id)
    if node is None:
        raise UiEventError(f"ui event: {target_id!r} has no part {part_id!r}")
    try:
        args = page_value(node, event, value)
    except PageValueError as error:
        raise UiEventError(str(error)) from None
    slot = CallbackSlot(target_id, part_id or "", event)
    if node.get("disabledWhileCallbackRunning") and slot in ui.running:
        raise UiEventError(f"ui event: {node.get('id')!r} is disabled while its callback runs")
    handle = ui.callbacks.handles.get(slot)
    if handle is not None:
        ui.running.add(slot)  # claimed before any await: a second click right away is refused
    try:
        await _record(host, ui, node, target_id, part_id, args.stored)
    except BaseException:
        ui.running.discard(slot)
        raise
    if handle is None:
        if args.stored is not None and node.get("storageKey"):
            # No callback will run to refresh the page: show what the bound write changed
            # ({{key}} texts, other parts bound to the same key, a section's collapsed state).
            await ui.refresh_bound(host, bus)
        return None
    script = ui.script
    where = {"scriptId": script.id, "targetId": target_id, "partId": part_id, "event": event}
    bus.publish({"type": "ui.callback", **where, "running": True})

    async def run() -> bool:
        try:
            what = f"ui {event} of {target_id}{'/' + part_id if part_id else ''}"
            ok = await host.invoke_callback(script, handle, args.call_args, what=what)
        finally:
            ui.running.discard(slot)
            bus.publish({"type": "ui.callback", **where, "running": False})
        await ui.refresh_bound(host, bus)  # show what the callback stored
        return ok

    return script.track(asyncio.ensure_future(run()))


async def _record(
    host: ScriptHost,
    ui: ScriptUi,
    node: dict[str, Any],
    target_id: str,
    part_id: str | None,
    stored: Any,
) -> None:
    """The interaction, then the value the page sent (remembered, and stored if bound)."""
    await host.record_interaction(ui.script.id)
    if stored is None:
        return
    ui.page_values[(target_id, part_id or "")] = stored
    key = node.get("storageKey")
    if key:
        try:
            await write_bound_value(host, ui.script, key, stored)
        except BoundValueError as error:
            raise UiEventError(f"ui event: {error}") from None
