"""The history tree: undo, redo, retry as a sibling, jump, node state, all persisted."""

from __future__ import annotations

from pathlib import Path

import pytest

from nai_script.editor.document import Document
from nai_script.editor.history import History
from nai_script.editor.store import StoryError, StoryStore


@pytest.fixture
def story(tmp_path: Path) -> tuple[Document, History]:
    store = StoryStore(tmp_path / "stories.sqlite3")
    sid = store.create_story().id
    return Document(store, sid), History(store, sid)


def test_undo_redo_walk_the_tree(story: tuple[Document, History]) -> None:
    doc, history = story
    assert history.undo() is None
    assert history.redo() is None
    doc.append("Hello", "user")
    doc.append(" world", "ai")
    assert doc.text() == "Hello world"
    history.undo()
    assert doc.text() == "Hello"
    history.undo()
    assert doc.text() == ""
    assert not history.can_undo()
    history.redo()
    history.redo()
    assert doc.text() == "Hello world"
    assert not history.can_redo()


def test_retry_makes_a_sibling_and_redo_follows_the_latest(story: tuple[Document, History]) -> None:
    doc, history = story
    prompt = doc.append("Q:", "user")
    first = doc.append(" A1", "ai")
    assert prompt is not None
    assert first is not None
    parent = history.prepare_retry()
    assert parent is not None
    assert parent.id == prompt.id
    second = doc.append(" A2", "ai")
    assert second is not None
    assert second.parent == prompt.id
    assert history.store.node(doc.story_id, prompt.id).children == [first.id, second.id]
    history.undo()
    history.redo()
    assert doc.text() == "Q: A2"
    history.jump(first.id)
    assert doc.text() == "Q: A1"
    history.undo()
    history.redo()  # redo now follows the branch last visited
    assert doc.text() == "Q: A1"


def test_retry_on_a_non_generation_does_nothing(story: tuple[Document, History]) -> None:
    doc, history = story
    doc.append("typed", "user")
    assert history.prepare_retry() is None
    assert doc.text() == "typed"


def test_jump_across_branches_restores_each_state(story: tuple[Document, History]) -> None:
    doc, history = story
    doc.append("base", "user")
    a = doc.append("\nbranch a", "ai")
    sid_a = doc.section_ids()[1]
    doc.update(sid_a, "branch a edited")
    edited = history.current()
    history.jump(a.parent if a and a.parent else "")
    doc.remove(doc.section_ids()[0])
    b = history.current()
    assert doc.text() == ""
    history.jump(edited.id)
    assert doc.text() == "base\nbranch a edited"
    history.jump(b.id)
    assert doc.text() == ""


def test_node_state_does_not_move(story: tuple[Document, History]) -> None:
    doc, history = story
    one = doc.append("one", "user")
    doc.append(" two", "ai")
    assert one is not None
    state = history.node_state(one.id)
    assert [s.text for s in state.sections] == ["one"]
    assert not state.current
    assert doc.text() == "one two"
    assert history.node_state(history.current().id).current


def test_unknown_node_is_named(story: tuple[Document, History]) -> None:
    _, history = story
    with pytest.raises(StoryError, match="no history node 'zzz'"):
        history.jump("zzz")
    with pytest.raises(StoryError, match="zzz"):
        history.node_state("zzz")


def test_long_history_jump_to_root_and_back(story: tuple[Document, History]) -> None:
    doc, history = story
    for i in range(200):
        doc.append(f"{i} ", "ai")
    tip = history.current().id
    root = history.store.node(doc.story_id, tip)
    while root.parent is not None:
        root = history.store.node(doc.story_id, root.parent)
    history.jump(root.id)
    assert doc.text() == ""
    history.jump(tip)
    assert doc.text() == "".join(f"{i} " for i in range(200))


def test_ancestors_run_from_the_node_to_the_root(story: tuple[Document, History]) -> None:
    doc, history = story
    root = history.current().id
    one = doc.append("a")
    two = doc.append("b", "ai")
    assert one is not None
    assert two is not None
    assert history.store.ancestors(doc.story_id, two.id) == [two.id, one.id, root]
    assert history.store.ancestors(doc.story_id, root) == [root]
    with pytest.raises(StoryError, match="nope"):
        history.store.ancestors(doc.story_id, "nope")
