"""Stories, settings and the lorebook in the SQLite file, across close and reopen."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from nai_script.editor.document import Document
from nai_script.editor.history import History
from nai_script.editor.models import LorebookCategory, LorebookEntry, StorySettings
from nai_script.editor.store import StoryError, StoryStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        self.now += 1
        return self.now


def test_create_list_open_delete(tmp_path: Path) -> None:
    store = StoryStore(tmp_path / "s.sqlite3", clock=Clock())
    a = store.create_story(StorySettings(title="A"))
    b = store.create_story(StorySettings(title="B"), story_id="b")
    assert b.id == "b"
    assert [s.title for s in store.list_stories()] == ["B", "A"]
    Document(store, a.id).append("touch")  # the most recently changed comes first
    assert [s.title for s in store.list_stories()] == ["A", "B"]
    with pytest.raises(ValueError, match="already exists"):
        store.create_story(story_id="b")
    store.put_entry("b", LorebookEntry(text="x"))
    store.delete_story("b")
    assert [s.id for s in store.list_stories()] == [a.id]
    assert store.entries("b") == []
    with pytest.raises(StoryError, match="'b'"):
        store.story("b")
    with pytest.raises(StoryError, match="'b'"):
        store.delete_story("b")


def test_everything_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = StoryStore(path)
    sid = store.create_story().id
    doc = Document(store, sid)
    doc.append("Hello", "user")
    doc.append(" there", "ai")
    History(store, sid).undo()
    store.update_settings(sid, {"memory": "m", "params": {"temperature": 0.5}})
    cat = store.put_category(sid, LorebookCategory(name="people", enabled=False))
    entry = store.put_entry(sid, LorebookEntry(category=cat.id, keys=["bob"], text="Bob"))
    store.close()

    again = StoryStore(path)
    reopened = Document(again, sid)
    assert reopened.text() == "Hello"
    assert History(again, sid).redo() is not None
    assert reopened.text() == "Hello there"
    assert [s.data for s in reopened.sections()[0].origins] == ["user", "ai"]
    settings = again.settings(sid)
    assert settings.memory == "m"
    assert settings.params.temperature == 0.5
    assert settings.params.model == "glm-4-6"
    assert again.categories(sid) == [cat]
    assert again.entries(sid) == [entry]


def test_bad_settings_name_the_field_and_write_nothing(tmp_path: Path) -> None:
    store = StoryStore(tmp_path / "s.sqlite3")
    sid = store.create_story().id
    with pytest.raises(ValidationError, match=r"params\.temperature"):
        store.update_settings(sid, {"params": {"temperature": -1}})
    with pytest.raises(ValidationError, match="colour"):
        store.update_settings(sid, {"colour": "red"})
    assert store.settings(sid) == StorySettings()
    assert store.update_settings(sid, {"title": "T"}).title == "T"
    assert store.story(sid).title == "T"
    with pytest.raises(StoryError, match="ghost"):
        store.update_settings("ghost", {})


def test_lorebook_crud_order_and_category_rules(tmp_path: Path) -> None:
    store = StoryStore(tmp_path / "s.sqlite3")
    sid = store.create_story().id
    cat = store.put_category(sid, LorebookCategory(name="places"))
    first = store.put_entry(sid, LorebookEntry(displayName="1", category=cat.id))
    second = store.put_entry(sid, LorebookEntry(displayName="2"))
    store.put_entry(sid, first.model_copy(update={"text": "updated"}))
    assert [e.displayName for e in store.entries(sid)] == ["1", "2"]  # replace keeps order
    assert store.entries(sid)[0].text == "updated"
    with pytest.raises(StoryError, match="no category 'nope'"):
        store.put_entry(sid, LorebookEntry(category="nope"))
    store.delete_category(sid, cat.id)
    assert store.categories(sid) == []
    assert store.entries(sid)[0].category is None
    store.delete_entry(sid, second.id)
    assert [e.id for e in store.entries(sid)] == [first.id]
    with pytest.raises(StoryError, match=second.id):
        store.delete_entry(sid, second.id)
    with pytest.raises(StoryError, match=cat.id):
        store.delete_category(sid, cat.id)


def test_two_store_objects_on_one_file_see_each_other(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    one, two = StoryStore(path), StoryStore(path)
    sid = one.create_story().id
    Document(one, sid).append("from one")
    Document(two, sid).append(" and two", "ai")
    assert Document(one, sid).text() == "from one and two"


def test_entry_validation_names_the_field() -> None:
    with pytest.raises(ValidationError, match="keys"):
        LorebookEntry.model_validate({"keys": "not a list"})
