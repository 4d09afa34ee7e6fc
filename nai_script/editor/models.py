"""The story model as data: sections, history nodes, settings, lorebook.

Every value that crosses a boundary (the SQLite file, the web page, the script api) is one of
these pydantic models, so a bad value fails where it enters, with the field named. Field names
follow NovelAI's scripting api (camelCase) so the page and the scripts read them directly.
"""

from __future__ import annotations

import secrets
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Origin = Literal["user", "ai", "edit", "prompt", "script"]
HistoryKind = Literal["root", "input", "generation", "edit", "script"]
ChangeOp = Literal["add", "update", "remove"]

DEFAULT_MODEL = "glm-4-6"


def new_id() -> str:
    """A short random id: unique enough for one user's stories, and readable in logs."""
    return secrets.token_hex(8)


class StoryModel(BaseModel):
    """Base: unknown fields are an error (a typo in a page command must not pass silently)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class OriginSpan(StoryModel):
    """Who wrote ``length`` characters starting at ``position`` (NovelAI's origin ranges)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    position: int = Field(ge=0)
    length: int = Field(ge=0)
    data: Origin


class Section(StoryModel):
    """One paragraph of the document. ``origin`` is who created it; ``origins`` says who wrote
    each part of its text (an AI continuation of a user paragraph keeps both marked).
    Frozen: the store shares parsed sections between reads; change one with ``model_copy``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(default_factory=new_id, min_length=1)
    text: str = ""
    origin: Origin = "user"
    origins: list[OriginSpan] = Field(default_factory=list)


class SectionChange(StoryModel):
    """One step of a history node's diff. ``index`` is the section's position in the document
    (after the change for ``add``/``update``, before it for ``remove``); ``before``/``after``
    make every change invertible, so undo and jump never need a full snapshot."""

    op: ChangeOp
    index: int = Field(ge=0)
    before: Section | None = None
    after: Section | None = None


class HistoryNode(StoryModel):
    """A node of the story's history tree: what one generation or edit changed."""

    id: str = Field(default_factory=new_id, min_length=1)
    parent: str | None = None
    children: list[str] = Field(default_factory=list)
    kind: HistoryKind
    changes: list[SectionChange] = Field(default_factory=list)
    created: float = 0.0


class GenerationParams(StoryModel):
    """The story's generation parameters (the wire names of the chat completions request)."""

    model: str = Field(default=DEFAULT_MODEL, min_length=1)
    max_tokens: int = Field(default=40, ge=1, le=2048)
    temperature: float = Field(default=1.0, ge=0, le=5)
    top_p: float = Field(default=1.0, ge=0, le=1)
    top_k: int = Field(default=0, ge=0)
    min_p: float = Field(default=0.0, ge=0, le=1)
    frequency_penalty: float = Field(default=0.0, ge=-2, le=2)
    presence_penalty: float = Field(default=0.0, ge=-2, le=2)


class StorySettings(StoryModel):
    title: str = "Untitled"
    description: str = ""
    memory: str = ""
    authorsNote: str = ""
    systemPrompt: str = ""
    prefill: str = ""
    params: GenerationParams = Field(default_factory=GenerationParams)


class StoryInfo(StoryModel):
    """A row of the story list: enough to show and open it."""

    id: str
    title: str
    created: float
    updated: float
    currentNode: str


class CategorySettings(StoryModel):
    """NovelAI's category settings: ``entryHeader`` goes on a line before each of the
    category's entries in the context."""

    entryHeader: str = ""


class LorebookCategory(StoryModel):
    id: str = Field(default_factory=new_id, min_length=1)
    name: str = ""
    enabled: bool = True
    settings: CategorySettings = Field(default_factory=CategorySettings)


class LorebookEntry(StoryModel):
    """A lorebook entry. ``keys`` are plain (case-insensitive substring) or ``/regex/flags``."""

    id: str = Field(default_factory=new_id, min_length=1)
    category: str | None = None
    displayName: str = ""
    keys: list[str] = Field(default_factory=list)
    text: str = ""
    enabled: bool = True
    forceActivation: bool = False
    #: NovelAI's "hidden in the UI" flag: kept for scripts; the page shows every entry.
    hidden: bool = False
