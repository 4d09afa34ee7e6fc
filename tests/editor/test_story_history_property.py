"""Random edit sequences: every node's state, reached by jumping, is what it was when made."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from nai_script.editor.document import Document
from nai_script.editor.history import History
from nai_script.editor.store import StoryStore

words = st.text(alphabet="ab \n", max_size=6)
step = st.one_of(
    st.tuples(st.just("append"), words, st.sampled_from(["user", "ai", "script"])),
    st.tuples(st.just("paragraph"), words, st.just("user")),
    st.tuples(st.just("insert"), words, st.integers(0, 5)),
    st.tuples(st.just("update"), words.map(lambda w: w.replace("\n", "")), st.integers(0, 5)),
    st.tuples(st.just("remove"), st.just(""), st.integers(0, 5)),
    st.tuples(st.just("undo"), st.just(""), st.just(0)),
    st.tuples(st.just("redo"), st.just(""), st.just(0)),
    st.tuples(st.just("retry"), st.just(""), st.just(0)),
    st.tuples(st.just("stream"), words, st.just(0)),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(step, max_size=25))
def test_every_node_state_is_reproduced(steps: list[tuple[str, str, object]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = StoryStore(Path(tmp) / "s.sqlite3")
        sid = store.create_story().id
        doc, history = Document(store, sid), History(store, sid)
        seen: dict[str, list[tuple[str, str, str]]] = {history.current().id: []}

        def snapshot() -> list[tuple[str, str, str]]:
            return [(s.id, s.text, s.model_dump_json()) for s in doc.sections()]

        for op, text, arg in steps:
            ids = doc.section_ids()
            pick = ids[int(str(arg)) % len(ids)] if ids and isinstance(arg, int) else None
            if op == "append":
                doc.append(text, arg)  # type: ignore[arg-type]
            elif op == "paragraph":
                doc.append_paragraph(text)
            elif op == "insert":
                doc.insert_after(pick, text)
            elif op == "update" and pick is not None:
                doc.update(pick, text)
            elif op == "remove" and pick is not None:
                doc.remove(pick)
            elif op == "undo":
                history.undo()
            elif op == "redo":
                history.redo()
            elif op == "retry":
                history.prepare_retry()
            elif (
                op == "stream"
                and history.current().kind == "generation"
                and not history.current().children
            ):
                doc.append(text, "ai", amend=history.current().id)
                seen.pop(history.current().id, None)  # the node's state grows while streaming
            node = history.current().id
            assert seen.setdefault(node, snapshot()) == snapshot()
            for section in doc.sections():
                assert sum(span.length for span in section.origins) == len(section.text)

        for node, state in seen.items():
            assert [s.text for s in history.node_state(node).sections] == [t for _, t, _ in state]
        for node, state in reversed(list(seen.items())):
            history.jump(node)
            assert snapshot() == state
        store.close()
