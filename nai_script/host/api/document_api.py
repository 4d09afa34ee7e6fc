"""``api.v1.document.*``: read and edit the story document, move along its history.

Sections are NovelAI's paragraphs; a script sees ``{text, origin: [{position, length, data}],
formatting: [], source: None}`` and string section ids. Every write needs ``documentEdit``;
each call is one history node (``appendParagraphs``/``insertParagraphsAfter``: one node for
all), published to the page as it lands. Script text is marked ``script``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError

from nai_script.editor.models import HistoryNode, Section
from nai_script.editor.pipeline import EditorBlocked
from nai_script.editor.spans import spans_of
from nai_script.editor.store import StoryError
from nai_script.host.api.basics import require_permission
from nai_script.host.api.editor_api import editor_of
from nai_script.host.dispatch import (
    REQUIRED,
    ApiFailure,
    ApiUsageError,
    CallContext,
    Route,
    as_list,
    first_validation_problem,
)
from sandbox.protocol import CallbackHandle

if TYPE_CHECKING:
    from nai_script.editor.pipeline import Editor

_WRITES = (
    "append",
    "appendParagraph",
    "appendParagraphs",
    "insertParagraphAfter",
    "insertParagraphsAfter",
    "updateParagraph",
    "updateParagraphs",
    "removeParagraph",
    "removeParagraphs",
)
_HISTORY = (
    "currentNodeId",
    "previousNodeId",
    "mostRecentGenerationNodeId",
    "undo",
    "redo",
    "jump",
    "nodeState",
)
FUNCTIONS: dict[str, Any] = {
    "document": {
        **dict.fromkeys(("scan", "sectionIds", "textFromSelection", *_WRITES), "async"),
        "history": dict.fromkeys(_HISTORY, "async"),
    }
}


def section_view(section: Section) -> dict[str, Any]:
    """A section as NovelAI's scripts see it."""
    return {
        "text": section.text,
        "origin": [span.model_dump() for span in spans_of(section)],
        "formatting": [],
        "source": None,
    }


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ApiUsageError(f"{what}: must be a string, got {type(value).__name__}")
    return value


def _texts(value: Any, what: str) -> list[str]:
    items = as_list(value, what)
    if not items:
        raise ApiUsageError(f"{what}: must not be empty")
    return [_text(item, f"{what}[{index}]") for index, item in enumerate(items)]


def _section_id(value: Any, what: str = "sectionId") -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ApiUsageError(f"{what}: must be a section id, got {value!r}")
    return str(value)


async def _write(ctx: CallContext, change: Any) -> HistoryNode | None:
    require_permission(ctx, "documentEdit")
    try:
        return await editor_of(ctx).edit(change)
    except StoryError as error:
        raise ApiUsageError(f"{ctx.name}: {error}") from None
    except ValueError as error:
        raise ApiUsageError(f"{ctx.name}: {error}") from None


# --------------------------------------------------------------------------------- reads


async def _scan(ctx: CallContext) -> list[dict[str, Any]]:
    """Every section in order; with a callback, ``callback(sectionId, section, index)``
    for each first (a callback that raises is reported and the scan goes on)."""
    callback = ctx.bind(("callback", None))["callback"]
    if callback is not None and not isinstance(callback, CallbackHandle):
        raise ApiUsageError("document.scan callback: must be a function or None")
    sections = await editor_of(ctx).sections()
    out: list[dict[str, Any]] = []
    for index, section in enumerate(sections):
        view = section_view(section)
        if callback is not None:
            await ctx.host.invoke_callback(
                ctx.script, callback, [section.id, view, index], what="document.scan callback"
            )
        out.append({"sectionId": section.id, "section": view, "index": index})
    return out


async def _section_ids(ctx: CallContext) -> list[str]:
    ctx.bind()
    return [section.id for section in await editor_of(ctx).sections()]


class _Position(BaseModel):
    model_config = ConfigDict(extra="ignore")

    sectionId: str | int
    offset: int


class _Selection(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    start: _Position
    end: _Position

    @classmethod
    def parse(cls, value: Any) -> _Selection:
        if not isinstance(value, dict):
            raise ApiUsageError("selection: must be an object with from and to")
        try:
            return cls.model_validate({"start": value.get("from"), "end": value.get("to")})
        except ValidationError as error:
            problem = first_validation_problem(error, "selection")
            raise ApiUsageError(
                problem.replace("selection.start", "selection.from").replace(
                    "selection.end", "selection.to"
                )
            ) from None


def text_between(sections: list[Section], start: _Position, end: _Position) -> str:
    """The text from ``start`` to ``end`` (either order), paragraphs joined by newlines."""
    ids = [section.id for section in sections]
    points: list[tuple[int, int]] = []
    for name, point in (("from", start), ("to", end)):
        sid = str(point.sectionId)
        if sid not in ids:
            raise ApiUsageError(f"selection.{name}.sectionId: no section {sid!r}")
        index = ids.index(sid)
        length = len(sections[index].text)
        if not 0 <= point.offset <= length:
            raise ApiUsageError(
                f"selection.{name}.offset: {point.offset} is outside 0..{length} of section {sid}"
            )
        points.append((index, point.offset))
    (first, first_at), (last, last_at) = sorted(points)
    if first == last:
        return sections[first].text[first_at:last_at]
    middle = [section.text for section in sections[first + 1 : last]]
    return "\n".join([sections[first].text[first_at:], *middle, sections[last].text[:last_at]])


async def _text_from_selection(ctx: CallContext) -> str:
    selection = _Selection.parse(ctx.bind(("selection", REQUIRED))["selection"])
    return text_between(await editor_of(ctx).sections(), selection.start, selection.end)


# -------------------------------------------------------------------------------- writes


async def _append(ctx: CallContext) -> None:
    text = _text(ctx.bind(("text", REQUIRED))["text"], "text")
    await _write(ctx, lambda doc: doc.append(text, "script"))


async def _append_paragraph(ctx: CallContext) -> None:
    text = _text(ctx.bind(("text", REQUIRED))["text"], "text")
    await _write(ctx, lambda doc: doc.append_paragraph(text, "script"))


async def _append_paragraphs(ctx: CallContext) -> None:
    texts = _texts(ctx.bind(("texts", REQUIRED))["texts"], "texts")
    await _write(ctx, lambda doc: doc.append_paragraph("\n".join(texts), "script"))


def _after(value: Any) -> str | None:
    return None if value is None else _section_id(value)


async def _insert_paragraph_after(ctx: CallContext) -> None:
    bound = ctx.bind(("sectionId", REQUIRED), ("text", REQUIRED))
    after, text = _after(bound["sectionId"]), _text(bound["text"], "text")
    await _write(ctx, lambda doc: doc.insert_after(after, text, "script"))


async def _insert_paragraphs_after(ctx: CallContext) -> None:
    bound = ctx.bind(("sectionId", REQUIRED), ("texts", REQUIRED))
    after, texts = _after(bound["sectionId"]), _texts(bound["texts"], "texts")
    await _write(ctx, lambda doc: doc.insert_after(after, "\n".join(texts), "script"))


async def _update_paragraph(ctx: CallContext) -> None:
    bound = ctx.bind(("sectionId", REQUIRED), ("text", REQUIRED))
    sid, text = _section_id(bound["sectionId"]), _text(bound["text"], "text")
    await _write(ctx, lambda doc: doc.update(sid, text, "script"))


async def _update_paragraphs(ctx: CallContext) -> None:
    items = as_list(ctx.bind(("updates", REQUIRED))["updates"], "updates")
    pairs: list[tuple[str, str]] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise ApiUsageError(f"updates[{index}]: must be {{sectionId, text}}")
        pairs.append(
            (
                _section_id(item.get("sectionId"), f"updates[{index}].sectionId"),
                _text(item.get("text"), f"updates[{index}].text"),
            )
        )
    for sid, text in pairs:
        await _write(ctx, lambda doc, sid=sid, text=text: doc.update(sid, text, "script"))


async def _remove_paragraph(ctx: CallContext) -> None:
    sid = _section_id(ctx.bind(("sectionId", REQUIRED))["sectionId"])
    await _write(ctx, lambda doc: doc.remove(sid, "script"))


async def _remove_paragraphs(ctx: CallContext) -> None:
    items = as_list(ctx.bind(("sectionIds", REQUIRED))["sectionIds"], "sectionIds")
    ids = [_section_id(item, f"sectionIds[{i}]") for i, item in enumerate(items)]
    for sid in ids:
        await _write(ctx, lambda doc, sid=sid: doc.remove(sid, "script"))


# ------------------------------------------------------------------------------- history


async def _current_node_id(ctx: CallContext) -> str:
    ctx.bind()
    editor = editor_of(ctx)
    return await editor.store.run(lambda: editor.store.current_node(editor.story_id))


async def _previous_node_id(ctx: CallContext) -> str | None:
    ctx.bind()
    return editor_of(ctx).previous_node_id


async def _most_recent_generation_node_id(ctx: CallContext) -> str | None:
    ctx.bind()
    editor = editor_of(ctx)
    store, sid = editor.store, editor.story_id

    def find() -> str | None:
        for node_id in store.ancestors(sid, store.current_node(sid)):
            if store.node(sid, node_id).kind == "generation":
                return node_id
        return None

    return await store.run(find)


async def _navigate(ctx: CallContext, move: Callable[[Editor], Awaitable[Any]]) -> Any:
    require_permission(ctx, "documentEdit")
    try:
        return await move(editor_of(ctx))
    except (StoryError, EditorBlocked) as error:
        raise ApiFailure(f"{ctx.name}: {error}") from None


async def _undo(ctx: CallContext) -> bool:
    ctx.bind()
    return await _navigate(ctx, lambda editor: editor.undo()) is not None


async def _redo(ctx: CallContext) -> bool:
    ctx.bind()
    return await _navigate(ctx, lambda editor: editor.redo()) is not None


async def _jump(ctx: CallContext) -> bool:
    """True once moved, as NovelAI's ``Promise<boolean>``; an unknown node is an ``ApiError``."""
    node_id = _text(ctx.bind(("nodeId", REQUIRED))["nodeId"], "nodeId")
    await _navigate(ctx, lambda editor: editor.jump(node_id))
    return True


async def _node_state(ctx: CallContext) -> dict[str, Any] | None:
    """The node's state, or None for a node the story does not have (NovelAI's
    ``undefined``); a node id is a string, so anything else is a usage error."""
    node_id = ctx.bind(("nodeId", None))["nodeId"]
    if node_id is not None:
        _text(node_id, "nodeId")
    try:
        state = await editor_of(ctx).node_state(node_id)
    except StoryError:
        return None
    node = state.node
    return {
        "id": node.id,
        "parent": node.parent,
        "children": node.children,
        "kind": node.kind,
        "created": node.created,
        "current": state.current,
        "sections": [{"sectionId": s.id, "section": section_view(s)} for s in state.sections],
    }


ROUTES: dict[str, Route] = {
    "v1.document.scan": _scan,
    "v1.document.sectionIds": _section_ids,
    "v1.document.textFromSelection": _text_from_selection,
    "v1.document.append": _append,
    "v1.document.appendParagraph": _append_paragraph,
    "v1.document.appendParagraphs": _append_paragraphs,
    "v1.document.insertParagraphAfter": _insert_paragraph_after,
    "v1.document.insertParagraphsAfter": _insert_paragraphs_after,
    "v1.document.updateParagraph": _update_paragraph,
    "v1.document.updateParagraphs": _update_paragraphs,
    "v1.document.removeParagraph": _remove_paragraph,
    "v1.document.removeParagraphs": _remove_paragraphs,
    "v1.document.history.currentNodeId": _current_node_id,
    "v1.document.history.previousNodeId": _previous_node_id,
    "v1.document.history.mostRecentGenerationNodeId": _most_recent_generation_node_id,
    "v1.document.history.undo": _undo,
    "v1.document.history.redo": _redo,
    "v1.document.history.jump": _jump,
    "v1.document.history.nodeState": _node_state,
}
