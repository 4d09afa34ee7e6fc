"""Which storage each api.v1 storage namespace means for one script.

``storage`` is the script's own (across stories), ``storyStorage`` belongs to the open story,
``historyStorage`` to a point in its history (``history_storage``) and ``tempStorage`` to the
current load. The editor, when there is one, says which story and node are open; without
one, the host's fixed story id and history node stand in.
"""

from __future__ import annotations

from typing import Any

from nai_script.editor.store import StoryError
from nai_script.host.history_storage import Ancestry, history_storage
from nai_script.host.script import LoadedScript
from nai_script.host.storage import (
    STORAGE_CAP,
    STORY_STORAGE_CAP,
    Scope,
    ScriptStorage,
    StorageDB,
)


def storage_for(
    db: StorageDB,
    script: LoadedScript,
    namespace: str,
    *,
    editor: Any,
    story_id: str,
    history_node_id: str,
    node: str | None = None,
) -> ScriptStorage:
    """The script's storage ``namespace``; ``historyStorage`` as seen from ``node``
    (default: the current history node)."""
    if namespace == "tempStorage":
        return script.temp_storage
    if namespace == "storyStorage":
        story = story_id if editor is None else editor.story_id
        return ScriptStorage.persistent(db, Scope.STORY, script.id, story, cap=STORY_STORAGE_CAP)
    if namespace == "historyStorage":
        return history_storage(db, script.id, history_ancestry(editor, history_node_id, node))
    return ScriptStorage.persistent(db, Scope.SCRIPT, script.id, "", cap=STORAGE_CAP)


def history_ancestry(editor: Any, history_node_id: str, node: str | None = None) -> Ancestry:
    """``node`` (default: the open story's current node) and its ancestors
    (``historyStorage`` reads fall back along them); without an editor, just the fixed
    ``history_node_id`` (another ``node`` raises ``StoryError``)."""
    if editor is None:
        fixed = history_node_id
        if node not in (None, fixed):
            raise StoryError(f"no history node {node!r}")
        return lambda: [fixed]
    store, story = editor.store, editor.story_id
    return lambda: store.ancestors(story, node or store.current_node(story))
