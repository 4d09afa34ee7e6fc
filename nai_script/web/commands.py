"""Page commands: JSON ``{"type": ..., ...}`` messages a page sends over its WebSocket.

Each command has a pydantic model for its payload (so a bad message is answered with the
field that was wrong) and a handler that calls the editor, the script roster, the script UI,
the permission prompts or the page requests. Effects reach every page through the event bus;
a handler's return value, when not None, is a reply to the asking page only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nai_script.editor.hook_results import AdventureMode
from nai_script.editor.models import LorebookCategory, LorebookEntry
from nai_script.editor.store_file import StoryError
from nai_script.web.services import WebServices
from nai_script.web.snapshot import build_state

Reply = dict[str, Any] | None
Handler = Callable[[WebServices, Any], Awaitable[Reply]]


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str


class SendCommand(Command):
    text: str | None = None
    #: Text adventure input in this mode (``onTextAdventureInput`` runs; the text goes in as
    #: its own paragraph); None: the plain Send.
    mode: AdventureMode | None = None


class JumpCommand(Command):
    nodeId: str


class EditCommand(Command):
    sectionId: str
    text: str


class SettingsCommand(Command):
    settings: dict[str, Any]


class LorebookCommand(Command):
    entry: dict[str, Any] | None = None
    category: dict[str, Any] | None = None
    id: str | None = None


class LorebookSelectCommand(Command):
    """The page selected a lorebook entry or category (both None: nothing selected)."""

    entryId: str | None = None
    categoryId: str | None = None


class ScriptCommand(Command):
    id: str


class ScriptConfigCommand(Command):
    id: str
    values: dict[str, Any]


class UiEventCommand(Command):
    scriptId: str
    targetId: str
    partId: str | None = None
    event: str
    value: Any = None


class WindowCloseCommand(Command):
    scriptId: str
    windowId: str


class PermissionAnswerCommand(Command):
    id: str
    #: True grants all that was asked, False none, a list some of them.
    granted: bool | list[str]


class PageAnswerCommand(Command):
    id: str
    #: False: the page could not do it (``error`` says why).
    ok: bool
    #: What the request asked for (``file.prompt``: the text read, a list of them, or null).
    value: Any = None
    error: str | None = None


class StoryCreateCommand(Command):
    title: str = Field(default="Untitled", max_length=1000)


class StoryIdCommand(Command):
    id: str


class SelectionPoint(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sectionId: str | None
    offset: int = Field(ge=0)


class EditorSelection(BaseModel):
    """Where the user's selection is in the document (``editor.selection.get()`` returns it)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    from_: SelectionPoint = Field(alias="from")
    to: SelectionPoint
    anchor: SelectionPoint | None = None
    head: SelectionPoint | None = None


class SelectionCommand(Command):
    #: None: nothing selected (the editor then reports a caret at the end of the story).
    selection: EditorSelection | None = None


class CommandError(ValueError):
    """A command the page got wrong (unknown type, bad fields)."""


async def _send(s: WebServices, c: SendCommand) -> Reply:
    editor = s.need("editor")
    if c.mode is None:
        await editor.send(c.text)
    else:
        await editor.send(c.text, adventure=True, mode=c.mode)
    return None


async def _retry(s: WebServices, c: Command) -> Reply:
    await s.need("editor").retry()
    return None


async def _undo(s: WebServices, c: Command) -> Reply:
    await s.need("editor").undo()
    return None


async def _redo(s: WebServices, c: Command) -> Reply:
    await s.need("editor").redo()
    return None


async def _jump(s: WebServices, c: JumpCommand) -> Reply:
    await s.need("editor").jump(c.nodeId)
    return None


async def _edit(s: WebServices, c: EditCommand) -> Reply:
    await s.need("editor").edit(lambda doc: doc.update(c.sectionId, c.text))
    return None


async def _settings(s: WebServices, c: SettingsCommand) -> Reply:
    await s.need("editor").update_settings(c.settings)
    return None


async def _lorebook_op(s: WebServices, c: LorebookCommand) -> Reply:
    """``lorebook.entry.create|update|remove`` and ``lorebook.category.create|update|remove``."""
    editor = s.need("editor")
    _, kind, op = c.type.split(".")
    if op == "remove":
        if c.id is None:
            raise CommandError(f"{c.type}: id is required")
        await (editor.delete_entry if kind == "entry" else editor.delete_category)(c.id)
        return None
    if kind == "entry":
        if c.entry is None:
            raise CommandError(f"{c.type}: entry is required")
        await editor.put_entry(LorebookEntry.model_validate(c.entry))
    else:
        if c.category is None:
            raise CommandError(f"{c.type}: category is required")
        await editor.put_category(LorebookCategory.model_validate(c.category))
    return None


async def _lorebook_select(s: WebServices, c: LorebookSelectCommand) -> Reply:
    """Fires the scripts' ``onLorebookEntrySelected`` (they fill their lorebook panels)."""
    await s.need("editor").select_lorebook_entry(c.entryId, c.categoryId)
    return None


async def _stop(s: WebServices, c: Command) -> Reply:
    """Stop the running generation (the text streamed so far stays); no-op when idle."""
    s.need("editor").cancel()
    return None


async def _selection(s: WebServices, c: SelectionCommand) -> Reply:
    selection = c.selection
    if selection is None:
        s.need("editor").set_selection(None)
        return None
    start, end = selection.from_, selection.to
    s.need("editor").set_selection(
        {
            "from": start.model_dump(),
            "to": end.model_dump(),
            "anchor": (selection.anchor or start).model_dump(),
            "head": (selection.head or end).model_dump(),
        }
    )
    return None


async def _story_list(s: WebServices, c: Command) -> Reply:
    editor = s.need("editor")
    stories = await editor.store.run(editor.store.list_stories)
    return {
        "type": "story.list",
        "openId": editor.story_id,
        "stories": [info.model_dump(mode="json") for info in stories],
    }


async def _story_create(s: WebServices, c: StoryCreateCommand) -> Reply:
    await s.need("editor").create_story(c.title)
    return None


async def _story_open(s: WebServices, c: StoryIdCommand) -> Reply:
    try:
        await s.need("editor").open_story(c.id)
    except StoryError as error:
        raise CommandError(f"story.open: {error}") from None
    return None


async def _story_delete(s: WebServices, c: StoryIdCommand) -> Reply:
    """Delete a story; deleting the open one opens the next most recent (or a new one)."""
    editor = s.need("editor")
    store = editor.store
    editor.check_idle("deleting a story")
    try:
        await store.run(lambda: store.story(c.id))
    except StoryError as error:
        raise CommandError(f"story.delete: {error}") from None
    if c.id == editor.story_id:
        others = [info.id for info in await store.run(store.list_stories) if info.id != c.id]
        if others:
            await editor.open_story(others[0])
        else:
            await editor.create_story()
    nodes = await store.run(lambda: store.delete_story(c.id))
    storage = s.host.storage_db  # the scripts' storyStorage and historyStorage of the story
    await storage.run(lambda: storage.forget_story(c.id, nodes))
    await editor.publish_state()  # every page's story list loses the row
    return None


async def _script_enable(s: WebServices, c: ScriptCommand) -> Reply:
    await s.roster.enable(c.id)
    return None


async def _script_disable(s: WebServices, c: ScriptCommand) -> Reply:
    await s.roster.disable(c.id)
    return None


async def _script_reload(s: WebServices, c: ScriptCommand) -> Reply:
    await s.roster.reload(c.id)
    return None


async def _script_config(s: WebServices, c: ScriptConfigCommand) -> Reply:
    await s.roster.configure(c.id, c.values)
    return None


async def _ui_event(s: WebServices, c: UiEventCommand) -> Reply:
    await s.need("ui").handle_ui_event(c.scriptId, c.targetId, c.partId, c.event, c.value)
    return None


async def _window_close(s: WebServices, c: WindowCloseCommand) -> Reply:
    await s.need("ui").close_window_from_page(c.scriptId, c.windowId)
    return None


async def _permission_answer(s: WebServices, c: PermissionAnswerCommand) -> Reply:
    if not s.need("permissions").answer(c.id, c.granted):
        raise CommandError(f"permission.answer: request {c.id!r} is not waiting for an answer")
    return None


async def _page_answer(s: WebServices, c: PageAnswerCommand) -> Reply:
    if not s.need("page_requests").answer(c.id, c.ok, c.value, c.error):
        raise CommandError(f"page.answer: request {c.id!r} is not waiting for an answer")
    return None


async def _diagnostics(s: WebServices, c: Command) -> Reply:
    return {"type": "diagnostics", "scripts": s.diagnostics()}


async def _state(s: WebServices, c: Command) -> Reply:
    return await build_state(s)


_LOREBOOK_OPS = [
    f"lorebook.{kind}.{op}"
    for kind in ("entry", "category")
    for op in ("create", "update", "remove")
]
COMMANDS: dict[str, tuple[type[Command], Handler]] = {
    "send": (SendCommand, _send),
    "retry": (Command, _retry),
    "undo": (Command, _undo),
    "redo": (Command, _redo),
    "stop": (Command, _stop),
    "selection": (SelectionCommand, _selection),
    "story.list": (Command, _story_list),
    "story.create": (StoryCreateCommand, _story_create),
    "story.open": (StoryIdCommand, _story_open),
    "story.delete": (StoryIdCommand, _story_delete),
    "jump": (JumpCommand, _jump),
    "edit": (EditCommand, _edit),
    "settings.update": (SettingsCommand, _settings),
    **{name: (LorebookCommand, _lorebook_op) for name in _LOREBOOK_OPS},
    "lorebook.select": (LorebookSelectCommand, _lorebook_select),
    "script.enable": (ScriptCommand, _script_enable),
    "script.disable": (ScriptCommand, _script_disable),
    "script.reload": (ScriptCommand, _script_reload),
    "script.config": (ScriptConfigCommand, _script_config),
    "ui.event": (UiEventCommand, _ui_event),
    "ui.window.close": (WindowCloseCommand, _window_close),
    "permission.answer": (PermissionAnswerCommand, _permission_answer),
    "page.answer": (PageAnswerCommand, _page_answer),
    "diagnostics.get": (Command, _diagnostics),
    "state.get": (Command, _state),
}


def parse_command(message: Any) -> tuple[Command, Handler]:
    """The validated command and its handler; ``CommandError`` names what was wrong."""
    if not isinstance(message, dict):
        raise CommandError("a command is a JSON object with a 'type'")
    kind = message.get("type")
    entry = COMMANDS.get(kind) if isinstance(kind, str) else None
    if entry is None:
        raise CommandError(f"unknown command type {kind!r}")
    model, handler = entry
    try:
        return model.model_validate(message), handler
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "command"
        raise CommandError(f"{kind}: {where}: {first['msg']}") from None
