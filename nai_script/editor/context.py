"""Context building: a story's pieces -> the chat messages a model sees, within its context.

The layout (one system message, the story as the user message, the prefill as the start of
the assistant's answer) keeps every piece a script may want to find in a fixed place:

- system: the system prompt, memory and the text of each active lorebook entry, blank-line
  separated, in that order;
- user: the story text, trimmed from the start to fit, with the author's note inserted
  ``AUTHORS_NOTE_DEPTH`` paragraphs from the end (NovelAI's default placement);
- assistant: the prefill, when there is one.

Everything but the story is fixed: when the fixed pieces alone do not fit, lorebook entries
are dropped from the last one; if it still does not fit, ``ContextTooLarge`` names the sizes.
Counts use ``TokenizerRegistry.encode_chat``, the same count the limits charge.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from nai_script.tokenizers import TokenizerRegistry, context_size

AUTHORS_NOTE_DEPTH = 3
#: The first end of a long story encoded is this many characters per token wanted (prose runs
#: 3-5 characters a token; a denser text makes ``_tail_ids`` try a longer end).
TAIL_CHARS_PER_TOKEN = 8
PieceKind = Literal["systemPrompt", "memory", "lorebook", "authorsNote", "story", "prefill"]


def sections_until(
    texts: list[tuple[str, str]], section_id: str, offset: int | None
) -> list[tuple[str, str]]:
    """The story's sections up to a position (``texts``: ``(section id, text)`` in order),
    the last one cut there: the document as if generating there. No offset means the end of
    that section."""
    ids = [sid for sid, _ in texts]
    if section_id not in ids:
        raise ValueError(f"position.sectionId: no section {section_id!r}")
    index = ids.index(section_id)
    last = texts[index][1]
    at = len(last) if offset is None else offset
    if not 0 <= at <= len(last):
        raise ValueError(f"position.offset: {at} is outside 0..{len(last)} of section {section_id}")
    return [*texts[:index], (section_id, last[:at])]


class ContextTooLarge(ValueError):
    """The fixed pieces (system prompt, memory, author's note, prefill) exceed the limit."""


class ContextEntry(BaseModel):
    """A lorebook entry placed in the context (active, or added for this build by a hook)."""

    model_config = ConfigDict(extra="ignore")

    id: str = ""
    displayName: str = ""
    text: str


class ContextInputs(BaseModel):
    """The pieces before assembly (an empty one is left out): what ``onBeforeContextBuild``
    left of them (hook_params.py has them in NovelAI's hook shapes)."""

    model_config = ConfigDict(extra="forbid")

    systemPrompt: str = ""
    memory: str = ""
    authorsNote: str = ""
    prefill: str = ""
    storyText: str = ""
    lorebookEntries: list[ContextEntry] = Field(default_factory=list)


class ContextPiece(BaseModel):
    """One piece as it went in (``trimmed``: the story lost its start; ``dropped``: the
    entry did not fit at all)."""

    kind: PieceKind
    id: str | None = None
    text: str
    trimmed: bool = False
    dropped: bool = False


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class BuiltContext(BaseModel):
    messages: list[ChatMessage]
    token_count: int
    limit: int
    pieces: list[ContextPiece]

    def plain_messages(self) -> list[dict[str, str]]:
        return [message.model_dump() for message in self.messages]


def insert_authors_note(story: str, note: str, depth: int = AUTHORS_NOTE_DEPTH) -> str:
    """``note`` as its own paragraph before the last ``depth`` paragraphs of ``story``."""
    if not note:
        return story
    if not story:
        return note
    paragraphs = story.split("\n")
    at = max(0, len(paragraphs) - depth)
    return "\n".join([*paragraphs[:at], note, *paragraphs[at:]])


def _messages(inputs: ContextInputs, entries: list[ContextEntry], story: str) -> list[ChatMessage]:
    system_parts = [inputs.systemPrompt, inputs.memory, *(entry.text for entry in entries)]
    system = "\n\n".join(part for part in system_parts if part)
    messages: list[ChatMessage] = []
    if system:
        messages.append(ChatMessage(role="system", content=system))
    messages.append(
        ChatMessage(role="user", content=insert_authors_note(story, inputs.authorsNote))
    )
    if inputs.prefill:
        messages.append(ChatMessage(role="assistant", content=inputs.prefill))
    return messages


class _Counter:
    def __init__(self, tokenizers: TokenizerRegistry, model: str) -> None:
        self._tokenizers = tokenizers
        self._model = model

    def chat(self, messages: list[ChatMessage]) -> int:
        plain = [message.model_dump() for message in messages]
        return len(self._tokenizers.encode_chat(self._model, plain))


def assemble_context(
    inputs: ContextInputs,
    *,
    model: str,
    tier: int,
    tokenizers: TokenizerRegistry,
    limit: int | None = None,
) -> BuiltContext:
    """Fit ``inputs`` into ``limit`` tokens (default and ceiling: the model's context at
    ``tier``); see the module docstring for the layout and what gives way first."""
    ceiling = context_size(model, tier)
    budget = ceiling if limit is None else min(limit, ceiling)
    if budget < 1:
        raise ContextTooLarge(f"context limit: must be at least 1 token, got {budget}")
    count = _Counter(tokenizers, model).chat
    entries = list(inputs.lorebookEntries)
    dropped: list[ContextEntry] = []
    base = count(_messages(inputs, entries, ""))
    while base > budget and entries:
        dropped.insert(0, entries.pop())
        base = count(_messages(inputs, entries, ""))
    if base > budget:
        raise ContextTooLarge(
            f"the system prompt, memory, author's note and prefill take {base} tokens; "
            f"the context limit for {model} is {budget}"
        )
    story, trimmed, total = _fit_story(inputs, entries, budget, base, tokenizers, model, count)
    messages = _messages(inputs, entries, story)
    pieces = _pieces(inputs, entries, dropped, story, trimmed)
    return BuiltContext(messages=messages, token_count=total, limit=budget, pieces=pieces)


def _fit_story(
    inputs: ContextInputs,
    entries: list[ContextEntry],
    budget: int,
    base: int,
    tokenizers: TokenizerRegistry,
    model: str,
    count: Callable[[list[ChatMessage]], int],
) -> tuple[str, bool, int]:
    """The longest suffix of the story that fits (cut at a word boundary when it is cut),
    whether it was cut, and the context's exact token count.

    Only the story's end is encoded (``_tail_ids``); since counts are nearly additive,
    ``budget - base`` of its tokens is the first guess, and the true templated count of the
    (small) candidate corrects it in a few rounds. A long story is never counted whole."""
    story = inputs.storyText
    if not story:
        return "", False, base
    want = max(budget - base, 0)
    ids, whole = _tail_ids(tokenizers, model, story, want)
    keep = min(len(ids), want)
    complete = whole and keep == len(ids)
    candidate = story if complete else _suffix(tokenizers, model, ids, keep)
    while True:
        total = count(_messages(inputs, entries, candidate))
        over = total - budget
        if over <= 0:
            return candidate, candidate != story, total
        keep = max(0, keep - over)
        candidate = _suffix(tokenizers, model, ids, keep)


def _tail_ids(
    tokenizers: TokenizerRegistry, model: str, story: str, want: int
) -> tuple[list[int], bool]:
    """The ids of an end of ``story`` with more than ``want`` tokens, and whether that end is
    the whole story. A Send on a megabyte story used to encode all of it (half a second, every
    time) to keep the last few thousand tokens; the end tried grows until it holds enough."""
    chars = (want + 1) * TAIL_CHARS_PER_TOKEN
    while True:
        whole = chars >= len(story)
        ids = tokenizers.encode(model, story if whole else story[-chars:])
        if whole or len(ids) > want:
            return ids, whole
        chars *= 4


def _suffix(tokenizers: TokenizerRegistry, model: str, ids: list[int], keep: int) -> str:
    if keep <= 0:
        return ""
    text = tokenizers.decode(model, ids[len(ids) - keep :])
    # The first token may be the tail of a word: start at the next boundary instead.
    for index, char in enumerate(text):
        if char.isspace():
            return text[index:].lstrip()
    return text


def _pieces(
    inputs: ContextInputs,
    entries: list[ContextEntry],
    dropped: list[ContextEntry],
    story: str,
    trimmed: bool,
) -> list[ContextPiece]:
    pieces: list[ContextPiece] = []
    if inputs.systemPrompt:
        pieces.append(ContextPiece(kind="systemPrompt", text=inputs.systemPrompt))
    if inputs.memory:
        pieces.append(ContextPiece(kind="memory", text=inputs.memory))
    for entry in entries:
        pieces.append(ContextPiece(kind="lorebook", id=entry.id, text=entry.text))
    for entry in dropped:
        pieces.append(ContextPiece(kind="lorebook", id=entry.id, text=entry.text, dropped=True))
    if inputs.authorsNote:
        pieces.append(ContextPiece(kind="authorsNote", text=inputs.authorsNote))
    pieces.append(ContextPiece(kind="story", text=story, trimmed=trimmed))
    if inputs.prefill:
        pieces.append(ContextPiece(kind="prefill", text=inputs.prefill))
    return pieces
