"""The generation hooks' params in NovelAI's shapes, and how each answer changes them
(``Editor._fire`` asks the scripts one at a time; hook_results.py validates the answers).

``onBeforeContextBuild`` (``ContextBuild``) params, besides ``continuityId``, ``model``,
``dryRun``:

- ``systemPrompt``, ``prefill``, ``memory``, ``authorsNote``, ``storyText``: ``{active,
  content}`` (all active to begin with; ``storyText`` is the document as
  ``onDocumentConvertedToText`` left it);
- ``lorebookEntries``: ``[[entryId, {active, content}]]``, every entry of the story in its
  order, ``active`` saying whether it activates for this build (see lorebook.py), ``content``
  its text (its category's ``entryHeader`` still goes on a line before it);
- ``lorebookEntryOrder``: the entry ids in the order they go into the context.

A piece or entry that is not active is left out of the context. ``lorebookEntryOrder`` in an
answer may place temporary entries (added by that answer or an earlier one) by id.
"""

from __future__ import annotations

from collections.abc import Awaitable, Collection, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from nai_script.client import models as wire
from nai_script.editor.context import ChatMessage, ContextEntry, ContextInputs
from nai_script.editor.hook_results import (
    AdventureMode,
    AdventureResult,
    Apply,
    BadResult,
    BeforeBuildResult,
    ContextBuiltResult,
    ResponseResult,
    SectionsResult,
    checked_sections,
    one_line,
)
from nai_script.editor.lorebook import active_entries
from nai_script.editor.models import LorebookCategory, LorebookEntry, StorySettings
from nai_script.editor.streaming import merge_chunks

PIECES = ("systemPrompt", "prefill", "memory", "authorsNote", "storyText")


class Fire(Protocol):
    """``Editor._fire``: ask the scripts ``hook`` with ``params``, each answer through
    ``apply`` (``hook_results.fire_chain``); the script whose answer was a stop, or None."""

    def __call__(
        self,
        hook: str,
        params: dict[str, Any],
        model: type[Any],
        apply: Apply[Any] | None = None,
        quiet: Collection[str] = (),
    ) -> Awaitable[str | None]: ...


async def adventure_input(
    fire: Fire, raw: str, mode: AdventureMode, continuity: str
) -> tuple[str, str | None]:
    """``onTextAdventureInput``: the paragraph to append (empty: none) and the script that
    stopped the generation, if one did (its text still goes in, as NovelAI's does)."""
    params: dict[str, Any] = {
        "continuityId": continuity,
        "inputText": one_line(raw),
        "rawInputText": raw,
        "mode": mode,
    }
    text: str = params["inputText"]

    def apply(sid: str, answer: AdventureResult) -> bool:
        nonlocal text, mode
        if answer.inputText is not None:
            text = answer.inputText
        if answer.mode is not None:
            mode = answer.mode
        return answer.stopGeneration

    stopped_by = await fire("onTextAdventureInput", params, AdventureResult, apply)
    return (adventure_paragraph(text, mode) if text else ""), stopped_by


async def converted_text(fire: Fire, sections: list[tuple[str, str]], continuity: str) -> str:
    """The document (``(section id, text)``) as text, through ``onDocumentConvertedToText``
    (reason ``context``: the only conversion this project makes)."""
    given = [{"sectionId": sid, "text": text} for sid, text in sections]
    params: dict[str, Any] = {"continuityId": continuity, "reason": "context", "sections": given}
    converted = given

    def convert(_sid: str, answer: SectionsResult) -> bool:
        nonlocal converted
        if answer.sections is not None:
            converted = checked_sections(given, answer.sections)
        return False

    await fire("onDocumentConvertedToText", params, SectionsResult, convert)
    return "\n".join(section["text"] for section in converted)


def adventure_paragraph(text: str, mode: AdventureMode) -> str:
    """The paragraph a text adventure input becomes: ``> text`` (action), ``> "text"``
    (dialogue), the text itself (story)."""
    if mode == "action":
        return f"> {text}"
    if mode == "dialogue":
        return f'> "{text}"'
    return text


@dataclass
class _Piece:
    active: bool
    content: str


@dataclass
class _Entry:
    id: str
    name: str
    content: str
    active: bool
    header: str = ""
    temporary: bool = False


class ContextBuild:
    """One build's pieces, changed by each ``onBeforeContextBuild`` answer in turn."""

    def __init__(self, pieces: dict[str, str], entries: Iterable[_Entry]) -> None:
        self.pieces = {name: _Piece(True, pieces.get(name, "")) for name in PIECES}
        self.entries = list(entries)
        self.reduction = 0

    @classmethod
    def from_story(
        cls,
        settings: StorySettings,
        story_text: str,
        entries: list[LorebookEntry],
        categories: list[LorebookCategory],
    ) -> ContextBuild:
        active = {e.id for e in active_entries(entries, story_text, categories=categories)}
        headers = {c.id: c.settings.entryHeader for c in categories if c.settings.entryHeader}
        pieces = {name: getattr(settings, name) for name in PIECES if name != "storyText"}
        return cls(
            {**pieces, "storyText": story_text},
            (
                _Entry(
                    e.id, e.displayName, e.text, e.id in active, headers.get(e.category or "", "")
                )
                for e in entries
            ),
        )

    async def ask(self, fire: Fire, params: dict[str, Any]) -> None:
        """``onBeforeContextBuild`` with ``params`` (``continuityId``, ``model``, ``dryRun``)
        and the pieces as gathered; each answer changes them in turn."""
        params.update(self.params())

        def apply(_sid: str, answer: BeforeBuildResult) -> bool:
            self.apply(answer)
            return False

        await fire("onBeforeContextBuild", params, BeforeBuildResult, apply)

    def params(self) -> dict[str, Any]:
        story = [e for e in self.entries if not e.temporary]
        return {
            "lorebookEntries": [[e.id, {"active": e.active, "content": e.content}] for e in story],
            "lorebookEntryOrder": [e.id for e in story],
            **{name: {"active": p.active, "content": p.content} for name, p in self.pieces.items()},
        }

    def apply(self, answer: BeforeBuildResult) -> None:
        """One script's answer (``BadResult`` for an entry id the story does not have;
        nothing is changed then)."""
        story = {e.id: e for e in self.entries if not e.temporary}
        changes = answer.lorebookEntries or []
        for index, (entry_id, _change) in enumerate(changes):
            if entry_id not in story:
                raise BadResult(f"result.lorebookEntries.{index}.0: no lorebook entry {entry_id!r}")
        for name in PIECES:
            piece_change = getattr(answer, name)
            if piece_change is not None:
                piece = self.pieces[name]
                piece.content = piece_change.content
                if piece_change.active is not None:
                    piece.active = piece_change.active
        for entry_id, change in changes:
            entry = story[entry_id]
            if change.active is not None:
                entry.active = change.active
            if change.content is not None:
                entry.content = change.content
        for temp in answer.temporaryLorebookEntries:
            self.entries.append(
                _Entry(temp.id or "", temp.name, temp.content, temp.active, "", True)
            )
        if answer.lorebookEntryOrder is not None:
            self._order(answer.lorebookEntryOrder)
        self.reduction += answer.contextLimitReduction

    def _order(self, ids: list[str]) -> None:
        """The entries named (ids that name none are skipped) in that order, then the rest."""
        rank = {entry_id: index for index, entry_id in reversed(list(enumerate(ids)))}
        named = sorted((e for e in self.entries if e.id in rank), key=lambda e: rank[e.id])
        self.entries = [*named, *(e for e in self.entries if e.id not in rank)]

    def limit(self, limit: int | None, ceiling: int) -> int | None:
        """``limit`` (None: the model's ``ceiling``) less the summed ``contextLimitReduction``."""
        if not self.reduction:
            return limit
        return (ceiling if limit is None else min(limit, ceiling)) - self.reduction

    def inputs(self) -> ContextInputs:
        """What assembly takes: the active pieces and entries."""
        text = {name: p.content if p.active else "" for name, p in self.pieces.items()}
        return ContextInputs(
            **text,
            lorebookEntries=[
                ContextEntry(
                    id=e.id,
                    displayName=e.name,
                    text=f"{e.header}\n{e.content}" if e.header else e.content,
                )
                for e in self.entries
                if e.active
            ],
        )


async def context_built(
    fire: Fire, params: dict[str, Any], quiet: Collection[str]
) -> tuple[list[ChatMessage] | None, str | None]:
    """``onContextBuilt``: the messages as the scripts changed them (None: unchanged) and the
    script that stopped the generation (not in a dry run, where ``stopGeneration`` is
    ignored)."""
    messages: list[ChatMessage] | None = None

    def apply(sid: str, answer: ContextBuiltResult) -> bool:
        nonlocal messages
        if answer.messages is not None:
            messages = answer.messages
        return answer.stopGeneration and not params["dryRun"]

    stopped_by = await fire("onContextBuilt", params, ContextBuiltResult, apply, quiet)
    return messages, stopped_by


class ResponseCalls:
    """``onResponse`` for each streamed batch of one generation, in NovelAI's shape:
    ``{continuityId, text, logprobs: [], tokenIds, final, model}``, the arrays holding one
    entry per batch (``text[i]`` a string, ``tokenIds[i]`` its token ids; no logprobs here).

    ``ask`` returns what to write now; ``stopped_by`` is the id of the script whose
    ``stopGeneration`` took effect (the generation stops after that batch). The answers apply
    in load order, per field the last given wins: ``text`` replaces the entries (``tokenIds``
    with it; an entry without ids keeps the ids it had by position, or ``[]``); ``seenData``
    (``true`` = every entry, ``false`` = none, ``n`` = the first n) says which entries are
    seen. Seen entries are written (their texts concatenated); the rest are held: not written,
    and carried first in the next call, for every script, before the new batch's entry. On the
    final call, and when ``stopGeneration`` took effect, everything is written. Returned
    ``tokenIds`` and ``logprobs`` write nothing: the document holds text (held ``tokenIds`` are
    carried; logprobs stay ``[]``)."""

    def __init__(self, fire: Fire, model: str, continuity: str) -> None:
        self._fire = fire
        self._base = {"continuityId": continuity, "model": model}
        self._held: list[tuple[str, list[int]]] = []
        self.stopped_by: str | None = None

    async def ask(self, chunks: list[wire.ChatCompletionChunk], final: bool) -> str:
        """One batch (``chunks`` merged into one entry); ``final``: the stream has ended."""
        entries = [*self._held, merge_chunks(chunks)]
        texts = [t for t, _ in entries]
        token_ids = [list(i) for _, i in entries]
        params: dict[str, Any] = {
            **self._base,
            "text": list(texts),
            "logprobs": [],
            "tokenIds": token_ids,
            "final": final,
        }
        seen: int | None = None

        def apply(sid: str, answer: ResponseResult) -> bool:
            nonlocal texts, token_ids, seen
            new = texts if answer.text is None else answer.text
            count = len(new)
            if answer.tokenIds is not None and len(answer.tokenIds) != count:
                raise _per_entry("tokenIds", count, len(answer.tokenIds))
            if answer.logprobs and len(answer.logprobs) != count:  # []: logprobs not enabled
                raise _per_entry("logprobs", count, len(answer.logprobs))
            mark = answer.seenData
            if isinstance(mark, int) and not isinstance(mark, bool) and not 0 <= mark <= count:
                raise BadResult(
                    f"result.seenData: must be true, false or a number from 0 to {count} "
                    f"(the entries of text), got {mark}"
                )
            if answer.tokenIds is not None:
                token_ids = answer.tokenIds
            elif answer.text is not None:
                token_ids = [token_ids[i] if i < len(token_ids) else [] for i in range(count)]
            texts = new
            if mark is not None:
                seen = count if mark is True else int(mark)
            return answer.stopGeneration

        stopped = await self._fire("onResponse", params, ResponseResult, apply)
        self.stopped_by = stopped or self.stopped_by
        everything = final or self.stopped_by is not None
        keep = len(texts) if everything or seen is None else min(seen, len(texts))
        self._held = list(zip(texts[keep:], token_ids[keep:], strict=True))
        return "".join(texts[:keep])


def _per_entry(field: str, entries: int, got: int) -> BadResult:
    return BadResult(f"result.{field}: must have one list per entry of text ({entries}), got {got}")
