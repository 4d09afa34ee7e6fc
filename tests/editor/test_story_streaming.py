"""A streamed generation: every chunk durable, one history node, compact diff; snapshots."""

from __future__ import annotations

from pathlib import Path

import pytest

from nai_script.editor.document import Document
from nai_script.editor.history import History
from nai_script.editor.models import LorebookEntry
from nai_script.editor.snapshot import story_snapshot
from nai_script.editor.store import StoryError, StoryStore


@pytest.fixture
def story(tmp_path: Path) -> tuple[Document, History]:
    store = StoryStore(tmp_path / "stories.sqlite3")
    sid = store.create_story().id
    return Document(store, sid), History(store, sid)


def test_chunks_amend_one_node_with_one_change_per_section(
    story: tuple[Document, History],
) -> None:
    doc, history = story
    prompt = doc.append("The door", "user")
    node = doc.append(" opened", "ai")
    assert node is not None
    for chunk in [" slowly", ".", "\nA", " voice", "\n", "Hi"]:
        amended = doc.append(chunk, "ai", amend=node.id)
        assert amended is not None
        assert amended.id == node.id
    assert doc.text() == "The door opened slowly.\nA voice\nHi"
    stored = doc.store.node(doc.story_id, node.id)
    assert [c.op for c in stored.changes] == ["update", "add", "add"]
    assert stored.changes[0].before is not None
    assert stored.changes[0].before.text == "The door"
    assert history.current().id == node.id
    assert prompt is not None
    history.undo()
    assert doc.text() == "The door"
    history.redo()
    assert doc.text() == "The door opened slowly.\nA voice\nHi"
    assert [s.data for s in doc.sections()[0].origins] == ["user", "ai"]


def test_amend_after_the_user_moved_away_is_refused(story: tuple[Document, History]) -> None:
    doc, history = story
    node = doc.append("text", "ai")
    assert node is not None
    history.undo()
    with pytest.raises(StoryError, match="no longer current"):
        doc.append(" more", "ai", amend=node.id)
    assert doc.text() == ""


def test_amend_of_a_node_with_children_is_refused(story: tuple[Document, History]) -> None:
    doc, history = story
    node = doc.append("a", "ai")
    assert node is not None
    doc.append_paragraph("typed")
    history.undo()
    with pytest.raises(StoryError, match="has children"):
        doc.append("b", "ai", amend=node.id)
    history.redo()
    assert doc.text() == "a\ntyped"


def test_empty_chunk_keeps_the_node(story: tuple[Document, History]) -> None:
    doc, _ = story
    node = doc.append("a", "ai")
    assert node is not None
    again = doc.append("", "ai", amend=node.id)
    assert again is None or again.id == node.id
    assert doc.text() == "a"


def test_snapshot_is_json_ready_and_tracks_history(story: tuple[Document, History]) -> None:
    doc, history = story
    store, sid = doc.store, doc.story_id
    empty = story_snapshot(store, sid)
    assert empty.sections == []
    assert not empty.history.canUndo
    assert not empty.history.canRetry
    doc.append("Hi", "user")
    doc.append(" there", "ai")
    store.put_entry(sid, LorebookEntry(id="e", keys=["hi"]))
    snap = story_snapshot(store, sid)
    assert snap.history.canUndo
    assert snap.history.canRetry
    assert not snap.history.canRedo
    data = snap.model_dump(mode="json")
    assert data["sections"][0]["text"] == "Hi there"
    assert data["entries"][0]["id"] == "e"
    assert data["settings"]["params"]["model"] == "glm-4-6"
    history.undo()
    assert story_snapshot(store, sid).history.canRedo
