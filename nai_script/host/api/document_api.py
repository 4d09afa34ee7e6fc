"""``api.v1.document.*``: read and edit the story document (its history: document_history).

Sections are NovelAI's paragraphs; a script sees ``{text, origin: [{position, length, data}],
formatting: [], source: None}`` and string section ids. Writes take NovelAI's partial
sections (``{text: ...}``; a plain string is short for one). Every write needs
``documentEdit``; each call is one history node (``appendParagraphs``/``insertParagraphsAfter``:
one node for all), published to the page as it lands. Script text is marked ``script``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from nai_script.editor.models import HistoryNode, OriginSpan, Section
from nai_script.editor.spans import spans_of
from nai_script.editor.store import StoryError
from nai_script.host.api.basics import require_permission
from nai_script.host.api.editor_api import editor_of
from nai_script.host.dispatch import (
    REQUIRED,
    ApiUsageError,
    CallContext,
    Route,
    as_list,
    first_validation_problem,
)
from sandbox.protocol import CallbackHandle

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


class SectionInput(BaseModel):
    """NovelAI's ``Partial<Section>`` as a write takes it. A scanned section can be passed back
    as it is: ``origin`` is checked but not applied (script text is marked ``script``), and
    only what the editor can hold is accepted (no formatting, no special paragraph source)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    text: str | None = None
    origin: list[OriginSpan] | None = None
    formatting: list[Any] = Field(default_factory=list)
    source: Literal["story"] | None = None

    @field_validator("formatting")
    @classmethod
    def _no_formatting(cls, value: list[Any]) -> list[Any]:
        if value:
            raise ValueError("formatting is not supported (the editor keeps plain text)")
        return value


def _section_text(value: Any, what: str) -> str | None:
    """The text of a partial section (or of a string standing for one); None when absent."""
    if isinstance(value, str):
        return value
    if not isinstance(value, dict):
        raise ApiUsageError(
            f"{what}: must be a section {{text, ...}} or a string, got {type(value).__name__}"
        )
    try:
        return SectionInput.model_validate(value).text
    except ValidationError as error:
        raise ApiUsageError(first_validation_problem(error, what)) from None


def _section_texts(value: Any, what: str) -> list[str]:
    items = as_list(value, what)
    if not items:
        raise ApiUsageError(f"{what}: must not be empty")
    return [_section_text(item, f"{what}[{i}]") or "" for i, item in enumerate(items)]


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
    """Sections in order, from ``range.from`` to ``range.to`` (section ids, both included,
    either may be left out); with a callback, ``callback(sectionId, section, index)`` for each
    first (a callback that raises is reported and the scan goes on)."""
    bound = ctx.bind(("callback", None), ("range", None))
    callback = bound["callback"]
    if callback is not None and not isinstance(callback, CallbackHandle):
        raise ApiUsageError("document.scan callback: must be a function or None")
    sections = await editor_of(ctx).sections()
    first, last = _scan_range(bound["range"], [section.id for section in sections])
    out: list[dict[str, Any]] = []
    for index, section in enumerate(sections[first : last + 1], start=first):
        view = section_view(section)
        if callback is not None:
            await ctx.host.invoke_callback(
                ctx.script, callback, [section.id, view, index], what="document.scan callback"
            )
        out.append({"sectionId": section.id, "section": view, "index": index})
    return out


def _scan_range(value: Any, ids: list[str]) -> tuple[int, int]:
    """The indexes ``range`` ``{from?, to?}`` covers (an unknown id is the script's mistake)."""
    if value is None:
        return 0, len(ids) - 1
    if not isinstance(value, dict) or set(value) - {"from", "to"}:
        raise ApiUsageError("document.scan range: must be {from?, to?} (section ids)")
    ends = []
    for name, default in (("from", 0), ("to", len(ids) - 1)):
        if value.get(name) is None:
            ends.append(default)
            continue
        sid = _section_id(value[name], f"document.scan range.{name}")
        if sid not in ids:
            raise ApiUsageError(f"document.scan range.{name}: no section {sid!r}")
        ends.append(ids.index(sid))
    return ends[0], ends[1]


async def _section_ids(ctx: CallContext) -> list[str]:
    ctx.bind()
    return [section.id for section in await editor_of(ctx).sections()]


class _Position(BaseModel):
    model_config = ConfigDict(extra="ignore")

    sectionId: str | int
    offset: int | None = None


class _Selection(BaseModel):
    """``{from?, to?}``: a missing end is the document's start or end, a missing offset the
    start (``from``) or the end (``to``) of its section."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    start: _Position | None = None
    end: _Position | None = None

    @classmethod
    def parse(cls, value: Any) -> _Selection:
        if value is None:
            return cls()
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


def text_between(sections: list[Section], start: _Position | None, end: _Position | None) -> str:
    """The text from ``start`` to ``end`` (either order), paragraphs joined by newlines."""
    ids = [section.id for section in sections]
    if not ids and start is None and end is None:
        return ""
    first_point = start or _Position(sectionId=ids[0] if ids else "", offset=0)
    last_point = end or _Position(sectionId=ids[-1] if ids else "")
    points: list[tuple[int, int]] = []
    for name, point, at_end in (("from", first_point, False), ("to", last_point, True)):
        sid = str(point.sectionId)
        if sid not in ids:
            raise ApiUsageError(f"selection.{name}.sectionId: no section {sid!r}")
        index = ids.index(sid)
        length = len(sections[index].text)
        offset = point.offset if point.offset is not None else (length if at_end else 0)
        if not 0 <= offset <= length:
            raise ApiUsageError(
                f"selection.{name}.offset: {offset} is outside 0..{length} of section {sid}"
            )
        points.append((index, offset))
    (first, first_at), (last, last_at) = sorted(points)
    if first == last:
        return sections[first].text[first_at:last_at]
    middle = [section.text for section in sections[first + 1 : last]]
    return "\n".join([sections[first].text[first_at:], *middle, sections[last].text[:last_at]])


async def _text_from_selection(ctx: CallContext) -> str:
    selection = _Selection.parse(ctx.bind(("selection", None))["selection"])
    return text_between(await editor_of(ctx).sections(), selection.start, selection.end)


# -------------------------------------------------------------------------------- writes


async def _append(ctx: CallContext) -> None:
    text = _text(ctx.bind(("text", REQUIRED))["text"], "text")
    await _write(ctx, lambda doc: doc.append(text, "script"))


async def _append_paragraph(ctx: CallContext) -> None:
    text = _section_text(ctx.bind(("section", REQUIRED))["section"], "section") or ""
    await _write(ctx, lambda doc: doc.append_paragraph(text, "script"))


async def _append_paragraphs(ctx: CallContext) -> None:
    texts = _section_texts(ctx.bind(("sections", REQUIRED))["sections"], "sections")
    await _write(ctx, lambda doc: doc.append_paragraph("\n".join(texts), "script"))


def _after(value: Any) -> str | None:
    return None if value is None else _section_id(value)


async def _insert_paragraph_after(ctx: CallContext) -> None:
    bound = ctx.bind(("sectionId", REQUIRED), ("section", REQUIRED))
    after = _after(bound["sectionId"])
    text = _section_text(bound["section"], "section") or ""
    await _write(ctx, lambda doc: doc.insert_after(after, text, "script"))


async def _insert_paragraphs_after(ctx: CallContext) -> None:
    bound = ctx.bind(("sectionId", REQUIRED), ("sections", REQUIRED))
    after, texts = _after(bound["sectionId"]), _section_texts(bound["sections"], "sections")
    await _write(ctx, lambda doc: doc.insert_after(after, "\n".join(texts), "script"))


async def _update_paragraph(ctx: CallContext) -> None:
    """A section without ``text`` leaves the paragraph as it is."""
    bound = ctx.bind(("sectionId", REQUIRED), ("section", REQUIRED))
    sid, text = _section_id(bound["sectionId"]), _section_text(bound["section"], "section")
    require_permission(ctx, "documentEdit")
    if text is not None:
        await _write(ctx, lambda doc: doc.update(sid, text, "script"))


async def _update_paragraphs(ctx: CallContext) -> None:
    """``[{sectionId, section}]``, checked whole before the first is written."""
    items = as_list(ctx.bind(("updates", REQUIRED))["updates"], "updates")
    pairs: list[tuple[str, str | None]] = []
    for index, item in enumerate(items):
        where = f"updates[{index}]"
        if not isinstance(item, dict) or set(item) != {"sectionId", "section"}:
            raise ApiUsageError(f"{where}: must be {{sectionId, section}}")
        sid = _section_id(item["sectionId"], f"{where}.sectionId")
        pairs.append((sid, _section_text(item["section"], f"{where}.section")))
    require_permission(ctx, "documentEdit")
    for sid, text in pairs:
        if text is not None:
            await _write(ctx, lambda doc, sid=sid, text=text: doc.update(sid, text, "script"))


async def _remove_paragraph(ctx: CallContext) -> None:
    sid = _section_id(ctx.bind(("sectionId", REQUIRED))["sectionId"])
    await _write(ctx, lambda doc: doc.remove(sid, "script"))


async def _remove_paragraphs(ctx: CallContext) -> None:
    items = as_list(ctx.bind(("sectionIds", REQUIRED))["sectionIds"], "sectionIds")
    ids = [_section_id(item, f"sectionIds[{i}]") for i, item in enumerate(items)]
    for sid in ids:
        await _write(ctx, lambda doc, sid=sid: doc.remove(sid, "script"))


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
}
