"""Story store: the cost of one durable document edit, vs a bare SQLite insert.

Run: /tmp/venv/bin/python bench/bench_story.py [edits]
Both sides write to a WAL file with ``synchronous=FULL`` and commit once per edit, so both pay
the same fsync; the difference is ours: reading the document, building the diff, writing the
changed section, the order and the history node. Also timed: a streamed generation (one
amended node, chunk by chunk) and a jump from the tip of a long history to the root and back.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from nai_script.editor.document import Document
from nai_script.editor.history import History
from nai_script.editor.store import StoryStore
from nai_script.limits.store import connect


def _per_call_ms(calls: int, call: Callable[[int], object]) -> float:
    samples = []
    for i in range(calls):
        start = time.perf_counter()
        call(i)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main(edits: int = 300) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        plain = connect(Path(tmp) / "plain.sqlite3", "FULL")
        plain.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")

        def bare(i: int) -> None:
            plain.execute("BEGIN IMMEDIATE")
            plain.execute("INSERT INTO t(body) VALUES (?)", (f"paragraph {i}",))
            plain.execute("COMMIT")

        store = StoryStore(Path(tmp) / "stories.sqlite3")
        sid = store.create_story().id
        doc, history = Document(store, sid), History(store, sid)
        base = _per_call_ms(edits, bare)
        ours = _per_call_ms(edits, lambda i: doc.append_paragraph(f"paragraph {i}"))
        print(
            f"durable edit (median, {edits} paragraphs): ours {ours:.3f} ms  "
            f"bare sqlite insert {base:.3f} ms  ratio {ours / base:.2f}x"
        )

        node = doc.append("Streamed:", "ai")
        assert node is not None
        chunk = _per_call_ms(edits, lambda i: doc.append(f" t{i}", "ai", amend=node.id))
        print(
            f"streamed chunk (median, amend one node): ours {chunk:.3f} ms  "
            f"bare sqlite insert {base:.3f} ms  ratio {chunk / base:.2f}x"
        )

        tip = history.current().id
        root = store.node(sid, tip)
        while root.parent is not None:
            root = store.node(sid, root.parent)
        start = time.perf_counter()
        history.jump(root.id)
        history.jump(tip)
        took = (time.perf_counter() - start) * 1000
        print(
            f"jump tip -> root -> tip over {edits + 1} nodes: {took:.1f} ms "
            f"({took / (2 * (edits + 1)):.3f} ms a node)"
        )
        store.close()
        plain.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
