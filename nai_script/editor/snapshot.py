"""A whole story as one JSON-ready value: what the page's ``story.state`` event carries."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from nai_script.editor.models import (
    LorebookCategory,
    LorebookEntry,
    Section,
    StoryInfo,
    StorySettings,
)
from nai_script.editor.store import StoryStore


class HistoryStatus(BaseModel):
    """Where the story stands in its history: enough for the page to enable Undo/Redo/Retry."""

    model_config = ConfigDict(extra="forbid")

    current: str
    kind: str
    parent: str | None
    children: list[str]
    canUndo: bool
    canRedo: bool
    canRetry: bool


class StorySnapshot(BaseModel):
    model_config = ConfigDict(extra="forbid")

    story: StoryInfo
    sections: list[Section]
    settings: StorySettings
    categories: list[LorebookCategory]
    entries: list[LorebookEntry]
    history: HistoryStatus


def story_snapshot(store: StoryStore, story_id: str) -> StorySnapshot:
    """Read the story in one transaction (blocking; use ``store.run`` from async code).
    ``snapshot.model_dump(mode="json")`` is the event payload."""
    with store.reading():
        info = store.story(story_id)
        node = store.node(story_id, info.currentNode)
        return StorySnapshot(
            story=info,
            sections=store.sections(story_id),
            settings=store.settings(story_id),
            categories=store.categories(story_id),
            entries=store.entries(story_id),
            history=HistoryStatus(
                current=node.id,
                kind=node.kind,
                parent=node.parent,
                children=node.children,
                canUndo=node.parent is not None,
                canRedo=store.preferred_child(story_id, node.id) is not None,
                canRetry=node.kind == "generation",
            ),
        )
