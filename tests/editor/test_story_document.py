"""Document operations on a real SQLite story file: paragraphs, origins, one node per edit."""

from __future__ import annotations

import asyncio
import threading
from functools import partial
from pathlib import Path

import pytest

from nai_script.editor.document import Document
from nai_script.editor.models import OriginSpan
from nai_script.editor.store import StoryError, StoryStore


@pytest.fixture
def doc(tmp_path: Path) -> Document:
    store = StoryStore(tmp_path / "stories.sqlite3")
    return Document(store, store.create_story().id)


def spans(doc: Document, index: int) -> list[tuple[str, int]]:
    return [(s.data, s.length) for s in doc.sections()[index].origins]


def test_append_to_empty_document_splits_paragraphs(doc: Document) -> None:
    node = doc.append("Once upon\na time", "user")
    assert node is not None
    assert node.kind == "input"
    assert [s.text for s in doc.sections()] == ["Once upon", "a time"]
    assert doc.text() == "Once upon\na time"


def test_ai_append_continues_last_paragraph_and_keeps_both_origins(doc: Document) -> None:
    doc.append("The knight", "user")
    node = doc.append(" rode on.\nThe end", "ai")
    assert node is not None
    assert node.kind == "generation"
    first, second = doc.sections()
    assert first.text == "The knight rode on."
    assert first.origin == "user"
    assert spans(doc, 0) == [("user", 10), ("ai", 9)]
    assert second.text == "The end"
    assert second.origin == "ai"


def test_append_starting_with_newline_opens_a_new_paragraph(doc: Document) -> None:
    doc.append("One", "user")
    doc.append("\nTwo", "ai")
    assert [s.text for s in doc.sections()] == ["One", "Two"]


def test_empty_append_commits_nothing(doc: Document) -> None:
    before = doc.store.current_node(doc.story_id)
    assert doc.append("", "ai") is None
    assert doc.store.current_node(doc.story_id) == before


def test_append_paragraph_insert_after_update_remove(doc: Document) -> None:
    doc.append_paragraph("a")
    doc.append_paragraph("c")
    a, c = doc.section_ids()
    doc.insert_after(a, "b", "script")
    doc.insert_after(None, "start")
    assert [s.text for s in doc.sections()] == ["start", "a", "b", "c"]
    assert doc.sections()[2].origin == "script"
    doc.update(c, "C!")
    assert doc.section(c).text == "C!"
    doc.remove(a)
    assert [s.text for s in doc.sections()] == ["start", "b", "C!"]


def test_update_marks_only_the_changed_middle(doc: Document) -> None:
    doc.append("He said hello there.", "ai")
    (sid,) = doc.section_ids()
    doc.update(sid, "He said goodbye there.")
    assert spans(doc, 0) == [("ai", 8), ("edit", 7), ("ai", 7)]
    assert sum(n for _, n in spans(doc, 0)) == len(doc.section(sid).text)


def test_update_with_same_text_makes_no_node(doc: Document) -> None:
    doc.append("same", "user")
    (sid,) = doc.section_ids()
    assert doc.update(sid, "same") is None


def test_bad_section_ids_and_newlines_are_named(doc: Document) -> None:
    doc.append("x")
    with pytest.raises(StoryError, match="nope"):
        doc.update("nope", "y")
    with pytest.raises(StoryError, match="nope"):
        doc.remove("nope")
    with pytest.raises(StoryError, match="nope"):
        doc.insert_after("nope", "y")
    with pytest.raises(ValueError, match="one paragraph"):
        doc.update(doc.section_ids()[0], "two\nlines")


def test_unknown_story_is_refused_at_once(tmp_path: Path) -> None:
    with pytest.raises(StoryError, match="ghost"):
        Document(StoryStore(tmp_path / "s.sqlite3"), "ghost")


def test_replace_all_keeps_unchanged_paragraph_ids(doc: Document) -> None:
    doc.append("keep\nchange\ndrop", "ai")
    keep, change, _ = doc.section_ids()
    doc.replace_all("keep\nchanged\n")
    sections = doc.sections()
    assert [s.text for s in sections] == ["keep", "changed", ""]
    assert sections[0].id == keep
    assert sections[1].id == change
    assert sections[0].origins == [OriginSpan(position=0, length=4, data="ai")]
    doc.replace_all("x")
    assert [s.text for s in doc.sections()] == ["x"]


async def test_run_keeps_submission_order_and_threads_lose_nothing(doc: Document) -> None:
    await asyncio.gather(
        *(doc.store.run(partial(doc.append_paragraph, f"p{i}")) for i in range(30))
    )
    assert [s.text for s in doc.sections()] == [f"p{i}" for i in range(30)]
    threads = [
        threading.Thread(target=partial(doc.append, f" t{i}", "ai"), name=f"t{i}") for i in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    last = doc.sections()[-1].text
    assert sorted(last.split()[1:]) == sorted(f"t{i}" for i in range(8))
